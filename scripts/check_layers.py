#!/usr/bin/env python3
"""Which folder may include which: the layers of docs/ARCHITECTURE.md.

    scripts/check_layers.py [SOURCE_DIR]
    scripts/check_layers.py --self-test

Reads every #include "..." in the C and C++ sources of the tree and fails
(exit 1, one line per offence) on an include that crosses a layer the wrong
way: the library including a daemon, one daemon including another, a tool
including a daemon's internals. Angle-bracket includes (<hermes/bus.h>,
system headers) are always allowed; a quoted include without a folder is the
including file's own folder. ctest runs it (label "layers").
"""
import os
import re
import sys

# The library, libhermes-ipc: what every binary may include.
LIBRARY = ["core/", "shm/", "tcp-bridge/client/", "journal/"]
# Folders inside library folders that are not library.
NOT_LIBRARY = ["shm/hermesd/", "shm/model/", "journal/recorder/"]
DAEMON_HELPERS = ["daemon/"]

# Longest folder first wins. Each folder lists what it may include besides
# itself; "LIB" is the library, "LAYOUT" a daemon's published file layout
# (a header named *_layout.h, the one part of a daemon that tools read).
RULES = {
    "include/hermes/": [],
    "core/": [],
    "shm/": ["core/"],
    "tcp-bridge/client/": ["core/"],
    "journal/": ["core/", "shm/"],
    "daemon/": ["core/"],
    "shm/hermesd/": ["LIB", "daemon/"],
    "tcp-bridge/bridge/": ["LIB", "daemon/"],
    "nats-uplink/": ["LIB", "daemon/"],
    "journal/recorder/": ["LIB", "daemon/"],
    "tcp-bridge/remote/": [],
    "tools/": ["LIB", "LAYOUT"],
    # Benchmarks measure the library, the recorder's write path and the NATS
    # uplink (hermes-nats-bench reads the uplinks' state to know they are up).
    "bench/": ["LIB", "journal/recorder/", "nats-uplink/"],
    "examples/": [],
    # Tests and fuzz targets may reach anything they test.
    "tests/": ["ANY"],
    "fuzz/": ["ANY"],
    "bindings/": [],
}
FOLDERS = sorted(RULES, key=len, reverse=True)
DAEMON_FOLDERS = ["shm/hermesd/", "tcp-bridge/bridge/", "nats-uplink/", "journal/recorder/"]


def folder_of(path):
    for f in FOLDERS:
        if path.startswith(f):
            return f
    return None


def is_library(path):
    return (any(path.startswith(f) for f in LIBRARY)
            and not any(path.startswith(f) for f in NOT_LIBRARY))


def allowed(src_folder, target):
    """May a file in src_folder include the project path target?"""
    tgt_folder = folder_of(target)
    if tgt_folder is None:
        return True  # not a layered folder (a generated header, say)
    if tgt_folder == src_folder:
        return True
    for rule in RULES[src_folder]:
        if rule == "ANY":
            return True
        if rule == "LIB" and is_library(target):
            return True
        if rule == "LAYOUT" and tgt_folder in DAEMON_FOLDERS and target.endswith("_layout.h"):
            return True
        if rule == tgt_folder:
            return True
    return False


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def check(root):
    bad = []
    checked = 0
    for f in FOLDERS:
        base = os.path.join(root, f)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in ("target", "build")]
            for name in filenames:
                if not name.endswith((".c", ".h", ".cpp", ".hpp")):
                    continue
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                src_folder = folder_of(rel)
                if src_folder != f:
                    continue  # a deeper folder's file: checked under its own rule
                with open(full, encoding="utf-8", errors="replace") as fh:
                    text = fh.read()
                checked += 1
                for m in INCLUDE.finditer(text):
                    target = m.group(1)
                    if "/" not in target:
                        continue  # the file's own folder
                    if not allowed(src_folder, target):
                        line = text.count("\n", 0, m.start()) + 1
                        bad.append(f"{rel}:{line}: includes \"{target}\": "
                                   f"{src_folder} may not include {folder_of(target)}")
    return checked, bad


# Includes the check must refuse, and some it must accept (--self-test).
SELF_TEST = [
    ("shm/ring.c", "shm/hermesd/config.h", False),   # library -> daemon
    ("shm/ring.c", "daemon/log.h", False),           # library -> daemon helpers
    ("core/futex.c", "shm/layout.h", False),         # core -> shm
    ("tcp-bridge/client/client.c", "tcp-bridge/bridge/server.h", False),
    ("nats-uplink/uplink_in.c", "shm/hermesd/config.h", False),  # daemon -> daemon
    ("tools/ctl_io.c", "tcp-bridge/bridge/server.h", False),     # tool -> daemon internals
    ("bench/report.c", "tcp-bridge/bridge/server.h", False),     # bench -> another daemon
    ("bench/nats_bench.c", "nats-uplink/uplink.h", True),        # the uplink's benchmark
    ("examples/demo.c", "shm/ring.h", False),        # examples use <hermes/...> only
    ("tools/ctl_io.c", "tcp-bridge/bridge/stats_layout.h", True),
    ("tools/ctl_io.c", "shm/segment.h", True),
    ("shm/hermesd/main.c", "daemon/log.h", True),
    ("journal/jfile.c", "core/endian.h", True),
    ("tests/shm/test_ring.c", "shm/hermesd/config.h", True),
]


def self_test():
    import tempfile
    failures = 0
    for src, target, ok in SELF_TEST:
        with tempfile.TemporaryDirectory() as root:
            path = os.path.join(root, src)
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as fh:
                fh.write(f'#include <stdio.h>\n#include "{target}"\n')
            _, bad = check(root)
            if (not bad) != ok:
                failures += 1
                print(f"self-test: {src} including {target}: expected "
                      f"{'allowed' if ok else 'refused'}, got {'refused' if bad else 'allowed'}")
    print(f"check_layers self-test: {len(SELF_TEST)} cases, {failures} wrong")
    return 1 if failures else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    checked, bad = check(root)
    for b in bad:
        print(b)
    print(f"check_layers: {checked} files, {len(bad)} includes across a layer the wrong way")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

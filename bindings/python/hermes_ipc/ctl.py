"""What `hermes-ctl list` and `inspect` show, as dicts: the JSON output of
hermes-ctl (found as $HERMES_CTL, else on PATH), which reads the bus
segment read-only and is the one place that knows its internals."""

import json
import os
import shutil
import subprocess


def _ctl(args, bus, timeout):
    exe = os.environ.get("HERMES_CTL") or shutil.which("hermes-ctl")
    if not exe:
        raise FileNotFoundError("hermes-ctl not found: install Hermes or set HERMES_CTL")
    cmd = [exe, "--json"] + (["--bus", bus] if bus else []) + args
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), out.stderr.strip() or "exit %d" % out.returncode))
    return json.loads(out.stdout)


def list_rings(bus=None, timeout=10.0):
    """`hermes-ctl list --json` of bus (None: $HERMES_BUS, else "default")."""
    return _ctl(["list"], bus, timeout)


def inspect_ring(ring, bus=None, timeout=10.0):
    """`hermes-ctl inspect RING --json`: cursors, lag, owners, counters."""
    return _ctl(["inspect", ring], bus, timeout)

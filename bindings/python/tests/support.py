"""Test helpers: unique names, a private bus created by the test (rings in
place, no hermesd) and a real hermes-bridge on loopback, stopped by pid.
Every wait has a deadline; the environment the library reads is cleared."""

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

for var in ("HERMES_BUS", "HERMES_RUN_DIR", "HERMES_NET_IDENTITY", "HERMES_NET_KEY_FILE",
            "HERMES_NET_ENCRYPT", "HERMES_NET_TIMEOUT_MS", "NOTIFY_SOCKET"):
    os.environ.pop(var, None)

from hermes_ipc import Bus  # noqa: E402  (after the environment is clean)

_counter = itertools.count()


def unique(tag):
    return "py-%s-%d-%d" % (tag, os.getpid(), next(_counter))


class BusCase(unittest.TestCase):
    """A fresh bus per test, detached and unlinked afterwards."""

    def setUp(self):
        self.bus_name = unique(self.id().rsplit(".", 1)[-1][:20])
        self.bus = Bus.create(self.bus_name, 16 << 20)
        self.dir = tempfile.mkdtemp(prefix="hermes-py-")

    def tearDown(self):
        self.bus.close()
        Bus.unlink(self.bus_name)
        shutil.rmtree(self.dir, ignore_errors=True)


def tool(env, name):
    path = os.environ.get(env) or shutil.which(name)
    if not path:
        raise unittest.SkipTest("%s not found (set %s)" % (name, env))
    return path


class Bridge:
    """hermes-bridge serving bus_name on 127.0.0.1, a free port."""

    def __init__(self, bus_name, run_dir):
        notify = os.path.join(run_dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(notify)
        self.log = os.path.join(run_dir, "bridge.log")
        env = dict(os.environ, NOTIFY_SOCKET=notify)
        exe = tool("HERMES_BRIDGE", "hermes-bridge")
        args = [exe, "--bus", bus_name, "--listen", "127.0.0.1:0", "--stats-dir", run_dir,
                "--state-dir", run_dir]
        # Bridges that refuse anonymous clients unless told (loopback only here).
        usage = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=10)
        if "--allow-anonymous" in usage.stdout + usage.stderr:
            args.append("--allow-anonymous")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + 10
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("hermes-bridge not ready within 10 s:\n" + self.log_text())
                if self.proc.poll() is not None:
                    raise AssertionError("hermes-bridge exited:\n" + self.log_text())
                sock.settimeout(min(left, 0.2))
                try:
                    msg = sock.recv(512).decode(errors="replace")
                except socket.timeout:
                    continue
                if "READY=1" in msg:
                    self.addr = msg.split("listening on ", 1)[1].splitlines()[0].strip()
                    return
        except BaseException:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            sock.close()

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("hermes-bridge did not stop within 10 s")
        if rc != 0:
            raise AssertionError("hermes-bridge exited %d:\n%s" % (rc, self.log_text()))

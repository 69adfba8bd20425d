# SPDX-License-Identifier: MIT
"""batond under systemd's protocols, without needing systemd as PID 1.

- deploy/systemd/*.service pass `systemd-analyze verify` (against an image
  root holding the built binaries and systemd's own units) and score "OK" or
  better in `systemd-analyze security`.
- The notify protocol against a socket this test owns: READY=1 only once the
  node has joined (its API answers and a leader is known), STATUS= lines with
  the role and the active region, WATCHDOG=1 at half the WatchdogSec while the
  loop runs, and none while the process is stopped.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402

UNITS = ("batond.service", "baton-witness.service")


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
class UnitFileTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="baton-sroot-")
        os.makedirs(os.path.join(self.root, "usr", "sbin"))
        os.makedirs(os.path.join(self.root, "etc", "systemd", "system"))
        os.makedirs(os.path.join(self.root, "usr", "lib", "systemd"))
        shutil.copy(os.path.join(build_dir(), "node", "batond"), os.path.join(self.root, "usr", "sbin"))
        shutil.copy(os.path.join(build_dir(), "witness", "baton-witness"), os.path.join(self.root, "usr", "sbin"))
        shutil.copytree("/usr/lib/systemd/system", os.path.join(self.root, "usr", "lib", "systemd", "system"),
                        symlinks=True)
        for u in UNITS:
            shutil.copy(os.path.join(ROOT, "deploy", "systemd", u), os.path.join(self.root, "etc", "systemd", "system"))

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def test_the_units_verify_cleanly(self):
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", "--root=" + self.root] + list(UNITS),
                           capture_output=True, text=True, cwd=os.path.join(self.root, "etc", "systemd", "system"))
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_the_units_are_hardened(self):
        for u in UNITS:
            p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--root=" + self.root, u],
                               capture_output=True, text=True)
            m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", p.stdout)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            print("\nfigure: systemd-analyze security %s: %s %s" % (u, m.group(1), m.group(2)), file=sys.stderr)
            self.assertIn(m.group(2), ("OK", "SAFE"), "exposure %s %s" % (m.group(1), m.group(2)))


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-sd-")
        self.sock_path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.settimeout(0.2)
        self.c = Cluster(os.path.join(self.tmp, "c"))
        self.c.write_configs()
        self.n = self.c.node("eu-west")
        self.n.env = {"NOTIFY_SOCKET": self.sock_path, "WATCHDOG_USEC": "1000000"}
        self.messages = []

    def tearDown(self):
        self.c.destroy()
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def drain(self):
        while True:
            try:
                m = self.sock.recv(4096).decode()
            except socket.timeout:
                return
            self.messages.append((time.monotonic(), m))

    def received(self, pred):
        self.drain()
        return [m for t, m in self.messages if pred(m)]

    def test_ready_status_and_watchdog_follow_the_loop(self):
        self.n.start()          # alone: no quorum, so it must not say READY
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertEqual(self.received(lambda m: "READY=1" in m), [], "READY before joining a cluster")
        for n in self.c.nodes[1:]:
            n.start()
        wait_for(lambda: self.received(lambda m: "READY=1" in m), 20, "READY=1 once joined")
        ready = self.received(lambda m: "READY=1" in m)[0]
        self.assertRegex(ready, r"STATUS=(leader|follower) term \d+; active region")
        wait_for(lambda: self.received(lambda m: "STATUS=" in m and "active region eu-west" in m), 20,
                 "a STATUS= line naming the active region")
        # WATCHDOG=1 about every 500 ms while running...
        self.messages.clear()
        wait_for(lambda: len(self.received(lambda m: m == "WATCHDOG=1")) >= 3, 5, "watchdog pings")
        # ...and none while the loop cannot run.
        self.n.signal(signal.SIGSTOP)
        self.drain()
        self.messages.clear()
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            self.drain()
        self.assertEqual([m for _, m in self.messages if m == "WATCHDOG=1"], [], "pings while stopped")
        self.n.signal(signal.SIGCONT)
        wait_for(lambda: self.received(lambda m: m == "WATCHDOG=1"), 5, "pings after resuming")
        self.n.stop()
        self.assertTrue(self.received(lambda m: "STOPPING=1" in m))

    def test_under_journald_each_line_carries_its_syslog_priority(self):
        # JOURNAL_STREAM is how a service learns its stderr goes to journald.
        self.n.env = {"JOURNAL_STREAM": "8:12345"}
        self.n.start()
        wait_for(lambda: 'msg="started"' in self.n.log(), 10, "the start line")
        self.n.stop()
        lines = [l for l in self.n.log().splitlines() if "level=" in l]
        self.assertTrue(lines)
        for l in lines:
            self.assertRegex(l, r"^<[2-7]>level=(debug|info|notice|warn|error|crit) sys=")
        self.assertTrue(any(l.startswith("<6>level=info") for l in lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""Smoke test of the jepsen topology (net.py) and the nfq_delay helper.

Needs root and `ip netns`; skipped with a message otherwise.  The delay
tests need the nfq_delay binary: set NFQ_DELAY=/path/to/nfq_delay (meson
does).  The grudge helpers are tested without root.

Run: cd jepsen/harness && sudo NFQ_DELAY=... python3 -m unittest -v test_net
"""

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import unittest

import net

HERE = os.path.dirname(os.path.abspath(__file__))
IS_ROOT = os.geteuid() == 0
NFQ_DELAY = os.environ.get("NFQ_DELAY")
HAVE_DELAYER = bool(NFQ_DELAY) and os.access(NFQ_DELAY, os.X_OK)
ROOT_MSG = "needs root and ip netns (network namespaces): run as root"
DELAY_MSG = "needs the nfq_delay binary: set NFQ_DELAY=/path/to/nfq_delay"


class Echo:
    """A TCP echo server on a node, served by a thread of this process."""

    def __init__(self, topo, node):
        self.sock, self.port = topo.listen(node)
        self.sock.settimeout(0.1)
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(10)
        with conn:
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        return
                    conn.sendall(data)
            except OSError:
                return

    def close(self):
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


def rtts_ms(topo, src, dst, port, n=20):
    s = topo.connect(src, dst, port, timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    with s:
        for _ in range(n):
            t = time.monotonic()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise AssertionError("echo returned the wrong byte")
            out.append((time.monotonic() - t) * 1000)
    return out


def connects(topo, src, dst, port, timeout=1.0):
    try:
        topo.connect(src, dst, port, timeout=timeout).close()
        return True
    except (TimeoutError, socket.timeout):
        return False


def process_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def root_addresses():
    return subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout


class Grudges(unittest.TestCase):
    """Pure helpers: no root needed."""

    NODES = ["a", "b", "c", "w"]

    def test_isolating_a_node_cuts_it_both_ways(self):
        cuts = net.cuts_isolate(self.NODES, "a")
        self.assertEqual(cuts, {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a"),
                                ("a", "w"), ("w", "a")})
        self.assertEqual(net.grudge(cuts), {"a": ["b", "c", "w"], "b": ["a"], "c": ["a"],
                                            "w": ["a"]})

    def test_a_split_cuts_every_link_across_the_sides(self):
        cuts = net.cuts_split(self.NODES, ["a", "b"])
        self.assertEqual(len(cuts), 8)
        self.assertNotIn(("a", "b"), cuts)
        self.assertNotIn(("c", "w"), cuts)

    def test_the_bridge_node_sees_both_halves_which_do_not_see_each_other(self):
        cuts = net.cuts_bridge(self.NODES, "w")
        self.assertEqual(cuts, {("a", "c"), ("c", "a"), ("b", "c"), ("c", "b")})

    def test_a_one_way_cut_only_drops_what_the_source_sends(self):
        self.assertEqual(net.cuts_one_way("a", ["b", "c"]), {("a", "b"), ("a", "c")})

    def test_in_a_ring_every_node_sees_a_different_majority(self):
        for n in (4, 5, 6, 7, 8):
            nodes = ["n%d" % i for i in range(n)]
            cuts = net.cuts_ring(nodes)
            views = set()
            for x in nodes:
                view = frozenset([x] + [y for y in nodes if y != x and (y, x) not in cuts])
                self.assertGreaterEqual(len(view), n // 2 + 1, (n, x, sorted(view)))
                views.add(view)
            self.assertEqual(len(views), n, n)
        self.assertEqual(net.cuts_ring(self.NODES), {("a", "c"), ("c", "a"), ("b", "w"),
                                                     ("w", "b")})

    def test_addresses_outside_the_test_subnet_are_refused(self):
        self.assertEqual(net.check_addr("10.99.0.4"), "10.99.0.4")
        for bad in ("10.99.1.1", "127.0.0.1", "8.8.8.8", "10.99.0.0", "10.99.0.255", "::1",
                    "example.com"):
            with self.assertRaises(ValueError, msg=bad):
                net.check_addr(bad)

    def test_node_names_must_fit_interface_names(self):
        with self.assertRaises(ValueError):
            net.Topology(["a", "averyverylongname"])
        with self.assertRaises(ValueError):
            net.Topology(["a", "sw"])
        with self.assertRaises(ValueError):
            net.Topology(["a"], run_id="Bad-Id")


@unittest.skipUnless(IS_ROOT, ROOT_MSG)
class Topology(unittest.TestCase):
    def setUp(self):
        self.topo = net.Topology(["a", "b", "c", "w"], nfq_delay=NFQ_DELAY)
        t = time.monotonic()
        self.topo.setup()
        self.setup_s = time.monotonic() - t
        self.echo = {}

    def tearDown(self):
        for e in self.echo.values():
            e.close()
        run_id = self.topo.run_id
        self.topo.close()
        self.assertEqual(net.leftover_namespaces(run_id), [])

    def serve(self, node):
        self.echo[node] = Echo(self.topo, node)
        return self.echo[node].port

    def test_connect_partition_heal_and_delay_across_the_bridge(self):
        topo = self.topo
        self.assertLess(self.setup_s, 5.0)
        self.assertEqual(sorted(topo.namespaces()), sorted(net.leftover_namespaces(topo.run_id)))
        self.assertNotIn("10.99.", root_addresses())
        port_b, port_a = self.serve("b"), self.serve("a")

        # plain TCP across the switch
        self.assertTrue(connects(topo, "a", "b", port_b))
        base = statistics.median(rtts_ms(topo, "a", "b", port_b, 10))
        self.assertLess(base, 15.0)

        # isolate a: its connects time out, both ways; the others still talk
        topo.isolate("a")
        self.assertFalse(connects(topo, "a", "b", port_b))
        self.assertFalse(connects(topo, "b", "a", port_a))
        self.assertTrue(connects(topo, "c", "b", port_b))

        topo.heal()
        self.assertTrue(connects(topo, "a", "b", port_b))

        if not HAVE_DELAYER:
            self.skipTest(DELAY_MSG)
        topo.start_delay(20, 5, keep_order=True, seed=1, lifetime_s=120)
        self.assertTrue(topo.delay_health()["ok"], topo.delay_health())
        r = rtts_ms(topo, "a", "b", port_b, 20)
        med = statistics.median(r)
        print("\n  RTT a->b at 20+-5 ms one way: min %.1f median %.1f max %.1f ms (no delay: "
              "median %.2f ms)" % (min(r), med, max(r), base), file=sys.stderr)
        self.assertTrue(15.0 <= med <= 80.0, "median RTT %.1f ms with 20+-5 ms one way: %s"
                        % (med, [round(x, 1) for x in r]))
        stats = topo.stop_delay()
        self.assertEqual(stats["reason"], "sigterm")
        self.assertGreater(stats["received"], 40)
        self.assertEqual(stats["accepted"], stats["received"])
        self.assertEqual(stats["held"], 0)
        self.assertLess(statistics.median(rtts_ms(topo, "a", "b", port_b, 10)), 15.0)

    @unittest.skipUnless(HAVE_DELAYER, DELAY_MSG)
    def test_a_dead_delayer_is_reported_and_traffic_fails_open(self):
        port = self.serve("c")
        proc = self.topo.start_delay(5, 0, lifetime_s=60)
        self.assertTrue(self.topo.delay_health()["ok"])
        self.topo.kill(proc, signal.SIGKILL)
        proc.popen.wait(timeout=5)
        health = self.topo.delay_health()
        self.assertFalse(health["ok"])
        self.assertIn("exited", health["reason"])
        self.assertTrue(connects(self.topo, "a", "c", port))     # --queue-bypass
        self.topo.stop_delay()

    @unittest.skipUnless(HAVE_DELAYER, DELAY_MSG)
    def test_a_per_link_delay_only_slows_that_link(self):
        port = self.serve("b")
        self.topo.start_delay(0, 0, links={("a", "b"): (30, 0), ("b", "a"): (30, 0)},
                              lifetime_s=60)
        slow = statistics.median(rtts_ms(self.topo, "a", "b", port, 8))
        fast = statistics.median(rtts_ms(self.topo, "c", "b", port, 8))
        stats = self.topo.stop_delay()
        self.assertTrue(50 <= slow <= 120, slow)
        self.assertLess(fast, 15.0)
        self.assertGreater(stats["link_10.99.0.1_10.99.0.2"], 0)

    def test_full_loss_on_one_link_blocks_it_until_cleared(self):
        port = self.serve("b")
        self.topo.set_loss(100, links=[("a", "b")])
        self.assertFalse(connects(self.topo, "a", "b", port))
        self.assertTrue(connects(self.topo, "c", "b", port))
        self.topo.clear_loss()
        self.assertTrue(connects(self.topo, "a", "b", port))

    def test_partial_loss_drops_about_that_share_of_packets(self):
        rx = self.topo.socket("b", socket.SOCK_DGRAM)
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)   # room for all 400
        rx.bind((self.topo.addr["b"], 0))
        rx.settimeout(0.5)
        tx = self.topo.socket("a", socket.SOCK_DGRAM)
        with rx, tx:
            tx.sendto(b"warm-up", (self.topo.addr["b"], rx.getsockname()[1]))   # ARP first
            rx.recv(64)
            self.topo.set_loss(50)
            for i in range(400):
                tx.sendto(b"%d" % i, (self.topo.addr["b"], rx.getsockname()[1]))
            got = 0
            try:
                while True:
                    rx.recv(64)
                    got += 1
            except (socket.timeout, TimeoutError):
                pass
        self.topo.clear_loss()
        self.assertTrue(120 <= got <= 280, "%d of 400 datagrams arrived at 50%% loss" % got)

    def test_teardown_stops_only_the_processes_it_started(self):
        mine = self.topo.run_in("a", ["sleep", "600"])
        other = subprocess.Popen(["sleep", "600"])
        try:
            self.assertTrue(mine.alive())
            with open("/proc/%d/comm" % mine.pid) as f:
                self.assertEqual(f.read().strip(), "sleep")   # the PID is the program's
            self.topo.close()
            self.assertFalse(mine.alive())
            self.assertIsNone(other.poll())
        finally:
            other.kill()
            other.wait()

    def test_the_harness_refuses_targets_outside_the_subnet(self):
        with self.assertRaises(ValueError):
            self.topo.connect("a", "127.0.0.1", 22)
        with self.assertRaises(ValueError):
            self.topo.exec_in("not-ours", ["true"])
        with self.assertRaises(ValueError):
            self.topo.partition({("a", "zz")})


CHILD = r"""
import subprocess, sys, time
sys.path.insert(0, %r)
import net
topo = net.Topology(["a", "b"], run_id=sys.argv[1]).setup()
p = topo.run_in("a", ["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(p.pid, flush=True)
time.sleep(60)
"""


@unittest.skipUnless(IS_ROOT, ROOT_MSG)
class TeardownOnDeath(unittest.TestCase):
    def start_child(self, run_id):
        child = subprocess.Popen([sys.executable, "-c", CHILD % HERE, run_id],
                                 stdout=subprocess.PIPE, text=True)
        self.addCleanup(subprocess.run, [sys.executable, os.path.join(HERE, "net.py"),
                                         "--cleanup", run_id], capture_output=True)
        pid = int(child.stdout.readline())
        child.stdout.close()
        self.addCleanup(self.kill_if_alive, pid)
        self.assertEqual(len(net.leftover_namespaces(run_id)), 3)
        return child, pid

    @staticmethod
    def kill_if_alive(pid):
        """Only if the test failed: the sleep the child started (by its PID)."""
        if process_state(pid) not in (None, "Z"):
            os.kill(pid, signal.SIGKILL)

    def wait_gone(self, pid, timeout=5.0):
        """Dead: gone, or a zombie waiting for a slow-reaping init."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process_state(pid) in (None, "Z"):
                return True
            time.sleep(0.02)
        return False

    def test_sigterm_to_the_harness_tears_everything_down(self):
        run_id = net.new_run_id()
        child, pid = self.start_child(run_id)
        child.send_signal(signal.SIGTERM)
        self.assertEqual(child.wait(timeout=10), -signal.SIGTERM)
        self.assertTrue(self.wait_gone(pid))
        self.assertEqual(net.leftover_namespaces(run_id), [])

    def test_a_killed_harness_takes_its_processes_and_cleanup_removes_the_rest(self):
        run_id = net.new_run_id()
        child, pid = self.start_child(run_id)
        child.kill()
        child.wait(timeout=10)
        self.assertTrue(self.wait_gone(pid))                       # pdeathsig
        self.assertEqual(len(net.leftover_namespaces(run_id)), 3)
        subprocess.run([sys.executable, os.path.join(HERE, "net.py"), "--cleanup", run_id],
                       check=True, capture_output=True)
        self.assertEqual(net.leftover_namespaces(run_id), [])


if __name__ == "__main__":
    unittest.main()

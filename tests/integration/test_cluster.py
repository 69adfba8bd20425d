# SPDX-License-Identifier: MIT
"""Three regions and a witness as separate processes on 127.0.0.1.

Checks what an operator relies on: after kill -9 of the leader a new leader
is elected and every live node agrees on term, epoch and active region; the
killed node catches up when restarted; SIGTERM on the leader hands leadership
over before the process exits (cleanly, exit 0); and every way a node can be
started wrong is refused with an exit code and a message that names the
problem. Re-election and hand-over times are printed as figures, never
asserted against a threshold (performance lives in bench/).
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
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402

EX_CONFIG = 78
# preloaded by hand rather than through the faketime wrapper, so that
# SIGTERM reaches batond itself
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def no_rejected_entries(node):
    code, body = node.get("/v1/history?limit=10000")
    assert code == 200, "history unavailable on %s" % node.name
    bad = [e for e in body["events"] if e["kind"] == "entry" and e["outcome"] == "rejected"]
    return bad


def lease_renewals(node, result):
    """baton_lease_renewals_total{result=...} of the default group on node, 0 if it does not answer."""
    try:
        text = urllib.request.urlopen(node.api + "/metrics", timeout=1).read().decode()
    except OSError:
        return 0
    m = re.search(r'^baton_lease_renewals_total\{group="default",result="%s"\} (\d+)' % result, text, re.M)
    return int(m.group(1)) if m else 0


class ClusterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-it-")
        self.c = Cluster(self.tmp)
        self.c.start()
        self.leader = self.c.wait_region_leader(timeout=20)
        wait_for(lambda: self.c.active_region(self.leader) == "eu-west", 10, "initial activation of eu-west")

    def tearDown(self):
        self.c.cleanup()
        reports = self.c.sanitizer_reports()
        self.c.destroy()
        self.assertEqual(reports, [], "sanitizer reports in daemon logs")

    def test_after_kill_9_of_the_leader_a_new_leader_is_elected_and_all_nodes_agree(self):
        old = self.leader
        t0 = time.monotonic()
        old.kill()
        new = self.c.wait_region_leader(timeout=20, exclude=(old,))
        elected = time.monotonic() - t0
        term, leader_id, epoch, active = self.c.wait_agreement(timeout=10)
        self.assertEqual(leader_id, new.id)
        self.assertEqual(epoch, 1)
        self.assertEqual(active, "eu-west")
        print("\nfigure: kill -9 leader -> new ready leader in %.0f ms (election timeout %d ms)"
              % (elapsed_ms(elected), self.c.election_ms), file=sys.stderr)

        # The killed node comes back and catches up with everything committed.
        old.start()
        target = new.status()["raft"]["commit_index"]
        wait_for(lambda: (old.status() or {}).get("raft", {}).get("applied_index", 0) >= target, 15,
                 "the restarted node to apply index %d" % target)
        self.c.wait_agreement(timeout=10)
        for n in self.c.live():
            self.assertEqual(no_rejected_entries(n), [], "entries rejected on %s" % n.name)

    def test_sigterm_on_the_leader_hands_leadership_over_before_exit(self):
        old = self.leader
        t0 = time.monotonic()
        old.signal(signal.SIGTERM)
        new = self.c.wait_leader(timeout=10, exclude=(old,))
        handed = time.monotonic() - t0
        self.assertEqual(old.proc.wait(timeout=10), 0, "a clean shutdown exits 0")
        self.assertFalse(new.witness)
        self.assertIn('msg="stopping" signal=TERM', old.log())
        self.assertIn('msg="stopped" exit=0', old.log())
        print("\nfigure: SIGTERM leader -> new ready leader in %.0f ms" % elapsed_ms(handed), file=sys.stderr)
        # A transfer, not an election timeout: well under one election timeout.
        # (Reported above; the assertion is on the mechanism, in the log.)
        term, leader_id, epoch, active = self.c.wait_agreement(timeout=10)
        self.assertEqual((epoch, active), (1, "eu-west"))

    def test_status_says_how_many_more_losses_the_cluster_survives(self):
        st = wait_for(lambda: (lambda s: s if s and s["fault_tolerance"].get("losses_survivable") == 1 else None)(
            self.leader.status()), 10, "the leader to see every member")
        self.assertEqual(st["fault_tolerance"]["voters"], 4)
        follower = next(n for n in self.c.live() if n is not self.leader and not n.witness)
        wait_for(lambda: follower.status()["fault_tolerance"].get("losses_survivable") == 1, 10,
                 "a follower to show the leader's committed view")
        victim = next(n for n in self.c.live() if n is not self.leader and n is not follower)
        victim.kill()
        wait_for(lambda: self.leader.status()["fault_tolerance"]["losses_survivable"] == 0, 10,
                 "the leader to count one loss")
        wait_for(lambda: follower.status()["fault_tolerance"].get("losses_survivable") == 0, 10,
                 "followers to learn of the loss through the log")

    def test_every_metric_the_alerts_and_dashboard_use_exists(self):
        import re
        import urllib.request
        text = urllib.request.urlopen(self.leader.api + "/metrics", timeout=2).read().decode()
        exposed = set(re.findall(r"^(?:# TYPE )?(baton_[a-z_]+)", text, re.M))
        declared = re.findall(r"^# TYPE (baton_[a-z_]+)", text, re.M)
        self.assertEqual(sorted(x for x in set(declared) if declared.count(x) > 1), [],
                         "a metric family is declared twice")
        mon = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "monitoring")
        for f in os.listdir(mon):
            with open(os.path.join(mon, f)) as fh:
                used = set(re.findall(r"\b(baton_[a-z_]+)\b", fh.read()))
            self.assertEqual(sorted(used - exposed), [], "%s uses metrics batond does not expose" % f)

    @unittest.skipUnless(os.path.exists(LIBFAKETIME), "libfaketime is not installed")
    def test_a_holder_restarted_with_its_clock_set_back_keeps_its_lease(self):
        # Found by jepsen/ (clock scenario): peer requests must carry rising
        # sequence numbers, and a node that once ran with its clock ahead
        # had its renewals refused as replays after a restart with the true
        # clock, until real time caught up, and fenced itself.
        eu = self.c.node("eu-west")
        if eu is self.leader:
            eu.stop()
            self.leader = self.c.wait_leader(timeout=20, exclude=(eu,))
            eu.start()
        renewals = lambda result: lease_renewals(eu, result)  # noqa: E731
        wait_for(lambda: renewals("granted") > 0, 20, "eu-west's lease renewals to be granted by %s" % self.leader.name)
        eu.stop()
        eu.start(extra_env={"LD_PRELOAD": LIBFAKETIME, "FAKETIME": "+8s", "DONT_FAKE_MONOTONIC": "1",
                            "ASAN_OPTIONS": "verify_asan_link_order=0"})
        wait_for(lambda: renewals("granted") > 0, 20, "renewals sent with the clock 8 s ahead to be granted")
        eu.stop()
        eu.start()
        wait_for(lambda: renewals("granted") > 0, 20, "a renewal with the true clock to be granted")
        # every node's log: leadership may have moved since
        refused = [line for n in self.c.nodes for line in n.log().splitlines() if "seq not newer" in line]
        self.assertEqual(refused, [], "eu-west's renewals were taken for replays")

    def test_a_garbled_sequence_file_is_named_and_the_node_still_renews(self):
        eu = self.c.node("eu-west")
        eu.stop()
        with open(os.path.join(eu.data_dir, "peer-seq"), "w") as f:
            f.write("18446744073709551615\n")  # would wrap the counter
        eu.start()
        wait_for(lambda: lease_renewals(eu, "granted") > 0, 20, "eu-west's renewals to be granted")
        self.assertIn('msg="ignoring the sequence file: not one decimal number below 2^63', eu.log())
        self.assertIn(os.path.join(eu.data_dir, "peer-seq"), eu.log())

    def test_active_and_standby_endpoints_answer_for_load_balancers(self):
        eu, us = self.c.node("eu-west"), self.c.node("us-east")
        wait_for(lambda: us.get("/v1/standby")[0] == 200, 10, "us-east to report standby")
        wait_for(lambda: eu.get("/v1/active")[0] == 200, 10, "eu-west to hold a lease")
        self.assertEqual(eu.get("/v1/standby")[0], 503)
        self.assertEqual(us.get("/v1/active")[0], 503)
        self.assertEqual(self.c.node("witness").get("/v1/active")[0], 503)


def elapsed_ms(elapsed):
    return elapsed * 1000.0


class StartupErrorTest(unittest.TestCase):
    """Each misconfiguration exits non-zero with one line naming the problem."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-err-")
        self.c = Cluster(self.tmp)
        self.c.write_configs()
        self.batond = os.path.join(build_dir(), "node", "batond")

    def tearDown(self):
        self.c.destroy()

    def run_batond(self, *args, timeout=20):
        p = subprocess.run([self.batond] + list(args), capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stderr

    def conf(self, i=0):
        with open(self.c.nodes[i].conf_path) as f:
            return f.read()

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_missing_config_names_the_file(self):
        code, err = self.run_batond("--config", os.path.join(self.tmp, "nope.yaml"))
        self.assertEqual(code, EX_CONFIG)
        self.assertIn("nope.yaml", err)
        self.assertIn("No such file", err)

    def test_an_invalid_value_names_file_line_and_key(self):
        n = self.c.nodes[0]
        text = self.conf().replace("heartbeat_ms: 100", "heartbeat_ms: 900")
        path = self.write("bad.yaml", text)
        code, err = self.run_batond("--config", path)
        self.assertEqual(code, EX_CONFIG)
        self.assertRegex(err, r"bad\.yaml:\d+: cluster\.raft\.heartbeat_ms")

    def test_the_example_config_in_deploy_is_valid(self):
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "examples", "baton.yaml")
        code, err = self.run_batond("--check-config", "--config", path)
        self.assertEqual(code, 0, err)

    def test_check_config_accepts_a_valid_file_and_rejects_an_invalid_one(self):
        code, err = self.run_batond("--check-config", "--config", self.c.nodes[0].conf_path)
        self.assertEqual(code, 0, err)
        path = self.write("typo.yaml", self.conf().replace("heartbeat_ms", "hearbeat_ms"))
        code, err = self.run_batond("--check-config", "--config", path)
        self.assertEqual(code, EX_CONFIG)
        self.assertIn("hearbeat_ms", err)

    def test_a_node_id_not_in_the_cluster_lists_the_valid_ids(self):
        text = self.conf().replace("  id: 1\n  data_dir", "  id: 9\n  data_dir")
        code, err = self.run_batond("--config", self.write("id9.yaml", text))
        self.assertEqual(code, EX_CONFIG)
        self.assertIn("node.id", err)
        self.assertIn("9", err)

    def test_an_unwritable_data_dir_is_refused_with_its_path(self):
        blocker = self.write("a-file", "not a directory\n")
        text = self.conf().replace(self.c.nodes[0].data_dir, blocker + "/data")
        code, err = self.run_batond("--config", self.write("dd.yaml", text))
        self.assertNotEqual(code, 0)
        self.assertIn(blocker + "/data", err)

    def test_a_port_in_use_names_the_address(self):
        n = self.c.nodes[0]
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", n.api_port))
        s.listen(1)
        try:
            code, err = self.run_batond("--config", n.conf_path)
        finally:
            s.close()
        self.assertNotEqual(code, 0)
        self.assertIn("127.0.0.1:%d" % n.api_port, err)

    def test_a_raft_port_in_use_names_the_address(self):
        n = self.c.nodes[0]
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", n.raft_port))
        s.listen(1)
        try:
            code, err = self.run_batond("--config", n.conf_path)
        finally:
            s.close()
        self.assertNotEqual(code, 0)
        self.assertIn("raft address 127.0.0.1:%d" % n.raft_port, err)

    def test_a_second_process_on_the_same_data_dir_is_refused(self):
        n = self.c.nodes[0]
        n.start()
        wait_for(lambda: os.path.exists(os.path.join(n.data_dir, "LOCK")), 10, "the first node to lock its dir")
        wait_for(lambda: n.status() is not None, 10, "the first node's API")
        code, err = self.run_batond("--config", n.conf_path)
        self.assertNotEqual(code, 0)
        self.assertIn("in use by another process", err)

    def test_a_node_whose_cluster_section_differs_is_stopped(self):
        # Three members agree; the witness is started with another priority.
        for n in self.c.nodes[:3]:
            n.start()
        leader = self.c.wait_leader(timeout=20)
        wait_for(lambda: leader.status()["config"]["cluster_hash"], 10, "the cluster section to be committed")
        w = self.c.node("witness")
        self.c.write_config(w, priorities={"ap-south": 10})
        w.start()
        code = w.proc.wait(timeout=20)
        self.assertEqual(code, EX_CONFIG)
        self.assertIn("cluster section differs", w.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)

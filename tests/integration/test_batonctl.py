# SPDX-License-Identifier: MIT
"""batonctl against a real cluster (3 regions + witness on 127.0.0.1) and against fake nodes.

The real cluster checks what an operator sees on a healthy cluster: status
names the leader and the active region and says how many losses it survives,
--json carries the leader's view, history lists the initial activation, and
the endpoint list falls through dead endpoints. The fake nodes (a scripted
HTTP server on loopback) show the states a healthy cluster cannot: no leader,
a running transition in a frozen group, a leader that does not answer, and
broken replies. Exit codes are checked everywhere: 0 ok, 1 unreachable,
2 usage, 3 no leader.
"""
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402

BATONCTL = os.path.join(build_dir(), "cli", "batonctl")


def dead_port():
    """A loopback port nothing listens on (bound, then closed: connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def batonctl(*args, env=None):
    """Run batonctl; -> (exit code, stdout, stderr). A dead proxy in the
    environment proves batonctl never goes through one."""
    e = {k: v for k, v in os.environ.items() if k != "BATON_ENDPOINTS"}
    e.update(http_proxy="http://127.0.0.1:%d" % dead_port(), HTTP_PROXY="")
    e.update(env or {})
    p = subprocess.run([BATONCTL] + list(args), capture_output=True, text=True, env=e, timeout=60)
    for marker in ("runtime error:", "Sanitizer"):  # UBSan reports do not change the exit code
        assert marker not in p.stderr, "batonctl %s: %s" % (" ".join(args), p.stderr)
    return p.returncode, p.stdout, p.stderr


class RealClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baton-ctl-")
        cls.c = Cluster(cls.tmp)
        cls.addClassCleanup(cls.c.destroy)
        cls.c.start()
        leader = cls.c.wait_leader(timeout=20)

        def settled():
            st = leader.status()
            g = cls.c.group(st) if st else None
            return (g is not None and g["active_region"] == "eu-west"
                    and st["fault_tolerance"]["losses_survivable"] == 1)
        wait_for(settled, 20, "eu-west active and the leader hearing from all 4 members")
        cls.c.wait_agreement(timeout=20)  # every node has applied the activation (history asks any node)
        cls.endpoints = ",".join("127.0.0.1:%d" % n.api_port for n in cls.c.nodes)

    def leader_name(self):
        return self.c.wait_leader(timeout=10).name

    def test_status_names_the_leader_the_active_region_and_the_losses_it_survives(self):
        rc, out, err = batonctl("--cluster", self.endpoints, "status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"leader:\s+%s, term \d+" % re.escape(self.leader_name()))
        self.assertRegex(out, r"active:\s+eu-west, epoch 1")
        self.assertIn("survives 1 more loss", out)
        self.assertRegex(out, r"answered by:\s+%s at \S+ \(the leader" % re.escape(self.leader_name()))
        for n in self.c.nodes:
            self.assertRegex(out, r"\n  %s\s" % n.name, "members table lists %s" % n.name)
        self.assertIn("plaintext", out)

    def test_status_asks_the_leader_even_when_a_follower_answers_first(self):
        follower = next(n for n in self.c.nodes if n.name != self.leader_name())
        rc, out, err = batonctl("--cluster", "127.0.0.1:%d" % follower.api_port, "status")
        self.assertEqual(rc, 0, err)
        self.assertIn("first asked %s at 127.0.0.1:%d" % (follower.name, follower.api_port), out)
        self.assertIn("reachability below is live", out)

    def test_status_json_is_the_leaders_view_with_the_endpoint_that_answered(self):
        rc, out, err = batonctl("--cluster", self.endpoints, "status", "--json")
        self.assertEqual(rc, 0, err)
        st = json.loads(out)
        leader = self.c.node(self.leader_name())
        self.assertEqual(st["raft"]["leader"]["name"], leader.name)
        self.assertEqual(st["answered_by"], "http://127.0.0.1:%d" % leader.api_port)
        self.assertTrue(st["live_view"])

    def test_status_group_filter_keeps_one_group_and_rejects_unknown_ones(self):
        rc, out, err = batonctl("--cluster", self.endpoints, "status", "--json", "--group", "default")
        self.assertEqual(rc, 0, err)
        self.assertEqual([g["name"] for g in json.loads(out)["groups"]], ["default"])
        rc, out, err = batonctl("--cluster", self.endpoints, "status", "--group", "nope")
        self.assertEqual(rc, 2)
        self.assertIn("no group 'nope' (groups: default)", err)

    def test_history_lists_the_initial_activation(self):
        rc, out, err = batonctl("--cluster", self.endpoints, "history")
        self.assertEqual(rc, 0, err)
        lines = [l for l in out.splitlines() if " activate " in l]
        self.assertEqual(len(lines), 1, out)
        self.assertRegex(lines[0], r"^\s*\d+  \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ  default\s+activate\s+ok\s+epoch 1\s+"
                                   r"region eu-west active at epoch 1.*\(by bootstrap\)$")

    def test_history_json_and_paging(self):
        rc, out, err = batonctl("--cluster", self.endpoints, "history", "--json", "--limit", "1")
        self.assertEqual(rc, 0, err)
        events = json.loads(out)["events"]
        self.assertEqual(len(events), 1)
        rc, out, err = batonctl("--cluster", self.endpoints, "history", "--limit", "1")
        self.assertEqual(rc, 0, err)
        self.assertIn("--since %d" % (events[0]["seq"] + 1), err)
        rc, out, err = batonctl("--cluster", self.endpoints, "history", "--since", str(events[0]["seq"] + 1))
        self.assertEqual(rc, 0, err)
        self.assertNotRegex(out, r"^\s*%d  " % events[0]["seq"])

    def test_first_endpoint_dead_falls_through_to_the_next(self):
        n = self.c.nodes[0]
        rc, out, err = batonctl("--cluster", "127.0.0.1:%d,http://127.0.0.1:%d" % (dead_port(), n.api_port),
                                "status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"leader:\s+%s" % re.escape(self.leader_name()))

    def test_endpoints_come_from_the_environment_without_cluster(self):
        env = {"BATON_ENDPOINTS": "127.0.0.1:%d, 127.0.0.1:%d" % (dead_port(), self.c.nodes[1].api_port)}
        rc, out, err = batonctl("history", env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn(" activate ", out)

    def test_all_endpoints_dead_exits_1_and_names_each_endpoint(self):
        ports = [dead_port(), dead_port()]
        spec = "127.0.0.1:%d,http://127.0.0.1:%d" % tuple(ports)
        for cmd in (["status"], ["status", "--json"], ["history"]):
            rc, out, err = batonctl("--cluster", spec, *cmd)
            self.assertEqual(rc, 1, cmd)
            self.assertEqual(out, "")
            self.assertIn("127.0.0.1:%d: connection refused" % ports[0], err)
            self.assertIn("http://127.0.0.1:%d: connection refused" % ports[1], err)


class UsageTest(unittest.TestCase):
    def test_bad_flags_exit_2_and_say_what_was_wrong(self):
        cases = [
            (["status", "--bogus"], "unknown option '--bogus'"),
            (["--bogus", "status"], "unknown option '--bogus'"),
            (["history", "--limit"], "option '--limit' needs a value"),
            (["history", "--limit", "0"], "--limit wants a whole number from 1 to 10000, not '0'"),
            (["history", "--since", "-1"], "--since wants a whole number"),
            (["status", "extra"], "unexpected argument 'extra'"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["--cluster", "ftp://x", "status"], "only http:// and https:// are supported"),
            (["--cluster", "127.0.0.1:1,,127.0.0.1:2", "status"], "empty endpoint"),
            ([], "Usage: batonctl"),
        ]
        for args, msg in cases:
            rc, out, err = batonctl(*args)
            self.assertEqual(rc, 2, args)
            self.assertIn(msg, err, args)

    def test_help_documents_commands_and_exit_codes(self):
        rc, out, _ = batonctl("--help")
        self.assertEqual(rc, 0)
        for s in ("status", "history", "--cluster", "BATON_ENDPOINTS", "  3  the cluster answered but has no leader"):
            self.assertIn(s, out)
        for cmd in ("status", "history"):
            rc, out, _ = batonctl(cmd, "--help")
            self.assertEqual(rc, 0)
            self.assertIn("Usage: batonctl %s" % cmd, out)

    def test_version(self):
        rc, out, _ = batonctl("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^batonctl \d+\.\d+\.\d+\n$")


# ---------------------------------------------------------------- fake nodes

def member(i, name, role, reach, heard, witness=False):
    return {"id": i, "name": name, "region": None if witness else name, "witness": witness, "role": role,
            "raft": "127.0.0.1:1", "api": "127.0.0.1:1", "leader_hears_from": reach, "last_heard_ms": heard}


def fake_status(node="eu-west", role="follower", leader=None, losses=1, group=None, matches=True):
    g = {"name": "default", "epoch": 4, "active_region": "eu-west", "previous_region": None, "frozen": False,
         "frozen_by": None, "frozen_reason": None, "transition": None, "regions": []}
    g.update(group or {})
    return {
        "cluster": "fake", "node": {"id": 1, "name": node, "region": node, "witness": False, "caught_up": True},
        "raft": {"role": role, "term": 7, "leader": leader, "leader_ready": role == "leader",
                 "transport": "plaintext (run peers over a private link)"},
        "members": [member(1, "eu-west", "follower", True, None), member(2, "us-east", "leader", True, 80),
                    member(3, "ap-south", "follower", False, 9000), member(4, "witness", "follower", None, None,
                                                                            True)],
        "fault_tolerance": {"voters": 4, "reachable_voters": 3, "quorum": 3, "losses_survivable": losses,
                            "as_seen_by": "us-east"},
        "groups": [g],
        "config": {"generation": 2, "hash": "a" * 64, "cluster_generation": 2 if matches else 3,
                   "cluster_hash": ("a" if matches else "b") * 64, "matches": matches},
    }


class FakeNode:
    """A loopback HTTP server answering GET path -> (status, body) from a dict."""

    def __init__(self, routes):
        self.routes = routes
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                code, body = fake.routes.get(self.path.split("?")[0], (404, {"error": "no such endpoint"}))
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class FakeNodeTest(unittest.TestCase):
    def fake(self, routes):
        f = FakeNode(routes)
        self.addCleanup(f.close)
        return f

    def test_no_leader_anywhere_exits_3_and_says_so(self):
        a = self.fake({"/v1/status": (200, fake_status(node="eu-west", role="candidate", losses=None))})
        b = self.fake({"/v1/status": (200, fake_status(node="us-east", role="candidate", losses=None))})
        rc, out, err = batonctl("--cluster", "%s,%s" % (a.addr, b.addr), "status")
        self.assertEqual(rc, 3, err)
        self.assertIn("NO LEADER — the cluster cannot decide anything until a majority is back", out)
        self.assertIn("no leader known to: eu-west, us-east", out)
        self.assertIn("unknown: no leader has measured reachability yet", out)
        rc, out, err = batonctl("--cluster", a.addr, "status", "--json")
        self.assertEqual(rc, 3, err)
        self.assertIsNone(json.loads(out)["raft"]["leader"])

    def test_a_follower_that_knows_no_leader_is_skipped_for_one_that_does(self):
        leader = self.fake({"/v1/status": (200, fake_status(node="us-east", role="leader",
                                                             leader={"id": 2, "name": "us-east"}))})
        lost = self.fake({"/v1/status": (200, fake_status(node="ap-south", role="candidate"))})
        st = fake_status(node="eu-west", leader={"id": 2, "name": "us-east", "api": leader.addr})
        follower = self.fake({"/v1/status": (200, st)})
        rc, out, err = batonctl("--cluster", "%s,%s" % (lost.addr, follower.addr), "status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"answered by:\s+us-east at %s \(the leader" % leader.addr)
        self.assertIn("ap-south answered but knows no leader", out)

    def test_a_leader_that_does_not_answer_leaves_the_followers_view_with_a_warning(self):
        gone = dead_port()
        st = fake_status(node="eu-west", leader={"id": 2, "name": "us-east", "api": "127.0.0.1:%d" % gone})
        f = self.fake({"/v1/status": (200, st)})
        rc, out, err = batonctl("--cluster", f.addr, "status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"answered by:\s+eu-west at %s \(not the leader: reachability below is the last "
                              r"committed view\)" % f.addr)
        self.assertIn("us-east, named leader by eu-west, did not answer here:", out)
        self.assertIn("127.0.0.1:%d: connection refused" % gone, out)

    def test_a_running_transition_in_a_frozen_group_shows_every_step(self):
        now = int(time.time() * 1000)
        steps = [
            {"name": "fence", "driver": "fence.ipmi", "state": "done", "attempts": 1, "error": "",
             "duration_ms": 1200, "started_at_ms": now - 5000},
            {"name": "promote", "driver": "promote.pg", "state": "running", "attempts": 2, "error": "",
             "duration_ms": 0, "started_at_ms": now - 3000},
            {"name": "dns", "driver": "dns.route53", "state": "pending", "attempts": 0, "error": "",
             "duration_ms": 0, "started_at_ms": 0},
        ]
        tr = {"id": "t1", "kind": "failover", "from": "eu-west", "to": "us-east", "reason": "eu-west unreachable",
              "state": "running", "drill": False, "epoch": 5, "started_at_ms": now - 5000, "ended_at_ms": 0,
              "steps": steps}
        st = fake_status(node="us-east", role="leader", leader={"id": 2, "name": "us-east"}, losses=0,
                         matches=False,
                         group={"frozen": True, "frozen_by": "alice", "frozen_reason": "db maintenance",
                                "transition": tr, "previous_region": "ap-south"})
        f = self.fake({"/v1/status": (200, st)})
        rc, out, err = batonctl("--cluster", f.addr, "status")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"active:\s+eu-west, epoch 4 \(before: ap-south\)")
        self.assertIn("YES, by alice: db maintenance", out)
        self.assertRegex(out, r"transition:\s+IN PROGRESS for \d+\.\d s: failover eu-west -> us-east \(epoch 5, started ")
        self.assertIn("reason:", out)
        self.assertRegex(out, r"1\. fence\s+fence\.ipmi\s+done\s+1\.2 s")
        self.assertRegex(out, r"2\. promote\s+promote\.pg\s+running\s+\d+\.\d s so far, attempt 2")
        self.assertRegex(out, r"3\. dns\s+dns\.route53\s+pending\n")
        self.assertIn("cannot lose any more members", out)
        self.assertIn("MISMATCH: us-east has generation 2 hash aaaaaaaaaaaa, the cluster committed "
                      "generation 3 hash bbbbbbbbbbbb", out)
        self.assertRegex(out, r"ap-south\s+ap-south\s+follower\s+NO\s+9\.0 s ago")
        self.assertRegex(out, r"witness\s+\(witness\)\s+follower\s+unknown\s+-")

    def test_a_node_that_accepts_but_never_replies_is_given_up_after_5_s(self):
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes connections; nobody ever reads or answers
        addr = "127.0.0.1:%d" % silent.getsockname()[1]
        f = self.fake({"/v1/history": (200, {"events": [], "next": 1})})
        t0 = time.monotonic()
        rc, out, err = batonctl("--cluster", "%s,%s" % (addr, f.addr), "history", "--json")
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["answered_by"], "http://" + f.addr)
        self.assertGreaterEqual(took, 4.9)
        print("\nfigure: silent endpoint then a good one: %.2f s" % took, file=sys.stderr)
        rc, out, err = batonctl("--cluster", addr, "history")
        self.assertEqual(rc, 1)
        self.assertIn("%s: connected, but no complete reply within 5000 ms" % addr, err)

    def test_broken_replies_count_as_not_answering(self):
        err500 = self.fake({"/v1/status": (500, {"error": "history unreadable"})})
        garbage = self.fake({"/v1/status": (200, "<html>not json</html>"),
                             "/v1/history": (200, "[1, 2]")})
        rc, out, err = batonctl("--cluster", "%s,%s" % (err500.addr, garbage.addr), "status")
        self.assertEqual(rc, 1)
        self.assertIn("%s: HTTP 500: history unreadable" % err500.addr, err)
        self.assertIn("%s: reply is not JSON" % garbage.addr, err)
        rc, out, err = batonctl("--cluster", garbage.addr, "history")
        self.assertEqual(rc, 1)
        self.assertIn("%s: reply is JSON but not an object" % garbage.addr, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)

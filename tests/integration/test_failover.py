# SPDX-License-Identifier: MIT
"""Automatic failover on loopback: 3 regions + a witness, each region's
"service" a small HTTP endpoint this test controls, probed by every node.

- The active region's service fails -> exactly one failover, to the best
  candidate, with the reason in the history.
- Only one observer's probes fail -> no failover.
- The active region's coordinator is stopped (SIGSTOP) for longer than its
  lease -> the others fail over, and the stopped node's lease had expired
  before the transition began (checked from both sides' records); once
  resumed it has fenced itself.
- A standby whose reporters report replication lag over the limit is skipped.
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import FAST_DETECTION, Cluster, build_dir, free_port_block, wait_for  # noqa: E402
from services import Service  # noqa: E402
import pbmini  # noqa: E402

FAST = FAST_DETECTION + "    cooldown_ms: 60000"


class FailoverTest(unittest.TestCase):
    def start_cluster(self, coordinator_probe=False, operators=False):
        self.tmp = tempfile.mkdtemp(prefix="baton-fo-")
        extra = FAST
        if operators:
            self.key = os.path.join(self.tmp, "ops.key")
            out = subprocess.run([self.batonctl(), "keygen", "--name", "ops", "--out", self.key],
                                 capture_output=True, text=True, check=True).stdout
            entry = next(l.strip() for l in out.splitlines() if l.strip().startswith("- {name:"))
            extra += "\n  operators:\n    " + entry
        base = free_port_block(8)
        regions = ("eu-west", "us-east", "ap-south")
        self.services = {r: Service(base + i) for i, r in enumerate(regions)}
        # Ports are known before the cluster exists: compute them the same way.
        self.c = Cluster(self.tmp, extra_cluster=extra, keys=True)
        probes = {}
        for r in regions:
            probes[r] = ["{type: http, url: \"%s\"}" % self.services[r].url()]
            if coordinator_probe:
                probes[r].append("{type: http, url: \"%s/v1/status\"}" % self.c.node(r).api)
        self.c.region_probes = probes
        self.c.write_configs()
        self.c.start()
        self.leader = self.c.wait_leader(timeout=20)
        wait_for(lambda: self.c.node("eu-west").get("/v1/active")[0] == 200, 15, "eu-west to hold a granted lease")

    def batonctl(self):
        return os.path.join(build_dir(), "cli", "batonctl")

    def tearDown(self):
        self.c.cleanup()
        reports = self.c.sanitizer_reports()
        for s in self.services.values():
            s.close()
        self.c.destroy()
        self.assertEqual(reports, [], "sanitizer reports in daemon logs")

    def group(self, node=None):
        st = (node or self.c.leader() or self.c.live()[0]).status()
        return self.c.group(st)

    def history(self, node=None):
        node = node or self.c.leader()
        return node.get("/v1/history?limit=10000")[1]["events"]

    def wait_active(self, region, timeout=20):
        return wait_for(lambda: (lambda g: g if g and g["active_region"] == region and g["transition"]
                                 and g["transition"]["state"] == "done" else None)(self.group()),
                        timeout, "%s to hold the baton with the transition done" % region)

    def test_when_the_active_service_fails_it_fails_over_once_to_the_best_candidate(self):
        self.start_cluster()
        t0 = time.monotonic()
        self.services["eu-west"].fail = True
        g = self.wait_active("us-east")
        took = time.monotonic() - t0
        self.assertEqual(g["epoch"], 2)
        self.assertEqual(g["transition"]["kind"], "failover")
        wait_for(lambda: self.c.node("us-east").get("/v1/active")[0] == 200, 10, "us-east to hold a lease")
        self.assertEqual(self.c.node("eu-west").get("/v1/active")[0], 503)
        events = self.history()
        starts = [e for e in events if e["kind"] == "transition" and e["outcome"] == "ok"]
        self.assertEqual(len(starts), 1, "exactly one failover")
        self.assertIn("eu-west -> us-east", starts[0]["text"])
        decisions = [e for e in events if e["kind"] == "decision"]
        self.assertTrue(any(e["outcome"] == "failover" and "us-east" in e["text"] for e in decisions), decisions)
        # Nothing else happens afterwards: the decision settles.
        print("\nfigure: service failure -> us-east done in %.0f ms (down_after 600 + failover_after 500"
              " + lease wait)" % (took * 1000), file=sys.stderr)

    def test_one_observer_with_failing_probes_never_triggers_a_failover(self):
        self.start_cluster()
        self.services["eu-west"].fail_for.add("witness")
        # The witness's verdict reaches the log...
        def witness_sees_down():
            g = self.group()
            r = next(r for r in g["regions"] if r["name"] == "eu-west")
            return any(o["observer"] == "witness" and o["down"] for o in r["observations"])
        wait_for(witness_sees_down, 10, "the witness's 'down' observation to be committed")
        # ...and for longer than a failover would take, nothing moves.
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            g = self.group()
            self.assertEqual((g["active_region"], g["epoch"]), ("eu-west", 1))
            r = next(r for r in g["regions"] if r["name"] == "eu-west")
            self.assertFalse(r["objectively_down"])
            time.sleep(0.2)
        self.assertEqual(self.c.node("eu-west").get("/v1/active")[0], 200)

    def test_a_coordinator_stopped_longer_than_its_lease_had_lost_it_before_the_failover(self):
        self.start_cluster(coordinator_probe=True)
        eu = self.c.node("eu-west")
        eu.signal(signal.SIGSTOP)
        try:
            g = self.wait_active("us-east", timeout=30)
        finally:
            eu.signal(signal.SIGCONT)
        started = g["transition"]["started_at_ms"]
        # The resumed node fences itself and stops answering "active".
        wait_for(lambda: "self-fencing" in eu.log(), 10, "the resumed node to fence itself")
        wait_for(lambda: eu.get("/v1/active")[0] == 503, 10, "eu-west /v1/active to say 503")
        line = next(l for l in eu.log().splitlines() if "self-fencing" in l)
        expired = int(line.split("lease_expired_at_ms=")[1].split()[0])
        self.assertLess(expired, started, "the old lease expired before the new region took over")
        print("\nfigure: lease expired %d ms before the transition began" % (started - expired), file=sys.stderr)

    def test_a_frozen_group_does_not_fail_over_and_says_why(self):
        self.start_cluster(operators=True)
        endpoints = ",".join(n.api for n in self.c.nodes)
        p = subprocess.run([self.batonctl(), "--cluster", endpoints, "freeze", "--key", self.key, "--reason",
                            "database maintenance"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        wait_for(lambda: self.group()["frozen"], 10, "the freeze to be committed")
        self.services["eu-west"].fail = True
        def blocked():
            return [e for e in self.history() if e["kind"] == "decision" and e["outcome"] == "blocked"
                    and "frozen" in e["text"]]
        wait_for(blocked, 20, "a 'blocked: frozen' decision in the history")
        # and for longer than a failover would take, the baton stays put
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline:
            g = self.group()
            self.assertEqual((g["active_region"], g["epoch"]), ("eu-west", 1))
            time.sleep(0.2)
        self.assertEqual(g["decision"]["rule"], "frozen")

    def test_a_standby_over_the_lag_limit_is_skipped(self):
        self.start_cluster()
        us = self.c.node("us-east")
        key = self.c.key_bytes("region-us-east")
        seq = [int(time.time() * 1e6)]

        def report(lag):
            seq[0] += 1
            body = pbmini.health_report_body("us-east", "db-reporter", seq[0], int(time.time() * 1000), [
                pbmini.check_result("db", "postgres", True, pg_role="replica", lag_bytes=lag, lag_ms=0)])
            req = urllib.request.Request(us.api + "/v1/health", data=pbmini.health_report(body, key),
                                         headers={"Content-Type": "application/x-protobuf"})
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status

        self.assertEqual(report(50 << 20), 200)
        def us_lagging():
            r = next(r for r in self.group()["regions"] if r["name"] == "us-east")
            return r["health"] and r["health"]["lag_bytes"] == 50 << 20 and r["blocked_by"] == "lag_bytes"
        wait_for(us_lagging, 10, "us-east's lag to be committed and block it")
        stop = threading.Event()
        keep = threading.Thread(target=lambda: [report(50 << 20) or stop.wait(0.5) for _ in iter(stop.is_set, True)],
                                daemon=True)
        keep.start()
        try:
            self.services["eu-west"].fail = True
            g = self.wait_active("ap-south")
        finally:
            stop.set()
        self.assertEqual(g["epoch"], 2)
        # A forged report (wrong key) is refused and counted.
        body = pbmini.health_report_body("us-east", "db-reporter", seq[0] + 10, int(time.time() * 1000))
        req = urllib.request.Request(us.api + "/v1/health", data=pbmini.health_report(body, b"x" * 32))
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=2)
        self.assertEqual(cm.exception.code, 403)
        self.assertIn('baton_reports_total{verdict="bad-mac"} 1', urllib.request.urlopen(us.api + "/metrics").read().decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)

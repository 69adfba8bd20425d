# SPDX-License-Identifier: MIT
"""The plan executor on a real cluster, with exec steps (a shell script this
test controls) and an automatic failover as the trigger.

- independent steps run in parallel; a step waits for everything in after:
- a retryable failure is retried, then succeeds (attempts are committed)
- a step that keeps failing fails the transition, with the step's error
- an attempt that overruns its deadline is killed
- kill -9 of the leader mid-step: the next leader resumes the idempotent
  step, never re-runs a completed one, and fails a non-idempotent one that
  was interrupted (an operator decides)
- a region whose coordinator cannot take the lease (stopped) is not made
  active: no step runs and the transition fails with the reason
- throughout, the loop never stalls (batond's own loop-lag gauge)
"""
import os
import re
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import FAST_DETECTION, Cluster, free_port_block, http_json, wait_for  # noqa: E402
from services import Service  # noqa: E402

SCRIPT = r"""#!/bin/sh
# step.sh NAME: logs start/end, then behaves as the control files say.
name=$1; ctl=%(ctl)s; log=%(log)s
now() { date +%%s%%N; }  # PATH lookups on purpose: the exec driver must pass PATH whole
echo "start $name epoch=$BATON_EPOCH attempt=$BATON_ATTEMPT from=$BATON_FROM to=$BATON_TO t=$(now)" >> $log
if [ -f $ctl/$name.sleep ]; then sleep $(cat $ctl/$name.sleep); fi
if [ -f $ctl/$name.fail ]; then
  n=$(cat $ctl/$name.fail)
  if [ "$n" -gt 0 ]; then echo $((n - 1)) > $ctl/$name.fail; echo "$name: transient trouble" >&2; exit 75; fi
fi
if [ -f $ctl/$name.fatal ]; then echo "$name: broken for good" >&2; exit 1; fi
echo "end $name t=$(now)" >> $log
echo "$name ok"
"""

DETECTION = FAST_DETECTION


def step(name, after="", idempotent=True, attempts=3, attempt_timeout=5000, timeout=30000, backoff=100):
    s = "    - name: %s\n      driver: exec\n" % name
    if after:
        s += "      after: \"%s\"\n" % after
    s += "      max_attempts: %d\n      attempt_timeout_ms: %d\n      timeout_ms: %d\n      backoff_ms: %d\n" % (
        attempts, attempt_timeout, timeout, backoff)
    s += "      params: {command: /bin/sh, arg_1: \"%%(script)s\", arg_2: %s, idempotent: \"%s\"}\n" % (
        name, "true" if idempotent else "false")
    return s


class ExecutorTest(unittest.TestCase):
    def start(self, steps):
        self.tmp = tempfile.mkdtemp(prefix="baton-ex-")
        self.ctl = os.path.join(self.tmp, "ctl")
        self.log = os.path.join(self.tmp, "steps.log")
        self.script = os.path.join(self.tmp, "step.sh")
        os.makedirs(self.ctl)
        with open(self.script, "w") as f:
            f.write(SCRIPT % {"ctl": self.ctl, "log": self.log})
        base = free_port_block(4)
        regions = ("eu-west", "us-east", "ap-south")
        self.services = {r: Service(base + i) for i, r in enumerate(regions)}
        plan = "  plan:\n" + "".join(steps) % {"script": self.script}
        self.c = Cluster(os.path.join(self.tmp, "cluster"), extra_cluster=DETECTION + plan, keys=True,
                         region_probes={r: ["{type: http, url: \"%s\"}" % self.services[r].url()] for r in regions})
        self.c.start()
        self.c.wait_leader(timeout=20)
        wait_for(lambda: self.c.node("eu-west").get("/v1/active")[0] == 200, 15, "eu-west to hold its lease")

    def tearDown(self):
        self.c.cleanup()
        reports = self.c.sanitizer_reports()
        for s in self.services.values():
            s.close()
        self.c.destroy()
        self.assertEqual(reports, [], "sanitizer reports in daemon logs")

    def ctl_file(self, name, value):
        with open(os.path.join(self.ctl, name), "w") as f:
            f.write(str(value))

    def lines(self):
        try:
            with open(self.log) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def times(self, kind, name):
        return [int(re.search(r" t=(\d+)", l).group(1)) for l in self.lines() if l.startswith("%s %s " % (kind, name))]

    def transition(self, states=("done", "failed"), timeout=30):
        def t():
            l = self.c.leader()
            g = self.c.group(l.status()) if l else None
            tr = g["transition"] if g else None
            return tr if tr and tr["state"] in states else None
        return wait_for(t, timeout, "the transition to end as %s" % "/".join(states))

    def fail_over(self):
        self.services["eu-west"].fail = True

    def assert_loop_never_stalled(self):
        for n in self.c.live():
            code, _ = http_json(n.api + "/v1/status")
            import urllib.request
            text = urllib.request.urlopen(n.api + "/metrics", timeout=2).read().decode()
            lag = int(re.search(r"^baton_loop_lag_max_ms (\d+)$", text, re.M).group(1))
            self.assertLess(lag, 1000, "%s's loop stalled for %d ms" % (n.name, lag))

    def test_independent_steps_run_in_parallel_and_dependents_wait(self):
        self.start([step("db"), step("scale"), step("dns", after="db, scale")])
        for s in ("db", "scale"):
            self.ctl_file(s + ".sleep", "1")
        self.fail_over()
        tr = self.transition()
        self.assertEqual(tr["state"], "done", tr)
        (db0,), (db1,) = self.times("start", "db"), self.times("end", "db")
        (sc0,), (sc1,) = self.times("start", "scale"), self.times("end", "scale")
        (dns0,) = self.times("start", "dns")
        self.assertLess(max(db0, sc0), min(db1, sc1), "db and scale overlap")
        self.assertGreater(dns0, max(db1, sc1), "dns starts after both")
        self.assertIn("epoch=2", self.lines()[0])
        self.assertIn("from=eu-west to=us-east", self.lines()[0])
        durations = {s["name"]: s["duration_ms"] for s in tr["steps"]}
        self.assertGreaterEqual(durations["db"], 900)
        print("\nfigure: step durations (ms) %s" % durations, file=sys.stderr)
        self.assert_loop_never_stalled()

    def test_a_transient_failure_is_retried_then_succeeds(self):
        self.start([step("flaky", attempts=5)])
        self.ctl_file("flaky.fail", 2)
        self.fail_over()
        tr = self.transition()
        self.assertEqual(tr["state"], "done")
        self.assertEqual(tr["steps"][0]["attempts"], 3)
        self.assertEqual(len(self.times("start", "flaky")), 3)

    def test_a_step_that_keeps_failing_fails_the_transition_with_its_error(self):
        self.start([step("broken", attempts=2), step("after", after="broken")])
        self.ctl_file("broken.fail", 100)
        self.fail_over()
        tr = self.transition()
        self.assertEqual(tr["state"], "failed")
        s = {x["name"]: x for x in tr["steps"]}
        self.assertEqual(s["broken"]["state"], "failed")
        self.assertEqual(s["broken"]["attempts"], 2)
        self.assertIn("transient trouble", s["broken"]["error"])
        self.assertEqual(s["after"]["state"], "pending", "a dependent never starts")
        self.assertEqual(self.times("start", "after"), [])

    def test_an_attempt_past_its_deadline_is_killed(self):
        self.start([step("stuck", attempts=1, attempt_timeout=500, timeout=2000)])
        self.ctl_file("stuck.sleep", "30")
        self.fail_over()
        t0 = time.monotonic()
        tr = self.transition()
        self.assertEqual(tr["state"], "failed")
        self.assertLess(time.monotonic() - t0, 15, "the 30 s sleep was cut short")
        self.assertEqual(self.times("end", "stuck"), [])
        self.assert_loop_never_stalled()

    def lead_elsewhere_than(self, region):
        """Make sure region's coordinator does not lead (SIGTERM hands over)."""
        node = self.c.node(region)
        if self.c.wait_leader(timeout=20) is node:
            node.stop()
            self.c.wait_leader(timeout=20, exclude=(node,))
            node.start()
        wait_for(lambda: (lambda l: l is not None and l is not node)(self.c.leader()), 20,
                 "a leader other than %s" % region)
        wait_for(lambda: self.c.node("eu-west").get("/v1/active")[0] == 200, 15, "eu-west to hold its lease")

    def test_a_region_whose_coordinator_cannot_take_the_lease_is_not_made_active(self):
        # Found by jepsen/: a plan promoted a region whose coordinator never
        # learnt it held the baton, so nothing fenced it when it was cut off.
        self.start([step("promote")])
        self.lead_elsewhere_than("us-east")
        self.c.node("us-east").signal(signal.SIGSTOP)
        self.fail_over()
        tr = self.transition(timeout=40)
        self.assertEqual(tr["state"], "failed", tr)
        self.assertEqual(tr["to"], "us-east")
        promote = tr["steps"][0]
        self.assertEqual((promote["state"], promote["attempts"]), ("failed", 0), promote)
        self.assertIn("us-east's coordinator did not renew its lease", promote["error"])
        self.assertIn("retry-step", promote["error"])
        self.assertEqual(self.times("start", "promote"), [], "no step runs for a region without its lease")

    def test_after_the_leader_dies_mid_step_the_next_leader_resumes(self):
        self.start([step("once", idempotent=False), step("slow", after="once", idempotent=True),
                    step("last", after="slow")])
        # The region taking over must keep its coordinator: a plan only
        # proceeds while that coordinator holds the lease.
        self.lead_elsewhere_than("us-east")
        self.ctl_file("slow.sleep", "2")
        self.fail_over()
        wait_for(lambda: self.times("start", "slow"), 20, "the slow step to start")
        old = self.c.leader()
        old.kill()
        tr = self.transition(timeout=40)
        self.assertEqual(tr["state"], "done", tr)
        self.assertEqual(len(self.times("start", "once")), 1, "a completed non-idempotent step never runs twice")
        self.assertGreaterEqual(len(self.times("start", "slow")), 1)
        self.assertEqual(len(self.times("end", "last")), 1)

    def test_an_interrupted_non_idempotent_step_is_failed_for_an_operator(self):
        self.start([step("risky", idempotent=False)])
        self.lead_elsewhere_than("us-east")
        self.ctl_file("risky.sleep", "3")
        self.fail_over()
        wait_for(lambda: self.times("start", "risky"), 20, "the risky step to start")
        self.c.leader().kill()
        tr = self.transition(timeout=40)
        self.assertEqual(tr["state"], "failed")
        self.assertIn("retry-step or skip-step", tr["steps"][0]["error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)

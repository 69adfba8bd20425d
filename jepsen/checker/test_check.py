"""Unit tests for check.py on hand-made histories.

A valid failover history passes every property; each known-bad history
below breaks exactly the property it is about (or, where the fault
inherently shows up twice, at least that one).

Run: cd jepsen/checker && python3 -m unittest -v test_check
"""

import contextlib
import copy
import io
import json
import os
import re
import tempfile
import unittest
import xml.etree.ElementTree as ET

import check
import timeline

MS = 1_000_000
T0 = 5_000_000_000_000


class Hist:
    """Builds histories in the documented format; times are ms after T0."""

    def __init__(self):
        self.ev = []
        self.next_proc = 0

    def add(self, ms, src, typ, f, value=None, proc=None):
        ev = {"t": T0 + int(ms * MS), "src": src, "type": typ, "f": f}
        if proc is not None:
            ev["proc"] = proc
        if value is not None:
            ev["value"] = value
        self.ev.append(ev)
        return ev

    def proc(self):
        self.next_proc += 1
        return self.next_proc

    def nemesis(self, ms, f, value=None):
        return self.add(ms, "nemesis", "info", f, value or {})

    def _res(self, region, op):
        if op == "dns":
            return "dns", "dns"
        return ("scaler-" if op == "scale" else "db-") + region, "oracle-" + region

    def accept(self, ms, region, op, token, **kw):
        res, src = self._res(region, op)
        v = {"res": res, "op": op, "region": region, "token": token, "max": token}
        if op == "dns":
            v["target"] = region
        v.update(kw)
        return self.add(ms, src, "event", "accept", v)

    def reject(self, ms, region, op, token, max_, **kw):
        res, src = self._res(region, op)
        v = {"res": res, "op": op, "region": region, "token": token, "max": max_,
             "reason": "stale-token"}
        v.update(kw)
        return self.add(ms, src, "event", "reject", v)

    def write(self, ms, ms_done, region, token, wid, outcome="ok", accepted=None):
        """A writer op; the oracle accepts it halfway unless outcome is fail
        (then it rejects it) or accepted=False."""
        p = self.proc()
        self.add(ms, "writer-1", "invoke", "write", {"id": wid}, p)
        mid = (ms + ms_done) / 2
        if accepted is None:
            accepted = outcome != "fail"
        if accepted:
            self.accept(mid, region, "write", token, id=wid)
        elif outcome == "fail":
            self.reject(mid, region, "write", token, token + 1, id=wid)
        if outcome == "ok":
            self.add(ms_done, "writer-1", "ok", "write",
                     {"id": wid, "region": region, "token": token}, p)
        else:
            self.add(ms_done, "writer-1", outcome, "write", {"id": wid}, p)

    def cmd(self, ms, ms_done, cmd_id, body, outcome, nonce=None, **flags):
        p = self.proc()
        v = {"cmd_id": cmd_id, "body": body, "nonce": nonce or "n-" + cmd_id, "sig": "hmac"}
        v.update(flags)
        self.add(ms, "opctl-0", "invoke", "cmd", v, p)
        self.add(ms_done, "opctl-0", outcome, "cmd", {"cmd_id": cmd_id}, p)

    def apply(self, ms, cmd_id, index, term, srcs=("coord-a", "coord-b", "coord-c")):
        for i, src in enumerate(srcs):
            self.add(ms + i, src, "event", "apply",
                     {"cmd_id": cmd_id, "index": index, "term": term, "hash": "h%d" % index})

    def transition(self, ms, tid, state, frm="a", to="c", kind="failover", failed_steps=(), epoch=2):
        return self.add(ms, "coord-b", "event", "transition",
                        {"id": tid, "kind": kind, "from": frm, "to": to, "state": state, "epoch": epoch,
                         "reason": "jepsen", "failed_steps": [dict(s) for s in failed_steps]})

    def final_read(self, ms, region, ids):
        self.add(ms, "final", "ok", "read", {"res": "db-" + region, "ids": list(ids),
                                             "active": True}, self.proc())

    def events(self):
        return copy.deepcopy(self.ev)


def base(final_ids=(1, 2, 3, 4, 5, 7, 8, 9, 11), final_ms=4000, extra=None):
    """Region a active at token 1; a is isolated at 1 s; c takes over at
    token 2 at 2 s; heal at 3 s; a is fenced and its stale writer rejected;
    recovery by 3.35 s; final read at 4 s."""
    h = Hist()
    h.add(0, "coord-a", "event", "became-leader", {"term": 1})
    h.accept(10, "a", "promote", 1)
    h.accept(12, "a", "dns", 1)
    for i in range(1, 6):
        h.write(100 * i, 100 * i + 20, "a", 1, i)
    h.cmd(550, 580, "c-1", "noop", "ok")
    h.apply(570, "c-1", 1, 1)
    h.nemesis(1000, "partition-start", {"spec": "isolate", "targets": ["a"],
                                        "grudge": {"a": ["b", "c", "w"], "b": ["a"],
                                                   "c": ["a"], "w": ["a"]}})
    h.write(1100, 2090, "a", 1, 6, outcome="info", accepted=False)
    h.add(1500, "coord-b", "event", "became-leader", {"term": 2})
    h.accept(1700, "a", "scale", 1, n=0)            # a self-fences: not acting
    h.cmd(1750, 1760, "c-4", "scale:2", "info")
    h.apply(1800, "c-4", 2, 2)
    h.transition(1900, "t-2", "running")
    h.accept(2000, "c", "promote", 2)
    h.accept(2010, "c", "dns", 2)
    h.transition(2050, "t-2", "done")
    h.write(2100, 2120, "c", 2, 7)
    h.write(2200, 2220, "c", 2, 8)
    h.cmd(2300, 2310, "c-3", "scale:3", "fail")
    h.cmd(2400, 2900, "c-5", "noop", "info")
    h.nemesis(3000, "partition-stop", {"spec": "heal"})
    h.accept(3050, "a", "fence", 2)
    h.write(3100, 3150, "c", 2, 9)
    h.write(3200, 3220, "a", 1, 10, outcome="fail")
    h.cmd(3300, 3350, "c-6", "noop", "ok")
    h.apply(3320, "c-6", 3, 2)
    h.write(3400, 3450, "c", 2, 11)
    if extra:
        extra(h)
    h.final_read(final_ms, "c", final_ids)
    return h


def failing(res):
    return {name for name, p in res["properties"].items() if p["valid"] is not True}


def kinds(res, prop):
    return [a["kind"] for a in res["properties"][prop]["anomalies"]]


class ValidHistory(unittest.TestCase):
    def test_a_clean_failover_history_passes_every_property(self):
        res = check.check(base().events())
        self.assertEqual(failing(res), set(), json.dumps(res["properties"], indent=1))
        self.assertIs(res["valid"], True)
        self.assertEqual((res["passed"], res["failed"]), (len(check.PROPERTIES), 0))
        self.assertEqual(check.exit_code(res), 0)

    def test_failover_time_is_from_the_fault_to_the_first_write_elsewhere(self):
        fm = check.check(base().events())["failover_ms"]
        self.assertEqual(fm["n"], 1)
        self.assertAlmostEqual(fm["p50"], 1120.0)
        self.assertAlmostEqual(fm["max"], 1120.0)

    def test_a_clock_fault_on_the_active_region_is_not_a_failover_fault(self):
        def clock(h):
            h.nemesis(500, "clock-start", {"targets": ["a"], "offset_s": 600})
            h.nemesis(900, "clock-stop", {"targets": ["a"]})
        fm = check.check(base(extra=clock).events())["failover_ms"]
        self.assertEqual((fm["n"], fm["p50"]), (1, 1120.0))
        self.assertEqual([f["fault"] for f in fm["each"]], ["partition"])

    def test_recovery_is_measured_from_the_final_heal_to_the_last_condition(self):
        rec = check.check(base().events())["properties"]["bounded-recovery"]["stats"]
        self.assertAlmostEqual(rec["recovery_s"], 0.35)
        self.assertEqual(rec["last_condition"], "noop")
        self.assertEqual(rec["region"], "c")

    def test_the_order_of_input_lines_does_not_matter(self):
        evs = base().events()
        evs.reverse()      # no two events of base() share a t
        self.assertEqual(len({ev["t"] for ev in evs}), len(evs))
        self.assertIs(check.check(evs)["valid"], True)


class SplitBrain(unittest.TestCase):
    def test_two_regions_acting_at_once_is_a_split_brain(self):
        # a keeps taking writes under token 1 after c began acting at 2.0 s
        h = base(extra=lambda h: h.write(2040, 2060, "a", 1, 12, outcome="info"))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"no-overlap"})
        self.assertEqual(kinds(res, "no-overlap"), ["split-brain"])
        a = res["properties"]["no-overlap"]["anomalies"][0]
        self.assertEqual({(iv["region"], iv["token"]) for iv in a["intervals"]},
                         {("a", 1), ("c", 2)})

    def test_an_older_epoch_acting_after_a_newer_one_ended_is_flagged(self):
        # c acts briefly at token 2 and stops; later a acts again at token 1
        h = Hist()
        h.accept(0, "a", "promote", 1)
        h.accept(100, "c", "promote", 2)
        h.accept(200, "a", "write", 1, id=1)
        res = check.check(h.events())
        self.assertIn("split-brain", kinds(res, "no-overlap"))
        h = Hist()
        h.accept(0, "c", "promote", 2)
        h.accept(100, "a", "write", 1, id=1)
        res = check.check(h.events())
        self.assertEqual(kinds(res, "no-overlap"), ["stale-epoch-acted"])

    def test_fence_and_scale_to_zero_are_not_counted_as_acting(self):
        h = base(extra=lambda h: (h.accept(2500, "a", "scale", 1, n=0),
                                  h.accept(2600, "a", "fence", 2)))
        self.assertIs(check.check(h.events())["properties"]["no-overlap"]["valid"], True)


class Fencing(unittest.TestCase):
    def test_a_stale_token_accepted_by_a_resource_fails_fencing(self):
        # db-a accepts a fence with token 1 after it accepted token 2
        h = base(extra=lambda h: h.accept(3100, "a", "fence", 1))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"fencing-monotonic"})
        self.assertEqual(kinds(res, "fencing-monotonic"), ["stale-token-accepted"])

    def test_a_stale_write_accepted_fails_fencing_and_shows_as_overlap(self):
        h = base()
        evs = h.events()
        for ev in evs:   # turn the rejected stale write into an accepted one
            if ev["f"] == "reject":
                ev["f"] = "accept"
        res = check.check(evs)
        self.assertIn("fencing-monotonic", failing(res))
        self.assertIn("stale-token-accepted", kinds(res, "fencing-monotonic"))
        self.assertIn("no-overlap", failing(res))

    def test_rejecting_a_token_not_below_the_max_is_false_fencing(self):
        h = base(extra=lambda h: h.reject(3500, "c", "write", 2, 2, id=99))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"fencing-monotonic"})
        self.assertEqual(kinds(res, "fencing-monotonic"), ["false-fence"])


class TokenOwnership(unittest.TestCase):
    def test_one_token_used_by_two_regions_fails(self):
        h = base(extra=lambda h: h.accept(1800, "b", "promote", 2))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"one-region-per-token"})
        a = res["properties"]["one-region-per-token"]["anomalies"][0]
        self.assertEqual((a["kind"], a["token"], a["regions"]), ("token-reused", 2, ["b", "c"]))

    def test_a_coordinator_claim_counts_for_token_ownership(self):
        h = base(extra=lambda h: h.add(2500, "coord-b", "event", "claim-active",
                                       {"region": "b", "token": 2}))
        self.assertEqual(kinds(check.check(h.events()), "one-region-per-token"),
                         ["token-reused"])

    def test_two_leaders_in_one_term_fail(self):
        h = base(extra=lambda h: h.add(1600, "coord-c", "event", "became-leader", {"term": 2}))
        self.assertEqual(kinds(check.check(h.events()), "one-region-per-token"), ["two-leaders"])

    def test_one_log_index_with_two_entries_fails(self):
        h = base(extra=lambda h: h.add(3330, "coord-w", "event", "apply",
                                       {"cmd_id": "c-6", "index": 3, "term": 2, "hash": "other"}))
        self.assertEqual(kinds(check.check(h.events()), "one-region-per-token"),
                         ["log-divergence"])


class ExactlyOnce(unittest.TestCase):
    def test_an_acknowledged_command_applied_twice_fails(self):
        h = base(extra=lambda h: h.apply(3600, "c-6", 4, 2))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"exactly-once"})
        a = res["properties"]["exactly-once"]["anomalies"][0]
        self.assertEqual((a["kind"], a["cmd_id"], a["applied"]), ("duplicate", "c-6", 2))

    def test_reapplying_the_same_log_index_after_a_restart_is_not_a_duplicate(self):
        h = base(extra=lambda h: h.apply(3700, "c-6", 3, 2, srcs=("coord-a",)))
        self.assertIs(check.check(h.events())["properties"]["exactly-once"]["valid"], True)

    def test_a_failed_command_that_was_applied_fails(self):
        h = base(extra=lambda h: h.apply(3600, "c-3", 4, 2))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"exactly-once"})
        self.assertEqual(kinds(res, "exactly-once"), ["failed-applied"])

    def test_a_command_replaying_another_commands_nonce_must_not_apply(self):
        def replay(h):
            h.cmd(3500, 3510, "c-7", "failover:a", "fail", nonce="n-c-1")
            h.apply(3520, "c-7", 4, 2)
        res = check.check(base(extra=replay).events())
        self.assertEqual(failing(res), {"exactly-once"})
        self.assertEqual(kinds(res, "exactly-once"), ["replay-applied"])

    def test_a_replayed_envelope_applied_again_fails(self):
        def replay(h):
            h.cmd(3500, 3510, "c-1", "noop", "ok", replay=True)
            h.apply(3520, "c-1", 4, 2)
        res = check.check(base(extra=replay).events())
        self.assertEqual(kinds(res, "exactly-once"), ["replay-applied"])

    def test_a_forged_or_unknown_command_must_not_apply(self):
        def forged(h):
            h.cmd(3500, 3510, "c-8", "failover:b", "fail", forged=True)
            h.apply(3520, "c-8", 4, 2)
            h.apply(3530, "c-9", 5, 2)
        res = check.check(base(extra=forged).events())
        self.assertEqual(kinds(res, "exactly-once"), ["forged-applied", "forged-applied"])

    def test_an_acknowledged_command_never_applied_fails(self):
        h = base(extra=lambda h: h.cmd(3500, 3510, "c-10", "drain:b", "ok"))
        self.assertEqual(kinds(check.check(h.events()), "exactly-once"), ["acked-not-applied"])


class LostWrites(unittest.TestCase):
    def test_an_acknowledged_write_missing_from_the_final_read_is_lost(self):
        h = base(final_ids=(1, 2, 3, 4, 5, 7, 9, 11))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"no-lost-writes"})
        a = res["properties"]["no-lost-writes"]["anomalies"][0]
        self.assertEqual((a["kind"], a["id"]), ("lost-write", 8))

    def test_a_write_lost_within_the_rpo_before_a_failover_is_allowed(self):
        # id 5 was acknowledged at 0.52 s, the failover happened at 2.0 s
        h = base(final_ids=(1, 2, 3, 4, 7, 8, 9, 11))
        self.assertIs(check.check(h.events(), check.Config(rpo_ms=1500))
                      ["properties"]["no-lost-writes"]["valid"], True)
        self.assertEqual(kinds(check.check(h.events(), check.Config(rpo_ms=1000)),
                               "no-lost-writes"), ["lost-write"])

    def test_a_write_acknowledged_after_the_last_failover_is_never_excused(self):
        h = base(final_ids=(1, 2, 3, 4, 5, 7, 8, 9))
        self.assertEqual(kinds(check.check(h.events(), check.Config(rpo_ms=60000)),
                               "no-lost-writes"), ["lost-write"])

    def test_failed_duplicated_or_unknown_ids_in_the_read_fail(self):
        h = base(final_ids=(1, 2, 3, 4, 5, 7, 8, 9, 11, 10, 11, 99))
        self.assertEqual(sorted(kinds(check.check(h.events()), "no-lost-writes")),
                         ["failed-write-read", "never-written", "read-twice"])

    def test_no_final_read_is_unknown(self):
        evs = [ev for ev in base().events() if ev["src"] != "final"]
        self.assertEqual(check.check(evs)["properties"]["no-lost-writes"]["valid"], "unknown")


class Recovery(unittest.TestCase):
    def test_recovery_slower_than_the_bound_fails(self):
        res = check.check(base().events(), check.Config(recovery_bound_s=0.2))
        self.assertEqual(failing(res), {"bounded-recovery"})
        self.assertEqual(kinds(res, "bounded-recovery"), ["slow-recovery"])

    def test_recovery_waits_for_writes_to_stop_in_other_regions(self):
        # b accepts a write after c's last one; c's writes only count from
        # then on, so recovery ends with c's next write at 5.1 s
        def late(h):
            h.accept(3460, "b", "write", 3, id=50)
            h.write(5000, 5100, "c", 2, 12)
        h = base(final_ids=(1, 2, 3, 4, 5, 7, 8, 9, 11, 12), final_ms=6000, extra=late)
        res = check.check(h.events(), check.Config(recovery_bound_s=1.0))
        self.assertIn("bounded-recovery", failing(res))
        self.assertAlmostEqual(res["properties"]["bounded-recovery"]["stats"]["recovery_s"], 2.1)
        h = base(final_ids=(1, 2, 3, 4, 5, 7, 8, 9, 11, 12), final_ms=6000,
                 extra=lambda h: h.write(5000, 5100, "c", 2, 12))
        res = check.check(h.events(), check.Config(recovery_bound_s=1.0))
        self.assertIs(res["properties"]["bounded-recovery"]["valid"], True)

    def test_no_write_after_the_final_heal_is_not_recovered(self):
        h = base(extra=lambda h: h.nemesis(3600, "heal"))
        self.assertEqual(kinds(check.check(h.events()), "bounded-recovery"), ["not-recovered"])


class Exercised(unittest.TestCase):
    def no_failover(self):
        h = Hist()
        h.accept(10, "a", "promote", 1)
        h.accept(12, "a", "dns", 1)
        for i in range(1, 4):
            h.write(100 * i, 100 * i + 20, "a", 1, i)
        h.nemesis(500, "partition-start", {"targets": ["w"]})
        h.nemesis(800, "partition-stop", {})
        h.write(900, 920, "a", 1, 4)
        h.cmd(950, 960, "c-1", "noop", "ok")
        h.apply(955, "c-1", 1, 1)
        h.final_read(1000, "a", (1, 2, 3, 4))
        return h

    def test_a_run_without_failover_is_unknown_and_counts_as_failed(self):
        res = check.check(self.no_failover().events())
        self.assertEqual(res["properties"]["exercised"]["valid"], "unknown")
        self.assertEqual(failing(res), {"exercised"})
        self.assertEqual(res["valid"], "unknown")
        self.assertEqual((res["passed"], res["failed"]), (len(check.PROPERTIES) - 1, 1))
        self.assertEqual(check.exit_code(res), 2)
        self.assertTrue(check.summary(res, self.no_failover().events()).endswith(
            "%d passed, 1 failed\n" % (len(check.PROPERTIES) - 1)))

    def test_writes_under_wan_delay_still_count_as_fault_free(self):
        h = base(extra=lambda h: (h.nemesis(1, "delay-start", {"delay_ms": 20}),
                                  h.nemesis(3900, "delay-stop", {})))
        res = check.check(h.events())
        self.assertIs(res["properties"]["exercised"]["valid"], True)
        # ... and the end of the steady delay is not the final heal
        self.assertIs(res["valid"], True)
        self.assertAlmostEqual(res["properties"]["bounded-recovery"]["stats"]["recovery_s"], 0.35)

    def test_a_delay_spike_is_a_disruption_whose_end_is_a_heal(self):
        h = base(extra=lambda h: (h.nemesis(3100, "delay-spike-start", {"delay_ms": 1500}),
                                  h.nemesis(3200, "delay-spike-stop", {})))
        rec = check.check(h.events())["properties"]["bounded-recovery"]["stats"]
        # from the spike's end at 3.2 s to write 11 at 3.45 s
        self.assertEqual((rec["recovery_s"], rec["last_condition"]), (0.25, "write"))

    def test_an_empty_history_passes_nothing(self):
        res = check.check([])
        self.assertEqual(failing(res), {"no-lost-writes", "bounded-recovery", "exercised"})
        self.assertEqual(res["valid"], "unknown")
        self.assertEqual(check.exit_code(res), 2)


PROMOTE_500 = ({"name": "promote", "error": "HTTP 500 from http://10.99.0.2:8081/promote", "attempts": 20},)


class Transitions(unittest.TestCase):
    """Endpoint faults: a transition may fail, with its reason, and must then
    be retried or skipped by an operator (or superseded), never left."""

    def test_the_valid_history_reports_its_transition(self):
        st = check.check(base().events())["properties"]["transitions"]["stats"]
        self.assertEqual((st["transitions"], st["ended_done"]), (1, 1))

    def test_a_failed_transition_without_a_reason_fails(self):
        def failed(h):
            h.transition(3500, "t-3", "failed", "c", "b", "switchover", failed_steps=[{"name": "promote",
                                                                                       "error": ""}])
            h.transition(3600, "t-3", "running", "c", "b", "switchover")
            h.transition(3700, "t-3", "done", "c", "b", "switchover")
        res = check.check(base(extra=failed).events())
        self.assertEqual(failing(res), {"transitions"})
        self.assertEqual(kinds(res, "transitions"), ["failed-without-reason"])

    def test_a_transition_left_failed_at_the_end_fails(self):
        def failed(h):
            h.transition(3500, "t-3", "running", "c", "b", "switchover")
            h.transition(3600, "t-3", "failed", "c", "b", "switchover", failed_steps=PROMOTE_500)
        res = check.check(base(extra=failed).events())
        self.assertEqual(failing(res), {"transitions"})
        self.assertEqual(kinds(res, "transitions"), ["left-failed"])
        self.assertIn("promote: HTTP 500", res["properties"]["transitions"]["anomalies"][0]["msg"])

    def test_a_failed_transition_retried_by_the_operator_passes(self):
        def retried(h):
            h.transition(3500, "t-3", "failed", "c", "b", "switchover", failed_steps=PROMOTE_500)
            h.cmd(3600, 3610, "c-20", "retry-step:promote", "ok")
            h.apply(3605, "c-20", 4, 2)
            h.transition(3620, "t-3", "running", "c", "b", "switchover")
            h.transition(3700, "t-3", "done", "c", "b", "switchover")
        res = check.check(base(extra=retried).events())
        self.assertIs(res["valid"], True, json.dumps(res["properties"]["transitions"], indent=1))
        st = res["properties"]["transitions"]["stats"]
        self.assertEqual((st["failed_seen"], st["recovered_after_failed"], st["ended_done"]), (1, 1, 2))

    def test_a_failed_transition_superseded_by_a_later_one_passes(self):
        def superseded(h):
            h.transition(3500, "t-3", "failed", "c", "b", "switchover", failed_steps=PROMOTE_500)
            h.transition(3600, "t-4", "running", "c", "a", "failover")
            h.transition(3700, "t-4", "done", "c", "a", "failover")
        res = check.check(base(extra=superseded).events())
        self.assertIs(res["properties"]["transitions"]["valid"], True)
        self.assertEqual(res["properties"]["transitions"]["stats"]["ended_failed"], 1)


class ClockFaults(unittest.TestCase):
    """A node with a stepped clock may refuse a signed command (expired, or
    issued in the future): fine.  Applying it anyway, or twice, is not."""

    def refused(self, h):
        p = h.proc()
        h.add(3500, "opctl-0", "invoke", "cmd", {"cmd_id": "c-30", "body": "freeze", "nonce": "n-c-30"}, p)
        h.add(3510, "opctl-0", "fail", "cmd", {"cmd_id": "c-30", "answer": {
            "error": "command expired 298 s ago"}}, p)

    def test_a_command_refused_by_a_skewed_node_and_never_applied_passes(self):
        h = base(extra=lambda h: (h.nemesis(3450, "clock-start", {"targets": ["b"], "offset_s": 600}),
                                  self.refused(h), h.nemesis(3550, "clock-stop", {"targets": ["b"]})))
        res = check.check(h.events())
        self.assertIs(res["properties"]["exactly-once"]["valid"], True)
        self.assertEqual(res["properties"]["exactly-once"]["stats"]["failed"], 2)

    def test_a_refused_command_that_is_applied_later_fails(self):
        h = base(extra=lambda h: (self.refused(h), h.apply(3700, "c-30", 4, 2)))
        res = check.check(h.events())
        self.assertEqual(failing(res), {"exactly-once"})
        self.assertEqual(kinds(res, "exactly-once"), ["failed-applied"])

    def test_an_unknown_command_applied_at_two_indexes_fails(self):
        def twice(h):
            h.cmd(3500, 3900, "c-31", "unfreeze", "info")
            h.apply(3600, "c-31", 4, 2)
            h.apply(3700, "c-31", 5, 2)
        res = check.check(base(extra=twice).events())
        self.assertEqual(kinds(res, "exactly-once"), ["duplicate"])


class Cli(unittest.TestCase):
    def run_main(self, events, *args):
        with tempfile.TemporaryDirectory() as d:
            hist = os.path.join(d, "history.jsonl")
            oracle = os.path.join(d, "oracle-a.jsonl")
            with open(hist, "w") as f, open(oracle, "w") as g:
                for ev in events:   # oracle events go to their own file, as in a run
                    (g if ev["src"].startswith("oracle") else f).write(json.dumps(ev) + "\n")
            results, svg = os.path.join(d, "results.json"), os.path.join(d, "t.svg")
            out = io.StringIO()
            rc = check.main([hist, oracle, "--results", results, "--svg", svg] + list(args), out)
            with open(results) as f:
                res = json.load(f)
            root = ET.parse(svg).getroot()
            return rc, out.getvalue(), res, root

    def test_a_valid_run_exits_0_with_results_svg_and_closing_line(self):
        rc, out, res, svg = self.run_main(base().events())
        self.assertEqual(rc, 0, out)
        self.assertEqual(out.splitlines()[-1], "%d passed, 0 failed" % len(check.PROPERTIES))
        self.assertRegex(out, r"failover time .* p50=1120.0 ms p99=1120.0 ms max=1120.0 ms")
        self.assertIs(res["valid"], True)
        self.assertTrue(svg.tag.endswith("svg"))
        texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("region a", texts)
        self.assertIn("dns", texts)

    def test_a_violation_exits_1_and_shows_the_events_around_it(self):
        rc, out, res, svg = self.run_main(base(final_ids=(1, 2, 3, 4, 5, 7, 9, 11)).events())
        self.assertEqual(rc, 1)
        self.assertEqual(out.splitlines()[-1], "%d passed, 1 failed" % (len(check.PROPERTIES) - 1))
        self.assertRegex(out, r"FAIL\s+no-lost-writes")
        self.assertRegex(out, r"lost-write: write 8 was acknowledged at \+2\.220s")
        self.assertRegex(out, r"\n\s+>#\d+ \+2\.220s writer-1 p\d+ ok write")
        lines = [l for l in svg.iter("{http://www.w3.org/2000/svg}line")
                 if l.get("stroke") == "#cf222e"]
        self.assertEqual(len(lines), 1)

    def test_unreadable_input_exits_3(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as f:
            f.write("{not json\n")
            f.flush()
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                self.assertEqual(check.main([f.name], io.StringIO()), 3)
            self.assertIn(":1: not JSON", err.getvalue())

    def test_the_timeline_draws_one_box_per_region_and_token(self):
        svg = timeline.render_svg(base().events())
        root = ET.fromstring(svg)
        titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
        self.assertEqual(len([t for t in titles if re.match(r"region \w token \d+:", t)]), 2)
        self.assertTrue(any(t.startswith("partition isolate") or t.startswith("partition a")
                            for t in titles), titles)


if __name__ == "__main__":
    unittest.main()

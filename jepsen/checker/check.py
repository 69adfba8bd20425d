#!/usr/bin/python3
"""Checkers for baton's jepsen histories (notes §3.5).

    python3 check.py HISTORY.jsonl [ORACLE.jsonl ...] [--results out.json]
                     [--svg timeline.svg] [--rpo-ms 0] [--recovery-bound-s 30]

The files are merged by t (CLOCK_MONOTONIC ns, one clock for all sources).
Each property is valid true, false or "unknown"; the closing line is
"N passed, N failed" where "unknown" counts as failed, so a run that
exercised nothing cannot pass.  Exit 0 only if every property passed; 1 if
any is false; 2 if none is false but some are unknown; 3 on unreadable input.

Properties:
  no-overlap            acting intervals of different regions never overlap on
                        the observer's clock, and an older epoch never acts
                        after a newer one of another region began;
  one-region-per-token  each token (epoch) belongs to one region, in accepts
                        and coordinator claims; one leader per Raft term; one
                        (term, hash) per log index;
  fencing-monotonic     per resource, accepted tokens never decrease, and no
                        token >= the max is rejected (false fencing);
  exactly-once          acknowledged signed commands applied exactly once,
                        failed ones never, unknown ones at most once; forged or
                        replayed ones never;
  no-lost-writes        every acknowledged write is in the final read, unless
                        acknowledged within the RPO before a failover;
  bounded-recovery      after the final heal, one region takes writes, DNS
                        points at it, a write and an operator no-op succeed,
                        all within the bound;
  exercised             there was at least one failover and enough
                        successful writes outside faults; else "unknown";
  transitions           every transition seen failed names a failed step and
                        its error (the reason), and the last transition does
                        not end failed: a failed transition must be retried or
                        skipped by an operator (or superseded), never left.

What counts as a region *acting*: an oracle accept of write, promote, scale
with n > 0, or dns (the region is the DNS target).  fence and scale n = 0 are
done *to* a region (self-fencing included) and do not count.

Event shapes used (see jepsen/README.md and harness/history.py):
  oracle   type event, f accept|reject, value {res, op, region, token, ...}
  writer   invoke/ok/fail/info, f write, value {id}; ok value {id, region, token}
  opctl    invoke/ok/fail/info, f cmd, value {cmd_id, body, nonce, replay?, forged?}
  coord    type event, f apply {cmd_id, index, term, hash}, became-leader {term},
           claim-active {region, token}, transition {id, kind, from, to, state,
           epoch, failed_steps: [{name, error, attempts}]} (as the leader reports it)
  nemesis  type info, src nemesis, f <fault>-start|<fault>-stop|heal,
           value {targets, grudge, ...}
  final    type ok, src final, f read, value {res, ids, active?}
"""

import argparse
import bisect
import collections
import json
import math
import os
import sys

PROPERTIES = ("no-overlap", "one-region-per-token", "fencing-monotonic", "exactly-once",
              "no-lost-writes", "bounded-recovery", "exercised", "transitions")
ACTING_OPS = ("write", "promote", "scale", "dns")
# Faults that are background conditions, not disruptions (the steady WAN
# delay): writes during them count as fault-free for "exercised", and their
# stop op is not "the final heal" for "bounded-recovery".  A delay *spike* is
# logged under its own name (net.Topology.start_delay(fault="delay-spike")).
BACKGROUND_FAULTS = ("delay",)
# Faults that are not expected to move the baton by themselves (a restart
# under a skewed clock, an endpoint failing during an operator's
# switchover): not counted in the failover times.
NOT_FAILOVER_FAULTS = ("clock", "endpoint")
CONTEXT_EVENTS = 3        # events shown before and after an anomaly's events
MAX_SHOWN = 10            # anomalies shown in full per property


class Config:
    def __init__(self, rpo_ms=0, recovery_bound_s=30.0, min_failovers=1, min_ok_writes=1,
                 require_noop=True, require_dns=True):
        self.rpo_ms = rpo_ms
        self.recovery_bound_s = recovery_bound_s
        self.min_failovers = min_failovers
        self.min_ok_writes = min_ok_writes
        self.require_noop = require_noop
        self.require_dns = require_dns


class InputError(Exception):
    pass


# ---------------------------------------------------------------- input

def load(paths):
    events = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    ev = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError("%s:%d: not JSON: %s" % (path, n, e)) from None
                if not isinstance(ev, dict) or not isinstance(ev.get("t"), int) or \
                        not isinstance(ev.get("type"), str) or not isinstance(ev.get("f"), str):
                    raise InputError("%s:%d: an event needs integer t, type and f" % (path, n))
                events.append(ev)
    return events


def normalize(events):
    """Stable sort by t (file order breaks ties) and number the events."""
    evs = sorted((dict(ev) for ev in events), key=lambda ev: ev["t"])
    for i, ev in enumerate(evs):
        ev["index"] = i
        if not isinstance(ev.get("value"), dict):
            ev["value"] = {}
    return evs


# ---------------------------------------------------------------- derived facts

def _int(x):
    return x if isinstance(x, int) and not isinstance(x, bool) else None


def is_accept(ev):
    return ev["type"] == "event" and ev["f"] == "accept"


def acting_region(ev):
    """(region, token) if this event is a region acting, else None."""
    if not is_accept(ev):
        return None
    v = ev["value"]
    op, tok = v.get("op"), _int(v.get("token"))
    if op not in ACTING_OPS or tok is None:
        return None
    if op == "scale" and not (_int(v.get("n")) or 0) > 0:
        return None
    region = v.get("target") if op == "dns" else v.get("region")
    if not region:
        res = str(v.get("res", ""))
        region = res.split("-", 1)[1] if "-" in res else None
    return (region, tok) if region else None


def intervals(evs):
    """{(region, token): {"start","end","first","last","n"}} of acting events."""
    out = {}
    for ev in evs:
        rt = acting_region(ev)
        if rt is None:
            continue
        iv = out.get(rt)
        if iv is None:
            out[rt] = {"region": rt[0], "token": rt[1], "start": ev["t"], "end": ev["t"],
                       "first": ev["index"], "last": ev["index"], "n": 1}
        else:
            iv["end"], iv["last"] = ev["t"], ev["index"]
            iv["n"] += 1
    return out


def failovers(ivs):
    """Changes of the acting region, in token order: [(t_start, from, to, token)]."""
    seq = sorted(ivs.values(), key=lambda iv: (iv["token"], iv["start"]))
    out = []
    for prev, cur in zip(seq, seq[1:]):
        if cur["region"] != prev["region"]:
            out.append((cur["start"], prev["region"], cur["region"], cur["token"]))
    return out


def is_nemesis(ev):
    return ev.get("src") == "nemesis" and ev["type"] == "info"


def fault_name(f):
    for suffix in ("-start", "-stop"):
        if f.endswith(suffix):
            return f[: -len(suffix)]
    return None


def fault_intervals(evs):
    """[{"name","start","end","value","index"}]; an unstopped fault runs to
    the end of the history; "heal"/"heal-all" stop every open fault."""
    open_, out = collections.defaultdict(list), []
    t_end = evs[-1]["t"] if evs else 0
    for ev in evs:
        if not is_nemesis(ev):
            continue
        f = ev["f"]
        if f in ("heal", "heal-all"):
            for name, lst in open_.items():
                for iv in lst:
                    iv["end"] = ev["t"]
                    out.append(iv)
            open_.clear()
            continue
        name = fault_name(f)
        if name is None:
            continue
        if f.endswith("-start"):
            open_[name].append({"name": name, "start": ev["t"], "end": None,
                                "value": ev["value"], "index": ev["index"]})
        elif open_[name]:
            # a partition is replaced, not stacked: a stop ends every open one
            for iv in open_.pop(name):
                iv["end"] = ev["t"]
                out.append(iv)
    for lst in open_.values():
        for iv in lst:
            iv["end"] = t_end
            out.append(iv)
    out.sort(key=lambda iv: iv["start"])
    return out


def fault_targets(value):
    """Nodes a fault is aimed at: value["targets"], or, from a grudge, the
    nodes that drop packets from every other node."""
    targets = value.get("targets") or ([value["target"]] if value.get("target") else [])
    if targets:
        return list(targets)
    g = value.get("grudge") or {}
    nodes = set(g) | {x for v in g.values() for x in v}
    return sorted(n for n, srcs in g.items() if set(srcs) >= nodes - {n} and len(nodes) > 1)


def pair_ops(evs, f):
    """Client ops of kind f: [{"invoke": ev, "complete": ev|None}] by proc."""
    pending, ops = {}, []
    for ev in evs:
        if ev["f"] != f or ev.get("proc") is None or ev.get("src") == "nemesis":
            continue
        key = (ev.get("src"), ev["proc"])
        if ev["type"] == "invoke":
            op = {"invoke": ev, "complete": None}
            pending[key] = op
            ops.append(op)
        elif ev["type"] in ("ok", "fail", "info") and key in pending:
            pending.pop(key)["complete"] = ev
    return ops


def outcome(op):
    c = op["complete"]
    return c["type"] if c is not None else "info"


# ---------------------------------------------------------------- anomalies

def anomaly(kind, msg, t, events=(), **details):
    a = {"kind": kind, "msg": msg, "t": t, "events": sorted(set(events))}
    a.update(details)
    return a


def result(valid, anomalies=(), **stats):
    return {"valid": valid, "anomalies": list(anomalies), "stats": stats}


# ---------------------------------------------------------------- 1. no overlap

def check_no_overlap(evs, cfg):
    ivs = sorted(intervals(evs).values(), key=lambda iv: (iv["start"], iv["token"]))
    out, seen = [], set()
    latest = {}          # region -> interval with the largest end so far
    for iv in ivs:
        for region, other in latest.items():
            if region == iv["region"] or other["end"] < iv["start"]:
                continue
            key = tuple(sorted([(other["region"], other["token"]), (iv["region"], iv["token"])]))
            if key in seen:
                continue
            seen.add(key)
            out.append(anomaly(
                "split-brain",
                "region %s (token %d) acted at %s while region %s (token %d) was still acting "
                "until %s" % (iv["region"], iv["token"], "{t:%d}" % iv["start"], other["region"],
                              other["token"], "{t:%d}" % other["end"]),
                iv["start"], [iv["first"], other["last"]],
                intervals=[_iv_json(other), _iv_json(iv)]))
        cur = latest.get(iv["region"])
        if cur is None or iv["end"] > cur["end"]:
            latest[iv["region"]] = iv
    # An older epoch must not act after a newer epoch of another region began.
    by_token = sorted(ivs, key=lambda iv: iv["token"])
    for i, old in enumerate(by_token):
        for new in by_token[i + 1:]:
            if new["token"] <= old["token"] or new["region"] == old["region"]:
                continue
            overlap = old["start"] <= new["end"] and new["start"] <= old["end"]
            if old["end"] >= new["start"] and not overlap:
                out.append(anomaly(
                    "stale-epoch-acted",
                    "region %s acted with token %d at %s, after region %s began acting with "
                    "newer token %d at %s" % (old["region"], old["token"], "{t:%d}" % old["end"],
                                              new["region"], new["token"],
                                              "{t:%d}" % new["start"]),
                    old["end"], [old["last"], new["first"]],
                    intervals=[_iv_json(new), _iv_json(old)]))
    return result(not out, out, intervals=len(ivs))


def _iv_json(iv):
    return {k: iv[k] for k in ("region", "token", "start", "end", "n")}


# ---------------------------------------------------------------- 2. one region per token

def check_one_region_per_token(evs, cfg):
    owners = collections.defaultdict(dict)     # token -> region -> first event
    leaders = collections.defaultdict(dict)    # term -> src -> first event
    entries = {}                               # index -> (term, hash, event)
    out = []
    for ev in evs:
        rt = acting_region(ev)
        v = ev["value"]
        if rt is None and ev["type"] == "event" and ev["f"] in ("claim-active", "became-active"):
            tok = _int(v.get("token"))
            if tok is not None and v.get("region"):
                rt = (v["region"], tok)
        if rt is not None:
            owners[rt[1]].setdefault(rt[0], ev)
        if ev["type"] == "event" and ev["f"] == "became-leader" and _int(v.get("term")) is not None:
            leaders[v["term"]].setdefault(ev.get("src"), ev)
        if ev["type"] == "event" and ev["f"] == "apply" and _int(v.get("index")) is not None \
                and ("term" in v or "hash" in v):
            mine = (v.get("term"), v.get("hash"))
            prev = entries.get(v["index"])
            if prev is None:
                entries[v["index"]] = (mine, ev)
            elif prev[0] != mine:
                out.append(anomaly(
                    "log-divergence",
                    "log index %d is (term %s, hash %s) on %s but (term %s, hash %s) on %s"
                    % (v["index"], prev[0][0], prev[0][1], prev[1].get("src"), mine[0], mine[1],
                       ev.get("src")), ev["t"], [prev[1]["index"], ev["index"]]))
    for tok, regions in sorted(owners.items()):
        if len(regions) > 1:
            first = sorted(regions.values(), key=lambda e: e["index"])
            out.append(anomaly(
                "token-reused",
                "token %d was used by regions %s" % (tok, ", ".join(sorted(regions))),
                first[1]["t"], [e["index"] for e in first], token=tok,
                regions=sorted(regions)))
    for term, srcs in sorted(leaders.items()):
        if len(srcs) > 1:
            first = sorted(srcs.values(), key=lambda e: e["index"])
            out.append(anomaly(
                "two-leaders",
                "Raft term %d has leaders %s" % (term, ", ".join(sorted(srcs))),
                first[1]["t"], [e["index"] for e in first], term=term))
    return result(not out, out, tokens=len(owners), terms=len(leaders))


# ---------------------------------------------------------------- 3. fencing

def check_fencing(evs, cfg):
    maxes, out, counts = {}, [], collections.Counter()
    for ev in evs:
        if ev["type"] != "event" or ev["f"] not in ("accept", "reject"):
            continue
        v = ev["value"]
        res, tok = v.get("res"), _int(v.get("token"))
        if res is None or tok is None:
            continue
        cur = maxes.get(res)
        counts[ev["f"]] += 1
        if ev["f"] == "accept":
            if cur is not None and tok < cur[0]:
                out.append(anomaly(
                    "stale-token-accepted",
                    "%s accepted %s with token %d after it had accepted token %d at %s"
                    % (res, v.get("op"), tok, cur[0], "{t:%d}" % cur[1]["t"]),
                    ev["t"], [cur[1]["index"], ev["index"]], res=res, token=tok, max=cur[0]))
            else:
                maxes[res] = (tok, ev)
        elif v.get("reason", "stale-token") == "stale-token":
            if cur is None or tok >= cur[0]:
                out.append(anomaly(
                    "false-fence",
                    "%s rejected %s with token %d although its highest accepted token was %s"
                    % (res, v.get("op"), tok, "none" if cur is None else cur[0]),
                    ev["t"], [ev["index"]] + ([cur[1]["index"]] if cur else []), res=res,
                    token=tok))
    return result(not out, out, resources=len(maxes), accepts=counts["accept"],
                  rejects=counts["reject"])


# ---------------------------------------------------------------- 4. exactly once

def check_exactly_once(evs, cfg):
    ops = pair_ops(evs, "cmd")
    by_cmd = collections.defaultdict(list)
    first_nonce = {}                 # nonce -> cmd_id of its first invoke
    for op in ops:
        v = op["invoke"]["value"]
        cid = v.get("cmd_id")
        if cid is None:
            continue
        by_cmd[cid].append(op)
        nonce = v.get("nonce")
        if nonce is not None:
            owner = first_nonce.setdefault(nonce, cid)
            if owner != cid:
                op["replay"] = True
        if v.get("replay"):
            op["replay"] = True

    applies = collections.defaultdict(dict)    # cmd_id -> key -> first apply event
    for ev in evs:
        if ev["type"] == "event" and ev["f"] == "apply" and ev["value"].get("cmd_id") is not None:
            v = ev["value"]
            key = ("index", v["index"]) if _int(v.get("index")) is not None else ("ev", ev["index"])
            applies[v["cmd_id"]].setdefault(key, ev)

    out, stats = [], collections.Counter()
    for cid in sorted(set(by_cmd) | set(applies), key=str):
        attempts = by_cmd.get(cid, [])
        applied = sorted(applies.get(cid, {}).values(), key=lambda e: e["index"])
        count = len(applied)
        genuine = [op for op in attempts if not op.get("replay") and
                   not op["invoke"]["value"].get("forged")]
        replays = [op for op in attempts if op.get("replay")]
        outcomes = {outcome(op) for op in genuine}
        if "ok" in outcomes:
            lo, hi, expect = 1, 1, "ok"
        elif "info" in outcomes:
            lo, hi, expect = 0, 1, "info"
        else:
            lo, hi, expect = 0, 0, "fail" if genuine else "none"
        stats[expect] += 1
        refs = [op["invoke"]["index"] for op in attempts] + \
               [op["complete"]["index"] for op in attempts if op["complete"]] + \
               [e["index"] for e in applied]
        t = applied[-1]["t"] if applied else (attempts[-1]["invoke"]["t"] if attempts else 0)
        if count > hi:
            if not attempts:
                kind, why = "forged-applied", "was applied but never invoked by a client"
            elif not genuine and replays:
                kind, why = "replay-applied", "is a replay of another command's nonce"
            elif not genuine:
                kind, why = "forged-applied", "has a bad signature"
            elif replays and count > 1:
                kind, why = "replay-applied", "was replayed and applied again"
            elif expect == "fail":
                kind, why = "failed-applied", "failed at the client"
            else:
                kind, why = "duplicate", "was acknowledged" if expect == "ok" else "is unknown"
            out.append(anomaly(kind, "command %s %s, yet was applied %d time(s) (allowed %s)"
                               % (cid, why, count, "0" if hi == 0 else "at most 1" if lo == 0
                                  else "exactly 1"),
                               t, refs, cmd_id=cid, applied=count,
                               indices=[e["value"].get("index") for e in applied]))
        elif count < lo:
            out.append(anomaly("acked-not-applied",
                               "command %s was acknowledged but never applied" % cid, t, refs,
                               cmd_id=cid))
    return result(not out, out, commands=len(set(by_cmd) | set(applies)),
                  acked=stats["ok"], failed=stats["fail"], unknown=stats["info"])


# ---------------------------------------------------------------- 5. no lost writes

def check_no_lost_writes(evs, cfg):
    writes = pair_ops(evs, "write")
    reads = [ev for ev in evs if ev["type"] == "ok" and ev["f"] == "read" and
             (ev.get("src") == "final" or ev["value"].get("final"))]
    if not reads:
        return result("unknown", [anomaly("no-final-read", "the history has no final read", 0)],
                      writes=len(writes))
    actives = [r for r in reads if r["value"].get("active")]
    read = (actives or reads)[-1]
    ids = read["value"].get("ids") or []
    counts = collections.Counter(json.dumps(x) for x in ids)
    fos = [fo[0] for fo in failovers(intervals(evs))]
    out, stats = [], collections.Counter()
    invoked = set()
    for op in writes:
        wid = op["invoke"]["value"].get("id")
        key = json.dumps(wid)
        invoked.add(key)
        oc = outcome(op)
        present = counts.get(key, 0) > 0
        if oc == "ok":
            if present:
                stats["stable"] += 1
                continue
            t_ack = op["complete"]["t"]
            i = bisect.bisect_left(fos, t_ack)
            if cfg.rpo_ms > 0 and i < len(fos) and fos[i] - t_ack <= cfg.rpo_ms * 1_000_000:
                stats["lost_within_rpo"] += 1
                continue
            stats["lost"] += 1
            out.append(anomaly("lost-write", "write %s was acknowledged at {t:%d} but is not in "
                               "the final read of %s" % (wid, t_ack, read["value"].get("res")),
                               t_ack, [op["invoke"]["index"], op["complete"]["index"],
                                       read["index"]], id=wid))
        elif oc == "fail":
            if present:
                out.append(anomaly("failed-write-read", "write %s failed but was read" % wid,
                                   read["t"], [op["complete"]["index"], read["index"]], id=wid))
        else:
            stats["unknown_read" if present else "unknown_missing"] += 1
    for key, n in counts.items():
        if n > 1:
            out.append(anomaly("read-twice", "id %s is in the final read %d times" % (key, n),
                               read["t"], [read["index"]], id=json.loads(key)))
        if key not in invoked:
            out.append(anomaly("never-written", "id %s is in the final read but was never "
                               "written" % key, read["t"], [read["index"]], id=json.loads(key)))
    stats["ok"] = stats["stable"] + stats["lost"] + stats["lost_within_rpo"]
    return result(not out, out, **stats)


# ---------------------------------------------------------------- 6. bounded recovery

def _ok_writes(evs):
    return [op for op in pair_ops(evs, "write") if outcome(op) == "ok"]


def final_heals(evs):
    """Nemesis ops that end a disruptive fault (or all of them)."""
    return [ev for ev in evs if is_nemesis(ev) and
            (ev["f"] in ("heal", "heal-all") or
             (ev["f"].endswith("-stop") and fault_name(ev["f"]) not in BACKGROUND_FAULTS))]


def check_bounded_recovery(evs, cfg):
    heals = final_heals(evs)
    if not heals:
        return result("unknown", [anomaly("no-heal", "the history has no nemesis stop op "
                                          "(other than of a background fault)", 0)])
    heal = heals[-1]
    t_heal = heal["t"]
    after = [op for op in _ok_writes(evs) if op["complete"]["t"] > t_heal]
    fail = lambda msg: result(False, [anomaly("not-recovered", msg, t_heal, [heal["index"]])],
                              t_heal=t_heal)
    if not after:
        return fail("no write succeeded after the final heal at {t:%d}" % t_heal)
    region = after[-1]["complete"]["value"].get("region")
    # No other region may accept writes from the recovery point on.
    t_other = t_heal
    for ev in evs:
        rt = acting_region(ev)
        if rt and ev["value"].get("op") == "write" and ev["t"] > t_heal and rt[0] != region:
            t_other = max(t_other, ev["t"])
    first = [op for op in after if op["complete"]["t"] > t_other and
             op["complete"]["value"].get("region") == region]
    if not first:
        return fail("region %s never took writes alone after the final heal" % region)
    t_w = first[0]["complete"]["t"]
    points = {"write": t_w}
    if cfg.require_dns:
        target, t_dns = None, None
        for ev in evs:
            if is_accept(ev) and ev["value"].get("op") == "dns":
                if ev["value"].get("target") != target:
                    target, t_dns = ev["value"].get("target"), ev["t"]
        if target != region:
            return fail("DNS points to %s, not to the writable region %s, at the end"
                        % (target, region))
        points["dns"] = max(t_dns, t_heal)
    if cfg.require_noop:
        noops = [op for op in pair_ops(evs, "cmd") if outcome(op) == "ok" and
                 op["complete"]["t"] > t_heal and
                 str(op["invoke"]["value"].get("body", "")).startswith("noop")]
        if not noops:
            return fail("no operator no-op command succeeded after the final heal")
        points["noop"] = noops[0]["complete"]["t"]
    t_rec = max(points.values())
    took = (t_rec - t_heal) / 1e9
    stats = {"t_heal": t_heal, "t_recovered": t_rec, "recovery_s": round(took, 3),
             "bound_s": cfg.recovery_bound_s, "region": region,
             "last_condition": max(points, key=points.get)}
    if took > cfg.recovery_bound_s:
        return result(False, [anomaly("slow-recovery", "recovery took %.3f s after the final heal, "
                                      "bound %.3f s (last to hold: %s)"
                                      % (took, cfg.recovery_bound_s, stats["last_condition"]),
                                      t_rec, [heal["index"]])], **stats)
    return result(True, **stats)


def failover_times(evs):
    """For each fault aimed at the region active when it began: ns from the
    fault to the first ok write in another region (None if there was none)."""
    oks = sorted(_ok_writes(evs), key=lambda op: op["complete"]["t"])
    ends = [op["complete"]["t"] for op in oks]
    out = []
    for fi in fault_intervals(evs):
        i = bisect.bisect_left(ends, fi["start"])
        if i == 0:
            continue
        active = oks[i - 1]["complete"]["value"].get("region")
        if active is None or active not in fault_targets(fi["value"]) or fi["name"] in NOT_FAILOVER_FAULTS:
            continue
        took = None
        for op in oks[i:]:
            if op["complete"]["value"].get("region") not in (None, active):
                took = op["complete"]["t"] - fi["start"]
                break
        out.append({"fault": fi["name"], "t": fi["start"], "from": active, "ns": took})
    return out


def percentile(sorted_xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_xs:
        return None
    k = max(0, math.ceil(p / 100.0 * len(sorted_xs)) - 1)
    return sorted_xs[k]


# ---------------------------------------------------------------- 7. exercised

def check_exercised(evs, cfg):
    fos = failovers(intervals(evs))
    faults = fault_intervals(evs)
    disruptive = [f for f in faults if f["name"] not in BACKGROUND_FAULTS]
    quiet = 0
    for op in _ok_writes(evs):
        a, b = op["invoke"]["t"], op["complete"]["t"]
        if not any(f["start"] <= b and a <= f["end"] for f in disruptive):
            quiet += 1
    problems = []
    if len(fos) < cfg.min_failovers:
        problems.append(anomaly("no-failover", "%d failover(s), want at least %d: the run did "
                                "not exercise failover" % (len(fos), cfg.min_failovers), 0))
    if quiet < cfg.min_ok_writes:
        problems.append(anomaly("too-few-writes", "%d successful write(s) outside faults, want at "
                                "least %d" % (quiet, cfg.min_ok_writes), 0))
    return result("unknown" if problems else True, problems, failovers=len(fos),
                  faults=len(faults), quiet_ok_writes=quiet,
                  failover_list=[{"t": t, "from": a, "to": b, "token": tok}
                                 for t, a, b, tok in fos])


# ---------------------------------------------------------------- 8. transitions

def check_transitions(evs, cfg):
    """A failed transition must say why (a failed step with an error), and
    must not be where the run ends: an operator retries or skips the step
    (or a later transition supersedes it).  Which transitions failed, and
    which were recovered by an operator, is reported either way."""
    trs = collections.OrderedDict()        # id -> [events] in order
    for ev in evs:
        if ev["type"] == "event" and ev["f"] == "transition" and ev["value"].get("id"):
            trs.setdefault(ev["value"]["id"], []).append(ev)
    out, stats = [], collections.Counter()
    for tid, seen in trs.items():
        states = [e["value"].get("state") for e in seen]
        for e in seen:
            v = e["value"]
            if v.get("state") == "failed":
                why = [s for s in v.get("failed_steps") or [] if s.get("name") and s.get("error")]
                if not why:
                    out.append(anomaly("failed-without-reason",
                                       "transition %s (%s %s -> %s) failed with no failed step and error"
                                       % (tid, v.get("kind"), v.get("from"), v.get("to")),
                                       e["t"], [e["index"]], transition=tid))
        stats["transitions"] += 1
        if "failed" in states:
            stats["failed_seen"] += 1
            if states[-1] != "failed" and states.index("failed") < len(states) - 1:
                stats["recovered_after_failed"] += 1
        stats["ended_" + str(states[-1])] += 1
    if trs:
        tid, seen = next(reversed(trs.items())), None
        tid, seen = tid[0], tid[1]
        last = seen[-1]
        if last["value"].get("state") == "failed":
            steps = ", ".join("%s: %s" % (s.get("name"), s.get("error"))
                              for s in last["value"].get("failed_steps") or [])
            out.append(anomaly("left-failed",
                               "the last transition %s (%s %s -> %s) ended failed (%s) and nobody "
                               "retried or skipped it" % (tid, last["value"].get("kind"),
                                                          last["value"].get("from"),
                                                          last["value"].get("to"), steps or "no step"),
                               last["t"], [last["index"]], transition=tid))
    return result(not out, out, **stats)


CHECKS = {
    "no-overlap": check_no_overlap,
    "one-region-per-token": check_one_region_per_token,
    "fencing-monotonic": check_fencing,
    "exactly-once": check_exactly_once,
    "no-lost-writes": check_no_lost_writes,
    "bounded-recovery": check_bounded_recovery,
    "exercised": check_exercised,
    "transitions": check_transitions,
}


def check(events, cfg=None):
    """Run every checker on a list of events; returns the results dict."""
    cfg = cfg or Config()
    evs = normalize(events)
    props = {name: CHECKS[name](evs, cfg) for name in PROPERTIES}
    vals = [p["valid"] for p in props.values()]
    valid = False if False in vals else "unknown" if "unknown" in vals else True
    t0 = evs[0]["t"] if evs else 0
    for p in props.values():
        for a in p["anomalies"]:
            a["msg"] = _fmt_msg(a["msg"], t0)
    fts = failover_times(evs)
    done = sorted(f["ns"] for f in fts if f["ns"] is not None)
    ms = lambda ns: None if ns is None else round(ns / 1e6, 3)
    return {
        "valid": valid,
        "passed": sum(1 for v in vals if v is True),
        "failed": sum(1 for v in vals if v is not True),
        "properties": props,
        "failover_ms": {"n": len(fts), "without_failover": len(fts) - len(done),
                        "p50": ms(percentile(done, 50)), "p99": ms(percentile(done, 99)),
                        "max": ms(done[-1] if done else None),
                        "each": [dict(f, ms=ms(f["ns"])) for f in fts]},
        "events": len(evs),
        "t0": t0,
    }


# ---------------------------------------------------------------- report

def _fmt_t(ns, t0):
    return "+%.3fs" % ((ns - t0) / 1e9)


def _fmt_msg(msg, t0):
    """Replace {t:NS} markers with times relative to the first event."""
    out, i = [], 0
    while True:
        j = msg.find("{t:", i)
        if j < 0:
            out.append(msg[i:])
            return "".join(out)
        k = msg.find("}", j)
        out.append(msg[i:j])
        try:
            out.append(_fmt_t(int(msg[j + 3:k]), t0))
        except ValueError:
            out.append(msg[j:k + 1])
        i = k + 1


def _fmt_event(ev, t0):
    parts = [_fmt_t(ev["t"], t0), str(ev.get("src", "?"))]
    if ev.get("proc") is not None:
        parts.append("p%d" % ev["proc"])
    parts += [ev["type"], ev["f"]]
    if ev.get("value"):
        parts.append(json.dumps(ev["value"], separators=(",", ":"), sort_keys=True))
    return "#%d %s" % (ev["index"], " ".join(parts))


def summary(res, evs):
    """Human report: one block per property, anomalies with the events
    around them and the faults active then; closing "N passed, N failed"."""
    evs = normalize(evs)
    t0 = res["t0"]
    faults = fault_intervals(evs)
    lines = []
    for name in PROPERTIES:
        p = res["properties"][name]
        word = {True: "PASS", False: "FAIL", "unknown": "UNKNOWN"}[p["valid"]]
        stats = {k: v for k, v in p["stats"].items()
                 if not isinstance(v, (list, dict)) and not k.startswith("t_")}
        lines.append("%-8s %-22s %s" % (word, name, " ".join("%s=%s" % kv
                                                                for kv in sorted(stats.items()))))
        for a in p["anomalies"][:MAX_SHOWN]:
            lines.append("    %s: %s" % (a["kind"], a["msg"]))
            active = [f for f in faults if f["start"] <= a["t"] <= f["end"]]
            for f in active:
                lines.append("      during %s %s..%s %s" % (
                    f["name"], _fmt_t(f["start"], t0), _fmt_t(f["end"], t0),
                    json.dumps(f["value"], separators=(",", ":"), sort_keys=True)))
            shown = set()
            for idx in a["events"]:
                lo, hi = max(0, idx - CONTEXT_EVENTS), min(len(evs), idx + CONTEXT_EVENTS + 1)
                shown.update(range(lo, hi))
            prev = None
            for j in sorted(shown):
                if prev is not None and j != prev + 1:
                    lines.append("      ...")
                mark = ">" if j in a["events"] else " "
                lines.append("     %s%s" % (mark, _fmt_event(evs[j], t0)))
                prev = j
        if len(p["anomalies"]) > MAX_SHOWN:
            lines.append("    ... and %d more" % (len(p["anomalies"]) - MAX_SHOWN))
    fm = res["failover_ms"]
    lines.append("failover time (fault on the active region -> first write elsewhere): "
                 "n=%d p50=%s ms p99=%s ms max=%s ms without_failover=%d"
                 % (fm["n"], fm["p50"], fm["p99"], fm["max"], fm["without_failover"]))
    lines.append("%d passed, %d failed" % (res["passed"], res["failed"]))
    return "\n".join(lines) + "\n"


def exit_code(res):
    return 0 if res["valid"] is True else 1 if res["valid"] is False else 2


def main(argv=None, out=sys.stdout):
    ap = argparse.ArgumentParser(description="check a baton jepsen history")
    ap.add_argument("history", nargs="+", help="JSONL files, merged by t")
    ap.add_argument("--results", help="write the results JSON here")
    ap.add_argument("--svg", help="write the SVG timeline here")
    ap.add_argument("--rpo-ms", type=float, default=0,
                    help="async replication: a lost write acknowledged at most this long "
                         "before a failover is allowed (default 0: none may be lost)")
    ap.add_argument("--recovery-bound-s", type=float, default=30.0)
    ap.add_argument("--min-failovers", type=int, default=1)
    ap.add_argument("--min-ok-writes", type=int, default=1)
    ap.add_argument("--no-require-noop", action="store_true")
    ap.add_argument("--no-require-dns", action="store_true")
    args = ap.parse_args(argv)
    cfg = Config(rpo_ms=args.rpo_ms, recovery_bound_s=args.recovery_bound_s,
                 min_failovers=args.min_failovers, min_ok_writes=args.min_ok_writes,
                 require_noop=not args.no_require_noop, require_dns=not args.no_require_dns)
    try:
        events = load(args.history)
    except (OSError, InputError) as e:
        print("check: %s" % e, file=sys.stderr)
        return 3
    res = check(events, cfg)
    if args.results:
        tmp = args.results + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, args.results)
    if args.svg:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import timeline
        timeline.write_svg(events, args.svg, res)
    out.write(summary(res, events))
    return exit_code(res)


if __name__ == "__main__":
    sys.exit(main())

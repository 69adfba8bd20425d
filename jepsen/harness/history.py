"""JSON-lines history for the jepsen harness: one event per line, one clock.

Every line is one JSON object:

    {"t": 123456789012, "src": "writer-3", "proc": 17, "type": "invoke",
     "f": "write", "value": {"id": 4711}}

t      CLOCK_MONOTONIC in nanoseconds, read by the harness process (or by an
       oracle process; both are never faketime-wrapped).  CLOCK_MONOTONIC is
       one clock for every network namespace on the machine, so events of all
       sources can be merged by t.
src    who wrote it: "writer-3", "opctl-0", "nemesis", "oracle-b", "dns",
       "coord-b", "final".
proc   client process id (Jepsen's :process); an integer, present on every
       invoke and on its completion.  A process whose op ended in "info" is
       retired: the next op of that worker uses a new proc id.
type   "invoke"  a client op starts;
       "ok"      it happened;
       "fail"    it definitely did not happen;
       "info"    unknown (timeout, connection reset, ...); for the nemesis
                 (src "nemesis", no proc) an info line is a fault op;
       "event"   something observed: oracle accept/reject, coordinator claims
                 (apply, became-leader, claim-active).
f      the op name: write, read, cmd, partition-start, accept, apply, ...
value  a JSON object (may be omitted).

Nemesis ops are named "<fault>-start" / "<fault>-stop" ("heal" stops all).
Their value carries "targets" (the nodes the fault is aimed at) and, for
partitions, the Jepsen grudge {node: [nodes it drops packets from]}.

This module writes and reads such files; it has no third-party dependencies.
"""

import contextlib
import json
import os
import threading
import time

TYPES = ("invoke", "ok", "fail", "info", "event")
COMPLETIONS = ("ok", "fail", "info")


class HistoryError(Exception):
    """A history line is malformed; the message names the file and line."""


def mono_ns():
    """CLOCK_MONOTONIC in nanoseconds: the one clock of every history."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def assert_true_clock(environ=None):
    """Refuse to run under libfaketime: the observer's clock is ground truth.

    Only the coordinator daemons may be wrapped with faketime (notes §2.7);
    a wrapped harness or oracle would stamp the history with a fake clock.
    """
    env = os.environ if environ is None else environ
    preload = env.get("LD_PRELOAD", "")
    if "faketime" in preload or "FAKETIME" in env:
        raise RuntimeError(
            "history: this process runs under libfaketime (LD_PRELOAD=%r, FAKETIME=%r); "
            "the harness, oracles and checker must use the real clock"
            % (preload, env.get("FAKETIME")))


def validate(ev):
    """Return a list of problems with one event (empty when it is fine)."""
    problems = []
    if not isinstance(ev, dict):
        return ["not a JSON object"]
    t = ev.get("t")
    if not isinstance(t, int) or isinstance(t, bool) or t < 0:
        problems.append("t must be a non-negative integer (ns), got %r" % (t,))
    if not isinstance(ev.get("src"), str) or not ev.get("src"):
        problems.append("src must be a non-empty string")
    typ = ev.get("type")
    if typ not in TYPES:
        problems.append("type must be one of %s, got %r" % ("/".join(TYPES), typ))
    if not isinstance(ev.get("f"), str) or not ev.get("f"):
        problems.append("f must be a non-empty string")
    if "value" in ev and ev["value"] is not None and not isinstance(ev["value"], dict):
        problems.append("value must be an object")
    proc = ev.get("proc")
    if proc is not None and (not isinstance(proc, int) or isinstance(proc, bool)):
        problems.append("proc must be an integer")
    if typ in ("invoke", "ok", "fail") and proc is None:
        problems.append("%s needs a proc" % typ)
    if typ == "info" and proc is None and ev.get("src") != "nemesis":
        problems.append("info needs a proc unless src is nemesis")
    return problems


def dumps(ev):
    """One compact line, keys in the documented order."""
    ordered = {}
    for key in ("t", "src", "proc", "type", "f", "value"):
        if key in ev and ev[key] is not None:
            ordered[key] = ev[key]
    for key, val in ev.items():
        if key not in ordered and key != "index":
            ordered[key] = val
    return json.dumps(ordered, separators=(",", ":"), sort_keys=False)


class History:
    """Append-only, thread-safe JSONL writer.  Each line is flushed at once,
    so a crash loses at most the line being written."""

    def __init__(self, path, clock=mono_ns, check_clock=True):
        if check_clock:
            assert_true_clock()
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._f = open(path, "a", encoding="utf-8")
        self._next_proc = 0

    def close(self):
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def new_proc(self):
        """A fresh client process id (after an "info", retire the old one)."""
        with self._lock:
            self._next_proc += 1
            return self._next_proc

    def write(self, typ, f, src, value=None, proc=None, t=None):
        """Stamp and append one event; returns it.  Raises ValueError if the
        event would be malformed."""
        with self._lock:
            ev = {"t": self._clock() if t is None else t, "src": src, "type": typ, "f": f}
            if proc is not None:
                ev["proc"] = proc
            if value is not None:
                ev["value"] = value
            problems = validate(ev)
            if problems:
                raise ValueError("history: bad event %r: %s" % (ev, "; ".join(problems)))
            if self._f is None:
                raise ValueError("history: %s is closed" % self.path)
            self._f.write(dumps(ev) + "\n")
            self._f.flush()
            return ev

    def invoke(self, src, proc, f, value=None):
        return self.write("invoke", f, src, value, proc)

    def ok(self, src, proc, f, value=None):
        return self.write("ok", f, src, value, proc)

    def fail(self, src, proc, f, value=None):
        return self.write("fail", f, src, value, proc)

    def info(self, src, proc, f, value=None):
        return self.write("info", f, src, value, proc)

    def event(self, src, f, value=None):
        return self.write("event", f, src, value)

    def nemesis(self, f, value=None):
        """A fault op: f is "<fault>-start", "<fault>-stop" or "heal"."""
        return self.write("info", f, "nemesis", value)

    @contextlib.contextmanager
    def op(self, src, proc, f, value=None):
        """Record invoke, then exactly one completion.

            with hist.op("writer-1", p, "write", {"id": 7}) as op:
                r = post(...)
                op.ok({"id": 7, "region": "b", "token": 12}) if r.ok else op.fail()

        If the block raises, or ends without calling ok/fail/info, the
        completion is "info" (unknown), as Jepsen records a timeout; the
        exception propagates.  Retire the proc after an info (op.outcome).
        """
        handle = _Op(self, src, proc, f, value)
        self.invoke(src, proc, f, value)
        try:
            yield handle
        except BaseException as e:
            if handle.outcome is None:
                handle.info({"error": "%s: %s" % (type(e).__name__, e)})
            raise
        finally:
            if handle.outcome is None:
                handle.info({"error": "no outcome recorded"})


class _Op:
    def __init__(self, hist, src, proc, f, value):
        self._hist, self.src, self.proc, self.f = hist, src, proc, f
        self.invoke_value = value
        self.outcome = None

    def _complete(self, typ, value):
        if self.outcome is not None:
            raise ValueError("history: op %s/%s already completed as %s"
                             % (self.src, self.f, self.outcome))
        self.outcome = typ
        return self._hist.write(typ, self.f, self.src, value, self.proc)

    def ok(self, value=None):
        return self._complete("ok", value)

    def fail(self, value=None):
        return self._complete("fail", value)

    def info(self, value=None):
        return self._complete("info", value)


def read_lines(path):
    """Yield (line_number, event) of one JSONL file; raises HistoryError."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                ev = json.loads(line)
            except json.JSONDecodeError as e:
                raise HistoryError("%s:%d: not JSON: %s" % (path, n, e)) from None
            problems = validate(ev)
            if problems:
                raise HistoryError("%s:%d: %s" % (path, n, "; ".join(problems)))
            yield n, ev


def load(*paths):
    """Read and merge histories (the harness's and every oracle's log),
    ordered by t.  The sort is stable, so events of one file keep their
    order when t ties.  Each event gets "index", its position in the merge."""
    events = []
    for path in paths:
        events.extend(ev for _, ev in read_lines(path))
    events.sort(key=lambda ev: ev["t"])
    for i, ev in enumerate(events):
        ev["index"] = i
    return events


def merge(out_path, *paths):
    """Write the merged history of paths to out_path; returns the count."""
    events = load(*paths)
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for ev in events:
            f.write(dumps(ev) + "\n")
    os.replace(tmp, out_path)
    return len(events)

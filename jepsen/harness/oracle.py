"""Per-region oracle: a fencing-token-enforcing stand-in for a region's
database, workload scaler and (optionally) the DNS provider.

It is the harness's independent observer.  baton's http/exec drivers call it
as they would call PostgreSQL, a scaler or a DNS API, and it refuses any
token lower than the highest it has accepted for that resource, the way
storage with generation numbers does.  So fencing is enforced here, whether
or not baton gets it right, and every accept and every reject is logged,
stamped with CLOCK_MONOTONIC, as history events (see history.py):

    {"t":...,"src":"oracle-b","type":"event","f":"accept",
     "value":{"res":"db-b","op":"write","region":"b","token":12,"max":12,"id":4711}}
    {"t":...,"src":"oracle-a","type":"event","f":"reject",
     "value":{"res":"db-a","op":"write","region":"a","token":11,"max":12,
              "reason":"stale-token"}}

Resources and endpoints (JSON bodies; "epoch" is accepted as an alias of
"token", since baton's drivers send the plan context):

    POST /write   {"id": ID, "token": N}        res db-<region>
    POST /promote {"token": N}                   res db-<region>, role primary
    POST /fence   {"token": N}                   res db-<region>, role fenced
    POST /scale   {"token": N, "n": REPLICAS}    res scaler-<region>
    POST /dns     {"target": REGION, "token": N} res <dns_res> (default "dns")
    GET  /state   every resource: max token, role, replicas, DNS target, counts
    GET  /read    {"res": "db-<region>", "ids": [...], ...}  the final read

Optional fields "cmd" (baton's command id) and "req" are copied into the log.
Accept: 200 {"ok": true, ...}; stale token: 409 {"ok": false,
"reason": "stale-token", "max": M}; malformed: 400 (logged as "bad-request").

The "region" in a log line is the region that acted: the oracle's own region,
except for /dns where it is the target.  /fence and /scale with n = 0 are
fencing actions on the region, not the region acting (check.py knows this).

Run one oracle per region namespace, and send /dns to exactly one of them:

    python3 oracle.py serve --region b --listen 10.99.0.2:8080 --log oracle-b.jsonl

It prints "oracle: ready region=b listen=HOST:PORT" once it accepts
connections, and exits cleanly on SIGTERM.  For exec drivers:

    python3 oracle.py call http://10.99.0.2:8080 promote '{"token": 13}'

exits 0 on accept, 1 on a stale-token reject, 2 on any other error.

Injected endpoint faults (the nemesis's "endpoint-*" faults):

    POST /fault {"ops": ["promote", ...], "mode": M, "hang_s": S}   set
    POST /fault {"ops": [], "mode": "none"}                         clear

M is "error" (answer 500 and change nothing), "hang" (read the request, say
nothing for S seconds, then close the connection: nothing changes) or
"late" (apply the request, then answer only after S seconds: the caller
times out although it happened).  Every injected failure is logged as an
"injected" event {op, mode, token}.  Refused connections are made outside
the oracle (an nft reject on the plan port, see --plan-listen): /fault is
control, not an op, and is not itself subject to faults.

With --plan-listen HOST:PORT the oracle also serves the same state on a
second port, so baton's plan and self-fence steps (pointed at that port)
can be refused while writers and probes (on --listen) still get through.

Not modelled yet: replication between the regions' databases (each db keeps
only the writes it accepted itself).
"""

import argparse
import http.client
import http.server
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import history  # noqa: E402

REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
OPS = ("write", "promote", "fence", "scale", "dns")
FAULT_MODES = ("none", "error", "hang", "late")
MAX_HANG_S = 600
MAX_BODY = 1 << 16


class BadRequest(Exception):
    pass


def _token(body):
    tok = body.get("token", body.get("epoch"))
    if not isinstance(tok, int) or isinstance(tok, bool) or tok < 0:
        raise BadRequest("token must be a non-negative integer, got %r" % (tok,))
    return tok


class Oracle:
    """The state and the log; HTTP is a thin layer over handle()."""

    def __init__(self, region, log_path, dns_res="dns", src=None, clock=history.mono_ns,
                 writes_need_primary=False):
        if not REGION_RE.match(region):
            raise ValueError("oracle: region %r must match %s" % (region, REGION_RE.pattern))
        history.assert_true_clock()
        self.region = region
        self.src = src or "oracle-" + region
        self.db = "db-" + region
        self.scaler = "scaler-" + region
        self.dns_res = dns_res
        # A database that is not primary (a replica, or fenced) refuses writes
        # whatever their token, as a read-only PostgreSQL would.
        self.writes_need_primary = writes_need_primary
        self._clock = clock
        self._lock = threading.Lock()
        self._log = open(log_path, "a", encoding="utf-8")
        self._res = {}
        self._faults = {}          # op -> {"mode", "hang_s"}

    def set_fault(self, ops, mode, hang_s=0.0):
        """Inject failures into these ops until cleared (mode "none" clears
        the given ops, or every op if none are given)."""
        if mode not in FAULT_MODES:
            raise BadRequest("mode must be one of %s, got %r" % (", ".join(FAULT_MODES), mode))
        if not isinstance(ops, list) or any(op not in OPS for op in ops):
            raise BadRequest("ops must be a list of %s, got %r" % (", ".join(OPS), ops))
        if not isinstance(hang_s, (int, float)) or isinstance(hang_s, bool) or \
                not 0 <= hang_s <= MAX_HANG_S:
            raise BadRequest("hang_s must be a number in [0, %d], got %r" % (MAX_HANG_S, hang_s))
        if mode != "none" and not ops:
            raise BadRequest("a fault needs at least one op")
        with self._lock:
            if mode == "none":
                for op in (ops or list(self._faults)):
                    self._faults.pop(op, None)
            else:
                for op in ops:
                    self._faults[op] = {"mode": mode, "hang_s": float(hang_s)}
            self._emit("fault-set", {"ops": list(ops), "mode": mode, "hang_s": hang_s})
            return {op: dict(f) for op, f in self._faults.items()}

    def fault_for(self, op):
        with self._lock:
            f = self._faults.get(op)
            return dict(f) if f else None

    def note_injected(self, op, mode, body):
        tok = body.get("token", body.get("epoch")) if isinstance(body, dict) else None
        v = {"op": op, "mode": mode}
        if isinstance(tok, int) and not isinstance(tok, bool):
            v["token"] = tok
        for key in ("cmd", "req"):
            if isinstance(body, dict) and isinstance(body.get(key), (str, int)):
                v[key] = body[key]
        with self._lock:
            self._emit("injected", v)

    def close(self):
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _resource(self, name):
        r = self._res.get(name)
        if r is None:
            r = {"max": None, "accepts": 0, "rejects": 0}
            if name == self.db:
                r.update(role="replica", ids=[])
            elif name == self.scaler:
                r.update(replicas=0)
            else:
                r.update(target=None)
            self._res[name] = r
        return r

    def _emit(self, f, value):
        # Called with the lock held: the log order is the state order.
        ev = {"t": self._clock(), "src": self.src, "type": "event", "f": f, "value": value}
        if self._log is not None:
            self._log.write(history.dumps(ev) + "\n")
            self._log.flush()
        return ev

    def handle(self, op, body, peer=None):
        """Apply one request.  Returns (http_status, response_dict)."""
        try:
            if not isinstance(body, dict):
                raise BadRequest("body must be a JSON object")
            tok = _token(body)
            extra = {}
            if op == "write":
                if "id" not in body or not isinstance(body["id"], (int, str)) or \
                        isinstance(body["id"], bool):
                    raise BadRequest("write needs an integer or string id")
                res, region, extra["id"] = self.db, self.region, body["id"]
            elif op in ("promote", "fence"):
                res, region = self.db, self.region
            elif op == "scale":
                n = body.get("n")
                if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                    raise BadRequest("scale needs a non-negative integer n, got %r" % (n,))
                res, region, extra["n"] = self.scaler, self.region, n
            elif op == "dns":
                target = body.get("target")
                if not isinstance(target, str) or not REGION_RE.match(target):
                    raise BadRequest("dns needs a target region name, got %r" % (target,))
                res, region, extra["target"] = self.dns_res, target, target
            else:
                raise BadRequest("unknown op %r" % (op,))
        except BadRequest as e:
            with self._lock:
                self._emit("bad-request", {"op": op, "error": str(e), "peer": peer})
            return 400, {"ok": False, "reason": "bad-request: %s" % e}

        for key in ("cmd", "req"):
            if key in body and isinstance(body[key], (str, int)):
                extra[key] = body[key]
        if peer is not None:
            extra["peer"] = peer

        with self._lock:
            r = self._resource(res)
            value = {"res": res, "op": op, "region": region, "token": tok}
            value.update(extra)
            if r["max"] is not None and tok < r["max"]:
                r["rejects"] += 1
                value.update(max=r["max"], reason="stale-token")
                self._emit("reject", value)
                return 409, {"ok": False, "reason": "stale-token", "res": res,
                             "token": tok, "max": r["max"]}
            if op == "write" and self.writes_need_primary and r.get("role") != "primary":
                r["rejects"] += 1
                value.update(max=r["max"], reason="not-primary", role=r.get("role"))
                self._emit("reject", value)
                return 409, {"ok": False, "reason": "not-primary", "res": res, "role": r.get("role")}
            r["max"] = tok
            r["accepts"] += 1
            if op == "write":
                r["ids"].append(body["id"])
            elif op == "promote":
                r["role"] = "primary"
            elif op == "fence":
                r["role"] = "fenced"
            elif op == "scale":
                r["replicas"] = extra["n"]
            elif op == "dns":
                r["target"] = extra["target"]
            value["max"] = tok
            self._emit("accept", value)
            return 200, {"ok": True, "res": res, "token": tok, "max": tok}

    def state(self):
        with self._lock:
            out = {}
            for name, r in self._res.items():
                out[name] = {k: (len(v) if k == "ids" else v) for k, v in r.items()}
            return {"region": self.region, "src": self.src, "resources": out,
                    "faults": {op: dict(f) for op, f in self._faults.items()}}

    def read(self):
        with self._lock:
            r = self._resource(self.db)
            return {"res": self.db, "region": self.region, "ids": list(r["ids"]),
                    "max": r["max"], "role": r["role"]}


def _from_baton_headers(body, headers):
    """baton's http driver sends its context as headers (docs/drivers.md):
    X-Baton-Epoch is the fencing token, X-Baton-To the region getting the
    baton (the DNS target), X-Baton-Transition/-Step name the call.  Fill
    what the JSON body does not give; the body wins."""
    body = dict(body)
    epoch = headers.get("X-Baton-Epoch")
    if "token" not in body and "epoch" not in body and epoch is not None:
        body["token"] = int(epoch) if epoch.isdigit() else epoch
    to = headers.get("X-Baton-To")
    if "target" not in body and to:
        body["target"] = to
    tr, step = headers.get("X-Baton-Transition"), headers.get("X-Baton-Step")
    if "cmd" not in body and tr:
        body["cmd"] = tr
    if "req" not in body and step:
        body["req"] = "%s#%s" % (step, headers.get("X-Baton-Attempt", ""))
    if (headers.get("X-Baton-Drill") or "").lower() == "true":
        body["drill"] = True
    return body


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "baton-jepsen-oracle/1"

    def log_message(self, fmt, *args):  # the JSONL log is the record
        pass

    def _reply(self, status, obj):
        data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/state":
            self._reply(200, self.server.oracle.state())
        elif path == "/read":
            self._reply(200, self.server.oracle.read())
        else:
            self._reply(404, {"ok": False, "reason": "no such path %s" % path})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            self._reply(411, {"ok": False, "reason": "need a Content-Length up to %d" % MAX_BODY})
            return
        raw = self.rfile.read(int(length))
        op = path.lstrip("/")
        try:
            body = json.loads(raw.decode() or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            body = "not JSON: %s" % e
        if op == "fault":
            try:
                if not isinstance(body, dict):
                    raise BadRequest("body must be a JSON object")
                faults = self.server.oracle.set_fault(body.get("ops", []), body.get("mode"),
                                                      body.get("hang_s", 0.0))
            except BadRequest as e:
                self._reply(400, {"ok": False, "reason": "bad-request: %s" % e})
                return
            self._reply(200, {"ok": True, "faults": faults})
            return
        if op not in OPS:
            self._reply(404, {"ok": False, "reason": "no such path %s" % path})
            return
        peer = "%s:%d" % self.client_address[:2]
        if isinstance(body, dict):
            body = _from_baton_headers(body, self.headers)
            if body.get("drill"):
                # X-Baton-Drill: true: the webhook contract says do not act.
                self._reply(200, {"ok": True, "drill": True})
                return
        if isinstance(body, str):
            with self.server.oracle._lock:
                self.server.oracle._emit("bad-request", {"op": op, "error": body, "peer": peer})
            self._reply(400, {"ok": False, "reason": "bad-request: %s" % body})
            return
        fault = self.server.oracle.fault_for(op)
        if fault and fault["mode"] in ("error", "hang"):
            self.server.oracle.note_injected(op, fault["mode"], body)
            if fault["mode"] == "error":
                self.close_connection = True
                self._reply(500, {"ok": False, "reason": "injected: error"})
            else:
                time.sleep(fault["hang_s"])
                self.close_connection = True      # no answer at all
            return
        status, resp = self.server.oracle.handle(op, body, peer)
        if fault and fault["mode"] == "late":
            self.server.oracle.note_injected(op, "late", body)
            time.sleep(fault["hang_s"])
        self._reply(status, resp)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, oracle, host, port):
        self.oracle = oracle
        super().__init__((host, port), _Handler)

    def handle_error(self, request, client_address):
        # A client that gave up (a probe past its timeout) resets the
        # connection: not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def address(self):
        return "%s:%d" % self.server_address[:2]


def start_in_thread(oracle, host="127.0.0.1", port=0):
    """Serve from a background thread (tests); returns the Server.
    Stop with server.shutdown(); server.server_close()."""
    srv = Server(oracle, host, port)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     name="oracle-" + oracle.region, daemon=True).start()
    return srv


def call(base_url, op, body=None, timeout=5.0):
    """Client for exec drivers and tests: returns (status, response_dict)."""
    u = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        if op in ("state", "read"):
            conn.request("GET", "/" + op)
        else:
            data = json.dumps(body or {}).encode()
            conn.request("POST", "/" + op, body=data,
                         headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw.decode() or "{}")
    finally:
        conn.close()


def _parse_listen(s):
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("--listen wants HOST:PORT, got %r" % s)
    return host, int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve", help="run an oracle")
    sp.add_argument("--region", required=True)
    sp.add_argument("--listen", required=True, type=_parse_listen, help="HOST:PORT (port 0: any)")
    sp.add_argument("--log", required=True, help="JSONL event log (appended)")
    sp.add_argument("--plan-listen", type=_parse_listen,
                    help="HOST:PORT: serve the same oracle on a second port too (baton's plan and "
                         "self-fence steps), so that port alone can be refused")
    sp.add_argument("--dns-res", default="dns", help="resource name for /dns (default dns)")
    sp.add_argument("--writes-need-primary", action="store_true",
                    help="refuse writes (409 not-primary) unless the db was promoted and not fenced since")
    cp = sub.add_parser("call", help="one request; exit 0 accepted, 1 stale, 2 error")
    cp.add_argument("url")
    cp.add_argument("op", choices=("write", "promote", "fence", "scale", "dns", "state", "read"))
    cp.add_argument("body", nargs="?", default="{}")
    cp.add_argument("--timeout", type=float, default=5.0)
    args = ap.parse_args(argv)

    if args.cmd == "call":
        try:
            status, resp = call(args.url, args.op, json.loads(args.body), args.timeout)
        except (OSError, ValueError, http.client.HTTPException) as e:
            print("oracle call %s %s: %s" % (args.url, args.op, e), file=sys.stderr)
            return 2
        print(json.dumps(resp))
        return 0 if status == 200 else 1 if status == 409 else 2

    oracle = Oracle(args.region, args.log, dns_res=args.dns_res,
                    writes_need_primary=args.writes_need_primary)
    srv = Server(oracle, *args.listen)
    plan = Server(oracle, *args.plan_listen) if args.plan_listen else None
    if plan is not None:
        threading.Thread(target=plan.serve_forever, kwargs={"poll_interval": 0.2},
                         name="plan", daemon=True).start()

    def on_term(signum, frame):
        # shutdown() waits for serve_forever(), so run it off the main thread.
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("oracle: ready region=%s listen=%s pid=%d%s" % (
        args.region, srv.address, os.getpid(), " plan=%s" % plan.address if plan else ""), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        if plan is not None:
            plan.shutdown()
            plan.server_close()
        srv.server_close()
        oracle.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

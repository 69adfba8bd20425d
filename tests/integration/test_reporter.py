# SPDX-License-Identifier: MIT
"""baton-reporter as a real process against coordinators written here in Python.

The coordinators are tiny HTTP servers that verify every report themselves:
HMAC-SHA256 over the envelope's field 1 (the body bytes) with the region key,
compared in constant time, then a minimal protobuf decoder for the body. So a
report only counts if an independent implementation accepts its MAC. The
region's "services" are an HTTP endpoint whose status the test sets and a TCP
listener. Checked: reports arrive every interval with increasing seq; a failing
critical HTTP check makes the next report critical (and is logged once, not
every round); when the first coordinator is down or answers 5xx the report goes
to the second in the same round; a coordinator that rejects the MAC is reported
in the log; --once exit codes; SIGTERM ends the process with status 0. With
PostgreSQL 15 installed: role and lag of a real primary and replicas
(tests/lib/pgcluster.py). Timing figures are printed, and asserted only loosely.
"""
import hashlib
import hmac
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))

INTERVAL_MS = 200
KEY = bytes(range(1, 33))
OTHER_KEY = bytes(range(2, 34))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "AddressSanitizer:DEADLYSIGNAL")


def reporter_binary():
    b = os.environ.get("BATON_BUILD_DIR", os.path.join(ROOT, "build"))
    return os.path.join(b, "reporter", "baton-reporter")


def wait_for(pred, timeout, what, interval=0.02):
    """Poll pred() until it returns a truthy value or @timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ------------------------------------------------------------------ protobuf, minimal

def _varint(buf, i):
    shift = value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def pb_fields(buf):
    """[(field number, value)] of a message: ints for varints, bytes for length-delimited."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("truncated field")
            v, i = buf[i:i + n], i + n
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.append((num, v))
    return out


CHECK_FIELDS = {1: ("name", str), 2: ("kind", str), 3: ("ok", bool), 4: ("critical", bool),
                5: ("detail", str), 6: ("latency_ms", int), 7: ("pg_role", str),
                8: ("lag_bytes", int), 9: ("lag_ms", int)}


def verify_report(data, key):
    """Check the MAC of a HealthReport and decode its body; raises ValueError if bad."""
    env = dict(pb_fields(data))
    if 1 not in env or 2 not in env:
        raise ValueError("envelope lacks body or mac")
    body, mac = env[1], env[2]
    want = hmac.new(key, body, hashlib.sha256).digest()
    if not hmac.compare_digest(want, mac):
        raise ValueError("bad mac")
    rep = {"key_id": env.get(3, b"").decode(), "checks": {}, "critical": False}
    for num, v in pb_fields(body):
        if num == 1:
            rep["region"] = v.decode()
        elif num == 2:
            rep["reporter"] = v.decode()
        elif num == 3:
            rep["seq"] = v
        elif num == 4:
            rep["sent_at_ms"] = v
        elif num == 6:
            rep["critical"] = bool(v)
        elif num == 5:
            c = {"ok": False, "critical": False}
            for cn, cv in pb_fields(v):
                name, typ = CHECK_FIELDS[cn]
                c[name] = cv.decode() if typ is str else typ(cv)
            rep["checks"][c["name"]] = c
    return rep


# ------------------------------------------------------------------ fakes

class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # the reporter hung up on a stalled handler: expected, not news


class Coordinator:
    """POST /v1/health: verify with @key, record, answer self.status (or 401 on a bad MAC)."""

    def __init__(self, key=KEY, status=204, delay=0.0):
        self.key = key
        self.status = status
        self.delay = delay   # seconds before answering (past the reporter's timeout = a hang)
        self.reports = []    # (monotonic time, decoded report)
        self.rejected = []   # reasons
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                code, text = outer._handle(self.path, self.headers.get("Content-Type"), data)
                body = text.encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handle(self, path, ctype, data):
        if self.delay:
            time.sleep(self.delay)  # the server thread stalls, like a hung coordinator
        if path != "/v1/health" or ctype != "application/x-protobuf":
            with self.lock:
                self.rejected.append("path %s type %s" % (path, ctype))
            return 404, "no"
        try:
            rep = verify_report(data, self.key)
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            with self.lock:
                self.rejected.append(str(e))
            return 401, "rejected: %s" % e
        status = self.status
        if 200 <= status < 300:
            with self.lock:
                self.reports.append((time.monotonic(), rep))
        return status, "ok" if status < 300 else "unavailable"

    def count(self):
        with self.lock:
            return len(self.reports)

    def last(self):
        with self.lock:
            return self.reports[-1][1] if self.reports else None

    def all(self):
        with self.lock:
            return list(self.reports)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Service:
    """The region's HTTP service (/healthz answers self.status) and a TCP listener."""

    def __init__(self):
        self.status = 200
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"status"
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.http = _Server(("127.0.0.1", 0), Handler)
        self.http_url = "http://127.0.0.1:%d/healthz" % self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(64)
        self.tcp_addr = "127.0.0.1:%d" % self.tcp.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
                c.close()
            except OSError:
                return

    def close(self):
        self.stop = True
        self.http.shutdown()
        self.http.server_close()
        try:
            self.tcp.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.tcp.close()


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def write_key(path, key, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.write(fd, (key.hex() + "\n").encode())
    os.fchmod(fd, mode)
    os.close(fd)


# ------------------------------------------------------------------ tests

class ReporterTestBase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-rep-")
        self.key_path = os.path.join(self.tmp, "region.key")
        write_key(self.key_path, KEY)
        self.svc = Service()
        self.coords = []
        self.procs = []

    def tearDown(self):
        for p, log in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for c in self.coords:
            c.close()
        self.svc.close()
        reports = []
        for _, log in self.procs:
            with open(log, errors="replace") as f:
                reports += [ln for ln in f if any(m in ln for m in SANITIZER_MARKERS)]
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(reports, [], "sanitizer reports in the reporter's log")

    def coordinator(self, **kw):
        c = Coordinator(**kw)
        self.coords.append(c)
        return c

    def write_config(self, coordinators, checks=None, name="app-eu-1", extra="",
                     interval_ms=INTERVAL_MS, timeout_ms=150):
        if checks is None:
            checks = [
                '{name: web, type: http, url: "%s", expect_status: 200, critical: true}'
                % self.svc.http_url,
                '{name: port, type: tcp, address: "%s"}' % self.svc.tcp_addr,
                '{name: hook, type: exec, command: ["/bin/sh", "-c", "echo fine; exit 0"]}',
            ]
        text = ("region: eu-west\nname: %s\nkey_file: %s\ninterval_ms: %d\ntimeout_ms: %d\n"
                "coordinators:\n%s\nchecks:\n%s\n%s"
                % (name, self.key_path, interval_ms, timeout_ms,
                   "\n".join("  - %s" % u for u in coordinators),
                   "\n".join("  - %s" % c for c in checks), extra))
        path = os.path.join(self.tmp, "reporter-%d.yaml" % len(self.procs))
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, config):
        log = os.path.join(self.tmp, "reporter-%d.log" % len(self.procs))
        with open(log, "w") as lf:
            p = subprocess.Popen([reporter_binary(), "--config", config], stdout=lf,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((p, log))
        return p, log

    def stop(self, p, log):
        """SIGTERM: the process must exit 0 and say it stopped."""
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=10)
        text = read(log)
        self.assertEqual(rc, 0, "exit status after SIGTERM; log:\n" + text)
        self.assertIn('msg="stopping" signal=TERM', text)
        self.assertIn('msg="stopped" exit=0', text)
        return time.monotonic() - t0

    def once(self, config, env=None):
        r = subprocess.run([reporter_binary(), "--config", config, "--once"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                           env=env)
        for m in SANITIZER_MARKERS:
            self.assertNotIn(m, r.stderr)
        return r


class ReporterTest(ReporterTestBase):
    def test_reports_arrive_every_interval_with_increasing_seq_and_a_valid_mac(self):
        coord = self.coordinator()
        p, log = self.start(self.write_config([coord.url]))
        wait_for(lambda: coord.count() >= 8, 10, "8 reports")
        stopped = self.stop(p, log)
        got = coord.all()
        self.assertEqual(coord.rejected, [])
        seqs = [r["seq"] for _, r in got]
        self.assertEqual(seqs, sorted(set(seqs)), "seq strictly increasing")
        now_us = time.time() * 1e6
        self.assertLess(abs(seqs[-1] - now_us), 60e6, "seq is the wall clock in microseconds")
        for _, r in got:
            self.assertEqual((r["region"], r["reporter"]), ("eu-west", "app-eu-1"))
            self.assertFalse(r["critical"])
            self.assertEqual(sorted(r["checks"]), ["hook", "port", "web"])
            self.assertTrue(all(c["ok"] for c in r["checks"].values()), r["checks"])
        last = got[-1][1]["checks"]
        self.assertEqual(last["hook"]["detail"], "fine")
        self.assertEqual(last["web"]["detail"], "status 200")
        self.assertEqual(last["web"]["kind"], "http")
        self.assertTrue(last["web"]["critical"])
        gaps = [(b[0] - a[0]) * 1000 for a, b in zip(got, got[1:])]
        print("\nfigure: %d reports, gaps between arrivals min %.0f / median %.0f / max %.0f ms "
              "(interval %d ms); SIGTERM -> exit in %.0f ms"
              % (len(got), min(gaps), sorted(gaps)[len(gaps) // 2], max(gaps), INTERVAL_MS,
                 stopped * 1000), file=sys.stderr)
        self.assertGreater(min(gaps), INTERVAL_MS * 0.5, "rounds are paced by the interval")
        text = read(log)
        self.assertIn('msg="reports go to" coordinator=%s' % coord.url, text)
        self.assertEqual(text.count('msg="check failing"'), 0)

    def test_a_failing_critical_http_check_makes_the_next_report_critical(self):
        coord = self.coordinator()
        p, log = self.start(self.write_config([coord.url]))
        wait_for(lambda: coord.count() >= 2, 10, "first reports")
        self.svc.status = 503
        n = coord.count()
        rep = wait_for(lambda: next((r for _, r in coord.all()[n:] if r["critical"]), None), 5,
                       "a critical report")
        self.assertFalse(rep["checks"]["web"]["ok"])
        self.assertEqual(rep["checks"]["web"]["detail"], "status 503, expected 200")
        self.assertTrue(rep["checks"]["port"]["ok"])
        # several more failing rounds, then recovery
        n = coord.count()
        wait_for(lambda: coord.count() >= n + 3, 5, "three more reports")
        self.assertTrue(all(r["critical"] for _, r in coord.all()[n:]))
        self.svc.status = 200
        n = coord.count()
        wait_for(lambda: any(not r["critical"] for _, r in coord.all()[n:]), 5,
                 "a report that is no longer critical")
        self.stop(p, log)
        text = read(log)
        self.assertEqual(text.count('msg="check failing" check=web'), 1, "logged once:\n" + text)
        self.assertEqual(text.count('msg="check ok again" check=web'), 1)
        self.assertEqual(text.count('msg="report is critical: a critical check fails"'), 1)
        self.assertEqual(text.count('msg="report no longer critical"'), 1)

    def test_a_failing_non_critical_check_does_not_make_the_report_critical(self):
        coord = self.coordinator()
        checks = ['{name: web, type: http, url: "%s", critical: true}' % self.svc.http_url,
                  '{name: gone, type: tcp, address: "127.0.0.1:%d"}' % closed_port()]
        p, log = self.start(self.write_config([coord.url], checks))
        rep = wait_for(coord.last, 10, "a report")
        self.stop(p, log)
        self.assertFalse(rep["checks"]["gone"]["ok"])
        self.assertIn("connection refused", rep["checks"]["gone"]["detail"])
        self.assertFalse(rep["critical"])

    def test_reports_go_to_the_second_coordinator_when_the_first_is_down(self):
        second = self.coordinator()
        first = "http://127.0.0.1:%d" % closed_port()
        p, log = self.start(self.write_config([first, second.url]))
        wait_for(lambda: second.count() >= 3, 10, "three reports at the second coordinator")
        self.stop(p, log)
        text = read(log)
        self.assertIn('msg="reports go to" coordinator=%s' % second.url, text)
        self.assertNotIn("no coordinator accepted", text)

    def test_a_first_coordinator_answering_503_is_skipped_until_it_recovers(self):
        first = self.coordinator(status=503)
        second = self.coordinator()
        p, log = self.start(self.write_config([first.url, second.url]))
        wait_for(lambda: second.count() >= 2, 10, "reports at the second coordinator")
        self.assertEqual(first.count(), 0)
        first.status = 204
        wait_for(lambda: first.count() >= 2, 10, "reports back at the first coordinator")
        n = second.count()
        wait_for(lambda: first.count() >= 4, 10, "two more at the first")
        self.assertEqual(second.count(), n, "no report goes to both")
        self.stop(p, log)
        text = read(log)
        self.assertIn('msg="reports go to" coordinator=%s' % second.url, text)
        self.assertIn('msg="reports go to another coordinator" coordinator=%s previous=%s'
                      % (first.url, second.url), text)

    def test_a_round_that_overruns_the_interval_skips_ticks_and_says_so_once(self):
        # exec 100 ms + a first coordinator that hangs past timeout_ms (150 ms)
        # makes every round ~250 ms: longer than the 200 ms interval.
        first = self.coordinator(delay=0.5)
        second = self.coordinator()
        checks = ['{name: slowish, type: exec, command: ["/bin/sleep", "0.1"]}']
        p, log = self.start(self.write_config([first.url, second.url], checks))
        wait_for(lambda: second.count() >= 5, 15, "five reports at the second coordinator")
        got = second.all()
        gaps = [(b[0] - a[0]) * 1000 for a, b in zip(got, got[1:])]
        print("\nfigure: overrunning rounds (~250 ms, interval %d ms): gaps min %.0f / max %.0f ms"
              % (INTERVAL_MS, min(gaps), max(gaps)), file=sys.stderr)
        self.assertGreater(min(gaps), 240, "rounds never overlap: the next starts after a skipped tick")
        first.delay = 0
        wait_for(lambda: first.count() >= 3, 10, "reports at the first coordinator once it answers")
        wait_for(lambda: "rounds fit in the interval again" in read(log), 5,
                 "the log to say rounds fit again")
        self.stop(p, log)
        text = read(log)
        self.assertEqual(text.count("round still running at the next tick"), 1,
                         "said once, not every tick:\n" + text)
        self.assertEqual(text.count("rounds fit in the interval again"), 1)

    def test_a_coordinator_with_another_key_rejects_and_the_reporter_says_why(self):
        coord = self.coordinator(key=OTHER_KEY)
        p, log = self.start(self.write_config([coord.url]))
        wait_for(lambda: len(coord.rejected) >= 3, 10, "three rejected reports")
        self.assertEqual(coord.count(), 0)
        self.assertEqual(set(coord.rejected), {"bad mac"})
        self.stop(p, log)
        text = read(log)
        self.assertEqual(text.count('msg="no coordinator accepted the report"'), 1,
                         "logged once, not every round")
        self.assertIn("status 401: rejected: bad mac", text)

    def test_once_exits_0_when_every_check_is_ok_and_a_coordinator_took_it(self):
        coord = self.coordinator()
        r = self.once(self.write_config([coord.url]))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("delivered to %s (status 204)" % coord.url, r.stdout)
        self.assertIn("report region=eu-west reporter=app-eu-1 seq=", r.stdout)
        self.assertEqual(coord.count(), 1)
        self.assertEqual(r.stderr, "", "once mode logs nothing")

    def test_once_exits_1_when_a_check_fails(self):
        coord = self.coordinator()
        self.svc.status = 500
        r = self.once(self.write_config([coord.url]))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"web +http +FAIL .*status 500, expected 200")
        self.assertTrue(coord.last()["critical"])

    def test_once_exits_3_when_no_coordinator_accepts(self):
        r = self.once(self.write_config(["http://127.0.0.1:%d" % closed_port(),
                                         "http://127.0.0.1:%d" % closed_port()]))
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertIn("no coordinator accepted the report", r.stdout)
        self.assertEqual(r.stdout.count("not accepted by"), 2)

    def test_once_exits_2_on_a_config_error_naming_file_line_and_key(self):
        path = self.write_config(["http://127.0.0.1:1"], extra="interval_ms: 5\n")
        r = self.once(path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("duplicate key", r.stderr + r.stdout)
        bad = os.path.join(self.tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("region: eu-west\nname: a\nkey_file: %s\ncoordinators: [http://127.0.0.1:1]\n"
                    "interval_ms: 1000\ntimeout_ms: 1000\nchecks:\n  - {name: x, type: tcp, "
                    "address: 127.0.0.1:1}\n" % self.key_path)
        r = self.once(bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:6: timeout_ms: must be below interval_ms (1000), got 1000" % bad, r.stderr)

    def test_one_file_serves_several_reporters_named_from_the_environment(self):
        """Sidecars of a replicated workload share one ConfigMap: name: ${POD_NAME}."""
        coord = self.coordinator()
        path = self.write_config([coord.url], name="${POD_NAME}")
        for pod in ("shop-web-7f9c-a", "shop-web-7f9c-b"):
            r = self.once(path, env=dict(os.environ, POD_NAME=pod))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("report region=eu-west reporter=%s seq=" % pod, r.stdout)
        self.assertEqual(coord.count(), 2)
        env = dict(os.environ)
        env.pop("POD_NAME", None)
        r = self.once(path, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2: name: environment variable POD_NAME is not set "
                      "(write ${POD_NAME:-default} to give a default)" % path, r.stderr)

    def test_a_key_file_readable_by_others_is_refused_at_start(self):
        write_key(self.key_path, KEY, 0o644)
        path = self.write_config(["http://127.0.0.1:1"])
        r = self.once(path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s: key file mode 0644" % self.key_path, r.stderr)
        r = subprocess.run([reporter_binary(), "--check-config", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("mode 0644", r.stderr)

    def test_keygen_writes_a_key_the_reporter_and_python_agree_on(self):
        path = os.path.join(self.tmp, "new.key")
        r = subprocess.run([reporter_binary(), "keygen", path], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        key = bytes.fromhex(read(path).strip())
        self.key_path = path
        coord = self.coordinator(key=key)
        r = self.once(self.write_config([coord.url]))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(coord.count(), 1)
        r = subprocess.run([reporter_binary(), "keygen", path], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("refusing to overwrite", r.stderr)

    def test_an_exec_check_past_its_deadline_is_killed_with_its_children(self):
        coord = self.coordinator()
        marker = os.path.join(self.tmp, "child-alive")
        # the shell starts a grandchild that would touch @marker after 1 s
        checks = ['{name: slow, type: exec, command: ["/bin/sh", "-c", '
                  '"(sleep 1; touch %s) & sleep 30"]}' % marker]
        t0 = time.monotonic()
        r = self.once(self.write_config([coord.url], checks))
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("timed out after 150 ms; killed", r.stdout)
        self.assertLess(took, 5)
        time.sleep(1.5)  # the grandchild's own delay; no condition to wait for but its absence
        self.assertFalse(os.path.exists(marker), "the grandchild survived the kill")


PG_BIN = "/usr/lib/postgresql/15/bin"


@unittest.skipUnless(os.path.exists(os.path.join(PG_BIN, "initdb")), "PostgreSQL 15 not installed")
class ReporterPostgresTest(ReporterTestBase):
    @classmethod
    def setUpClass(cls):
        from pgcluster import PgCluster
        cls.pgtmp = tempfile.mkdtemp(prefix="baton-rep-pg-")
        os.chmod(cls.pgtmp, 0o755)
        cls.pg = PgCluster(os.path.join(cls.pgtmp, "cluster"))
        cls.pg.start()
        cls.pg.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        shutil.rmtree(cls.pgtmp, ignore_errors=True)

    def test_postgres_checks_report_role_and_zero_lag_when_idle(self):
        p0, p1, p2 = self.pg.ports
        coord = self.coordinator()
        tgt = "host: 127.0.0.1, user: baton, dbname: postgres"
        checks = [
            "{name: pg-primary, type: postgres, %s, port: %d, critical: true}" % (tgt, p0),
            "{name: pg-replica, type: postgres, %s, port: %d, primary: {%s, port: %d}}"
            % (tgt, p1, tgt, p0),
            "{name: pg-replica2, type: postgres, %s, port: %d}" % (tgt, p2),
            "{name: pg-down, type: postgres, %s, port: %d}" % (tgt, closed_port()),
        ]
        p, log = self.start(self.write_config([coord.url], checks, interval_ms=600,
                                              timeout_ms=400))

        def idle_report():
            r = coord.last()
            if r is None:
                return None
            c = r["checks"]
            if c["pg-replica"].get("lag_bytes") == 0 and c["pg-replica2"].get("lag_bytes") == 0:
                return r
            return None

        rep = wait_for(idle_report, 20, "a report with both replicas at lag 0")
        c = rep["checks"]
        self.assertTrue(c["pg-primary"]["ok"], c["pg-primary"])
        self.assertEqual(c["pg-primary"]["pg_role"], "primary")
        self.assertEqual(c["pg-primary"]["lag_bytes"], 0)
        for name in ("pg-replica", "pg-replica2"):
            self.assertTrue(c[name]["ok"], c[name])
            self.assertEqual(c[name]["pg_role"], "replica")
            self.assertEqual(c[name]["lag_ms"], 0)
        self.assertIn("against primary 127.0.0.1:%d" % p0, c["pg-replica"]["detail"])
        self.assertIn("received vs replayed", c["pg-replica2"]["detail"])
        self.assertFalse(c["pg-down"]["ok"])
        self.assertIn("Connection refused", c["pg-down"]["detail"])
        self.assertFalse(rep["critical"], "pg-down is not critical")

        # A frozen primary: its check times out and the report turns critical,
        # while the replica (measured against it) stays ok.
        self.pg.freeze(0)
        try:
            n = coord.count()
            rep = wait_for(lambda: next((r for _, r in coord.all()[n:] if r["critical"]), None),
                           10, "a critical report while the primary is frozen")
        finally:
            self.pg.thaw(0)
        self.assertIn("timed out after 400 ms", rep["checks"]["pg-primary"]["detail"])
        self.assertTrue(rep["checks"]["pg-replica"]["ok"], rep["checks"]["pg-replica"])
        self.assertIn("primary 127.0.0.1:%d: timed out" % p0, rep["checks"]["pg-replica"]["detail"])
        self.stop(p, log)


if __name__ == "__main__":
    unittest.main(verbosity=2)

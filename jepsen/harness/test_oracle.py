"""Unit tests for history.py and oracle.py (loopback only, no root needed).

Run: cd jepsen/harness && python3 -m unittest -v test_oracle
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import history
import oracle

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "checker"))
import check  # noqa: E402


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class HistoryFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "history.jsonl")

    def tearDown(self):
        self.dir.cleanup()

    def test_events_are_stamped_with_the_monotonic_clock_in_order(self):
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        with history.History(self.path) as h:
            p = h.new_proc()
            h.invoke("writer-1", p, "write", {"id": 1})
            h.ok("writer-1", p, "write", {"id": 1, "region": "a", "token": 3})
            h.nemesis("partition-start", {"targets": ["a"]})
            h.event("coord-a", "became-leader", {"term": 1})
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        evs = read_jsonl(self.path)
        self.assertEqual([e["type"] for e in evs], ["invoke", "ok", "info", "event"])
        ts = [e["t"] for e in evs]
        self.assertEqual(ts, sorted(ts))
        self.assertTrue(before <= ts[0] and ts[-1] <= after)
        self.assertEqual(list(evs[0]), ["t", "src", "proc", "type", "f", "value"])

    def test_an_op_whose_block_raises_is_recorded_as_info(self):
        with history.History(self.path) as h:
            with self.assertRaises(TimeoutError):
                with h.op("writer-1", 1, "write", {"id": 9}):
                    raise TimeoutError("no answer")
            with h.op("writer-1", 2, "write", {"id": 10}) as op:
                op.fail({"id": 10})
            with h.op("writer-1", 3, "write", {"id": 11}):
                pass
        evs = read_jsonl(self.path)
        self.assertEqual([(e["type"], e["proc"]) for e in evs],
                         [("invoke", 1), ("info", 1), ("invoke", 2), ("fail", 2),
                          ("invoke", 3), ("info", 3)])
        self.assertIn("TimeoutError", evs[1]["value"]["error"])

    def test_malformed_events_are_refused(self):
        with history.History(self.path) as h:
            with self.assertRaises(ValueError):
                h.write("invoke", "write", "writer-1")           # no proc
            with self.assertRaises(ValueError):
                h.write("bogus", "write", "writer-1", proc=1)
        self.assertEqual(read_jsonl(self.path), [])

    def test_load_merges_files_by_time_and_names_bad_lines(self):
        a, b = os.path.join(self.dir.name, "a"), os.path.join(self.dir.name, "b")
        with open(a, "w") as f:
            f.write('{"t":1,"src":"x","type":"event","f":"e"}\n'
                    '{"t":5,"src":"x","type":"event","f":"e"}\n')
        with open(b, "w") as f:
            f.write('{"t":3,"src":"y","type":"event","f":"e"}\n')
        self.assertEqual([(e["t"], e["index"]) for e in history.load(a, b)],
                         [(1, 0), (3, 1), (5, 2)])
        with open(b, "a") as f:
            f.write('{"t":-1,"src":"y","type":"event","f":"e"}\n')
        with self.assertRaisesRegex(history.HistoryError, r"/b:2: t must be"):
            history.load(a, b)

    def test_a_faketime_wrapped_process_is_refused(self):
        with self.assertRaisesRegex(RuntimeError, "libfaketime"):
            history.assert_true_clock(
                {"LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"})
        history.assert_true_clock({"LD_PRELOAD": ""})


class OracleHttp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "oracle-b.jsonl")
        self.oracle = oracle.Oracle("b", self.log)
        self.srv = oracle.start_in_thread(self.oracle, "127.0.0.1", 0)
        self.url = "http://" + self.srv.address

    def tearDown(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.oracle.close()
        self.dir.cleanup()

    def test_tokens_below_the_highest_accepted_are_rejected_per_resource(self):
        self.assertEqual(oracle.call(self.url, "promote", {"token": 5})[0], 200)
        self.assertEqual(oracle.call(self.url, "write", {"id": 1, "token": 5})[0], 200)
        self.assertEqual(oracle.call(self.url, "write", {"id": 2, "epoch": 6})[0], 200)
        status, resp = oracle.call(self.url, "write", {"id": 3, "token": 5})
        self.assertEqual((status, resp["reason"], resp["max"]), (409, "stale-token", 6))
        # the scaler is another resource: its own maximum
        self.assertEqual(oracle.call(self.url, "scale", {"token": 2, "n": 3})[0], 200)
        self.assertEqual(oracle.call(self.url, "fence", {"token": 6})[0], 200)
        self.assertEqual(oracle.call(self.url, "dns", {"target": "c", "token": 7})[0], 200)
        self.assertEqual(oracle.call(self.url, "dns", {"target": "b", "token": 6})[0], 409)
        status, st = oracle.call(self.url, "state")
        self.assertEqual(st["resources"]["db-b"], {"max": 6, "accepts": 4, "rejects": 1,
                                                   "role": "fenced", "ids": 2})
        self.assertEqual(st["resources"]["scaler-b"]["replicas"], 3)
        self.assertEqual(st["resources"]["dns"]["target"], "c")
        self.assertEqual(oracle.call(self.url, "read")[1]["ids"], [1, 2])

    def test_every_accept_and_reject_is_logged_and_the_log_passes_the_fencing_check(self):
        for body in ({"token": 1}, {"token": 3}, {"token": 2}, {"token": 3}):
            oracle.call(self.url, "promote", body)
        evs = read_jsonl(self.log)
        self.assertEqual([(e["f"], e["value"]["token"]) for e in evs],
                         [("accept", 1), ("accept", 3), ("reject", 2), ("accept", 3)])
        self.assertTrue(all(e["src"] == "oracle-b" and e["value"]["res"] == "db-b" for e in evs))
        self.assertEqual(evs[2]["value"]["max"], 3)
        ts = [e["t"] for e in evs]
        self.assertEqual(ts, sorted(ts))
        res = check.check_fencing(check.normalize(evs), check.Config())
        self.assertIs(res["valid"], True)

    def test_malformed_requests_get_400_and_change_nothing(self):
        for op, body in (("write", {"token": 1}), ("write", {"id": 1, "token": -1}),
                         ("write", {"id": 1, "token": True}), ("scale", {"token": 1}),
                         ("dns", {"token": 1, "target": "Bad Name"})):
            self.assertEqual(oracle.call(self.url, op, body)[0], 400, (op, body))
        self.assertEqual(oracle.call(self.url, "state")[1]["resources"], {})
        evs = read_jsonl(self.log)
        self.assertEqual({e["f"] for e in evs}, {"bad-request"})

    def post_as_baton(self, path, headers):
        """A request shaped like baton's http driver: empty body, context in headers."""
        import http.client
        conn = http.client.HTTPConnection(*self.srv.server_address[:2], timeout=5)
        try:
            conn.request("POST", path, body=b"", headers=headers)
            r = conn.getresponse()
            return r.status, json.loads(r.read().decode())
        finally:
            conn.close()

    def test_baton_driver_headers_carry_the_token_and_the_dns_target(self):
        h = {"X-Baton-Epoch": "4", "X-Baton-To": "c", "X-Baton-From": "b",
             "X-Baton-Transition": "t-9", "X-Baton-Step": "dns", "X-Baton-Attempt": "1",
             "X-Baton-Drill": "false"}
        self.assertEqual(self.post_as_baton("/dns", h)[0], 200)
        self.assertEqual(self.post_as_baton("/fence", dict(h, **{"X-Baton-Epoch": "4"}))[0], 200)
        self.assertEqual(self.post_as_baton("/fence", dict(h, **{"X-Baton-Epoch": "3"}))[0], 409)
        st = oracle.call(self.url, "state")[1]["resources"]
        self.assertEqual((st["dns"]["target"], st["dns"]["max"]), ("c", 4))
        self.assertEqual((st["db-b"]["role"], st["db-b"]["max"]), ("fenced", 4))
        accepts = [e["value"] for e in read_jsonl(self.log) if e["f"] == "accept"]
        self.assertEqual((accepts[0]["cmd"], accepts[0]["req"]), ("t-9", "dns#1"))

    def test_a_drill_request_is_answered_but_changes_nothing(self):
        h = {"X-Baton-Epoch": "9", "X-Baton-Drill": "true"}
        status, resp = self.post_as_baton("/promote", h)
        self.assertEqual((status, resp.get("drill")), (200, True))
        self.assertEqual(oracle.call(self.url, "state")[1]["resources"], {})

    def test_with_writes_need_primary_a_fenced_db_refuses_writes_until_promoted(self):
        self.oracle.writes_need_primary = True
        self.assertEqual(oracle.call(self.url, "write", {"id": 1, "token": 1})[1]["reason"], "not-primary")
        self.assertEqual(oracle.call(self.url, "promote", {"token": 1})[0], 200)
        self.assertEqual(oracle.call(self.url, "write", {"id": 2, "token": 1})[0], 200)
        self.assertEqual(oracle.call(self.url, "fence", {"token": 1})[0], 200)
        status, resp = oracle.call(self.url, "write", {"id": 3, "token": 1})
        self.assertEqual((status, resp["reason"], resp["role"]), (409, "not-primary", "fenced"))
        self.assertEqual(oracle.call(self.url, "read")[1]["ids"], [2])
        evs = check.normalize(read_jsonl(self.log))
        self.assertIs(check.check_fencing(evs, check.Config())["valid"], True,
                      "a not-primary reject is not a false fence")

    def test_an_unknown_path_is_404(self):
        self.assertEqual(oracle.call(self.url, "nothing", {"token": 1})[0], 404)

    def test_an_injected_error_answers_500_and_changes_nothing_until_cleared(self):
        status, resp = oracle.call(self.url, "fault", {"ops": ["promote"], "mode": "error"})
        self.assertEqual((status, resp["faults"]), (200, {"promote": {"mode": "error", "hang_s": 0.0}}))
        self.assertEqual(oracle.call(self.url, "promote", {"token": 3})[0], 500)
        self.assertEqual(oracle.call(self.url, "fence", {"token": 2})[0], 200, "other ops are untouched")
        st = oracle.call(self.url, "state")[1]
        self.assertEqual((st["resources"]["db-b"]["role"], st["resources"]["db-b"]["max"]), ("fenced", 2))
        self.assertEqual(st["faults"], {"promote": {"mode": "error", "hang_s": 0.0}})
        self.assertEqual(oracle.call(self.url, "fault", {"ops": [], "mode": "none"})[0], 200)
        self.assertEqual(oracle.call(self.url, "promote", {"token": 3})[0], 200)
        evs = read_jsonl(self.log)
        self.assertEqual([e["f"] for e in evs], ["fault-set", "injected", "accept", "fault-set", "accept"])
        self.assertEqual(evs[1]["value"], {"op": "promote", "mode": "error", "token": 3})

    def test_a_hang_answers_nothing_and_changes_nothing(self):
        oracle.call(self.url, "fault", {"ops": ["dns"], "mode": "hang", "hang_s": 0.3})
        t0 = time.monotonic()
        with self.assertRaises((OSError, http.client.HTTPException)):
            oracle.call(self.url, "dns", {"token": 4, "target": "c"}, timeout=5)
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        self.assertNotIn("dns", oracle.call(self.url, "state")[1]["resources"])

    def test_a_late_answer_comes_after_the_change(self):
        oracle.call(self.url, "fault", {"ops": ["promote"], "mode": "late", "hang_s": 1.0})
        with self.assertRaises(OSError):      # the caller gives up before the answer...
            oracle.call(self.url, "promote", {"token": 5}, timeout=0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:    # ...but the promote happened
            st = oracle.call(self.url, "state")[1]["resources"].get("db-b")
            if st and st["role"] == "primary":
                break
            time.sleep(0.02)
        self.assertEqual((st["role"], st["max"]), ("primary", 5))

    def test_bad_fault_requests_are_400(self):
        for body in ({"ops": ["promote"], "mode": "explode"}, {"ops": ["nothing"], "mode": "error"},
                     {"ops": ["dns"], "mode": "hang", "hang_s": -1}, {"ops": [], "mode": "error"},
                     {"ops": "dns", "mode": "error"}):
            self.assertEqual(oracle.call(self.url, "fault", body)[0], 400, body)
        self.assertEqual(oracle.call(self.url, "state")[1]["faults"], {})


class OracleProcess(unittest.TestCase):
    def test_the_server_reports_ready_and_exits_cleanly_on_sigterm(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "o.jsonl")
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "oracle.py"), "serve",
                                  "--region", "a", "--listen", "127.0.0.1:0", "--log", log],
                                 stdout=subprocess.PIPE, text=True)
            try:
                line = p.stdout.readline()
                self.assertRegex(line, r"^oracle: ready region=a listen=127\.0\.0\.1:\d+ pid=%d"
                                 % p.pid)
                url = "http://" + line.split("listen=")[1].split()[0]
                cli = [sys.executable, os.path.join(HERE, "oracle.py"), "call", url]
                self.assertEqual(subprocess.run(cli + ["promote", '{"token": 4}'],
                                                capture_output=True).returncode, 0)
                self.assertEqual(subprocess.run(cli + ["promote", '{"token": 3}'],
                                                capture_output=True).returncode, 1)
                self.assertEqual(subprocess.run(cli + ["promote", '{"token": "x"}'],
                                                capture_output=True).returncode, 2)
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
            self.assertEqual([e["f"] for e in read_jsonl(log)],
                             ["accept", "reject", "bad-request"])

    def test_the_plan_port_serves_the_same_state(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "o.jsonl")
            p = subprocess.Popen([sys.executable, os.path.join(HERE, "oracle.py"), "serve",
                                  "--region", "a", "--listen", "127.0.0.1:0", "--plan-listen", "127.0.0.1:0",
                                  "--log", log], stdout=subprocess.PIPE, text=True)
            try:
                line = p.stdout.readline()
                self.assertRegex(line, r" plan=127\.0\.0\.1:\d+$")
                url = "http://" + line.split("listen=")[1].split()[0]
                plan = "http://" + line.split("plan=")[1].split()[0]
                self.assertNotEqual(url, plan)
                self.assertEqual(oracle.call(plan, "promote", {"token": 2})[0], 200)
                st = oracle.call(url, "state")[1]["resources"]["db-a"]
                self.assertEqual((st["role"], st["max"]), ("primary", 2))
                p.send_signal(signal.SIGTERM)
                self.assertEqual(p.wait(timeout=10), 0)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()


if __name__ == "__main__":
    unittest.main()

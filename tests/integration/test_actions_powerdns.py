# SPDX-License-Identifier: MIT
"""The powerdns action driver against a real PowerDNS Authoritative server
(pdns_server with the gsqlite3 backend and the HTTP API on 127.0.0.1, started by
tests/lib/pdns.py). What the driver wrote is checked the way a resolver sees it:
with dig against the server's DNS port."""

import os
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from action_run import run_action  # noqa: E402
from pdns import PowerDNS  # noqa: E402

ZONE = "svc.example."


class PowerDNSDriverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pdns = PowerDNS()
        cls.addClassCleanup(cls.pdns.stop)
        cls.pdns.start()
        cls.pdns.create_zone(ZONE)

    def params(self, name, content, **extra):
        p = {"api": self.pdns.api_url, "api_key": self.pdns.api_key, "zone": "svc.example",
             "name": name, "type": "A", "content": content}
        p.update(extra)
        return p

    def flip(self, name, content, epoch, **kw):
        return run_action("powerdns", self.params(name, content), epoch=epoch, **kw)

    def txt(self, name):
        return self.pdns.dig(name, "TXT")

    def test_flip_changes_the_a_record_and_stores_the_epoch_in_txt(self):
        self.pdns.replace(ZONE, "app.svc.example.", "A", ["127.0.0.11"])
        self.assertEqual(self.pdns.dig("app.svc.example", "A"), ["127.0.0.11"])
        r = self.flip("app.svc.example", "127.0.0.12", epoch=7)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertIn("(was 127.0.0.11)", r["output"])
        self.assertEqual(self.pdns.dig("app.svc.example", "A"), ["127.0.0.12"])
        self.assertEqual(self.txt("_baton-epoch.app.svc.example"),
                         ['"epoch=7 region=us-east"'])

    def test_stale_epoch_is_refused_and_the_record_is_unchanged(self):
        self.assertEqual(self.flip("stale.svc.example", "127.0.0.21", epoch=9)["status_name"],
                         "ok")
        r = self.flip("stale.svc.example", "127.0.0.22", epoch=8, to="us-west")
        self.assertEqual(r["status_name"], "estale", r)
        self.assertFalse(r["retryable"])
        self.assertIn("epoch 9 > 8", r["error"])
        self.assertEqual(self.pdns.dig("stale.svc.example", "A"), ["127.0.0.21"])
        self.assertEqual(self.txt("_baton-epoch.stale.svc.example"),
                         ['"epoch=9 region=us-east"'])

    def test_the_same_epoch_again_succeeds_as_a_retry_would(self):
        for _ in range(2):
            r = self.flip("retry.svc.example", "127.0.0.25", epoch=4)
            self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.pdns.dig("retry.svc.example", "A"), ["127.0.0.25"])

    def test_drill_writes_only_the_drill_name_and_its_own_epoch_record(self):
        self.assertEqual(self.flip("drillapp.svc.example", "127.0.0.31", epoch=5)["status_name"],
                         "ok")
        r = self.flip("drillapp.svc.example", "127.0.0.32", epoch=6, drill=True)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertTrue(r["output"].startswith("drill: drill.drillapp.svc.example. A"), r)
        self.assertEqual(self.pdns.dig("drill.drillapp.svc.example", "A"), ["127.0.0.32"])
        self.assertEqual(self.txt("_baton-epoch.drill.drillapp.svc.example"),
                         ['"epoch=6 region=us-east"'])
        # production untouched
        self.assertEqual(self.pdns.dig("drillapp.svc.example", "A"), ["127.0.0.31"])
        self.assertEqual(self.txt("_baton-epoch.drillapp.svc.example"),
                         ['"epoch=5 region=us-east"'])

    def test_drill_is_refused_when_production_carries_a_newer_epoch(self):
        self.assertEqual(self.flip("newer.svc.example", "127.0.0.35", epoch=12)["status_name"],
                         "ok")
        r = self.flip("newer.svc.example", "127.0.0.36", epoch=11, drill=True)
        self.assertEqual(r["status_name"], "estale", r)
        self.assertEqual(self.pdns.dig("drill.newer.svc.example", "A"), [])

    def test_several_contents_become_one_rrset(self):
        r = self.flip("multi.svc.example", "127.0.0.41, 127.0.0.42", epoch=3)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.pdns.dig("multi.svc.example", "A"), ["127.0.0.41", "127.0.0.42"])

    def test_api_key_file_is_read_for_each_attempt(self):
        with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
            f.write(self.pdns.api_key + "\n")
            f.flush()
            p = self.params("keyfile.svc.example", "127.0.0.51")
            del p["api_key"]
            p["api_key_file"] = f.name
            r = run_action("powerdns", p, epoch=2)
        self.assertEqual(r["status_name"], "ok", r)
        self.assertEqual(self.pdns.dig("keyfile.svc.example", "A"), ["127.0.0.51"])

    def test_wrong_api_key_fails_without_retry_quoting_powerdns(self):
        p = self.params("badkey.svc.example", "127.0.0.52", api_key="wrong")
        r = run_action("powerdns", p, epoch=2)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertFalse(r["retryable"])
        self.assertIn("HTTP 401", r["error"])
        self.assertEqual(self.pdns.dig("badkey.svc.example", "A"), [])

    def test_unknown_zone_fails_naming_it(self):
        p = self.params("app.nope.example", "127.0.0.53", zone="nope.example")
        r = run_action("powerdns", p, epoch=2)
        self.assertEqual(r["status_name"], "efailed", r)
        self.assertIn("zone nope.example", r["error"])
        self.assertIn("HTTP 404", r["error"])

    def test_unreachable_api_is_retryable(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # bound, not listening: refused
        port = s.getsockname()[1]
        try:
            p = self.params("down.svc.example", "127.0.0.54", api=f"http://127.0.0.1:{port}")
            r = run_action("powerdns", p, epoch=2)
        finally:
            s.close()
        self.assertEqual(r["status_name"], "ECONNREFUSED", r)
        self.assertTrue(r["retryable"])


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: MIT
"""PostgreSQL transitions end to end (real PostgreSQL 15 primary + 2 replicas).

Switchover loses nothing: with a writer inserting into the primary the whole
time, every row the primary acknowledged is on the new primary afterwards
(fence -> wait until the replica replayed up to the fenced primary's last
LSN -> promote).

Reverse: after a failover, the old primary's region rejoins as a replica
of the new primary (real PostgreSQL 15, pg_rewind through
deploy/scripts/baton-pg-rejoin, run by that region's own coordinator).

The active region (coordinator + database) is stopped; baton fails over to
us-east; the region is resumed and fences its own database; an operator
signs `batonctl reverse --region eu-west`; eu-west's coordinator rewinds its
database from us-east and starts it as a replica; a row written on us-east
appears on eu-west.

Unfence: the active region loses its lease without a failover (the other two
coordinators paused: no majority, no leader), fences its own database, and when
a leader grants its lease again runs its unfence steps: the database takes
writes again, at the same epoch.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from baton_cluster import FAST_DETECTION, Cluster, build_dir, wait_for  # noqa: E402
from pgcluster import PG_BIN, PgCluster, PgError  # noqa: E402

REGIONS = (("eu-west", 100), ("us-east", 90), ("ap-south", 80))
REJOIN = os.path.join(ROOT, "deploy", "scripts", "baton-pg-rejoin")
CATCH_UP = os.path.join(ROOT, "deploy", "scripts", "baton-pg-wait-caught-up")


def batonctl(*args):
    return subprocess.run([os.path.join(build_dir(), "cli", "batonctl")] + list(args), capture_output=True, text=True)


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists(PG_BIN), "needs root and PostgreSQL 15")
class PgTransitionsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-rev-")
        os.chmod(self.tmp, 0o755)
        self.pg = PgCluster(os.path.join(self.tmp, "pg"))
        self.pg.start()
        self.pg.wait_ready()
        self.key = os.path.join(self.tmp, "ops.key")
        out = batonctl("keygen", "--name", "ops", "--out", self.key).stdout
        entry = next(l.strip() for l in out.splitlines() if l.strip().startswith("- {name:"))
        extra = {}
        for i, (r, _) in enumerate(REGIONS):
            conn = "host=127.0.0.1 port=%d user=baton dbname=postgres connect_timeout=2" % self.pg.ports[i]
            opts = "-p %d -k %s -c listen_addresses=127.0.0.1 -c cluster_name=node%d" % (
                self.pg.ports[i], self.pg.sock_dir(i), i)
            extra[r] = [
                "vars: {pg: \"%s\", pgdata: \"%s\", pg_options: \"%s\", slot: \"rejoin_%s\"}" % (
                    conn, self.pg.data_dir(i), opts, r.replace("-", "_")),
                "self_fence:",
                "  - {name: fence-own-db, driver: postgres, params: {op: fence, conninfo: \"{self.pg}\"}, max_attempts: 2}",
                "unfence:",
                "  - {name: unfence-own-db, driver: postgres, params: {op: promote, conninfo: \"{self.pg}\"},"
                " attempt_timeout_ms: 700, timeout_ms: 700}",
                "rejoin:",
                "  - {name: rewind, driver: exec, attempt_timeout_ms: 60000, timeout_ms: 120000,"
                " params: {command: \"%s\", arg_1: \"--pgdata\", arg_2: \"{from.pgdata}\", arg_3: \"--source\","
                " arg_4: \"{to.pg}\", arg_5: \"--options\", arg_6: \"{from.pg_options}\", arg_7: \"--slot\","
                " arg_8: \"{from.slot}\", idempotent: \"true\"}}" % REJOIN,
            ]
        plan = ("  plan:\n"
                "    - {name: fence, driver: postgres, params: {op: fence, conninfo: \"{from.pg}\"},"
                " continue_if_unreachable: true, max_attempts: 3, backoff_ms: 100, attempt_timeout_ms: 1500, timeout_ms: 4000}\n"
                "    - {name: catch-up, driver: exec, after: fence, kinds: switchover, attempt_timeout_ms: 25000,"
                " timeout_ms: 30000, params: {command: \"%s\", arg_1: \"--primary\", arg_2: \"{from.pg}\","
                " arg_3: \"--replica\", arg_4: \"{to.pg}\", arg_5: \"--timeout\", arg_6: \"20\", idempotent: \"true\"}}\n"
                "    - {name: promote, driver: postgres, after: \"fence, catch-up\", params: {op: promote, conninfo: \"{to.pg}\"},"
                " attempt_timeout_ms: 20000, timeout_ms: 30000}\n"
                "  operators:\n    " + entry) % CATCH_UP
        self.c = Cluster(os.path.join(self.tmp, "baton"), regions=REGIONS, keys=True,
                         extra_cluster=FAST_DETECTION + plan, region_extra=extra)
        self.c.region_probes = {r: ["{type: http, url: \"%s/v1/status\"}" % self.c.node(r).api] for r, _ in REGIONS}
        self.c.write_configs()
        self.c.start()
        self.c.wait_leader(timeout=30)
        wait_for(lambda: self.c.node("eu-west").get("/v1/active")[0] == 200, 20, "eu-west to hold its lease")

    def tearDown(self):
        self.c.cleanup()
        reports = self.c.sanitizer_reports()
        # The rejoined postmaster was started by the script, not by the fixture.
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_ctl"), "-D",
                        self.pg.data_dir(0), "stop", "-m", "immediate"], capture_output=True)
        self.pg.stop()
        self.c.destroy()
        self.assertEqual(reports, [], "sanitizer reports in daemon logs")

    def region(self, name):
        st = (self.c.leader() or self.c.live()[0]).status()
        return next(r for r in self.c.group(st)["regions"] if r["name"] == name)

    def test_the_old_primary_rejoins_as_a_replica_of_the_new_one(self):
        eu = self.c.node("eu-west")
        eu.signal(signal.SIGSTOP)
        self.pg.freeze(0)
        def failed_over():
            l = self.c.leader()
            g = self.c.group(l.status()) if l else None
            return g if g and g["active_region"] == "us-east" and g["transition"] and g["transition"]["state"] == "done" else None
        wait_for(failed_over, 60, "the failover to us-east")
        self.pg.thaw(0)
        eu.signal(signal.SIGCONT)
        wait_for(lambda: "self-fence step done" in eu.log(), 30, "eu-west to fence its own database")

        endpoints = ",".join(n.api for n in self.c.nodes)
        p = batonctl("--cluster", endpoints, "reverse", "--region", "eu-west", "--key", self.key)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        t0 = time.monotonic()
        r = wait_for(lambda: (lambda x: x if x["rejoin"] and x["rejoin"]["phase"] in ("done", "failed") else None)(
            self.region("eu-west")), 120, "eu-west's rejoin to finish")
        self.assertEqual(r["rejoin"]["phase"], "done", r["rejoin"])
        print("\nfigure: rejoin (pg_rewind + restart as replica) took %.1f s" % (time.monotonic() - t0), file=sys.stderr)

        self.assertEqual(self.pg.role(self.pg.ports[0]), "replica")
        self.pg.psql(self.pg.ports[1], "CREATE TABLE after_reverse (x int); INSERT INTO after_reverse VALUES (42)")
        wait_for(lambda: "42" in self.pg.psql(self.pg.ports[0], "SELECT x FROM after_reverse"
                                              " UNION ALL SELECT 0 WHERE false") if self._exists() else False,
                 30, "the row written on us-east to reach eu-west")
        events = (self.c.leader().get("/v1/history?limit=10000")[1])["events"]
        self.assertTrue(any(e["kind"] == "rejoin" and e["outcome"] == "done" for e in events))

    def test_a_region_that_fenced_itself_unfences_when_its_lease_comes_back(self):
        eu = self.c.node("eu-west")
        self.pg.psql(self.pg.ports[0], "CREATE TABLE u (x int)")
        epoch = self.c.group(self.c.wait_leader(timeout=20).status())["epoch"]
        others = [self.c.node("us-east"), self.c.node("ap-south")]
        for n in others:
            n.signal(signal.SIGSTOP)
        try:
            wait_for(lambda: "self-fence step done" in eu.log(), 30, "eu-west to fence its own database")
            with self.assertRaisesRegex(PgError, "read-only", msg="a fenced primary refuses writes"):
                self.pg.psql(self.pg.ports[0], "INSERT INTO u VALUES (1)", timeout=5)
        finally:
            for n in others:
                n.signal(signal.SIGCONT)
        wait_for(lambda: "unfenced: every unfence step is done" in eu.log(), 30, "eu-west to unfence")
        self.pg.psql(self.pg.ports[0], "INSERT INTO u VALUES (2)", timeout=5)
        self.assertIn("unfence step done", eu.log())
        g = self.c.group(self.c.wait_leader(timeout=20).status())
        self.assertEqual((g["active_region"], g["epoch"]), ("eu-west", epoch), "no failover happened")

    def test_a_switchover_loses_no_acknowledged_row(self):
        import threading
        self.pg.psql(self.pg.ports[0], "CREATE TABLE w (id int PRIMARY KEY)")
        acked, stop = [], threading.Event()

        def writer():
            i, fails = 0, 0
            while not stop.is_set() and fails < 20:
                i += 1
                try:
                    self.pg.psql(self.pg.ports[0], "INSERT INTO w VALUES (%d)" % i, timeout=5)
                    acked.append(i)
                    fails = 0
                except Exception:  # noqa: BLE001  (fenced: read-only)
                    fails += 1
        t = threading.Thread(target=writer, daemon=True)
        t.start()
        wait_for(lambda: len(acked) >= 20, 20, "the writer to get going")
        endpoints = ",".join(n.api for n in self.c.nodes)
        p = batonctl("--cluster", endpoints, "switchover", "--to", "us-east", "--key", self.key)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        def done():
            l = self.c.leader()
            g = self.c.group(l.status()) if l else None
            tr = g and g["transition"]
            return tr if tr and tr["kind"] == "switchover" and tr["state"] in ("done", "failed") else None
        tr = wait_for(done, 60, "the switchover to finish")
        stop.set()
        t.join(10)
        self.assertEqual(tr["state"], "done", tr)
        self.assertEqual([s["name"] for s in tr["steps"]], ["fence", "catch-up", "promote"])
        rows = set(int(x) for x in self.pg.psql(self.pg.ports[1], "SELECT id FROM w").split())
        lost = [i for i in acked if i not in rows]
        print("\nfigure: switchover with a writer: %d rows acknowledged by eu-west, %d lost; steps %s" % (
            len(acked), len(lost), {s["name"]: s["duration_ms"] for s in tr["steps"]}), file=sys.stderr)
        self.assertEqual(lost, [], "RPO 0: every acknowledged row is on the new primary")

    def _exists(self):
        try:
            return "after_reverse" in self.pg.psql(self.pg.ports[0], "SELECT relname FROM pg_class WHERE relname = 'after_reverse'")
        except Exception:  # noqa: BLE001
            return False


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: MIT
"""The README demo (see scripts/demo.sh): a real failover on one machine.

Three region coordinators and a witness on loopback; a real PostgreSQL 15
primary (eu-west) with two streaming replicas (us-east, ap-south); a real
PowerDNS serving app.svc.example. The active region is then stopped (its
coordinator and its database frozen with SIGSTOP, which looks like a region
that TCP still reaches but nothing answers), and baton fails over: fence the
old primary (unreachable: covered by the lease wait), promote us-east, flip
DNS, scale up, every step committed with its duration. The stopped region,
resumed, finds its lease gone and fences its own database.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402
from pdns import PowerDNS  # noqa: E402
from pgcluster import PgCluster  # noqa: E402

keep = "--keep" in sys.argv


def work_dir():
    """demo/work/ in the checkout, unless the checkout sits under a directory
    other users cannot enter (a clone in /root, or in a 0700 mktemp dir):
    PostgreSQL runs as the postgres user and must reach its data dirs, so
    then a fresh 0755 dir under the system's temp dir."""
    p = ROOT
    while p != os.path.dirname(p):
        if not os.stat(p).st_mode & 0o001:
            d = tempfile.mkdtemp(prefix="baton-demo-")
            os.chmod(d, 0o755)
            return d
        p = os.path.dirname(p)
    return os.path.join(ROOT, "demo", "work", "run-%d" % os.getpid())


work = work_dir()
REGIONS = (("eu-west", 100), ("us-east", 90), ("ap-south", 80))
ADDR = {"eu-west": "127.0.0.11", "us-east": "127.0.0.12", "ap-south": "127.0.0.13"}


def say(msg):
    print("\n\033[1m== %s\033[0m" % msg, flush=True)


def batonctl(c, *args):
    endpoints = ",".join(n.api for n in c.nodes)
    subprocess.run([os.path.join(build_dir(), "cli", "batonctl"), "--cluster", endpoints] + list(args), check=False)


def config(pg, dns, c):
    lines = ["  detection:", "    probe_interval_ms: 250", "    probe_timeout_ms: 200", "    down_after_ms: 1000",
             "    up_after_ms: 1000", "  lease:", "    ttl_ms: 2000", "    margin_ms: 500", "  failover:",
             "    failover_after_ms: 500", "  plan:"]
    dnsp = ("{api: \"%s\", api_key: \"%s\", zone: \"svc.example.\", name: \"app.svc.example.\", type: A, "
            "content: \"{to.a}\", ttl: \"5\"}" % (dns.api_url, dns.api_key))
    lines += [
        "    - {name: fence-old-primary, driver: postgres, params: {op: fence, conninfo: \"{from.pg}\"},"
        " continue_if_unreachable: true, max_attempts: 1, attempt_timeout_ms: 1500, timeout_ms: 2000}",
        "    - {name: promote-replica, driver: postgres, after: fence-old-primary,"
        " params: {op: promote, conninfo: \"{to.pg}\"}, attempt_timeout_ms: 20000, timeout_ms: 30000}",
        "    - {name: flip-dns, driver: powerdns, after: promote-replica, params: %s}" % dnsp,
        "    - {name: scale-up, driver: exec, params: {command: /bin/echo, arg_1: \"scaling up {to} at epoch {epoch}\","
        " idempotent: \"true\"}}",
    ]
    return "\n".join(lines)


def region_extra(pg, c):
    """Per-region vars, probes and self-fence steps."""
    out = {}
    for i, (r, _) in enumerate(REGIONS):
        conn = "host=127.0.0.1 port=%d user=baton dbname=postgres connect_timeout=2" % pg.ports[i]
        out[r] = (conn, ADDR[r])
    return out


def main():
    os.makedirs(work, exist_ok=True)
    say("Starting PostgreSQL 15: a primary (eu-west) and two streaming replicas (us-east, ap-south)")
    pg = PgCluster(os.path.join(work, "pg"))
    pg.start()
    pg.wait_ready()
    for i, (r, _) in enumerate(REGIONS):
        print("  %-9s port %d  %s" % (r, pg.ports[i], pg.role(pg.ports[i])))
    pg.psql(pg.ports[0], "CREATE TABLE orders (id serial PRIMARY KEY, note text); "
                          "INSERT INTO orders (note) VALUES ('written in eu-west before the failover')")

    say("Starting PowerDNS with zone svc.example.; app.svc.example. -> eu-west")
    dns = PowerDNS(os.path.join(work, "pdns"))
    dns.start()
    dns.create_zone("svc.example.")
    dns.replace("svc.example.", "app.svc.example.", "A", [ADDR["eu-west"]])
    print("  dig app.svc.example A @127.0.0.1 -p %d -> %s" % (dns.dns_port, dns.dig("app.svc.example.", "A")))

    c = Cluster(os.path.join(work, "baton"), regions=REGIONS, keys=True)
    vals = region_extra(pg, c)
    c.region_probes = {r: ["{type: http, url: \"%s/v1/status\"}" % c.node(r).api] for r, _ in REGIONS}
    c.extra_cluster = config(pg, dns, c)
    c.region_extra = {r: ["vars: {pg: \"%s\", a: \"%s\"}" % vals[r], "self_fence:",
                          "  - {name: fence-own-db, driver: postgres, params: {op: fence, conninfo: \"{self.pg}\"},"
                          " max_attempts: 2}"] for r, _ in REGIONS}
    c.write_configs()
    say("Starting baton: 3 region coordinators and a witness on 127.0.0.1")
    for n in c.nodes:
        print("  %-9s %-13s raft 127.0.0.1:%d  api %s" % (n.name, "baton-witness" if n.witness else "batond",
                                                          n.raft_port, n.api))
    c.start()
    c.wait_leader(timeout=30)
    wait_for(lambda: c.node("eu-west").get("/v1/active")[0] == 200, 20, "eu-west to hold its lease")
    wait_for(lambda: (c.leader().status() or {}).get("fault_tolerance", {}).get("losses_survivable") == 1, 20,
             "every member heard")
    batonctl(c, "status")

    say("Stopping the active region: SIGSTOP its coordinator and its PostgreSQL primary")
    t0 = time.monotonic()
    c.node("eu-west").signal(signal.SIGSTOP)
    pg.freeze(0)

    def done():
        l = c.leader()
        g = c.group(l.status()) if l else None
        t = g and g.get("transition")
        return g if g and g["active_region"] == "us-east" and t and t["state"] in ("done", "failed") else None
    g = wait_for(done, 60, "the failover to finish")
    rto = time.monotonic() - t0
    t = g["transition"]
    print("  transition %s: %s -> %s, epoch %d, %s in %.1f s from the stop" % (
        t["id"][:8], t["from"], t["to"], g["epoch"], t["state"], rto))
    for s in t["steps"]:
        print("    %-18s %-9s %-6s %5d ms  %s" % (s["name"], s["driver"], s["state"], s["duration_ms"], s["error"]))

    say("Result")
    pg.psql(pg.ports[1], "INSERT INTO orders (note) VALUES ('written in us-east after the failover')")
    rows = pg.psql(pg.ports[1], "SELECT id, note FROM orders ORDER BY id")
    print("  us-east is now %s and accepts writes:\n    %s" % (pg.role(pg.ports[1]), rows.strip().replace("\n", "\n    ")))
    print("  dig app.svc.example A -> %s" % dns.dig("app.svc.example.", "A"))
    print("  dig _baton-epoch.app.svc.example TXT -> %s" % dns.dig("_baton-epoch.app.svc.example.", "TXT"))
    batonctl(c, "history")

    say("Resuming the old region: it finds its lease gone and fences its own database")
    pg.thaw(0)
    c.node("eu-west").signal(signal.SIGCONT)
    eu = c.node("eu-west")
    wait_for(lambda: eu.get("/v1/active")[0] == 503, 20, "eu-west to stop answering active")
    wait_for(lambda: "self-fence step done" in eu.log() or "self-fence step FAILED" in eu.log(), 30,
             "eu-west's self-fence steps")
    print("  eu-west /v1/active -> 503; its log:")
    for line in eu.log().splitlines():
        if "self-fenc" in line:
            print("    " + line[:200])
    try:
        pg.psql(pg.ports[0], "INSERT INTO orders (note) VALUES ('must not be accepted')")
        print("  !! the old primary accepted a write")
    except Exception as e:  # noqa: BLE001
        print("  old primary refuses writes: %s" % str(e).strip().splitlines()[-1][:120])

    if keep:
        say("Left running; work dir %s" % work)
        c.started = []
        return
    say("Stopping everything")
    for n in c.nodes:
        n.stop()
    c.destroy()
    dns.stop()
    pg.stop()


if __name__ == "__main__":
    main()

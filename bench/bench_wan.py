# SPDX-License-Identifier: MIT
"""bench/extras wan: baton's failover RTO with WAN delay between regions.

Topology (jepsen/harness/net.py, namespace prefix "bb", so never jepsen's "bt-<runid>-*"):

    bb-<id>-a   10.99.0.1   eu-west:  batond + PostgreSQL primary
    bb-<id>-b   10.99.0.2   us-east:  batond + PostgreSQL streaming replica
    bb-<id>-c   10.99.0.3   ap-south: batond + PostgreSQL streaming replica
    bb-<id>-w   10.99.0.4   baton-witness + PowerDNS (a third site, as jepsen/run puts its DNS
                            oracle in the witness's namespace)
    bb-<id>-cl  10.99.0.5   the measuring client (dig + psql)

nfq_delay (jepsen/tools/nfq_delay.c, built by meson as build-bench/jepsen/nfq_delay) holds every
bridged packet between a, b, c and w for 40 ms +- 10 ms (uniform, order kept per link): one way,
so a round trip between regions is ~80 ms. Raft, probes, lease renewals, the fence/promote
calls to another region's database, the DNS API call and PostgreSQL replication all cross it.
The client's links are not delayed (per-link override 0 ms): it is an observer, so the RTO
is baton's and not the client's own round trips. Everything is set up before the delay starts
(start-up speed is not measured); the freeze comes once the cluster has run under the delay for a
few seconds. The clock, the freeze and the first write through the DNS record are those of
bench/run.
"""
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "jepsen", "harness"))
import net  # noqa: E402

NODES = ["a", "b", "c", "w", "cl"]
REGION_NODE = {"eu-west": "a", "us-east": "b", "ap-south": "c"}
PG_PORT, API_PORT, RAFT_PORT, DNS_PORT, PDNS_API = 5432, 8001, 7001, 5300, 8081
PDNS_KEY = "bench-wan-key"


def ns_http(topo, src, host, port, method, path, body=None, headers=None, timeout=2.0):
    """One HTTP request from inside namespace src; (status, bytes) or (None, None)."""
    try:
        s = topo.connect(src, host, port, timeout=timeout)
    except OSError:
        return None, None
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.sock = s
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        s.close()


def ns_json(topo, src, host, port, path, timeout=2.0):
    code, body = ns_http(topo, src, host, port, "GET", path, timeout=timeout)
    try:
        return code, json.loads(body) if body else None
    except ValueError:
        return code, None


class WanBaton:
    def __init__(self, B, work, window_ms, delay_ms, jitter_ms, run_id):
        self.B = B
        self.work = work
        self.t = B.baton_timing(window_ms)
        self.delay_ms, self.jitter_ms = delay_ms, jitter_ms
        self.topo = net.Topology(NODES, run_id=run_id, prefix="bb",
                                 nfq_delay=os.path.join(B.BUILD, "jepsen", "nfq_delay"))
        self.pg = {}       # node -> Popen of the postmaster
        self.baton = {}    # node -> net.Proc
        self.pdns = None
        self.addr = None

    def ns(self, n):
        return self.topo.ns[n]

    def _pg_popen(self, n, argv, wait=False):
        full = ["ip", "netns", "exec", self.ns(n), "setpriv", "--reuid=postgres", "--regid=postgres",
                "--init-groups", "--"] + argv
        if wait:
            r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("%s: %s" % (" ".join(argv[:2]), r.stdout[-500:]))
            return r
        lf = open(os.path.join(self.work, "pg-%s.log" % n), "ab")
        p = subprocess.Popen(full, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        lf.close()
        return p

    def _pg_start(self, n):
        d = os.path.join(self.work, "pg-" + n)
        self.pg[n] = self._pg_popen(n, [self.B.PG_BIN + "/postgres", "-D", os.path.join(d, "data"),
                                        "-c", "unix_socket_directories=" + d])

    def psql(self, src, host, sql, timeout=10):
        r = subprocess.run(["ip", "netns", "exec", self.ns(src), self.B.PG_BIN + "/psql", "-X", "-A", "-t", "-q",
                            "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(PG_PORT), "-U", "baton", "-d",
                            "postgres", "-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=timeout, env=self.B.PG_ENV)
        if r.returncode != 0:
            raise RuntimeError("psql %s: %s" % (host, r.stderr.strip()))
        return r.stdout.strip()

    def start(self):
        B = self.B
        os.makedirs(self.work, exist_ok=True)
        os.chmod(self.work, 0o755)
        self.topo.setup()
        A = self.addr = self.topo.addr
        # --- PostgreSQL: primary in a, replicas in b and c (pg_basebackup across the topology)
        for n in ("a", "b", "c"):
            d = os.path.join(self.work, "pg-" + n)
            os.makedirs(d)
            B.chown_pg(d)
        da = os.path.join(self.work, "pg-a", "data")
        self._pg_popen("a", [B.PG_BIN + "/initdb", "-D", da, "-U", "baton", "--auth=trust", "-E", "UTF8",
                             "--locale=C"], wait=True)
        with open(os.path.join(da, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '*'\nport = %d\nfsync = off\nwal_level = replica\nmax_wal_senders = 10\n"
                    "hot_standby = on\nshared_buffers = 16MB\nmax_connections = 40\nwal_keep_size = 64MB\n"
                    % PG_PORT)
        with open(os.path.join(da, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nhost all all 10.99.0.0/24 trust\n"
                    "host replication all 10.99.0.0/24 trust\n")
        self._pg_start("a")
        B.wait_for(lambda: self.psql("a", A["a"], "SELECT 1") == "1", 30, "the primary")
        self.psql("a", A["a"], "CREATE TABLE bench_w (id serial PRIMARY KEY, note text); "
                               "CREATE TABLE baton_epoch (epoch bigint NOT NULL, region text NOT NULL, "
                               "at timestamptz NOT NULL DEFAULT now())")
        for n in ("b", "c"):
            dd = os.path.join(self.work, "pg-" + n, "data")
            self._pg_popen(n, [B.PG_BIN + "/pg_basebackup", "-h", A["a"], "-p", str(PG_PORT), "-U", "baton",
                               "-D", dd, "-R", "-X", "stream", "-c", "fast"], wait=True)
            self._pg_start(n)
        for n in ("b", "c"):
            B.wait_for(lambda n=n: self.psql("a", A[n], "SELECT count(*) FROM bench_w") == "0", 30,
                       "replica %s" % n)
        # --- PowerDNS in w
        pd = os.path.join(self.work, "pdns")
        os.makedirs(pd)
        with open("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql") as f, \
                sqlite3.connect(os.path.join(pd, "pdns.db")) as conn:
            conn.executescript(f.read())
        with open(os.path.join(pd, "pdns.conf"), "w") as f:
            f.write("\n".join(["launch=gsqlite3", "gsqlite3-database=%s/pdns.db" % pd, "local-address=0.0.0.0",
                               "local-port=%d" % DNS_PORT, "api=yes", "api-key=%s" % PDNS_KEY, "webserver=yes",
                               "webserver-address=0.0.0.0", "webserver-port=%d" % PDNS_API,
                               "webserver-allow-from=10.99.0.0/24", "socket-dir=%s" % pd, "guardian=no",
                               "daemon=no", "setuid=", "setgid=", "loglevel=4", "security-poll-suffix=",
                               "cache-ttl=0", "negquery-cache-ttl=0", "query-cache-ttl=0",
                               "zone-cache-refresh-interval=0", "consistent-backends=yes", ""]))
        lf = open(os.path.join(pd, "log"), "ab")
        self.pdns = self.topo.run_in("w", ["/usr/sbin/pdns_server", "--config-dir=" + pd], name="pdns",
                                     stdout=lf, stderr=subprocess.STDOUT)
        lf.close()
        hdr = {"X-API-Key": PDNS_KEY, "Content-Type": "application/json"}
        B.wait_for(lambda: ns_http(self.topo, "cl", A["w"], PDNS_API, "GET", "/api/v1/servers/localhost",
                                   headers=hdr)[0] == 200, 20, "PowerDNS")
        code, _ = ns_http(self.topo, "cl", A["w"], PDNS_API, "POST", "/api/v1/servers/localhost/zones", json.dumps(
            {"name": "svc.example.", "kind": "Native", "nameservers": ["ns1.svc.example."]}), hdr)
        assert code in (200, 201), code
        code, _ = ns_http(self.topo, "cl", A["w"], PDNS_API, "PATCH", "/api/v1/servers/localhost/zones/svc.example.",
                          json.dumps({"rrsets": [{"name": "app.svc.example.", "type": "A", "ttl": 1,
                                                  "changetype": "REPLACE",
                                                  "records": [{"content": A["a"], "disabled": False}]}]}), hdr)
        assert code in (200, 204), code
        # --- baton: the bench's configuration with namespace addresses
        kd = os.path.join(self.work, "keys")
        os.makedirs(kd)
        peer = os.path.join(kd, "peer.key")
        fd = os.open(peer, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (os.urandom(32).hex() + "\n").encode())
        os.close(fd)

        class _Dns:
            api_url = "http://%s:%d" % (A["w"], PDNS_API)
            api_key = PDNS_KEY
        bs = B.BatonSystem(self.work, 0)
        bs.t = self.t
        bs.dns = _Dns()
        L = ["cluster:", "  id: bench-wan", "  generation: 1", "  raft:", "    election_timeout_ms: 1000",
             "    heartbeat_ms: 100", "  members:"]
        members = [("a", "eu-west"), ("b", "us-east"), ("c", "ap-south"), ("w", None)]
        for i, (n, r) in enumerate(members, 1):
            if r is None:
                L.append('    - {id: %d, name: witness, witness: true, raft: "%s:%d", api: "%s:%d"}'
                         % (i, A[n], RAFT_PORT, A[n], API_PORT))
            else:
                L.append('    - {id: %d, name: %s, region: %s, raft: "%s:%d", api: "%s:%d"}'
                         % (i, r, r, A[n], RAFT_PORT, A[n], API_PORT))
        L.append("  regions:")
        for r, prio in B.REGIONS:
            n = REGION_NODE[r]
            conn = "host=%s port=%d user=baton dbname=postgres connect_timeout=2" % (A[n], PG_PORT)
            L += ["    - name: %s" % r, "      priority: %d" % prio,
                  '      vars: {pg: "%s", a: "%s"}' % (conn, A[n]),
                  "      self_fence:",
                  '        - {name: fence-own-db, driver: postgres, params: {op: fence, conninfo: "{self.pg}"}, '
                  "max_attempts: 2}",
                  "      probes:", '        - {type: http, url: "http://%s:%d/v1/status"}' % (A[n], API_PORT)]
        L += ["  groups:", "    - {name: default, initial_active: eu-west}", bs.config()]
        cluster = "\n".join(L) + "\n"
        for i, (n, r) in enumerate(members, 1):
            d = os.path.join(self.work, "baton-" + n)
            os.makedirs(os.path.join(d, "data"))
            cfg = os.path.join(d, "baton.yaml")
            with open(cfg, "w") as f:
                f.write(cluster + "node:\n  id: %d\n  data_dir: %s\n  log_level: info\n  peer_key_file: %s\n"
                        % (i, os.path.join(d, "data"), peer))
            binary = os.path.join(B.BUILD, "witness", "baton-witness") if r is None else \
                os.path.join(B.BUILD, "node", "batond")
            lf = open(os.path.join(d, "log"), "ab")
            self.baton[n] = self.topo.run_in(n, [binary, "--config", cfg], name="baton-" + n, stdout=lf,
                                             stderr=subprocess.STDOUT)
            lf.close()
        B.wait_for(lambda: self.leader() is not None, 30, "a ready leader")
        B.wait_for(lambda: ns_json(self.topo, "cl", A["a"], API_PORT, "/v1/active")[0] == 200, 30,
                   "eu-west to hold its lease")
        B.wait_for(lambda: ((self.leader_status() or {}).get("fault_tolerance") or {}).get("losses_survivable") == 1,
                   30, "every member heard")
        # --- the WAN: every link between a, b, c, w delayed; the client's links not
        links = {}
        for n in ("a", "b", "c", "w"):
            links[("cl", n)] = (0, 0)
            links[(n, "cl")] = (0, 0)
        self.topo.start_delay(self.delay_ms, self.jitter_ms, keep_order=True, links=links)
        # steady under the delay: eu-west keeps its lease, everyone heard, for 5 s
        time.sleep(5)
        B.wait_for(lambda: ns_json(self.topo, "cl", A["a"], API_PORT, "/v1/active")[0] == 200, 30,
                   "eu-west still holding its lease under the delay")
        B.wait_for(lambda: ((self.leader_status() or {}).get("fault_tolerance") or {}).get("losses_survivable") == 1,
                   30, "every member heard under the delay")

    def statuses(self):
        out = {}
        for n in ("a", "b", "c", "w"):
            code, st = ns_json(self.topo, "cl", self.addr[n], API_PORT, "/v1/status", timeout=1.0)
            if code == 200 and st:
                out[n] = st
        return out

    def leader(self):
        for n, st in self.statuses().items():
            if st["raft"]["role"] == "leader" and st["raft"]["leader_ready"]:
                return n
        return None

    def leader_status(self):
        ld = self.leader()
        return ns_json(self.topo, "cl", self.addr[ld], API_PORT, "/v1/status")[1] if ld else None

    def ping_rtt(self):
        """TCP connect time (one SYN / SYN-ACK round trip) from us-east to eu-west's API, 5 samples, ms
        (there is no ping binary here)."""
        xs = []
        for _ in range(5):
            t0 = time.monotonic()
            try:
                self.topo.connect("b", self.addr["a"], API_PORT, timeout=2).close()
                xs.append((time.monotonic() - t0) * 1000)
            except OSError:
                pass
            time.sleep(0.1)
        return "min/avg/max %.1f/%.1f/%.1f" % (min(xs), sum(xs) / len(xs), max(xs)) if xs else "n/a"

    def trial(self):
        B = self.B
        A = self.addr
        ports = {A["a"], A["b"], A["c"]}
        ns_cl = self.ns("cl")

        def via_dns():
            r = subprocess.run(["ip", "netns", "exec", ns_cl, "dig", "+short", "+norecurse", "+time=1", "+tries=1",
                                "@" + A["w"], "-p", str(DNS_PORT), "app.svc.example.", "A"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=5)
            lines = [x.strip() for x in r.stdout.splitlines() if x.strip()]
            if r.returncode != 0 or not lines or lines[0] not in ports:
                return None
            try:
                w = subprocess.run(["ip", "netns", "exec", ns_cl, B.PG_BIN + "/psql", "-X", "-A", "-t", "-q", "-v",
                                    "ON_ERROR_STOP=1", "-h", lines[0], "-p", str(PG_PORT), "-U", "baton", "-d",
                                    "postgres", "-c", "INSERT INTO bench_w (note) VALUES ('wan') RETURNING id"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=3,
                                   env=B.PG_ENV)
            except subprocess.TimeoutExpired:
                return None
            return w.returncode == 0 and w.stdout.strip().isdigit()
        ld = self.leader()
        info = {"raft_leader_frozen": ld == "a", "rtt_b_to_a_ms": self.ping_rtt()}
        t0_wall = time.time()
        t0 = time.monotonic()
        self.topo.pause(self.baton["a"])
        B.pgcluster._signal_tree(self.pg["a"].pid, signal.SIGSTOP)
        rto = B.FirstWrite([via_dns]).run(t0)
        try:
            def done():
                st = self.leader_status()
                g = None
                for x in (st or {}).get("groups", []):
                    if x["name"] == "default":
                        g = x
                t = g and g.get("transition")
                return g if t and t["state"] in ("done", "failed") else None
            g = B.wait_for(done, 30, "the transition to finish")
            info.update({s["name"]: s["duration_ms"] for s in g["transition"]["steps"]})
            info["attempts"] = {s["name"]: s["attempts"] for s in g["transition"]["steps"]}
            # the plan's steps run on the Raft leader: under the WAN, promote is local only if it is us-east's
            info["executor"] = {"a": "eu-west", "b": "us-east", "c": "ap-south", "w": "witness"}.get(self.leader())
            info["to"] = g["transition"]["to"]
            info["detect_ms"] = int(g["transition"]["started_at_ms"] - t0_wall * 1000)
        except Exception as e:  # noqa: BLE001
            info["error"] = str(e)[:300]
        info["delay"] = self.topo.delay_health()
        return rto, info

    def stop(self):
        for p in self.pg.values():
            try:
                self.B.pgcluster._signal_tree(p.pid, signal.SIGCONT)
                self.B.pgcluster._signal_tree(p.pid, signal.SIGKILL)
            except Exception:  # noqa: BLE001
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            self.topo.stop_delay()
        except Exception:  # noqa: BLE001
            pass
        self.topo.close()


def run(a, B):
    import datetime
    rows = []
    meta = {"what": "baton failover RTO under WAN delay", "started_utc": datetime.datetime.utcnow().strftime(
        "%Y-%m-%d %H:%M:%S"), "load_start": list(os.getloadavg()), "window_s": a.window,
        "delay": "40 ms +- 10 ms one way (uniform, order kept per link) between a, b, c, w; client links 0 ms",
        "placement": __doc__}
    base = tempfile.mkdtemp(prefix="baton-bench-wan-")
    os.chmod(base, 0o755)
    try:
        for t in range(1, a.trials + 1):
            work = os.path.join(base, "t%d" % t)
            s = WanBaton(B, work, int(a.window * 1000), 40, 10, run_id="w%d%d" % (os.getpid() % 10000, t))
            rto, info, err = None, {}, ""
            l1 = os.getloadavg()[0]
            try:
                s.start()
                l1 = os.getloadavg()[0]
                rto, info = s.trial()
            except Exception as e:  # noqa: BLE001
                err = "%s: %s" % (type(e).__name__, str(e)[:500])
            finally:
                s.stop()
                B.kill_leftovers(work)
                if not os.environ.get("BENCH_KEEP"):
                    shutil.rmtree(work, ignore_errors=True)
            if rto is None and not err:
                err = "no write accepted within %d s" % B.TRIAL_TIMEOUT_S
            B.log("wan W=%gs trial %d: %s %s %s (load %.2f)" % (a.window, t, B.fmt(rto), json.dumps(info), err, l1))
            rows.append({"system": "baton (WAN)", "window_s": a.window, "trial": t,
                         "rto_s": "" if rto is None else "%.3f" % rto, "detail": json.dumps(info, sort_keys=True),
                         "error": err, "load1": "%.2f" % l1,
                         "utc": datetime.datetime.utcnow().strftime("%H:%M:%S")})
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(base, ignore_errors=True)
    xs = [float(r["rto_s"]) for r in rows if r["rto_s"]]
    meta.update({"trials": len(rows), "ok": len(xs), "min": min(xs) if xs else None, "p50": B.pct(xs, 50),
                 "p99": B.pct(xs, 99), "max": max(xs) if xs else None})
    import csv
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "wan.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) if rows else ["system"])
        w.writeheader()
        w.writerows(rows)
    meta["ended_utc"] = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M:%S")
    meta["load_end"] = list(os.getloadavg())
    with open(os.path.join(a.out, "wan.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(json.dumps({k: v for k, v in meta.items() if k != "placement"}, indent=2))

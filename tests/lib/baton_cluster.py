# SPDX-License-Identifier: MIT
"""A local baton cluster on loopback: configs, processes, HTTP status, waits.

Used by the integration tests, the README demo, jepsen/ and bench/. Python 3
standard library only. Every process started is recorded and killed by
cleanup() (also registered with atexit). Waits poll with a deadline; nothing
sleeps for a fixed time to "let things settle".
"""
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build_dir():
    return os.environ.get("BATON_BUILD_DIR", os.path.join(ROOT, "build"))


def free_port_block(n, lo=20000, hi=60000, tries=200):
    """A base port such that base..base+n-1 are all free on 127.0.0.1."""
    for _ in range(tries):
        base = random.randrange(lo, hi - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of %d ports" % n)


def wait_for(pred, timeout, what, interval=0.02):
    """Poll pred() until it returns a truthy value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = pred()
        except Exception as e:  # a node mid-restart may refuse connections
            last = None
            err = e
        if last:
            return last
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def http_json(url, timeout=1.0):
    """GET url -> (status, parsed JSON or None). (None, None) if unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, None
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


# Detection and lease settings for tests: a failover in a few seconds.
FAST_DETECTION = """  detection:
    probe_interval_ms: 200
    probe_timeout_ms: 150
    down_after_ms: 600
    up_after_ms: 600
  lease:
    ttl_ms: 1500
    margin_ms: 300
  failover:
    failover_after_ms: 500
"""


class Node:
    def __init__(self, cluster, nid, name, region, witness):
        self.cluster = cluster
        self.id = nid
        self.name = name
        self.region = region
        self.witness = witness
        self.raft_port = cluster.base_port + nid
        self.api_port = cluster.base_port + 100 + nid
        self.data_dir = os.path.join(cluster.workdir, name, "data")
        self.conf_path = os.path.join(cluster.workdir, name, "baton.yaml")
        self.log_path = os.path.join(cluster.workdir, name, "log")
        self.proc = None
        self.env = {}

    @property
    def api(self):
        return "http://127.0.0.1:%d" % self.api_port

    @property
    def binary(self):
        b = build_dir()
        return os.path.join(b, "witness", "baton-witness") if self.witness else os.path.join(b, "node", "batond")

    def argv(self):
        return [self.binary, "--config", self.conf_path]

    def start(self, wrapper=None, extra_env=None):
        assert self.proc is None or self.proc.poll() is not None, "%s already running" % self.name
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.update(self.env)
        if extra_env:
            env.update(extra_env)
        argv = (wrapper or []) + self.argv()
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        self.cluster.started.append(self.proc)
        return self.proc

    def signal(self, sig):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def kill(self):
        """kill -9 and reap."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self, timeout=1.0):
        code, body = http_json(self.api + "/v1/status", timeout)
        return body if code == 200 else None

    def get(self, path, timeout=1.0):
        return http_json(self.api + path, timeout)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Cluster:
    DEFAULT_REGIONS = (("eu-west", 100), ("us-east", 90), ("ap-south", 80))

    def __init__(self, workdir, regions=DEFAULT_REGIONS, witness=True, election_ms=1000,
                 heartbeat_ms=100, base_port=None, cluster_id="demo", extra_cluster="",
                 extra_node="", region_probes=None, keys=False, region_extra=None):
        self.workdir = os.path.abspath(workdir)
        self.base_port = base_port or free_port_block(220)
        self.regions = list(regions)
        self.election_ms = election_ms
        self.heartbeat_ms = heartbeat_ms
        self.cluster_id = cluster_id
        self.extra_cluster = extra_cluster
        self.extra_node = extra_node
        self.region_probes = region_probes or {}   # region -> ["{type: http, url: ...}", ...]
        self.keys = keys
        self.region_extra = region_extra or {}     # region -> YAML lines under its entry (vars, self_fence, rejoin)
        self.started = []
        self.nodes = []
        for i, (region, _prio) in enumerate(self.regions, start=1):
            self.nodes.append(Node(self, i, region, region, False))
        if witness:
            self.nodes.append(Node(self, len(self.nodes) + 1, "witness", None, True))
        atexit.register(self.cleanup)

    # ------------------------------------------------------------ configs
    def cluster_yaml(self, generation=1, priorities=None):
        lines = ["cluster:", "  id: %s" % self.cluster_id, "  generation: %d" % generation,
                 "  raft:", "    election_timeout_ms: %d" % self.election_ms,
                 "    heartbeat_ms: %d" % self.heartbeat_ms, "  members:"]
        for n in self.nodes:
            if n.witness:
                lines.append('    - {id: %d, name: %s, witness: true, raft: "127.0.0.1:%d", api: "127.0.0.1:%d"}'
                             % (n.id, n.name, n.raft_port, n.api_port))
            else:
                lines.append('    - {id: %d, name: %s, region: %s, raft: "127.0.0.1:%d", api: "127.0.0.1:%d"}'
                             % (n.id, n.name, n.region, n.raft_port, n.api_port))
        lines.append("  regions:")
        for region, prio in self.regions:
            if priorities and region in priorities:
                prio = priorities[region]
            lines.append("    - name: %s" % region)
            lines.append("      priority: %d" % prio)
            for extra in self.region_extra.get(region, []):
                lines.append("      " + extra)
            probes = self.region_probes.get(region, [])
            if probes:
                lines.append("      probes:")
                for p in probes:
                    lines.append("        - %s" % p)
        lines.append("  groups:")
        lines.append("    - {name: default, initial_active: %s}" % self.regions[0][0])
        if self.extra_cluster:
            lines.append(self.extra_cluster.rstrip("\n"))
        return "\n".join(lines) + "\n"

    def key_path(self, name):
        return os.path.join(self.workdir, "keys", name + ".key")

    def write_key(self, name):
        """A 32-byte key as 64 hex chars, mode 0600 (the format baton reads)."""
        import secrets
        path = self.key_path(name)
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (secrets.token_hex(32) + "\n").encode())
            os.close(fd)
        return path

    def key_bytes(self, name):
        with open(self.key_path(name)) as f:
            return bytes.fromhex(f.read().strip())

    def node_yaml(self, n):
        s = "node:\n  id: %d\n  data_dir: %s\n  log_level: info\n" % (n.id, n.data_dir)
        if self.keys:
            s += "  peer_key_file: %s\n" % self.write_key("peer")
            if not n.witness:
                s += "  report_key_file: %s\n" % self.write_key("region-" + n.region)
        if self.extra_node:
            s += self.extra_node.rstrip("\n") + "\n"
        return s

    def write_configs(self, **kw):
        for n in self.nodes:
            self.write_config(n, **kw)

    def write_config(self, n, **kw):
        os.makedirs(os.path.dirname(n.conf_path), exist_ok=True)
        with open(n.conf_path, "w") as f:
            f.write(self.cluster_yaml(**kw) + self.node_yaml(n))

    # ------------------------------------------------------------ control
    def start(self, nodes=None):
        if not os.path.exists(self.nodes[0].conf_path):
            self.write_configs()
        for n in nodes or self.nodes:
            n.start()

    def node(self, name_or_id):
        for n in self.nodes:
            if n.name == name_or_id or n.id == name_or_id:
                return n
        raise KeyError(name_or_id)

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def statuses(self):
        return {n.name: n.status() for n in self.live()}

    def leader(self):
        """The node that says it is a ready leader, or None."""
        for n in self.live():
            st = n.status(timeout=0.5)
            if st and st["raft"]["role"] == "leader" and st["raft"]["leader_ready"]:
                return n
        return None

    def wait_leader(self, timeout=15, exclude=()):
        return wait_for(lambda: (lambda l: l if l is not None and l not in exclude else None)(self.leader()),
                        timeout, "a ready leader")

    def wait_region_leader(self, timeout=15, exclude=()):
        """A ready leader that is a region member: the witness may win an
        election but hands leadership on to an up-to-date region member."""
        return wait_for(lambda: (lambda l: l if l is not None and l not in exclude and not l.witness else None)(
            self.leader()), timeout, "a ready leader that is a region member")

    def group(self, status, name="default"):
        for g in status.get("groups", []):
            if g["name"] == name:
                return g
        return None

    def active_region(self, node=None, group="default"):
        st = (node or self.leader() or self.live()[0]).status()
        g = self.group(st, group) if st else None
        return g["active_region"] if g else None

    def wait_agreement(self, timeout=10):
        """Every live node reports the same term, leader, epoch and active region."""
        def agreed():
            views = []
            for n in self.live():
                st = n.status()
                if st is None or st["raft"]["leader"] is None:
                    return None
                g = self.group(st)
                views.append((st["raft"]["term"], st["raft"]["leader"]["id"],
                              g["epoch"] if g else None, g["active_region"] if g else None))
            return views[0] if views and all(v == views[0] for v in views) else None
        return wait_for(agreed, timeout, "all live nodes to agree on term, leader, epoch and active region")

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                         "AddressSanitizer:DEADLYSIGNAL")

    def sanitizer_reports(self):
        """Lines from any node log where ASan/UBSan/LSan reported a problem."""
        found = []
        for n in self.nodes:
            for line in n.log().splitlines():
                if any(m in line for m in self.SANITIZER_MARKERS):
                    found.append("%s: %s" % (n.name, line.strip()))
        return found

    def cleanup(self):
        for p in self.started:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.started = []

    def destroy(self):
        self.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)


if __name__ == "__main__":
    # python3 tests/lib/baton_cluster.py DIR  -> start a cluster and print the leader's status
    c = Cluster(sys.argv[1] if len(sys.argv) > 1 else "/tmp/baton-cluster")
    c.start()
    l = c.wait_leader()
    print(json.dumps(l.status(), indent=2))
    c.cleanup()

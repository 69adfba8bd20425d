"""Network topology and network faults for the jepsen harness.

One switch namespace holds a bridge; every node gets its own namespace with
one veth (eth0) plugged into that bridge:

    bt-<runid>-sw   br0, v-a, v-b, ...   nft tables: bridge grudge, bridge loss
    bt-<runid>-a    eth0 10.99.0.1/24
    bt-<runid>-b    eth0 10.99.0.2/24    ...

Both veth ends are created inside namespaces and no address is ever added to
the root namespace, so test traffic cannot leave the topology; any address
outside 10.99.0.0/24 is refused.  Names carry a run id, so two runs on one
machine do not collide (the subnet is the same in every run: each run has its
own switch).

Faults, all applied in the switch namespace:
  partitions   a bridge-family nft set of cut (src . dst) pairs; the whole
               grudge is replaced in one nft transaction (notes §2.4);
  loss         bridge-family nft rules with numgen random;
  WAN delay    this kernel has no sch_netem: `iptables -A FORWARD -j NFQUEUE
               --queue-bypass` (bridged IPv4 reaches FORWARD through
               br_netfilter, whose sysctl is set explicitly) feeds nfq_delay,
               which holds each packet for delay +- jitter (notes §2.5).
               --queue-bypass fails open if the delayer dies; delay_health()
               says whether it is still in place.
Process control: run_in() starts a process in a namespace and records its
PID; kill/pause/resume act on recorded processes only.

Teardown always runs: close() from try/finally or the context manager, plus
atexit and SIGTERM/SIGINT/SIGHUP handlers for every live topology.  It
signals only the processes this topology started (by their Popen handle, so
a recycled PID is never hit), then deletes its own namespaces.  A SIGKILLed
harness cannot clean up: processes started with pdeathsig (the default) die
with it, and `python3 net.py --cleanup RUNID` removes the namespaces.

Needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN), iproute2, nftables, iptables.
Python 3.11 stdlib only (os.setns is 3.12; ctypes is used instead).
"""

import argparse
import atexit
import contextlib
import ctypes
import ipaddress
import os
import re
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

SUBNET = ipaddress.ip_network("10.99.0.0/24")
PREFIX = "bt"
NODE_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")     # "v-<node>" must fit IFNAMSIZ
RUN_ID_RE = re.compile(r"^[a-z0-9]{1,16}$")
CMD_TIMEOUT_S = 15.0
CLONE_NEWNET = 0x40000000

GRUDGE_TABLE = """\
table bridge grudge {
\tset cut { type ipv4_addr . ipv4_addr; }
\tchain filter_forward {
\t\ttype filter hook forward priority -200; policy accept;
\t\tip saddr . ip daddr @cut drop
\t}
}
table bridge loss {
\tchain filter_forward {
\t\ttype filter hook forward priority -190; policy accept;
\t}
}
"""


class NetError(Exception):
    """A setup or fault command failed; the message names the command."""


# ---------------------------------------------------------------- addresses

def check_addr(addr):
    """Return addr as a string if it is a host address inside the test
    subnet; raise ValueError otherwise.  Every address the harness targets
    goes through here."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        raise ValueError("net: %r is not an IPv4 address" % (addr,)) from None
    if ip not in SUBNET or ip in (SUBNET.network_address, SUBNET.broadcast_address):
        raise ValueError("net: refusing %s: outside the test subnet %s" % (ip, SUBNET))
    return str(ip)


def new_run_id():
    """Short, unique enough for one machine: pid + random."""
    return "%x%s" % (os.getpid() & 0xFFFFF, secrets.token_hex(2))


# ---------------------------------------------------------------- grudges
# A cut is an ordered pair (src, dst) of node names: packets from src to dst
# are dropped.  Jepsen's grudge maps a node to the nodes it drops packets
# *from*; grudge() converts, for the history.

def _pairs(xs, ys):
    return {(x, y) for x in xs for y in ys if x != y}


def cuts_isolate(nodes, isolated):
    """Cut every link between the isolated node(s) and the rest, both ways."""
    iso = {isolated} if isinstance(isolated, str) else set(isolated)
    _check_members(nodes, iso)
    rest = [n for n in nodes if n not in iso]
    return _pairs(iso, rest) | _pairs(rest, iso)


def cuts_split(nodes, side):
    """Two components: side and the rest (majority/minority, halves, ...)."""
    return cuts_isolate(nodes, side)


def cuts_bridge(nodes, bridge):
    """The other nodes split in two halves that both still see the bridge
    node (Jepsen's bridge; with the witness as the bridge this is the
    leader ping-pong case)."""
    _check_members(nodes, {bridge})
    rest = [n for n in nodes if n != bridge]
    half = (len(rest) + 1) // 2
    left, right = rest[:half], rest[half:]
    return _pairs(left, right) | _pairs(right, left)


def cuts_one_way(src, dsts):
    """src can no longer send to dsts; it still receives from them."""
    return {(src, d) for d in ([dsts] if isinstance(dsts, str) else dsts) if d != src}


def cuts_ring(nodes):
    """Majorities ring: every node sees a majority (itself included), no two
    nodes see the same one.  Nodes are placed on a ring in the given order
    and keep the links to their k nearest neighbours on each side."""
    n = len(nodes)
    majority = n // 2 + 1
    k = -(-(majority - 1) // 2)   # ceil((majority - 1) / 2)
    cuts = set()
    for i, a in enumerate(nodes):
        for j, b in enumerate(nodes):
            d = min((i - j) % n, (j - i) % n)
            if i != j and d > k:
                cuts.add((a, b))
    return cuts


def grudge(cuts):
    """Jepsen's form: {node: sorted nodes it drops packets from}."""
    g = {}
    for src, dst in cuts:
        g.setdefault(dst, set()).add(src)
    return {k: sorted(v) for k, v in sorted(g.items())}


def _check_members(nodes, names):
    unknown = set(names) - set(nodes)
    if unknown:
        raise ValueError("net: unknown node(s) %s (nodes: %s)" % (sorted(unknown), list(nodes)))


# ---------------------------------------------------------------- setns

_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def netns(name):
    """Run the block with this *thread* in network namespace `name`.
    Sockets created inside stay in that namespace afterwards."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open("/run/netns/" + name, os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                e = ctypes.get_errno()
                raise OSError(e, "setns(%s): %s" % (name, os.strerror(e)))
            try:
                yield
            finally:
                if _libc.setns(home, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    # A thread stuck in a test namespace must not go on.
                    print("net: cannot return to the home namespace: %s" % os.strerror(e),
                          file=sys.stderr)
                    os._exit(70)
        finally:
            os.close(target)
    finally:
        os.close(home)


# ---------------------------------------------------------------- processes

class Proc:
    """A process this topology started."""

    def __init__(self, popen, ns, argv, name):
        self.popen, self.ns, self.argv, self.name = popen, ns, argv, name

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def __repr__(self):
        return "Proc(%s pid=%d ns=%s)" % (self.name, self.pid, self.ns)


# ---------------------------------------------------------------- teardown hooks

_live = []                 # topologies not yet closed
_live_lock = threading.RLock()
_hooks_installed = False
_prev_handlers = {}
_closing_depth = 0
_pending_signal = None


def _close_all():
    for topo in list(_live):
        topo.close()


def _on_signal(signum, frame):
    global _pending_signal
    if _closing_depth > 0:
        _pending_signal = signum     # re-raised when the teardown in progress ends
        return
    _close_all()
    _reraise(signum, frame)


def _reraise(signum, frame):
    prev = _prev_handlers.get(signum, signal.SIG_DFL)
    if callable(prev):
        prev(signum, frame)
    else:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_hooks():
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_close_all)
    if threading.current_thread() is not threading.main_thread():
        return                       # signal handlers can only be set from the main thread
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        prev = signal.getsignal(sig)
        if prev is signal.SIG_IGN:
            continue                 # e.g. nohup: keep ignoring
        _prev_handlers[sig] = prev
        signal.signal(sig, _on_signal)


# ---------------------------------------------------------------- topology

class Topology:
    """Namespaces, bridge, faults and processes of one run.

        with Topology(["a", "b", "c", "w"]) as topo:
            topo.isolate("a") ... topo.heal()

    nodes     node names ([a-z][a-z0-9]{0,7}); node i gets 10.99.0.(i+1)
    run_id    defaults to new_run_id()
    nfq_delay path of the delayer binary (default: $NFQ_DELAY)
    history   optional history.History: fault ops are logged as nemesis ops
    """

    def __init__(self, nodes=("a", "b", "c", "w"), run_id=None, nfq_delay=None, history=None,
                 prefix=PREFIX):
        nodes = list(nodes)
        if not nodes or len(set(nodes)) != len(nodes):
            raise ValueError("net: nodes must be distinct and non-empty: %r" % (nodes,))
        for n in nodes:
            if not NODE_RE.match(n) or n == "sw":
                raise ValueError("net: node name %r must match %s and not be 'sw'"
                                 % (n, NODE_RE.pattern))
        if len(nodes) > SUBNET.num_addresses - 2:
            raise ValueError("net: too many nodes for %s" % SUBNET)
        self.run_id = run_id or new_run_id()
        if not RUN_ID_RE.match(self.run_id):
            raise ValueError("net: run id %r must match %s" % (self.run_id, RUN_ID_RE.pattern))
        self.nodes = nodes
        self.sw = "%s-%s-sw" % (prefix, self.run_id)
        self.ns = {n: "%s-%s-%s" % (prefix, self.run_id, n) for n in nodes}
        self.addr = {n: check_addr(SUBNET[i + 1]) for i, n in enumerate(nodes)}
        self.nfq_delay = nfq_delay or os.environ.get("NFQ_DELAY")
        self.history = history
        self.cuts = set()
        self.procs = []
        self._created = []           # namespaces this object created, in order
        self._delay = None           # (Proc, iptables rule, queue, fault name)
        self._closed = False
        self._lock = threading.RLock()

    # -- lifecycle

    def __enter__(self):
        self.setup()
        return self

    def __exit__(self, *exc):
        self.close()

    def namespaces(self):
        return [self.sw] + [self.ns[n] for n in self.nodes]

    def setup(self):
        """Create everything; on any failure, undo what was made and raise."""
        if os.geteuid() != 0:
            raise NetError("net: setup needs root (network namespaces)")
        with _live_lock:
            _install_hooks()
            _live.append(self)
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def _setup(self):
        sw = self.sw
        self._ip("netns", "add", sw)
        self._created.append(sw)
        self._ip("-n", sw, "link", "add", "br0", "type", "bridge")
        self._ip("-n", sw, "link", "set", "lo", "up")
        self._ip("-n", sw, "link", "set", "br0", "up")
        # Bridged IPv4 must traverse iptables FORWARD (for the NFQUEUE rule).
        self.sysctl(sw, "net.bridge.bridge-nf-call-iptables", "1")
        self.sysctl(sw, "net.bridge.bridge-nf-call-ip6tables", "0")
        self.sysctl(sw, "net.bridge.bridge-nf-call-arptables", "0")
        self.nft(GRUDGE_TABLE)
        for n in self.nodes:
            ns = self.ns[n]
            self._ip("netns", "add", ns)
            self._created.append(ns)
            # Both ends are born inside namespaces: nothing in the root one.
            self._ip("-n", ns, "link", "add", "eth0", "type", "veth",
                     "peer", "name", "v-" + n, "netns", sw)
            self._ip("-n", sw, "link", "set", "v-" + n, "master", "br0")
            self._ip("-n", sw, "link", "set", "v-" + n, "up")
            self._ip("-n", ns, "addr", "add", "%s/%d" % (self.addr[n], SUBNET.prefixlen),
                     "dev", "eth0")
            self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("-n", ns, "link", "set", "eth0", "up")

    def close(self):
        """Idempotent teardown: stop our processes, delete our namespaces."""
        global _closing_depth, _pending_signal
        with self._lock:
            if self._closed:
                return
            self._closed = True
            _closing_depth += 1
            try:
                self._teardown()
            finally:
                _closing_depth -= 1
                with _live_lock:
                    if self in _live:
                        _live.remove(self)
        if _closing_depth == 0 and _pending_signal is not None:
            sig, _pending_signal = _pending_signal, None
            _close_all()
            _reraise(sig, None)

    def _teardown(self, grace_s=2.0):
        live = [p for p in self.procs if p.alive()]
        for p in live:
            with contextlib.suppress(ProcessLookupError):
                p.popen.send_signal(signal.SIGTERM)
                p.popen.send_signal(signal.SIGCONT)     # a paused process must see it
        deadline = time.monotonic() + grace_s
        for p in live:
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    p.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.popen.wait(timeout=5)
        for p in self.procs:
            for stream in (p.popen.stdout, p.popen.stderr, p.popen.stdin):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        errors = []
        for ns in reversed(self._created):
            r = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True,
                               timeout=CMD_TIMEOUT_S)
            if r.returncode != 0 and os.path.exists("/run/netns/" + ns):
                errors.append("ip netns del %s: %s" % (ns, r.stderr.strip()))
        self._created = []
        if errors:
            print("net: teardown: " + "; ".join(errors), file=sys.stderr)

    # -- commands

    def _run(self, argv, input=None, check=True):
        try:
            r = subprocess.run(argv, input=input, capture_output=True, text=True,
                               timeout=CMD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise NetError("net: `%s` timed out after %.0f s" % (" ".join(argv), CMD_TIMEOUT_S))
        if check and r.returncode != 0:
            raise NetError("net: `%s` failed (exit %d): %s"
                           % (" ".join(argv), r.returncode, (r.stderr or r.stdout).strip()))
        return r

    def _ip(self, *args):
        return self._run(["ip"] + list(args))

    def exec_in(self, ns, argv, input=None, check=True):
        """Run a short command inside namespace ns and wait for it."""
        self._check_ns(ns)
        return self._run(["ip", "netns", "exec", ns] + list(argv), input=input, check=check)

    def nft(self, script):
        """Apply an nft script in the switch namespace (one transaction)."""
        return self.exec_in(self.sw, ["nft", "-f", "-"], input=script)

    def sysctl(self, ns, key, value):
        """Set a sysctl inside ns and read it back."""
        path = "/proc/sys/" + key.replace(".", "/")
        self.exec_in(ns, ["sh", "-c", 'echo "$1" > "$2"', "sh", str(value), path])
        got = self.exec_in(ns, ["cat", path]).stdout.strip()
        if got != str(value):
            raise NetError("net: sysctl %s in %s is %r after writing %r" % (key, ns, got, value))

    def _check_ns(self, ns):
        if ns not in self.namespaces():
            raise ValueError("net: %r is not a namespace of run %s" % (ns, self.run_id))

    def _ns_of(self, where):
        if where in self.ns:
            return self.ns[where]
        if where == "sw":
            return self.sw
        self._check_ns(where)
        return where

    def _node_addr(self, x):
        return self.addr[x] if x in self.addr else check_addr(x)

    # -- processes

    def run_in(self, where, argv, name=None, stdin=subprocess.DEVNULL, stdout=None, stderr=None,
               env=None, pdeathsig=True):
        """Start argv inside a node's namespace (node name, "sw", or a
        namespace name) and record it.  `ip netns exec` and setpriv exec
        in place, so Proc.pid is the program's own PID; this returns once
        the program runs (its cmdline is argv).  With pdeathsig the process
        gets SIGKILL if the thread that started it dies: call this from a
        long-lived thread (the main one)."""
        ns = self._ns_of(where)
        argv = [str(a) for a in argv]
        full = ["ip", "netns", "exec", ns]
        if pdeathsig and shutil.which("setpriv"):
            full += ["setpriv", "--pdeathsig", "KILL", "--"]
        full += argv
        with self._lock:
            if self._closed:
                raise NetError("net: run %s is closed" % self.run_id)
            popen = subprocess.Popen(full, stdin=stdin, stdout=stdout, stderr=stderr, env=env,
                                     start_new_session=True)
            proc = Proc(popen, ns, argv, name or os.path.basename(argv[0]))
            self.procs.append(proc)
        _wait_exec(popen, argv)
        return proc

    def _own(self, proc):
        if proc not in self.procs:
            raise ValueError("net: %r was not started by run %s" % (proc, self.run_id))

    def kill(self, proc, sig=signal.SIGKILL, log=True):
        self._own(proc)
        if proc.alive():
            proc.popen.send_signal(sig)
        if log:
            self._log("kill", {"proc": proc.name, "pid": proc.pid, "signal": int(sig)})

    def pause(self, proc):
        self._own(proc)
        proc.popen.send_signal(signal.SIGSTOP)
        self._log("pause-start", {"proc": proc.name, "pid": proc.pid})

    def resume(self, proc):
        self._own(proc)
        proc.popen.send_signal(signal.SIGCONT)
        self._log("pause-stop", {"proc": proc.name, "pid": proc.pid})

    # -- sockets inside the topology

    def socket(self, node, kind=socket.SOCK_STREAM):
        """A new IPv4 socket living in node's namespace."""
        with netns(self.ns[node]):
            return socket.socket(socket.AF_INET, kind)

    def connect(self, node, dst, port, timeout=2.0):
        """TCP connect from node to dst (a node name or a subnet address)."""
        addr = self._node_addr(dst)
        s = self.socket(node)
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
        except BaseException:
            s.close()
            raise
        return s

    def listen(self, node, port=0, backlog=16):
        """A listening TCP socket on node's address; returns (sock, port)."""
        s = self.socket(node)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.addr[node], port))
        s.listen(backlog)
        return s, s.getsockname()[1]

    # -- partitions

    def _log(self, f, value):
        if self.history is not None:
            self.history.nemesis(f, value)

    def partition(self, cuts, spec="custom", targets=()):
        """Replace the grudge with these (src, dst) cuts, atomically.
        Returns the Jepsen-style grudge that was logged."""
        cuts = {(s, d) for s, d in cuts}
        _check_members(self.nodes, {x for pair in cuts for x in pair})
        lines = ["flush set bridge grudge cut"]
        if cuts:
            elems = ", ".join("%s . %s" % (self.addr[s], self.addr[d]) for s, d in sorted(cuts))
            lines.append("add element bridge grudge cut { %s }" % elems)
        self.nft("\n".join(lines) + "\n")
        self.cuts = cuts
        g = grudge(cuts)
        if cuts:
            self._log("partition-start", {"spec": spec, "grudge": g, "targets": list(targets)})
        else:
            self._log("partition-stop", {"spec": spec})
        return g

    def isolate(self, node):
        nodes = [node] if isinstance(node, str) else list(node)
        return self.partition(cuts_isolate(self.nodes, nodes), "isolate", nodes)

    def split(self, side):
        side = list(side)
        return self.partition(cuts_split(self.nodes, side), "split", side)

    def bridge(self, bridge_node):
        return self.partition(cuts_bridge(self.nodes, bridge_node), "bridge", [bridge_node])

    def one_way(self, src, dsts=None):
        dsts = [n for n in self.nodes if n != src] if dsts is None else dsts
        return self.partition(cuts_one_way(src, dsts), "one-way", [src])

    def ring(self):
        return self.partition(cuts_ring(self.nodes), "ring")

    def heal(self):
        """Remove every cut (loss and delay are separate: see clear_loss,
        stop_delay, heal_all)."""
        return self.partition(set(), "heal")

    def heal_all(self):
        self.partition(set(), "heal")
        self.clear_loss()
        self.stop_delay()

    # -- loss

    def set_loss(self, pct, links=None):
        """Drop pct percent (0..100, 0.01 steps) of IPv4 packets, on every
        link or only on the given (src, dst) node pairs.  Replaces any
        previous loss rules."""
        if not 0 <= pct <= 100:
            raise ValueError("net: loss %r must be within [0, 100]" % (pct,))
        threshold = int(round(pct * 100))
        lines = ["flush chain bridge loss filter_forward"]
        match = "drop" if threshold >= 10000 else "numgen random mod 10000 < %d drop" % threshold
        if threshold == 0:
            pass                 # flushing is all
        elif links is None:
            lines.append("add rule bridge loss filter_forward ether type ip %s" % match)
        else:
            for s, d in links:
                _check_members(self.nodes, {s, d})
                lines.append("add rule bridge loss filter_forward ip saddr %s ip daddr %s %s"
                             % (self.addr[s], self.addr[d], match))
        self.nft("\n".join(lines) + "\n")
        self._log("loss-start", {"pct": pct, "links": [list(x) for x in links] if links else None})

    def clear_loss(self):
        self.nft("flush chain bridge loss filter_forward\n")
        self._log("loss-stop", {})

    # -- WAN delay

    def start_delay(self, delay_ms, jitter_ms=0.0, loss_pct=0.0, keep_order=True, links=None,
                    lifetime_s=3600, seed=None, queue=0, ready_timeout_s=5.0, fault="delay"):
        """Start nfq_delay in the switch namespace and divert bridged IPv4
        traffic of the subnet to it.  links: {(src, dst): (delay_ms,
        jitter_ms)} per-link overrides.  fault names the nemesis op: "delay"
        is the steady WAN background (the checker does not count it as a
        disruption); log a spike as e.g. "delay-spike".  Returns the Proc."""
        if self._delay is not None:
            self.stop_delay()
        binary = self.nfq_delay
        if not binary or not os.access(binary, os.X_OK):
            raise NetError("net: nfq_delay binary not found (got %r); build it with meson "
                           "and pass its path or set NFQ_DELAY" % (binary,))
        argv = [os.path.abspath(binary), "-q", queue, "-d", delay_ms, "-j", jitter_ms,
                "-l", loss_pct, "-t", lifetime_s]
        if keep_order:
            argv.append("-o")
        if seed is not None:
            argv += ["-s", seed]
        for (s, d), (dl, jt) in (links or {}).items():
            argv += ["-r", "%s,%s,%s,%s" % (self._node_addr(s), self._node_addr(d), dl, jt)]
        proc = self.run_in("sw", argv, name="nfq_delay", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        line = _read_line(proc.popen.stdout, ready_timeout_s)
        if not line.startswith("nfq_delay: ready") or (" pid=%d " % proc.pid) not in line:
            err = ""
            if not proc.alive():
                err = proc.popen.stderr.read().decode(errors="replace").strip()
            else:
                self.kill(proc, log=False)
            raise NetError("net: nfq_delay did not become ready in %.1f s (stdout %r, "
                           "stderr %r)" % (ready_timeout_s, line, err))
        rule = ["FORWARD", "-s", str(SUBNET), "-d", str(SUBNET), "-j", "NFQUEUE",
                "--queue-num", str(queue), "--queue-bypass"]
        try:
            self.exec_in(self.sw, ["iptables", "-w", "5", "-A"] + rule)
        except NetError:
            self.kill(proc, log=False)
            raise
        self._delay = (proc, rule, queue, fault)
        self._log(fault + "-start", {"delay_ms": delay_ms, "jitter_ms": jitter_ms,
                                  "loss_pct": loss_pct, "keep_order": keep_order,
                                  "links": {"%s>%s" % k: v for k, v in (links or {}).items()}})
        return proc

    def delay_health(self):
        """{"ok": bool, "reason": str, ...}: the delayer is alive, its queue
        is bound in the switch namespace, and the iptables rule is there."""
        if self._delay is None:
            return {"ok": False, "reason": "no delay configured"}
        proc, rule, queue, _ = self._delay
        if not proc.alive():
            return {"ok": False, "reason": "nfq_delay exited with %s" % proc.popen.returncode}
        r = self.exec_in(self.sw, ["cat", "/proc/net/netfilter/nfnetlink_queue"], check=False)
        row = None
        for line in r.stdout.splitlines():
            f = line.split()
            if f and f[0] == str(queue):
                row = f
        if row is None:
            return {"ok": False, "reason": "queue %d is not bound in %s" % (queue, self.sw)}
        r = self.exec_in(self.sw, ["iptables", "-w", "5", "-C"] + rule, check=False)
        if r.returncode != 0:
            return {"ok": False, "reason": "the NFQUEUE rule is missing in %s" % self.sw}
        return {"ok": True, "reason": "", "portid": int(row[1]), "waiting": int(row[2]),
                "queue_dropped": int(row[5]), "user_dropped": int(row[6])}

    def stop_delay(self, timeout_s=5.0):
        """Remove the rule, stop the delayer (it releases what it holds) and
        return its exit stats as a dict (empty if none was running)."""
        if self._delay is None:
            return {}
        proc, rule, _, fault = self._delay
        self._delay = None
        self.exec_in(self.sw, ["iptables", "-w", "5", "-D"] + rule, check=False)
        if proc.alive():
            proc.popen.send_signal(signal.SIGTERM)
        try:
            _, err = proc.popen.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.popen.kill()
            _, err = proc.popen.communicate()
        stats = {}
        for line in err.decode(errors="replace").splitlines():
            if line.startswith("nfq_delay: exit"):
                for kv in line.split()[2:]:
                    k, _, v = kv.partition("=")
                    stats[k] = int(v) if v.isdigit() else v
        self._log(fault + "-stop", {"stats": stats})
        return stats


def _wait_exec(popen, argv, timeout_s=5.0):
    """Wait until pid runs argv itself (its cmdline is argv), not yet the
    forked harness, `ip` or setpriv.  Before that a SIGTERM can be lost (the
    forked child still has the harness's handlers) and the pdeathsig is not
    yet armed.  Returns False if the deadline passed first (a program that
    rewrites its own cmdline)."""
    want = ("\0".join(argv) + "\0").encode()
    path = "/proc/%d/cmdline" % popen.pid
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as f:
                if f.read() == want:
                    return True
        except OSError:
            return True          # already gone: nothing to wait for
        if popen.poll() is not None:
            return True
        time.sleep(0.001)
    print("net: pid %d did not exec %r within %.1f s" % (popen.pid, argv[0], timeout_s),
          file=sys.stderr)
    return False


def _read_line(stream, timeout_s):
    """One line from a pipe, or what arrived before the deadline."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout_s
    try:
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                break
            chunk = os.read(stream.fileno(), 1)
            if not chunk:
                break
            buf += chunk
    finally:
        sel.close()
    return buf.decode(errors="replace").strip()


def leftover_namespaces(run_id, prefix=PREFIX):
    """Namespaces of this run that still exist (for tests and --cleanup)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         timeout=CMD_TIMEOUT_S).stdout
    want = "%s-%s-" % (prefix, run_id)
    return [line.split()[0] for line in out.splitlines() if line.startswith(want)]


def main(argv=None):
    ap = argparse.ArgumentParser(description="jepsen topology helper")
    ap.add_argument("--cleanup", metavar="RUNID",
                    help="delete the namespaces left by a killed run with this run id")
    args = ap.parse_args(argv)
    if args.cleanup:
        if not RUN_ID_RE.match(args.cleanup):
            ap.error("run id must match %s" % RUN_ID_RE.pattern)
        for ns in leftover_namespaces(args.cleanup):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=CMD_TIMEOUT_S)
            print("deleted", ns)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

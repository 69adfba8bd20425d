#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real PostgreSQL 15 primary + 2 streaming replicas on 127.0.0.1, for tests and the demo.

Happy path: start() runs initdb for node 0 (as the `postgres` user when we are root),
starts it, waits until it answers, creates a physical replication slot per replica, runs
`pg_basebackup -R -S nodeN` for nodes 1 and 2 concurrently, and starts them; wait_ready() returns
once every node answers and the primary sees both replicas streaming.

Each postmaster is our direct child, started in its own session. PostgreSQL puts every
child of the postmaster (backends, walsender, walreceiver, checkpointer...) into a process
group of its own (setsid() in InitPostmasterChild), so signalling the postmaster's group is
not enough: freeze() SIGSTOPs the postmaster first (no new forks) and then each descendant
found in /proc, thaw() SIGCONTs them, kill() SIGKILLs them all (a crash). Teardown (stop(), the context manager, and an atexit hook)
thaws, asks for a fast shutdown, SIGKILLs the group after a deadline, and removes the
directories. Data directories are owned by `postgres`; listening is on 127.0.0.1 only, the
Unix socket lives inside the node directory, and the superuser `baton` is trusted from
127.0.0.1 (and on the private socket) — a test fixture, never a deployment. fsync is off.

Layout: BASE/cluster.json (ports, pids), BASE/nodeN/{data,run,postgres.log}.

CLI (for shell scripts and the README demo):
    pgcluster.py up DIR [P1 P2 P3]      start, wait, print ports, leave running
    pgcluster.py down DIR               stop whatever `up` started in DIR, remove DIR
    pgcluster.py freeze|thaw|kill|role DIR N
"""

import atexit
import ctypes
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
USER = "baton"  # bootstrap superuser, trusted on 127.0.0.1
NODES = 3

_live = []  # clusters to tear down at exit


def _atexit():
    for c in list(_live):
        c.stop()


atexit.register(_atexit)


def free_ports(n, exclude=()):
    """@n distinct free TCP ports on 127.0.0.1 (held open together while choosing)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            p = s.getsockname()[1]
            if p not in exclude:
                ports.append(p)
    finally:
        for s in socks:
            s.close()
    return ports


def _port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _descendants(pid):
    """Every process below @pid, from /proc (children before grandchildren)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(0), []):
            out.append(c)
            todo.append(c)
    return out


def _signal_tree(pid, sig):
    """@sig to @pid first (a stopped postmaster forks no more), then to each of its
    descendants: those listed before (a dead postmaster's orphans are re-parented)
    and after."""
    before = _descendants(pid)
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    for c in dict.fromkeys(before + _descendants(pid)):
        try:
            os.kill(c, sig)
        except ProcessLookupError:
            pass


_libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child may not read our stdlib
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: PR_SET_PDEATHSIG(SIGQUIT). Runs after Popen's setuid (which would
    clear it), and postgres is not set-uid, so it survives the exec. No imports here:
    after setuid the child may not be able to read this Python's files."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0) != 0:
        os._exit(127)


def _pid_alive(pid):
    """True if @pid exists and is not a zombie (PID 1 here may not reap orphans)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class PgError(RuntimeError):
    pass


class PgCluster:
    def __init__(self, base_dir, ports=None, nodes=NODES, fsync=False, die_with_parent=True):
        """@ports: one per node, or None to pick free ones. @die_with_parent: the kernel
        sends each postmaster SIGQUIT (immediate shutdown) if this process dies without
        tearing down (SIGKILL); the CLI's `up` turns it off to leave the cluster running."""
        self.base = os.path.abspath(base_dir)
        self.die_with_parent = die_with_parent
        self.nodes = nodes
        self.fsync = fsync
        self.ports = list(ports) if ports else free_ports(nodes)
        if len(self.ports) != nodes or len(set(self.ports)) != nodes:
            raise ValueError(f"need {nodes} distinct ports, got {self.ports}")
        self.procs = [None] * nodes  # Popen of each postmaster we started
        self.pids = [None] * nodes  # postmaster pid == its process group id
        self.frozen = [False] * nodes
        self._created_base = False
        self._stopped = True
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            self._uid, self._gid = pw.pw_uid, pw.pw_gid
        else:
            self._uid = self._gid = None  # run everything as ourselves

    # --- context manager -------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- paths and commands ----------------------------------------------------------

    def node_dir(self, i):
        return os.path.join(self.base, f"node{i}")

    def data_dir(self, i):
        return os.path.join(self.node_dir(i), "data")

    def sock_dir(self, i):
        return os.path.join(self.node_dir(i), "run")

    def log_path(self, i):
        return os.path.join(self.node_dir(i), "postgres.log")

    def _env(self):
        return {"PATH": f"{PG_BIN}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C",
                "HOME": self.base, "PGCONNECT_TIMEOUT": "5"}

    def _as_pg(self):
        """Popen keyword arguments that run a child as the postgres user."""
        kw = {"env": self._env(), "cwd": self.base}
        if self._uid is not None:
            kw.update(user=self._uid, group=self._gid, extra_groups=[])
        return kw

    def _run(self, argv, timeout=120):
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout, **self._as_pg())
        if r.returncode != 0:
            raise PgError(f"{' '.join(argv)} exited {r.returncode}: {r.stdout.strip()}")
        return r.stdout

    def _run_all(self, argvs, timeout=120):
        """_run() for each of @argvs, concurrently."""
        procs = [subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, **self._as_pg()) for a in argvs]
        errors = []
        for a, p in zip(argvs, procs):
            try:
                out, _ = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            if p.returncode != 0:
                errors.append(f"{' '.join(a)} exited {p.returncode}: {out.strip()}")
        if errors:
            raise PgError("\n".join(errors))

    def _mkdir_pg(self, path, mode=0o700):
        os.makedirs(path, mode=mode, exist_ok=True)
        os.chmod(path, mode)
        if self._uid is not None:
            os.chown(path, self._uid, self._gid)

    def _save_state(self):
        state = {"ports": self.ports, "pids": self.pids}
        tmp = os.path.join(self.base, "cluster.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, os.path.join(self.base, "cluster.json"))

    def _log_tail(self, i, n=15):
        try:
            with open(self.log_path(i), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    # --- lifecycle -------------------------------------------------------------------

    def start(self):
        if not os.path.isdir(self.base):
            self._created_base = True
        stop_dir(self.base, remove=False)  # a previous run that was SIGKILLed
        self._mkdir_pg(self.base, 0o755)
        _live.append(self)
        self._stopped = False
        try:
            # The postgres user must be able to reach the base dir through its parents.
            self._run(["test", "-w", self.base, "-a", "-x", self.base])
        except PgError:
            raise PgError(f"user postgres cannot write to '{self.base}' (a parent "
                          "directory is not searchable by it?)") from None
        for i in range(self.nodes):
            shutil.rmtree(self.node_dir(i), ignore_errors=True)
            self._mkdir_pg(self.node_dir(i))
            self._mkdir_pg(self.sock_dir(i))
        self._initdb()
        self.start_node(0)
        self.wait_node(0)
        replicas = range(1, self.nodes)
        # Slots reserve WAL from now on, before the concurrent base backups start
        # (with -C each would create its own later, and one backup's checkpoint could
        # then recycle WAL the other still needs).
        for i in replicas:
            self.psql(self.ports[0], "SELECT pg_create_physical_replication_slot("
                      f"'node{i}', immediately_reserve => true)")
        self._run_all([[f"{PG_BIN}/pg_basebackup", "-h", "127.0.0.1", "-p",
                        str(self.ports[0]), "-U", USER, "-D", self.data_dir(i), "-R",
                        "-S", f"node{i}", "-X", "stream", "--checkpoint=fast"]
                       for i in replicas])
        for i in replicas:
            self.start_node(i)

    def _initdb(self):
        self._run([f"{PG_BIN}/initdb", "-D", self.data_dir(0), "-U", USER,
                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"])
        with open(os.path.join(self.data_dir(0), "pg_hba.conf"), "w") as f:
            f.write("# baton test cluster: loopback only, trusted\n"
                    f"local all         {USER} trust\n"
                    f"host  all         {USER} 127.0.0.1/32 trust\n"
                    f"host  replication {USER} 127.0.0.1/32 trust\n")
        with open(os.path.join(self.data_dir(0), "postgresql.conf"), "a") as f:
            f.write("\n# baton test cluster\n"
                    "wal_level = replica\nmax_wal_senders = 10\n"
                    "max_replication_slots = 10\nhot_standby = on\n"
                    "wal_keep_size = 128MB\n"
                    "wal_log_hints = on\n"  # pg_rewind (turning an old primary into a replica)
                    "max_connections = 40\nshared_buffers = 16MB\n"
                    f"fsync = {'on' if self.fsync else 'off'}\n"
                    "log_min_messages = warning\nlog_line_prefix = '%m [%p] '\n")

    def start_node(self, i, retries=3):
        """Start (or restart after kill()) node @i's postmaster as our child."""
        for attempt in range(retries):
            if not _port_is_free(self.ports[i]):
                self.ports[i] = free_ports(1, exclude=self.ports)[0]
            log = open(self.log_path(i), "ab")
            try:
                p = subprocess.Popen(
                    [f"{PG_BIN}/postgres", "-D", self.data_dir(i), "-p", str(self.ports[i]),
                     "-k", self.sock_dir(i), "-c", "listen_addresses=127.0.0.1",
                     # also the walreceiver's application_name in pg_stat_replication
                     "-c", f"cluster_name=node{i}"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if self.die_with_parent else None,
                    **self._as_pg())
            finally:
                log.close()
            self.procs[i], self.pids[i], self.frozen[i] = p, p.pid, False
            self._save_state()
            try:
                self.wait_node(i, timeout=30)
                return
            except PgError:
                lost_race = p.poll() is not None and "could not bind" in self._log_tail(i)
                if not lost_race or attempt + 1 == retries:
                    raise
                self.ports[i] = free_ports(1, exclude=self.ports)[0]

    def wait_node(self, i, timeout=60):
        """Until node @i accepts connections (pg_isready), or PgError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            p = self.procs[i]
            if p is not None and p.poll() is not None:
                raise PgError(f"node{i} (port {self.ports[i]}) exited {p.returncode}:\n"
                              + self._log_tail(i))
            r = subprocess.run([f"{PG_BIN}/pg_isready", "-q", "-h", "127.0.0.1", "-p",
                                str(self.ports[i]), "-t", "1"], env=self._env())
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise PgError(f"node{i} (port {self.ports[i]}) not ready after "
                              f"{timeout}s:\n" + self._log_tail(i))
            time.sleep(0.05)  # poll interval, not a wait for an event

    def wait_ready(self, timeout=60):
        """Until every node answers and the primary sees all replicas streaming."""
        deadline = time.monotonic() + timeout
        for i in range(self.nodes):
            self.wait_node(i, max(1.0, deadline - time.monotonic()))
        want = self.nodes - 1
        while True:
            n = int(self.psql(self.ports[0], "SELECT count(*) FROM pg_stat_replication "
                              "WHERE state = 'streaming'"))
            if n >= want:
                return
            if time.monotonic() > deadline:
                raise PgError(f"only {n} of {want} replicas streaming after {timeout}s")
            time.sleep(0.05)

    def psql(self, port, sql, timeout=30):
        """Run @sql on 127.0.0.1:@port as the test superuser; stdout, unaligned."""
        r = subprocess.run([f"{PG_BIN}/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", "postgres",
                            "-c", sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout, env=self._env())
        if r.returncode != 0:
            raise PgError(f"psql port {port}: {sql!r}: {r.stderr.strip()}")
        return r.stdout.strip()

    def role(self, port):
        """'primary' or 'replica' (pg_is_in_recovery())."""
        return "replica" if self.psql(port, "SELECT pg_is_in_recovery()") == "t" else "primary"

    def _signal(self, i, sig):
        if self.pids[i] is not None:
            _signal_tree(self.pids[i], sig)

    def freeze(self, i):
        """SIGSTOP node @i's postmaster, then every process under it."""
        self._signal(i, signal.SIGSTOP)
        self.frozen[i] = True

    def thaw(self, i):
        self._signal(i, signal.SIGCONT)
        self.frozen[i] = False

    def kill(self, i):
        """SIGKILL node @i's postmaster and every process under it (a crash);
        start_node(i) restarts it."""
        self._signal(i, signal.SIGCONT)
        self._signal(i, signal.SIGKILL)
        if self.procs[i] is not None:
            self.procs[i].wait(timeout=30)
        self.procs[i] = self.pids[i] = None
        self.frozen[i] = False
        self._save_state()

    def stop(self, remove=True):
        """Stop every postgres we started and, with @remove, delete the node directories
        (and the base dir if we created it). With @remove the shutdown is immediate
        (SIGQUIT, no checkpoint: the data is thrown away, and meson's timeout gives a
        test 0.5 s between SIGTERM and SIGKILL); without, fast (SIGINT). Either way
        SIGKILL after 15 s."""
        if self._stopped:
            return
        self._stopped = True
        live = [i for i in range(self.nodes) if self.pids[i] is not None]
        _stop_pids([self.pids[i] for i in live], [self.procs[i] for i in live],
                   sig=signal.SIGQUIT if remove else signal.SIGINT)
        self.procs = [None] * self.nodes
        self.pids = [None] * self.nodes
        if self in _live:
            _live.remove(self)
        if remove:
            if self._created_base:
                shutil.rmtree(self.base, ignore_errors=True)
            else:
                for i in range(self.nodes):
                    shutil.rmtree(self.node_dir(i), ignore_errors=True)
                for name in ("cluster.json", "cluster.json.tmp"):
                    try:
                        os.unlink(os.path.join(self.base, name))
                    except FileNotFoundError:
                        pass

    teardown = stop


def _stop_pids(pids, procs=None, sig=signal.SIGINT, timeout=15):
    """Shut the postmasters @pids down together (@sig: SIGINT = fast, SIGQUIT =
    immediate); SIGKILL whatever is left of them and their processes at the deadline."""
    procs = procs or [None] * len(pids)
    for pid in pids:
        _signal_tree(pid, signal.SIGCONT)  # a frozen node cannot shut down
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid, proc in zip(pids, procs):
        while time.monotonic() < deadline:
            gone = proc.poll() is not None if proc is not None else not _pid_alive(pid)
            if gone:
                break
            time.sleep(0.02)
        left = ([pid] if _pid_alive(pid) else []) + _descendants(pid)
        for p in left:  # a postmaster that hung, or children still around
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc is not None:
            proc.wait(timeout=30)


def stop_dir(base, remove=True):
    """Stop the postmasters recorded under @base (e.g. by `up`, or a killed run)."""
    pids = set()
    try:
        with open(os.path.join(base, "cluster.json")) as f:
            pids.update(p for p in json.load(f).get("pids", []) if p)
    except (OSError, ValueError):
        pass
    for i in range(NODES):
        try:
            with open(os.path.join(base, f"node{i}", "data", "postmaster.pid")) as f:
                pids.add(int(f.readline()))
        except (OSError, ValueError):
            pass
    pids = [p for p in pids if _pid_alive(p) and _is_postgres(p)]
    _stop_pids(pids, sig=signal.SIGQUIT if remove else signal.SIGINT)
    if remove:
        shutil.rmtree(base, ignore_errors=True)


def _is_postgres(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() in ("postgres", "postmaster")
    except OSError:
        return False


def _load(base):
    with open(os.path.join(base, "cluster.json")) as f:
        state = json.load(f)
    c = PgCluster(base, ports=state["ports"])
    c.pids = state["pids"]
    return c


def main(argv):
    usage = ("usage: pgcluster.py up DIR [P1 P2 P3] | down DIR | "
             "freeze|thaw|kill|role DIR N")
    if len(argv) < 3:
        print(usage, file=sys.stderr)
        return 2
    cmd, base = argv[1], argv[2]
    if cmd == "up":
        ports = [int(p) for p in argv[3:]] or None
        c = PgCluster(base, ports=ports, die_with_parent=False)
        try:
            c.start()
            c.wait_ready()
        except BaseException:
            c.stop(remove=False)
            raise
        _live.remove(c)  # leave it running for `down`
        for i, p in enumerate(c.ports):
            print(f"node{i} {'primary' if i == 0 else 'replica'} 127.0.0.1:{p} pid {c.pids[i]}")
        return 0
    if cmd == "down":
        stop_dir(os.path.abspath(base))
        return 0
    if cmd in ("freeze", "thaw", "kill", "role") and len(argv) == 4:
        c, i = _load(os.path.abspath(base)), int(argv[3])
        if cmd == "role":
            print(c.role(c.ports[i]))
        elif cmd == "kill":
            c._signal(i, signal.SIGCONT)
            c._signal(i, signal.SIGKILL)
        else:
            getattr(c, cmd)(i)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    # SIGTERM (meson's timeout, a CI cancel) must still run the atexit teardown.
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A real PowerDNS Authoritative server (pdns_server, gsqlite3 backend, HTTP API on) on
127.0.0.1, for tests.

Happy path: start() creates DIR/pdns.db from Debian's schema, writes DIR/pdns.conf (DNS and
API on free loopback ports, API key, sockets in DIR, no guardian, no daemon, no setuid),
starts `pdns_server --config-dir=DIR` as our child in its own session, and waits (with a
deadline) until the API answers GET /api/v1/servers/localhost. If the process exits while
we wait because a port was taken meanwhile, it retries on fresh ports. stop() (also the
context manager and an atexit hook) sends SIGTERM, SIGKILLs after a deadline, and removes
DIR if we created it.

    with PowerDNS(tmpdir) as p:
        p.create_zone("svc.example.")
        p.api_url, p.api_key, p.dns_port
        p.dig("app.svc.example", "A")       # -> ["127.0.0.11"]
"""

import atexit
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

PDNS_SERVER = "/usr/sbin/pdns_server"
SCHEMA = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"

_live = []


@atexit.register
def _atexit():
    for p in list(_live):
        p.stop()


def _free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


class PowerDNSError(RuntimeError):
    pass


class PowerDNS:
    def __init__(self, base_dir=None, api_key="baton-test-key"):
        self._created = base_dir is None
        self.dir = os.path.abspath(base_dir or tempfile.mkdtemp(prefix="baton-pdns-"))
        self.api_key = api_key
        self.proc = None
        self.dns_port = self.api_port = None

    @property
    def api_url(self):
        return f"http://127.0.0.1:{self.api_port}"

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _log_tail(self, n=15):
        try:
            with open(os.path.join(self.dir, "pdns.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def _write_config(self):
        with open(os.path.join(self.dir, "pdns.conf"), "w") as f:
            f.write("\n".join([
                "launch=gsqlite3",
                f"gsqlite3-database={self.dir}/pdns.db",
                "local-address=127.0.0.1",
                f"local-port={self.dns_port}",
                "api=yes",
                f"api-key={self.api_key}",
                "webserver=yes",
                "webserver-address=127.0.0.1",
                f"webserver-port={self.api_port}",
                "webserver-allow-from=127.0.0.0/8",
                f"socket-dir={self.dir}",
                "guardian=no",
                "daemon=no",
                "setuid=",
                "setgid=",
                "loglevel=4",
                "security-poll-suffix=",  # no status lookup on the internet
                # answers straight from the database: a test sees its write at once
                "cache-ttl=0",
                "negquery-cache-ttl=0",
                "query-cache-ttl=0",
                "zone-cache-refresh-interval=0",
                "consistent-backends=yes",
                "",
            ]))

    def start(self, timeout=20):
        os.makedirs(self.dir, exist_ok=True)
        db = os.path.join(self.dir, "pdns.db")
        if os.path.exists(db):
            os.unlink(db)
        with open(SCHEMA) as f, sqlite3.connect(db) as conn:
            conn.executescript(f.read())
        _live.append(self)
        for attempt in range(3):
            self.dns_port, self.api_port = _free_ports(2)
            self._write_config()
            log = open(os.path.join(self.dir, "pdns.log"), "ab")
            try:
                self.proc = subprocess.Popen([PDNS_SERVER, f"--config-dir={self.dir}"],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             start_new_session=True)
            finally:
                log.close()
            try:
                self._wait_ready(timeout)
                return
            except PowerDNSError:
                exited = self.proc.poll() is not None
                if not exited or "bind" not in self._log_tail().lower() or attempt == 2:
                    raise
                self.proc = None  # lost a port race: again on fresh ports

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise PowerDNSError(f"pdns_server exited {self.proc.returncode}:\n"
                                    + self._log_tail())
            try:
                self.api("GET", "/api/v1/servers/localhost")
                return
            except (OSError, PowerDNSError):
                pass
            if time.monotonic() > deadline:
                raise PowerDNSError(f"pdns_server API not ready after {timeout}s:\n"
                                    + self._log_tail())
            time.sleep(0.05)  # poll interval, not a wait for an event

    def api(self, method, path, body=None):
        """One API call; the decoded JSON answer (None for 204). PowerDNSError on >= 400."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.api_url + path, data=data, method=method,
                                     headers={"X-API-Key": self.api_key,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                raw = r.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raise PowerDNSError(f"{method} {path}: HTTP {e.code}: {e.read()[:300]!r}") from None

    def create_zone(self, zone):
        self.api("POST", "/api/v1/servers/localhost/zones",
                 {"name": zone, "kind": "Native", "nameservers": [f"ns1.{zone}"]})

    def replace(self, zone, name, rtype, contents, ttl=5):
        self.api("PATCH", f"/api/v1/servers/localhost/zones/{zone}",
                 {"rrsets": [{"name": name, "type": rtype, "ttl": ttl, "changetype": "REPLACE",
                              "records": [{"content": c, "disabled": False}
                                          for c in contents]}]})

    def dig(self, name, rtype):
        """What the DNS server answers (dig +short), as a sorted list of lines."""
        r = subprocess.run(["dig", "+short", "+norecurse", "+time=2", "+tries=2",
                            f"@127.0.0.1", "-p", str(self.dns_port), name, rtype],
                           capture_output=True, text=True, timeout=15)
        if r.returncode != 0:
            raise PowerDNSError(f"dig {name} {rtype}: exit {r.returncode}: {r.stderr}")
        return sorted(line for line in r.stdout.splitlines() if line)

    def stop(self, timeout=10):
        if self in _live:
            _live.remove(self)
        p, self.proc = self.proc, None
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=timeout)
        if self._created:
            shutil.rmtree(self.dir, ignore_errors=True)

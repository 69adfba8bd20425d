#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run a test binary (argv[1]: test_pg, test_actions_pg) against a fresh PostgreSQL 15
primary + 2 replicas.

Starts a PgCluster in a temporary directory, exports BATON_TEST_PG_PRIMARY,
BATON_TEST_PG_REPLICA and BATON_TEST_PG_REPLICA2 (ports on 127.0.0.1), runs the binary
and always tears the cluster down (also on SIGTERM from meson's timeout). Exit status is the binary's."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pgcluster import PgCluster  # noqa: E402


def main(argv):
    if len(argv) < 2:
        print("usage: run_pg_tests.py TEST_PG_BINARY [args...]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    tmp = tempfile.mkdtemp(prefix="baton-pg-")
    os.chmod(tmp, 0o755)  # the postgres user must reach the cluster dir inside
    try:
        t0 = time.monotonic()
        with PgCluster(os.path.join(tmp, "cluster")) as c:
            up = time.monotonic() - t0
            env = dict(os.environ, BATON_TEST_PG_PRIMARY=str(c.ports[0]),
                       BATON_TEST_PG_REPLICA=str(c.ports[1]),
                       BATON_TEST_PG_REPLICA2=str(c.ports[2]),
                       CMOCKA_MESSAGE_OUTPUT="stdout")
            print(f"cluster up in {up:.2f}s: primary {c.ports[0]}, replicas "
                  f"{c.ports[1]} {c.ports[2]}", flush=True)
            t1 = time.monotonic()
            rc = subprocess.call(argv[1:], env=env)
            print(f"tests ran in {time.monotonic() - t1:.2f}s, exit {rc}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the cluster already removed its own dir
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))

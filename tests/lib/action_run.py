# SPDX-License-Identifier: MIT
"""Run one attempt of an action driver through the action_run helper binary
(tests/integration/action_run.c) and return its result as a dict:
status, status_name ("ok", "estale", "efailed", or an errno name), retryable, error,
output, ms. Checks the driver contract on every call: exactly one callback, never
from inside start(), the loop closed cleanly, and no sanitizer report."""

import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def action_run_path():
    build = os.environ.get("BATON_BUILD_DIR", os.path.join(ROOT, "build"))
    return os.path.join(build, "tests", "integration", "action_run")


def run_action(driver, params, epoch=7, frm="us-west", to="us-east", drill=False,
               timeout_ms=10000, attempt=1, validate=False):
    argv = [action_run_path(), "--epoch", str(epoch), "--from", frm, "--to", to,
            "--timeout-ms", str(timeout_ms), "--attempt", str(attempt),
            "--transition", "t-1", "--step", "step"]
    if drill:
        argv.append("--drill")
    if validate:
        argv.append("--validate")
    argv.append(driver)
    argv += [f"{k}={v}" for k, v in params.items()]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_ms / 1000 + 30)
    for marker in ("runtime error:", "Sanitizer", "LeakSanitizer"):
        assert marker not in p.stderr, f"{driver}: {p.stderr}"
    assert p.returncode == 0, f"action_run {driver} exited {p.returncode}: {p.stderr}"
    r = json.loads(p.stdout)
    if not validate:
        assert r["callbacks"] == 1, r
        assert not r["sync"], r
    return r

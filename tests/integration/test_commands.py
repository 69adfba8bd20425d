# SPDX-License-Identifier: MIT
"""Signed operator commands end to end: batonctl keygen/sign/send against a real
3-region + witness cluster on 127.0.0.1, and the same envelopes sent as raw HTTP.

Keys are made by `batonctl keygen` in the test: alice and bob may do everything,
carol only `freeze`, mallory is not in the config. Python's standard library
has no Ed25519, so raw-HTTP cases let batonctl sign (`--dry-run --out FILE`
writes the envelope instead of sending it) and then send, change or resend those
bytes with urllib. Every refusal is checked twice where both paths make sense:
the CLI's exit code (5) and sentence, and the HTTP status and JSON error code.

Exit codes: 0 accepted, 4 pending approval, 5 refused, 1 unreachable, 2 usage,
6 key problem. "Issued in the future" runs batonctl under faketime (skipped if
faketime is not installed). Waits poll with deadlines; nothing sleeps blindly.
"""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402
import pbmini  # noqa: E402

BATONCTL = os.path.join(build_dir(), "cli", "batonctl")
REGIONS = ("eu-west", "us-east", "ap-south")


def batonctl(*args, env=None, wrapper=None):
    """Run batonctl; -> (exit code, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if k not in ("BATON_ENDPOINTS", "BATON_KEY")}
    e.update(env or {})
    p = subprocess.run((wrapper or []) + [BATONCTL] + list(args), capture_output=True, text=True, env=e,
                       timeout=60)
    for marker in ("runtime error:", "Sanitizer"):
        assert marker not in p.stderr, "batonctl %s: %s" % (" ".join(args), p.stderr)
    return p.returncode, p.stdout, p.stderr


def keygen(workdir, name, operations="all"):
    """-> (key path, key id, the YAML entry line keygen printed)."""
    path = os.path.join(workdir, name + ".key")
    rc, out, err = batonctl("keygen", "--name", name, "--out", path, "--operations", operations)
    assert rc == 0, err
    key_id = re.search(r"^key id: ([0-9a-f]{16})$", out, re.M).group(1)
    entry = next(l.strip() for l in out.splitlines() if l.strip().startswith("- {name: %s," % name))
    return path, key_id, entry


# ---------------------------------------------------------------- protobuf, just enough

def pb_fields(buf):
    """Top-level fields of a protobuf message: [(number, wire type, value)], value bytes or int."""
    out, i = [], 0
    while i < len(buf):
        key, i = _uvarint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _uvarint(buf, i)
        elif wire == 2:
            n, i = _uvarint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise ValueError("wire type %d" % wire)
        out.append((num, wire, v))
    return out


def _uvarint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def envelope_parts(env):
    """SignedEnvelope -> (body, signature, key_id)."""
    f = {num: v for num, _w, v in pb_fields(env)}
    return f[1], f[2], f[3].decode()


def envelope(body, signature, key_id):
    return pbmini.field_bytes(1, body) + pbmini.field_bytes(2, signature) + pbmini.field_bytes(3, key_id)


def flip(b, i):
    b = bytearray(b)
    b[i] ^= 0x01
    return bytes(b)


# ---------------------------------------------------------------- raw HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # hand 3xx back to the caller


def post(url, data, follow=True):
    """POST a signed envelope. -> (status, JSON or None, [(status, url), ...] of each hop).
    A 307 is followed by hand (urllib will not re-POST on 307), keeping the body."""
    hops = []
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(4):
        req = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
        try:
            with opener.open(req, timeout=15) as r:
                status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        hops.append((status, url))
        if status == 307 and follow:
            url = headers["Location"]
            continue
        try:
            return status, json.loads(body), hops
        except ValueError:
            return status, None, hops
    raise AssertionError("more than 3 redirects: %s" % hops)


class CommandsBase(unittest.TestCase):
    """One cluster per class, with operator keys from batonctl keygen."""

    @classmethod
    def start_cluster(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baton-cmd-")
        cls.keys = {}
        entries = []
        for name, ops in (("alice", "all"), ("bob", "all"), ("carol", "freeze"), ("mallory", "all")):
            path, key_id, entry = keygen(cls.tmp, name, ops)
            cls.keys[name] = (path, key_id)
            if name != "mallory":
                entries.append(entry)
        cls.c = Cluster(os.path.join(cls.tmp, "cluster"),
                        extra_cluster="  operators:\n" + "".join("    %s\n" % e for e in entries))
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.addClassCleanup(cls.c.destroy)
        cls.c.start()
        cls.c.wait_leader(timeout=20)

        def activated():
            l = cls.c.leader()
            g = cls.c.group(l.status()) if l else None
            return g is not None and g["active_region"] == "eu-west" and g["epoch"] == 1
        wait_for(activated, 30, "the initial activation of eu-west at epoch 1")
        cls.c.wait_agreement(timeout=20)
        cls.endpoints = ",".join("127.0.0.1:%d" % n.api_port for n in cls.c.nodes)

    def tearDown(self):
        # A node that crashed (or an ASan/UBSan report) fails the test that caused it.
        self.assertEqual(self.c.sanitizer_reports(), [])
        dead = [n.name for n in self.c.nodes if n.proc is not None and n.proc.poll() not in (None, -9)]
        self.assertEqual(dead, [], "nodes exited on their own")

    def ctl(self, *args, key=None, env=None, wrapper=None, cluster=None):
        """batonctl --cluster <all nodes> <args> [--key <key of @key>]."""
        a = ["--cluster", cluster or self.endpoints] + list(args)
        if key is not None:
            a += ["--key", self.keys[key][0]]
        return batonctl(*a, env=env, wrapper=wrapper)

    def sign(self, *args, key="alice", wrapper=None, env=None):
        """Sign without sending: -> (envelope bytes, the --dry-run --json description)."""
        out_path = os.path.join(self.tmp, "env-%d-%d" % (os.getpid(), time.monotonic_ns()))
        rc, out, err = self.ctl(*args, "--dry-run", "--json", "--out", out_path, key=key, wrapper=wrapper, env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(stat.S_IMODE(os.stat(out_path).st_mode), 0o600)
        with open(out_path, "rb") as f:
            data = f.read()
        os.unlink(out_path)
        desc = json.loads(out)
        self.assertEqual(desc["envelope_bytes"], len(data))
        return data, desc

    def leader(self):
        return self.c.wait_leader(timeout=15)

    def group(self, node=None):
        st = (node or self.leader()).status()
        return self.c.group(st)

    def settle(self):
        """No transition running, and every live node agrees on term, leader, epoch, active region."""
        def idle():
            g = self.group()
            return g is not None and (g["transition"] is None or g["transition"]["state"] != "running")
        wait_for(idle, 20, "no transition running")
        self.c.wait_agreement(timeout=20)
        return self.group()

    def history(self):
        code, body = self.leader().get("/v1/history?limit=10000")
        self.assertEqual(code, 200)
        return body["events"]

    def refused_both_ways(self, args, key, code, http, message):
        """The CLI exits 5 naming @code and @message; the same command as raw HTTP gets
        @http and {"error": @code}. Returns the raw reply's JSON."""
        rc, out, err = self.ctl(*args, key=key)
        self.assertEqual(rc, 5, "%s: %s%s" % (args, out, err))
        self.assertIn("refused by the cluster (%s)" % code, err)
        self.assertIn(message, err)
        data, _ = self.sign(*args, key=key)
        status, body, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, body["error"]), (http, code), body)
        self.assertIn(message, body["message"])
        return body


class SignedCommandsTest(CommandsBase):
    @classmethod
    def setUpClass(cls):
        cls.start_cluster()

    def setUp(self):
        self.settle()

    # ------------------------------------------------------------ accepted

    def test_freeze_then_unfreeze_shows_who_and_why_in_status(self):
        rc, out, err = self.ctl("freeze", "--reason", "db maintenance window", key="carol")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^accepted: freeze of group default; command [0-9a-f]{16}")
        g = self.settle()
        self.assertTrue(g["frozen"])
        self.assertIn("carol (%s)" % self.keys["carol"][1], g["frozen_by"])
        self.assertEqual(g["frozen_reason"], "db maintenance window")
        rc, out, err = self.ctl("status")
        self.assertRegex(out, r"frozen:\s+YES, by carol \(%s\): db maintenance window" % self.keys["carol"][1])

        rc, out, err = self.ctl("unfreeze", key="alice")
        self.assertEqual(rc, 0, err)
        self.assertFalse(self.settle()["frozen"])
        rc, out, err = self.ctl("status")
        self.assertRegex(out, r"frozen:\s+no")

    def test_a_switchover_moves_the_baton_and_bumps_the_epoch(self):
        before = self.settle()
        target = next(r for r in REGIONS if r != before["active_region"])
        rc, out, err = self.ctl("switchover", "--to", target, "--reason", "planned move", key="alice")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^accepted: switchover of group default to %s; command ([0-9a-f]{16}); "
                              r"group now at epoch %d\n" % (target, before["epoch"] + 1))
        cmd_id = re.search(r"command ([0-9a-f]{16})", out).group(1)
        wait_for(lambda: (self.group()["transition"] or {}).get("state") == "done", 20, "the switchover done")
        g = self.settle()
        self.assertEqual((g["active_region"], g["epoch"]), (target, before["epoch"] + 1))
        self.assertEqual(g["previous_region"], before["active_region"])
        t = g["transition"]
        self.assertEqual((t["kind"], t["from"], t["to"], t["drill"]), ("switchover", before["active_region"], target, False))
        self.assertEqual(t["id"], "op-" + cmd_id)
        self.assertEqual(t["reason"], "switchover by alice (%s): planned move" % self.keys["alice"][1])

    def test_a_drill_leaves_epoch_and_active_region_and_records_a_drill(self):
        before = self.settle()
        target = next(r for r in REGIONS if r != before["active_region"])
        rc, out, err = self.ctl("drill", "--to", target, key="bob")
        self.assertEqual(rc, 0, err)
        self.assertIn("accepted: drill of group default to %s" % target, out)
        wait_for(lambda: (self.group()["transition"] or {}).get("state") == "done", 20, "the drill done")
        g = self.settle()
        self.assertEqual((g["active_region"], g["epoch"]), (before["active_region"], before["epoch"]))
        t = g["transition"]
        self.assertEqual((t["kind"], t["to"], t["drill"]), ("drill", target, True))
        self.assertTrue(any(e["kind"] == "transition" and e["text"].startswith("drill ") and target in e["text"]
                            for e in self.history()))

    def test_a_follower_redirects_the_cli_to_the_leader(self):
        follower = next(n for n in self.c.live() if n is not self.leader())
        rc, out, err = self.ctl("freeze", "--reason", "via a follower", "--json", key="alice",
                                cluster="127.0.0.1:%d" % follower.api_port)
        self.assertEqual(rc, 0, err)
        reply = json.loads(out)
        self.assertEqual(reply["answered_by"], self.leader().api + "/v1/commands")
        self.assertEqual(reply["outcome"], "ok")
        rc, out, err = self.ctl("unfreeze", key="alice")
        self.assertEqual(rc, 0, err)

    def test_raw_post_to_a_follower_is_307_to_the_leader_with_the_body_kept(self):
        data, desc = self.sign("freeze", "--reason", "raw via follower", key="alice")
        leader = self.leader()
        follower = next(n for n in self.c.live() if n is not leader)
        status, body, hops = post(follower.api + "/v1/commands", data)
        self.assertEqual(hops, [(307, follower.api + "/v1/commands"), (200, leader.api + "/v1/commands")])
        self.assertEqual((body["outcome"], body["id"]), ("ok", desc["id"]))
        self.assertEqual(self.ctl("unfreeze", key="alice")[0], 0)

    def test_two_person_failover(self):
        before = self.settle()
        target = next(r for r in REGIONS if r != before["active_region"])
        rc, out, err = self.ctl("failover", "--to", target, "--force", "--reason", "two-person test", key="alice")
        self.assertEqual(rc, 4, out + err)
        m = re.search(r"needs a second operator: batonctl approve ([0-9a-f]{16})", out)
        self.assertIsNotNone(m, out)
        pending = m.group(1)
        self.assertIn("pending approval:", out)
        self.assertEqual(self.settle()["epoch"], before["epoch"], "nothing moves before the approval")

        rc, out, err = self.ctl("approve", pending, key="alice")
        self.assertEqual(rc, 5, out + err)
        self.assertIn("refused by the cluster (denied): the key that proposed %s cannot approve it" % pending, err)

        rc, out, err = self.ctl("approve", pending, key="bob")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted: approval of command %s" % pending, out)
        wait_for(lambda: (self.group()["transition"] or {}).get("state") == "done", 20, "the failover done")
        g = self.settle()
        self.assertEqual((g["active_region"], g["epoch"]), (target, before["epoch"] + 1))
        self.assertEqual(g["transition"]["kind"], "failover")
        self.assertEqual(g["transition"]["reason"], "failover by alice+bob: two-person test")
        ev = [e for e in self.history() if e["kind"] == "command" and pending in e["text"]]
        self.assertTrue(any(e["outcome"] == "pending" and e["by"].startswith("alice (") for e in ev), ev)
        self.assertTrue(any(e["outcome"] == "ok" and e["by"] == "alice+bob" and "approved by bob" in e["text"]
                            for e in ev), ev)
        # the same approval again: its nonce is new, but the pending command is gone
        rc, out, err = self.ctl("approve", pending, key="bob")
        self.assertEqual(rc, 5, out + err)
        self.assertIn("no pending command %s" % pending, err)

    def test_failback_without_to_returns_to_the_region_active_before(self):
        before = self.settle()
        target = next(r for r in REGIONS if r != before["active_region"])
        self.assertEqual(self.ctl("switchover", "--to", target, key="alice")[0], 0)
        wait_for(lambda: self.group()["active_region"] == target, 20, "the switchover")
        self.settle()
        rc, out, err = self.ctl("failback", key="bob")
        self.assertEqual(rc, 0, err)
        self.assertIn("accepted: failback of group default to %s;" % before["active_region"], out)
        wait_for(lambda: (self.group()["transition"] or {}).get("kind") == "failback", 20, "the failback")
        g = self.settle()
        self.assertEqual((g["active_region"], g["previous_region"], g["epoch"]),
                         (before["active_region"], target, before["epoch"] + 2))

    def test_step_commands_need_a_transition_with_that_step(self):
        self.settle()
        rc, out, err = self.ctl("retry-step", "--step", "promote", key="alice")
        self.assertEqual(rc, 5, out + err)
        self.assertRegex(err, r"refused by the cluster \((invalid|unknown)\): ")
        # skip-step is dangerous: it waits for a second operator, whose approval then fails the same way
        rc, out, err = self.ctl("skip-step", "--step", "promote", "--reason", "manual promote done", key="alice")
        self.assertEqual(rc, 4, out + err)
        pending = re.search(r"batonctl approve ([0-9a-f]{16})", out).group(1)
        rc, out, err = self.ctl("approve", pending, key="bob")
        self.assertEqual(rc, 5, out + err)
        self.assertRegex(err, r"refused by the cluster \((invalid|unknown)\): ")

    def test_reverse_asks_a_region_that_lost_the_baton_to_rejoin(self):
        g = self.settle()
        rc, out, err = self.ctl("reverse", "--region", g["active_region"], key="alice")
        self.assertEqual(rc, 5, out + err)
        self.assertIn("refused by the cluster (invalid): reverse: %s holds the baton; only a region that lost it "
                      "can rejoin" % g["active_region"], err)
        other = next(r for r in REGIONS if r != g["active_region"])
        seq0 = self.history()[-1]["seq"]
        rc, out, err = self.ctl("reverse", "--region", other, key="alice")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("accepted: reverse of group default: %s rejoins as a replica;" % other, out)
        ev = wait_for(lambda: [e for e in self.history() if e["seq"] > seq0 and e["kind"] == "rejoin"], 10,
                      "the rejoin request in the history")
        self.assertIn("%s asked to rejoin as a replica of %s" % (other, g["active_region"]), ev[0]["text"])

    # ------------------------------------------------------------ refused

    def test_bad_signature_flipped_signature_byte(self):
        data, _ = self.sign("freeze", "--reason", "x", key="alice")
        body, sig, key_id = envelope_parts(data)
        status, reply, _ = post(self.leader().api + "/v1/commands", envelope(body, flip(sig, 10), key_id))
        self.assertEqual((status, reply["error"]), (403, "bad-signature"))
        self.assertIn("not signed by key %s (alice), or was changed" % self.keys["alice"][1], reply["message"])

    def test_tampered_field_flipped_body_byte(self):
        data, _ = self.sign("switchover", "--to", "ap-south", key="alice")
        body, sig, key_id = envelope_parts(data)
        i = body.index(b"ap-south")
        status, reply, _ = post(self.leader().api + "/v1/commands", envelope(flip(body, i), sig, key_id))
        self.assertEqual((status, reply["error"]), (403, "bad-signature"))
        self.assertFalse(self.group()["frozen"])

    def test_unknown_key(self):
        self.refused_both_ways(["freeze", "--reason", "x"], "mallory", "unknown-key", 403,
                               "key %s is not an authorized operator key of this cluster" % self.keys["mallory"][1])

    def test_key_not_authorized_for_the_operation(self):
        self.refused_both_ways(["failover", "--to", "ap-south"], "carol", "not-authorized", 403,
                               "key %s (carol) is not authorized for 'failover'" % self.keys["carol"][1])

    def test_expired(self):
        data, desc = self.sign("freeze", "--reason", "too late", "--ttl", "1", key="alice")
        self.assertEqual(desc["expires_at_ms"] - desc["issued_at_ms"], 1000)
        wait_for(lambda: time.time() * 1000 > desc["expires_at_ms"] + 50, 5, "the command to expire")
        status, reply, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, reply["error"]), (403, "expired"))
        self.assertRegex(reply["message"], r"^command expired \d+ s ago$")
        self.assertFalse(self.group()["frozen"])

    @unittest.skipUnless(shutil.which("faketime"), "faketime is not installed")
    def test_issued_in_the_future(self):
        fake = ["faketime", "-f", "+120s"]
        env = {"ASAN_OPTIONS": "verify_asan_link_order=0"}  # libfaketime is preloaded before the ASan runtime
        rc, out, err = self.ctl("freeze", "--reason", "x", key="alice", wrapper=fake, env=env)
        self.assertEqual(rc, 5, out + err)
        self.assertIn("refused by the cluster (issued-in-the-future): command is issued", err)
        self.assertIn("in the future (clock skew above 30000 ms): check the operator's clock", err)
        data, desc = self.sign("freeze", "--reason", "x", key="alice", wrapper=fake, env=env)
        self.assertGreater(desc["issued_at_ms"], time.time() * 1000 + 100000)
        status, reply, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, reply["error"]), (403, "issued-in-the-future"))

    def test_replayed_envelope(self):
        data, desc = self.sign("freeze", "--reason", "once", key="alice")
        status, reply, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, reply["outcome"]), (200, "ok"))
        status, reply, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, reply["error"]), (409, "replayed"))
        self.assertIn("already used", reply["message"])
        self.assertEqual(self.ctl("unfreeze", key="alice")[0], 0)

    def test_a_refused_command_can_never_take_effect_later(self):
        # Refused before the log (target not ready): its nonce is burned all
        # the same, so the same envelope cannot succeed once the target is ready.
        data, desc = self.sign("switchover", "--to", "nowhere", key="alice")  # refused: no such region
        status, reply, _ = post(self.leader().api + "/v1/commands", data)
        self.assertEqual((status, reply["error"]), (422, "target-not-ready"))
        def replay_refused():
            st, rep, _ = post(self.leader().api + "/v1/commands", data)
            return st == 409 and rep["error"] == "replayed"
        wait_for(replay_refused, 10, "the refused envelope's nonce to be in the replay set")

    def test_wrong_cluster(self):
        self.refused_both_ways(["freeze", "--reason", "x", "--cluster-id", "staging"], "alice", "wrong-cluster", 403,
                               "command is for cluster 'staging', this is 'demo'")

    def test_stale_epoch(self):
        g = self.group()
        self.refused_both_ways(["switchover", "--to", "ap-south", "--epoch", "99"], "alice", "stale-epoch", 409,
                               "the command expects epoch 99 but the group is at epoch %d (active %s)"
                               % (g["epoch"], g["active_region"]))

    def test_unknown_target_region(self):
        self.refused_both_ways(["switchover", "--to", "nowhere"], "alice", "target-not-ready", 422,
                               "target not ready (unknown-region): region 'nowhere' is not a region of this cluster")

    def test_target_that_is_already_active(self):
        active = self.group()["active_region"]
        rc, out, err = self.ctl("switchover", "--to", active, key="alice")
        self.assertEqual(rc, 5, out + err)
        self.assertRegex(err, r"refused by the cluster \([a-z-]+\): ")

    def test_malformed_body_is_400(self):
        status, reply, _ = post(self.leader().api + "/v1/commands", b"\xff\xff\xff not protobuf")
        self.assertEqual((status, reply["error"]), (400, "malformed"))

    # ------------------------------------------------------------ history

    def test_history_shows_every_command_with_key_outcome_and_epoch(self):
        # The leader commits at most 10 refusal audits a second: start in a fresh window.
        t0 = time.monotonic()
        wait_for(lambda: time.monotonic() - t0 > 1.1, 3, "a fresh audit window")
        g = self.settle()
        alice, carol = self.keys["alice"][1], self.keys["carol"][1]
        target = next(r for r in REGIONS if r != g["active_region"])
        seq0 = self.history()[-1]["seq"]
        rc, out, _ = self.ctl("switchover", "--to", target, key="alice")
        self.assertEqual(rc, 0)
        accepted = re.search(r"command ([0-9a-f]{16})", out).group(1)
        self.settle()
        self.assertEqual(self.ctl("unfreeze", key="carol")[0], 5)                       # not authorized
        self.assertEqual(self.ctl("freeze", "--reason", "r", "--epoch", "99", key="alice")[0], 5)  # stale

        def events():
            ev = [e for e in self.history() if e["seq"] > seq0]
            return ev if len([e for e in ev if e["outcome"] == "rejected"]) >= 2 else None
        ev = wait_for(events, 10, "the refusals in the history")
        ok = [e for e in ev if e["kind"] == "command" and e["outcome"] == "ok"]
        self.assertTrue(any(("alice (%s)" % alice) == e["by"] and e["text"].startswith("switchover") for e in ok), ev)
        tr = [e for e in ev if e["kind"] == "transition" and e["outcome"] == "ok"]
        self.assertTrue(any(e["epoch"] == g["epoch"] + 1 and e["cmd_id"] == "op-" + accepted for e in tr), ev)
        rej = [e for e in ev if e["kind"] == "command" and e["outcome"] == "rejected"]
        self.assertTrue(any(e["by"] == carol and "not authorized for 'unfreeze'" in e["text"] for e in rej), ev)
        self.assertTrue(any(e["by"] == alice and "expects epoch 99 but the group is at epoch %d" % (g["epoch"] + 1)
                            in e["text"] for e in rej), ev)
        rc, out, _ = self.ctl("history", "--since", str(seq0 + 1), cluster=self.leader().api)
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"command\s+rejected\s+epoch -\s+command refused: key %s \(carol\) is not "
                              r"authorized for 'unfreeze'.*\(by %s\)\n" % (carol, carol))
        self.assertRegex(out, r"command\s+ok\s+epoch \d+\s+switchover accepted\s+\(by alice \(%s\)\)\n" % alice)
        self.assertRegex(out, r"transition ok\s+epoch %d\s+switchover \S+ -> %s started at epoch %d"
                         % (g["epoch"] + 1, target, g["epoch"] + 1))

    # ------------------------------------------------------------ plan

    def test_plan_lists_steps_and_blocking_rules(self):
        g = self.settle()
        target = next(r for r in REGIONS if r != g["active_region"])
        rc, out, err = self.ctl("plan", "--to", target, "--kind", "switchover")
        self.assertEqual(rc, 0, err)
        self.assertIn("plan: switchover of group default from %s to %s (epoch %d), as %s (the leader) sees it"
                      % (g["active_region"], target, g["epoch"], self.leader().name), out)
        self.assertIn("blocked by: nothing; it could start now", out)
        rc, out, err = self.ctl("plan", "--to", "nowhere")
        self.assertEqual(rc, 0, err)
        self.assertIn("unknown-region: region 'nowhere' is not a region of this cluster", out)
        rc, out, err = self.ctl("plan", "--to", target, "--json")
        self.assertEqual(rc, 0, err)
        p = json.loads(out)
        self.assertEqual((p["to"], p["steps"], p["blocked_by"]), (target, [], []))


class ReplayAfterLeaderChangeTest(CommandsBase):
    """A used envelope stays used after the leader dies: the replay set is replicated."""

    @classmethod
    def setUpClass(cls):
        cls.start_cluster()

    def test_replay_to_another_node_after_a_leader_change_is_refused(self):
        data, desc = self.sign("freeze", "--reason", "before the crash", key="alice")
        old = self.leader()
        status, reply, _ = post(old.api + "/v1/commands", data)
        self.assertEqual((status, reply["outcome"]), (200, "ok"))
        self.c.wait_agreement(timeout=20)  # every node has applied it (and its nonce)

        old.kill()
        # The witness may win the election; it hands leadership to a region node at once.
        new = wait_for(lambda: (lambda l: l if l is not None and l is not old and not l.witness else None)(
            self.c.leader()), 30, "a new leader in a region")
        self.c.wait_agreement(timeout=20)
        follower = next(n for n in self.c.live() if n is not new)
        status, reply, hops = post(follower.api + "/v1/commands", data)
        self.assertEqual(hops[0], (307, follower.api + "/v1/commands"))
        self.assertEqual(hops[-1], (409, new.api + "/v1/commands"))
        self.assertEqual((status, reply["error"]), (409, "replayed"))

        # The CLI gets there too with the dead leader first in its list.
        rc, out, err = self.ctl("unfreeze", "--json", key="bob",
                                cluster="127.0.0.1:%d,127.0.0.1:%d" % (old.api_port, follower.api_port))
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["answered_by"], new.api + "/v1/commands")


class PlanRenderingTest(unittest.TestCase):
    """plan against a scripted node: a plan with steps and blocking rules, which the
    real test cluster (no plan configured) cannot show."""

    PLAN = {"group": "default", "from": "eu-west", "to": "us-east", "epoch": 7,
            "steps": [{"name": "fence-old", "driver": "exec", "after": [], "idempotent": True},
                      {"name": "promote", "driver": "postgres", "after": ["fence-old"], "idempotent": True},
                      {"name": "dns", "driver": "powerdns", "after": ["promote", "fence-old"], "idempotent": False}],
            "blocked_by": [{"rule": "frozen", "text": "the group is frozen"},
                           {"rule": "lagging", "text": "us-east is 9 s behind (max 5 s)"}]}

    @classmethod
    def setUpClass(cls):
        import http.server
        import threading
        test = cls

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                test.paths.append(self.path)
                port = self.server.server_address[1]
                if self.path == "/v1/status":
                    doc = {"cluster": "fake", "node": {"name": "eu-west"},
                           "raft": {"leader": {"id": 1, "name": "eu-west", "api": "127.0.0.1:%d" % port}},
                           "groups": [{"name": "default", "epoch": 7, "active_region": "eu-west"}]}
                elif self.path.startswith("/v1/plan?"):
                    doc = test.PLAN
                else:
                    self.send_error(404)
                    return
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        cls.paths = []
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.httpd.server_close)
        cls.addClassCleanup(cls.httpd.shutdown)
        cls.endpoint = "127.0.0.1:%d" % cls.httpd.server_address[1]

    def test_steps_in_order_with_drivers_dependencies_and_every_blocking_rule(self):
        rc, out, err = batonctl("--cluster", self.endpoint, "plan", "--to", "us-east", "--kind", "switchover",
                                "--group", "default")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.paths[-1], "/v1/plan?kind=switchover&to=us-east&group=default")
        self.assertEqual(out.splitlines(), [
            "plan: switchover of group default from eu-west to us-east (epoch 7), as eu-west (the leader) sees it",
            "steps, in the order they start:",
            "   1. fence-old            driver exec         after: -",
            "   2. promote              driver postgres     after: fence-old",
            "   3. dns                  driver powerdns     after: promote, fence-old  (not idempotent)",
            "blocked by:",
            "  frozen: the group is frozen",
            "  lagging: us-east is 9 s behind (max 5 s)",
        ])

    def test_names_are_escaped_in_the_query(self):
        rc, out, err = batonctl("--cluster", self.endpoint, "plan", "--to", "a b&c")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.paths[-1], "/v1/plan?kind=failover&to=a%20b%26c")


class KeyAndUsageTest(unittest.TestCase):
    """Key problems exit 6 and usage errors 2, before anything is sent."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baton-cmd-keys-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.key, cls.key_id, cls.entry = keygen(cls.tmp, "dave", "freeze, unfreeze")

    def test_keygen_writes_a_private_key_and_prints_the_entry(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.key).st_mode), 0o600)
        self.assertRegex(self.entry, r'^- \{name: dave, public_key: [0-9a-f]{64}, operations: "freeze,unfreeze"\}$')
        with open(self.key) as f:
            text = f.read()
        self.assertIn("key_id: %s\n" % self.key_id, text)
        self.assertRegex(text, r"\nsecret_key: [0-9a-f]{128}\n")

    def test_keygen_never_overwrites(self):
        with open(self.key, "rb") as f:
            before = f.read()
        rc, out, err = batonctl("keygen", "--name", "dave", "--out", self.key)
        self.assertEqual(rc, 6)
        self.assertIn("exists: batonctl never overwrites a key file", err)
        with open(self.key, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_keygen_refuses_bad_names_and_operations(self):
        for args, msg in ((["--name", "Dave"], "use 1..63 characters of [a-z0-9-]"),
                          (["--name", "x", "--operations", "freeze,reboot"], "unknown operation 'reboot'"),
                          ([], "--name NAME is required")):
            rc, out, err = batonctl("keygen", *args, "--out", os.path.join(self.tmp, "never.key"))
            self.assertEqual(rc, 2, args)
            self.assertIn(msg, err)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "never.key")))

    def test_a_key_readable_by_others_is_refused_with_the_fix(self):
        path = os.path.join(self.tmp, "loose.key")
        shutil.copyfile(self.key, path)
        os.chmod(path, 0o644)
        rc, out, err = batonctl("freeze", "--reason", "x", "--key", path, "--cluster", "127.0.0.1:1")
        self.assertEqual(rc, 6)
        self.assertIn("key file '%s' is accessible by group and others (mode 0644)" % path, err)
        self.assertIn("Fix it with: chmod 600 %s" % path, err)
        os.chmod(path, 0o640)
        rc, out, err = batonctl("freeze", "--reason", "x", "--cluster", "127.0.0.1:1", env={"BATON_KEY": path})
        self.assertEqual(rc, 6)
        self.assertIn("accessible by its group (mode 0640)", err)

    def test_missing_or_unreadable_keys_exit_6(self):
        rc, out, err = batonctl("unfreeze", "--cluster", "127.0.0.1:1")
        self.assertEqual(rc, 6)
        self.assertIn("no operator key: pass --key FILE or set BATON_KEY=FILE", err)
        missing = os.path.join(self.tmp, "missing.key")
        rc, out, err = batonctl("unfreeze", "--key", missing, "--cluster", "127.0.0.1:1")
        self.assertEqual(rc, 6)
        self.assertIn("cannot read key file '%s': No such file or directory" % missing, err)
        junk = os.path.join(self.tmp, "junk.key")
        with open(junk, "w") as f:
            f.write("hello\n")
        os.chmod(junk, 0o600)
        rc, out, err = batonctl("unfreeze", "--key", junk, "--cluster", "127.0.0.1:1")
        self.assertEqual(rc, 6)
        self.assertIn("key file '%s' line 1: expected 'field: value'" % junk, err)

    def test_the_key_comes_from_baton_key_and_dry_run_needs_no_cluster(self):
        rc, out, err = batonctl("freeze", "--reason", "x", "--cluster-id", "demo", "--epoch", "3", "--dry-run",
                                "--json", "--cluster", "127.0.0.1:1", env={"BATON_KEY": self.key})
        self.assertEqual(rc, 0, err)
        d = json.loads(out)
        self.assertEqual((d["op"], d["key_id"], d["key_name"], d["cluster_id"], d["expect_epoch"]),
                         ("freeze", self.key_id, "dave", "demo", 3))
        self.assertEqual(d["expires_at_ms"] - d["issued_at_ms"], 300000)

    def test_unreachable_cluster_exits_1_and_signs_nothing(self):
        rc, out, err = batonctl("unfreeze", "--key", self.key, "--cluster", "127.0.0.1:1")
        self.assertEqual(rc, 1)
        self.assertIn("nothing signed: no endpoint answered /v1/status", err)
        self.assertIn("127.0.0.1:1: connection refused", err)

    def test_usage_errors_exit_2(self):
        cases = [
            (["freeze"], "freeze needs a reason: --reason TEXT"),
            (["switchover"], "switchover needs a target region: --to REGION"),
            (["unfreeze", "--to", "x"], "--to does not apply to unfreeze"),
            (["switchover", "--to", "x", "--force"], "--force does not apply to switchover"),
            (["retry-step"], "retry-step needs a step: --step STEP"),
            (["approve"], "which command? Give its ID"),
            (["approve", "XYZ"], "'XYZ' is not a command id"),
            (["unfreeze", "--ttl", "0"], "--ttl wants whole seconds from 1 to 86400, not '0'"),
            (["unfreeze", "--epoch", "-1"], "--epoch wants a whole number, not '-1'"),
            (["unfreeze", "--out", "f"], "--out needs --dry-run"),
            (["plan"], "which region? --to REGION"),
            (["plan", "--to", "x", "--kind", "reboot"], "--kind 'reboot'"),
        ]
        for args, msg in cases:
            rc, out, err = batonctl(*args, "--cluster", "127.0.0.1:1")
            self.assertEqual(rc, 2, "%s: %s" % (args, err))
            self.assertIn(msg, err, args)

    def test_help_documents_every_signed_command_and_the_exit_codes(self):
        rc, out, _ = batonctl("--help")
        self.assertEqual(rc, 0)
        for s in ("keygen", "plan", "switchover", "failover", "failback", "freeze", "unfreeze", "drill",
                  "retry-step", "skip-step", "approve", "reverse", "  4  a signed command waits", "  5  the cluster refused",
                  "  6  key problem"):
            self.assertIn(s, out)
        for cmd in ("keygen", "plan", "switchover", "failover", "approve", "skip-step"):
            rc, out, _ = batonctl(cmd, "--help")
            self.assertEqual(rc, 0)
            self.assertIn("Usage: batonctl %s" % cmd, out)

    @unittest.skipUnless(shutil.which("bash"), "bash is not installed")
    def test_bash_completion_knows_every_command_and_option_in_the_help(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "completion",
                              "batonctl.bash")

        def complete(*words):
            words = ["batonctl"] + list(words)
            prog = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _batonctl; '
                    'printf "%s\\n" "${COMPREPLY[@]}"')
            p = subprocess.run(["bash", "-c", prog, "bash", script] + words, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            return set(p.stdout.split())

        rc, out, _ = batonctl("--help")
        commands = set(re.findall(r"^  ([a-z][a-z-]+) ", out.split("Commands:")[1].split("Options:")[0], re.M))
        self.assertIn("approve", commands)
        self.assertLessEqual(commands, complete(""))
        for cmd in sorted(commands):
            rc, out, _ = batonctl(cmd, "--help")
            self.assertEqual(rc, 0, cmd)
            opts = set(re.findall(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)", out, re.M))
            self.assertTrue(opts, cmd)
            self.assertEqual(opts - complete(cmd, "--"), set(), "options of '%s' missing from the completion" % cmd)


if __name__ == "__main__":
    unittest.main(verbosity=2)

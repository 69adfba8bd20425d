# SPDX-License-Identifier: MIT
"""Forced reconfiguration after the permanent loss of a majority, end to end.

A real 3-region + witness cluster on 127.0.0.1 loses us-east and ap-south for
good (kill -9): two of four voters are gone, nothing can commit, no leader. Two
operators sign `batonctl recover --voters eu-west,witness --out FILE`; with the
survivors stopped, `batond --recover FILE1 FILE2` (and `baton-witness
--recover ...`) forces their raft configuration to the two of them. Started
again they elect a leader, the leader records the recovery, every group's epoch
moves up by one, and the cluster commits again.

Before that, every way of asking wrongly is refused and changes nothing: one
file, one operator twice, an operator not allowed to recover, different voter
lists, a voter that is not a member, a node that is not among the voters, the
node still running. Afterwards the same two files are refused as used.

Waits poll with deadlines; nothing sleeps blindly.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402
from test_commands import batonctl, keygen  # noqa: E402


def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    for marker in ("runtime error:", "Sanitizer"):
        assert marker not in p.stderr, "%s: %s" % (" ".join(argv), p.stderr)
    return p.returncode, p.stdout, p.stderr


class RecoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="baton-recover-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.keys, entries = {}, []
        for name, ops in (("alice", "all"), ("bob", "all"), ("carol", "freeze")):
            path, _key_id, entry = keygen(cls.tmp, name, ops)
            cls.keys[name] = path
            entries.append(entry)
        cls.c = Cluster(os.path.join(cls.tmp, "cluster"),
                        extra_cluster="  operators:\n" + "".join("    %s\n" % e for e in entries))
        cls.addClassCleanup(cls.c.destroy)
        cls.c.start()
        cls.c.wait_leader(timeout=20)
        wait_for(lambda: cls.c.active_region() == "eu-west", 30, "the initial activation of eu-west")
        cls.c.wait_agreement(timeout=20)
        cls.eu, cls.witness = cls.c.node("eu-west"), cls.c.node("witness")
        cls.endpoints = "127.0.0.1:%d" % cls.eu.api_port
        # The majority is lost for good.
        for name in ("us-east", "ap-south"):
            cls.c.node(name).kill()
        wait_for(lambda: (lambda s: s is not None and s["raft"].get("leader") is None)(cls.eu.status()), 20,
                 "eu-west to see that there is no leader")
        cls.files = {}

    def sign(self, tag, key, voters, offline=False):
        """batonctl recover, signed by @key, written to a file -> its path. @offline: nothing
        is asked (the cluster id is given), as when no member answers any more."""
        out = os.path.join(self.tmp, "recover-%s" % tag)
        where = ["recover", "--cluster-id", "demo"] if offline else ["--cluster", self.endpoints, "recover"]
        rc, stdout, err = batonctl(*where, "--voters", voters, "--out", out, "--key", self.keys[key])
        self.assertEqual(rc, 0, err)
        self.assertIn("batond --config FILE --recover %s OTHER_FILE" % out, stdout)
        return out

    def recover(self, node, *files):
        return run([node.binary, "--config", node.conf_path, "--recover"] + list(files))

    def marker(self, node):
        return os.path.join(node.data_dir, "recover.pending")

    def test_1_batonctl_recover_is_only_written_to_a_file_and_names_its_voters(self):
        rc, _out, err = batonctl("--cluster", self.endpoints, "recover", "--voters", "eu-west",
                                 "--key", self.keys["alice"])
        self.assertEqual(rc, 2)
        self.assertIn("is never sent to the cluster: write it with --out FILE", err)
        rc, _out, err = batonctl("--cluster", self.endpoints, "recover", "--out", os.path.join(self.tmp, "x"),
                                 "--key", self.keys["alice"])
        self.assertEqual(rc, 2)
        self.assertIn("needs the members that stay: --voters", err)
        rc, _out, err = batonctl("--cluster", self.endpoints, "recover", "--voters", "eu-west,eu-west",
                                 "--out", os.path.join(self.tmp, "x"), "--key", self.keys["alice"])
        self.assertEqual(rc, 2)
        self.assertIn("each once", err)

    def test_2_wrong_requests_are_refused_and_change_nothing(self):
        good_a = self.sign("alice", "alice", "witness,eu-west")   # order does not matter: both sign it sorted
        good_b = self.sign("bob", "bob", "eu-west,witness")
        alice_again = self.sign("alice2", "alice", "eu-west,witness")
        carol = self.sign("carol", "carol", "eu-west,witness")
        bob_other = self.sign("bob-other", "bob", "eu-west")
        bob_stranger = self.sign("bob-stranger", "bob", "eu-west,nobody")
        bob_us = self.sign("bob-us", "bob", "us-east,witness")
        self.__class__.files = {"alice": good_a, "bob": good_b}

        # Still running: the data dir lock says so.
        rc, _out, err = self.recover(self.eu, good_a, good_b)
        self.assertNotEqual(rc, 0)
        self.assertIn("is in use by another process", err)

        self.assertEqual(self.eu.stop(), 0)
        self.assertEqual(self.witness.stop(), 0)
        cases = [
            ((good_a,), "needs the two signed recover commands"),
            ((good_a, alice_again), "both recover commands are signed by key"),
            ((good_a, carol), "is not authorized for 'recover'"),
            ((good_a, bob_other), "name different voters ('eu-west,witness' and 'eu-west')"),
            ((alice_again, bob_stranger), "different voters"),
            ((os.path.join(self.tmp, "missing"), good_b), "No such file or directory"),
        ]
        for files, expected in cases:
            with self.subTest(files=[os.path.basename(f) for f in files]):
                rc, _out, err = self.recover(self.eu, *files)
                self.assertNotEqual(rc, 0)
                self.assertIn("recover: nothing changed:", err)
                self.assertIn(expected, err)
        # Both signed "us-east,witness": eu-west is not among them.
        bob_us2 = self.sign("alice-us", "alice", "us-east,witness", offline=True)
        rc, _out, err = self.recover(self.eu, bob_us2, bob_us)
        self.assertNotEqual(rc, 0)
        self.assertIn("is not among the voters 'us-east,witness'", err)
        # A voter that is not a member, signed by both.
        alice_stranger = self.sign("alice-stranger", "alice", "eu-west,nobody", offline=True)
        rc, _out, err = self.recover(self.eu, alice_stranger, bob_stranger)
        self.assertNotEqual(rc, 0)
        self.assertIn("voter 'nobody' is not a member of cluster 'demo'", err)
        for n in (self.eu, self.witness):
            self.assertFalse(os.path.exists(self.marker(n)))

    def test_3_the_survivors_recover_elect_a_leader_and_commit_again(self):
        files = self.files
        self.assertTrue(files, "test_2 signs the recover commands")
        for n in (self.eu, self.witness):
            rc, out, err = self.recover(n, files["alice"], files["bob"])
            self.assertEqual(rc, 0, err)
            self.assertIn("now belongs to a raft configuration of 2 voter(s): eu-west,witness", out)
            self.assertIn("signed by alice+bob", out)
            self.assertTrue(os.path.exists(self.marker(n)))
        self.eu.start()
        self.witness.start()
        # The witness never keeps leadership: it hands it to the region member.
        wait_for(lambda: self.c.leader() is self.eu, 30, "eu-west to lead the two survivors")

        def recorded():
            st = self.eu.status()
            g = self.c.group(st) if st else None
            return st if g is not None and g["epoch"] == 2 else None
        st = wait_for(recorded, 20, "the recovery to be recorded (epoch 1 -> 2)")
        self.assertEqual(st["fault_tolerance"]["voters"], 2, st["fault_tolerance"])
        self.assertEqual(self.c.group(st)["active_region"], "eu-west")
        wait_for(lambda: not os.path.exists(self.marker(self.eu)) and not os.path.exists(self.marker(self.witness)),
                 20, "both members to drop their recovery marker")

        rc, out, err = batonctl("--cluster", self.endpoints, "history", "--json")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"forced reconfiguration [0-9a-f]{16} \(member (eu-west|witness)\): "
                              r"voters now eu-west,witness; group default at epoch 2")
        self.assertIn("alice+bob", out)

        # The cluster commits again: a signed command, and eu-west holds its lease at epoch 2.
        rc, out, err = batonctl("--cluster", self.endpoints, "freeze", "--reason", "after recovery",
                                "--key", self.keys["carol"])
        self.assertEqual(rc, 0, err)
        wait_for(lambda: self.eu.get("/v1/active")[0] == 200, 20, "eu-west to hold its lease again")

    def test_4_the_same_recover_commands_cannot_be_used_again(self):
        files = self.files
        self.assertEqual(self.eu.stop(), 0)
        try:
            rc, _out, err = self.recover(self.eu, files["alice"], files["bob"])
            self.assertNotEqual(rc, 0)
            self.assertIn("these recover commands were used before", err)
            self.assertFalse(os.path.exists(self.marker(self.eu)))
        finally:
            self.eu.start()
        self.c.wait_leader(timeout=30)

    def tearDown(self):
        self.assertEqual(self.c.sanitizer_reports(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

# SPDX-License-Identifier: MIT
"""The live status page (GET /) in headless Chromium against a running
cluster: it shows the active region and, after a failover, the new one with
the transition's steps. A screenshot is kept in the build dir."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from baton_cluster import FAST_DETECTION, Cluster, build_dir, free_port_block, wait_for  # noqa: E402
from services import Service  # noqa: E402

CHROMIUM = shutil.which("chromium")


@unittest.skipUnless(CHROMIUM, "chromium is not installed (scripts/setup.sh installs it)")
class StatusPageTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="baton-web-")
        base = free_port_block(4)
        regions = ("eu-west", "us-east", "ap-south")
        self.services = {r: Service(base + i) for i, r in enumerate(regions)}
        self.c = Cluster(os.path.join(self.tmp, "c"), extra_cluster=FAST_DETECTION, keys=True,
                         region_probes={r: ["{type: http, url: \"%s\"}" % self.services[r].url()] for r in regions})
        self.c.start()
        self.c.wait_leader(timeout=20)
        wait_for(lambda: self.c.node("eu-west").get("/v1/active")[0] == 200, 15, "eu-west to hold its lease")

    def tearDown(self):
        self.c.cleanup()
        for s in self.services.values():
            s.close()
        self.c.destroy()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def chromium(self, url, *extra):
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.tmp)
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--user-data-dir=" + profile, "--virtual-time-budget=4000"] + list(extra) + [url]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def dom(self, node):
        return self.chromium(node.api + "/", "--dump-dom").stdout

    def test_the_page_shows_the_active_region_and_follows_a_failover(self):
        node = self.c.node("us-east")
        wait_for(lambda: (node.status() or {}).get("fault_tolerance", {}).get("losses_survivable") == 1, 20,
                 "us-east to see the leader's committed view of every member")
        html = self.dom(node)
        self.assertIn('id="active-default">eu-west</b>', html)
        self.assertIn("survives 1 more loss", html)
        self.services["eu-west"].fail = True
        wait_for(lambda: (lambda g: g and g["active_region"] == "us-east" and g["transition"]["state"] == "done")(
            self.c.group(self.c.leader().status())), 30, "the failover")
        html = self.dom(node)
        self.assertIn('id="active-default">us-east</b>', html)
        self.assertIn("transition failover", html)
        self.assertIn("eu-west → us-east", html)
        shot = os.path.join(build_dir(), "status-page.png")
        p = self.chromium(node.api + "/", "--screenshot=" + shot, "--window-size=1200,900")
        self.assertTrue(os.path.exists(shot) and os.path.getsize(shot) > 1000, p.stderr[-500:])
        print("\nscreenshot: %s" % shot, file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)

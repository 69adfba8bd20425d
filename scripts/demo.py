# SPDX-License-Identifier: MIT
"""The README demo (see scripts/demo.sh)."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from baton_cluster import Cluster, build_dir, wait_for  # noqa: E402

keep = "--keep" in sys.argv
work = os.path.join(ROOT, "demo", "work")


def say(msg):
    print("\n\033[1m== %s\033[0m" % msg, flush=True)


def batonctl(c, *args):
    exe = os.path.join(build_dir(), "cli", "batonctl")
    endpoints = ",".join(n.api for n in c.nodes)
    if os.path.exists(exe):
        subprocess.run([exe, "--cluster", endpoints] + list(args), check=False)
    else:
        st = c.leader().status()
        print(st)


def main():
    os.makedirs(work, exist_ok=True)
    c = Cluster(os.path.join(work, "cluster-%d" % os.getpid()))
    c.write_configs()
    say("Starting 3 region coordinators (eu-west, us-east, ap-south) and a witness on 127.0.0.1")
    for n in c.nodes:
        print("  %-9s %-13s raft 127.0.0.1:%d  api %s  data %s" % (
            n.name, "baton-witness" if n.witness else "batond", n.raft_port, n.api, n.data_dir))
    c.start()
    leader = c.wait_leader(timeout=20)
    wait_for(lambda: c.active_region(leader) == "eu-west", 10, "the initial activation")
    wait_for(lambda: leader.status()["fault_tolerance"]["losses_survivable"] == 1, 10, "every member heard")
    say("Cluster status")
    batonctl(c, "status")

    say("kill -9 the leader (%s)" % leader.name)
    t0 = time.monotonic()
    leader.kill()
    new = c.wait_leader(timeout=20, exclude=(leader,))
    print("  new leader %s ready after %.0f ms; the decision survives:" % (new.name, (time.monotonic() - t0) * 1000))
    c.wait_agreement(timeout=10)
    batonctl(c, "status")

    say("Restart %s: it rejoins and catches up" % leader.name)
    leader.start()
    c.wait_agreement(timeout=20)
    batonctl(c, "history")

    if keep:
        say("Cluster left running; stop it with: kill %s" % " ".join(str(n.proc.pid) for n in c.nodes))
        c.started = []
        return
    say("Stopping (SIGTERM: the leader hands over first)")
    for n in c.nodes:
        n.stop()
    c.destroy()


if __name__ == "__main__":
    main()

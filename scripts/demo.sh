#!/usr/bin/env bash
# baton's main job on one machine: three region coordinators and a witness on
# loopback, each with its own data dir and ports; shows the cluster's status,
# kills the leader, and shows the group re-elect and keep its decision.
#   scripts/demo.sh          set up, build, run the demo, stop everything
#   scripts/demo.sh --keep   leave the cluster running (work dir printed)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
if [ ! -f build/build.ninja ]; then meson setup build >/dev/null; fi
ninja -C build >/dev/null
exec python3 scripts/demo.py "$@"

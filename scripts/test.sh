#!/usr/bin/env bash
# Set everything up and run every test baton has, twice: a plain build and an
# ASan+UBSan build. Works on a fresh Debian 12 machine (needs root or sudo for
# the packages, the PostgreSQL test cluster and the network-namespace tests).
#   scripts/test.sh            all suites, both builds
#   scripts/test.sh --quick    plain build only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=false
[ "${1:-}" = "--quick" ] && quick=true

scripts/setup.sh

summary=()
total_ok=0
total_fail=0

run_build() { # name, meson options...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
	local rc=0
	# Sanitizers: abort on the first UBSan report so it cannot scroll by.
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		meson test -C "$dir" --print-errorlogs --num-processes 2 || rc=$?
	local log="$dir/meson-logs/testlog.json"
	local ok fail
	ok=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] in ("OK","EXPECTEDFAIL")))' "$log")
	fail=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$log")
	summary+=("$dir: $ok passed, $fail failed")
	total_ok=$((total_ok + ok))
	total_fail=$((total_fail + fail))
	return $rc
}

status=0
run_build build || status=1
if ! $quick; then
	run_build build-asan -Db_sanitize=address,undefined -Db_lundef=false || status=1
fi

echo
for s in "${summary[@]}"; do echo "$s"; done
echo "tests: $total_ok passed, $total_fail failed"
exit $status

#!/usr/bin/env bash
# Install every Debian package baton needs to build, test, demo and benchmark.
# Idempotent: packages already present are left alone; safe to run many times.
# Usage: scripts/setup.sh [--bench]   (--bench adds the peer systems for bench/)
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	exec sudo -E "$0" "$@"
fi

pkgs=(
	# build
	build-essential meson ninja-build pkg-config clang llvm
	# product libraries
	libraft-dev libuv1-dev liblz4-dev libprotobuf-c-dev protobuf-c-compiler
	liblmdb-dev libcurl4-openssl-dev libsodium-dev libpq-dev libyaml-dev
	libjansson-dev libhttp-parser-dev
	# tests
	libcmocka-dev python3 python3-yaml curl ca-certificates procps psmisc iproute2
	postgresql-15 postgresql-client-15
	pdns-server pdns-backend-sqlite3 sqlite3 bind9-dnsutils
	# fault harness (jepsen/)
	nftables iptables faketime libnetfilter-queue-dev libmnl-dev
	# docs, and the status-page test (headless)
	scdoc chromium
)
# kubectl, for the k8s_manifests test: Debian's own (1.20) unless one is installed
# already (another package's /usr/bin/kubectl would make the install fail).
command -v kubectl >/dev/null 2>&1 || pkgs+=(kubernetes-client)
if [ "${1:-}" = "--bench" ]; then
	pkgs+=(patroni python3-etcd etcd-server etcd-client redis-server redis-tools gnuplot-nox)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's postgresql package would start a cluster under an init system; there is
# none here, and tests run their own clusters, so nothing else to do.
echo "setup: all ${#pkgs[@]} packages present"

#!/usr/bin/env bash
# install-deps.sh - install the Debian packages that are missing, and only those.
#
# Usage: contrib/tools/install-deps.sh [--check] GROUP|PACKAGE...
#   build    compiler and -dev libraries: what `make` needs
#   runtime  what the agent and `make demo` run with: the shared libraries, HAProxy, curl, python3
#   test     what `make test` adds (clang/libFuzzer, clang-format, debootstrap, valgrind, the
#            Docker engine docker.io with docker-compose (v1) for contrib/docker, and
#            systemd-analyze for contrib/systemd, redis-server and redis-cli for the shared cache,
#            groff for the man page check, maven + Java 17 + unzip to fetch and run Keycloak)
#   --check  only report; exit 1 if something is missing
# Any other word is taken as a package name. Used by `make demo` (build runtime) and by `make test`
# (build test, through tests/tools/test-prereqs.sh). apt-get update is retried 3 times; package
# scripts may not start services (a temporary /usr/sbin/policy-rc.d says no), so installing
# haproxy or docker.io starts no daemon.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(build-essential pkg-config libev-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libhiredis-dev libmicrohttpd-dev libcjose-dev)
RUNTIME_PKGS=(libev4 libcurl4 libjansson4 libyaml-0-2 libssl3 libhiredis0.14 libmicrohttpd12 libcjose0 haproxy curl python3 ca-certificates)
TEST_PKGS=(haproxy libseccomp-dev clang libclang-rt-14-dev clang-format debootstrap valgrind curl python3 ca-certificates docker.io docker-compose systemd redis-server redis-tools groff-base maven openjdk-17-jre-headless unzip)

say() { printf '[install-deps] %s\n' "$*"; }
die() { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

check_only=0
want=()
for a in "$@"; do
	case $a in
	--check) check_only=1 ;;
	build) want+=("${BUILD_PKGS[@]}") ;;
	runtime) want+=("${RUNTIME_PKGS[@]}") ;;
	test) want+=("${TEST_PKGS[@]}") ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	-*) die "unknown option '$a' (see --help)" ;;
	*) want+=("$a") ;;
	esac
done
[ ${#want[@]} -gt 0 ] || die "name at least one group (build, runtime, test) or package"
command -v dpkg-query >/dev/null || die "this script is for Debian (12 or later): dpkg-query not found"

missing=()
seen=" "
for p in "${want[@]}"; do
	case $seen in *" $p "*) continue ;; esac
	seen+="$p "
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
total=$(wc -w <<<"$seen")
if [ ${#missing[@]} -eq 0 ]; then
	say "all $total packages are installed"
	exit 0
fi
say "missing: ${missing[*]}"
[ $check_only = 0 ] || exit 1
if [ "$(id -u)" != 0 ]; then
	die "installing needs root: run  sudo $0 $*"
fi

say "apt-get update"
ok=0
for try in 1 2 3; do
	if timeout 300 apt-get update; then
		ok=1
		break
	fi
	say "apt-get update failed (try $try of 3)"
	sleep 5
done
[ $ok = 1 ] || die "apt-get update failed 3 times"

say "apt-get install ${missing[*]}"
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
fi
rc=0
timeout 1200 apt-get install -y --no-install-recommends "${missing[@]}" </dev/null || rc=$?
[ $made_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
[ $rc = 0 ] || die "apt-get install failed (exit $rc)"
say "installed: ${missing[*]}"

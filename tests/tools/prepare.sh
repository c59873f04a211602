#!/usr/bin/env bash
# Builds and caches the heavy prerequisites of the e2e tests:
#   - HAProxy 3.0 (Debian trixie), 3.2 (Debian sid) and 3.4 (sid + experimental) chroots made
#     with debootstrap,
#   - Ory Hydra v2.3.0 built from the Go tool module in tests/hydra,
#   - node_modules for the oidc-provider test server (tests/oidc-provider),
#   - Keycloak (tests/keycloak/version), the keycloak-quarkus-dist zip from Maven Central (mvn).
# Everything lives under $OAUTH2_SPOA_CACHE (default /var/cache/oauth2-spoa).
# Idempotent: a part is rebuilt only when it is missing, broken or its inputs changed.
# Two runs may race: the whole script holds an exclusive flock on $CACHE/.lock.
#
# Usage: tests/tools/prepare.sh [--no-verify] [chroots|hydra|oidc-provider|keycloak]...
#   no part named = all parts. --no-verify skips the live Hydra / oidc-provider / Keycloak checks.
# Needs root (debootstrap, chroot), Go >= 1.24 with cgo, node + npm, curl, python3, mvn, java >= 17,
# unzip.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${OAUTH2_SPOA_CACHE:-/var/cache/oauth2-spoa}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
HYDRA_PKG=github.com/ory/hydra/v2
HYDRA_TAGS=sqlite,sqlite_omit_load_extension
export PATH="/usr/local/go/bin:$PATH"

say() { printf '[prepare %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[prepare] ERROR: %s\n' "$*" >&2; exit 1; }

VERIFY=1
PARTS=()
for a in "$@"; do
	case $a in
	--no-verify) VERIFY=0 ;;
	chroots | hydra | oidc-provider | keycloak) PARTS+=("$a") ;;
	-h | --help) sed -n '2,15p' "$0"; exit 0 ;;
	*) die "unknown argument '$a' (see --help)" ;;
	esac
done
[ ${#PARTS[@]} -gt 0 ] || PARTS=(chroots hydra oidc-provider keycloak)

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	say "another prepare.sh holds $CACHE/.lock; waiting (at most 60 min)"
	flock -w 3600 9 || die "timed out waiting for $CACHE/.lock"
fi

# Processes started by the verification steps; killed on exit.
PIDS=()
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/oauth2-spoa-prepare.XXXXXX")
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMPD"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: poll until URL answers 2xx.
wait_http() {
	local url=$1 deadline=$((SECONDS + $2))
	until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

sha() { cat "$@" | sha256sum | cut -c1-16; }

# ---------------------------------------------------------------- chroots
# refuse to delete a tree that has something mounted inside it
safe_rm_tree() {
	local d=$1
	[ -e "$d" ] || return 0
	if awk -v d="$(realpath "$d")" '$2 == d || index($2, d "/") == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		die "$d has mounts inside it (see /proc/mounts); unmount them first"
	fi
	rm -rf --one-file-system "$d"
}

# build_chroot VERSION SUITE: $CACHE/chroot/haproxy-VERSION with haproxy VERSION.x from SUITE.
# SUITE experimental is not a full suite: debootstrap sid, add experimental, take haproxy from it.
build_chroot() {
	local ver=$1 suite=$2 base=$2
	[ "$suite" != experimental ] || base=sid
	local dir="$CACHE/chroot/haproxy-$ver" stamp="$CACHE/chroot/haproxy-$ver.ok"
	local v=""
	if [ -f "$stamp" ] && [ -x "$dir/usr/sbin/haproxy" ]; then
		v=$(chroot "$dir" /usr/sbin/haproxy -v 2>&1 || true)
		case $v in
		"HAProxy version $ver."*)
			say "chroot haproxy-$ver: cached ($(head -n1 <<<"$v"))"
			return 0
			;;
		esac
		say "chroot haproxy-$ver: the cached chroot is broken ('$(head -n1 <<<"$v")'), rebuilding"
	fi
	say "chroot haproxy-$ver: building from Debian $suite (debootstrap $base, takes a few minutes)"
	safe_rm_tree "$dir"
	rm -f "$stamp"
	local tmp="$CACHE/chroot/.haproxy-$ver.tmp"
	safe_rm_tree "$tmp"
	mkdir -p "$CACHE/chroot"
	local log="$CACHE/chroot/haproxy-$ver.debootstrap.log"
	# the mirror's Release files are checked with bookworm's debian-archive-keyring, which has the
	# trixie (13) keys; sid is signed with the same archive keys.
	if ! debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$base" "$tmp" "$MIRROR" >"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "debootstrap $base failed (full log: $log)"
	fi
	say "chroot haproxy-$ver: base system done, installing haproxy"
	# sid's and experimental's Release files on the mirror can be past their Valid-Until; accept it.
	printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n' \
		>"$tmp/etc/apt/apt.conf.d/99oauth2-spoa"
	if [ "$suite" = trixie ]; then
		cat >"$tmp/etc/apt/sources.list" <<-EOF
			deb $MIRROR trixie main
			deb $MIRROR trixie-updates main
			deb $SECURITY_MIRROR trixie-security main
		EOF
	elif [ "$suite" = experimental ]; then
		# experimental's priority (1) never upgrades the base; the haproxy=VER.* pin picks it there
		printf 'deb %s sid main\ndeb %s experimental main\n' "$MIRROR" "$MIRROR" >"$tmp/etc/apt/sources.list"
	else
		echo "deb $MIRROR $suite main" >"$tmp/etc/apt/sources.list"
	fi
	cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
	# no daemons may start inside the chroot while packages are installed
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	if ! {
		chroot "$tmp" apt-get -o Acquire::Check-Valid-Until=false update &&
			DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y --no-install-recommends "haproxy=$ver.*" &&
			chroot "$tmp" apt-get clean
	} >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		echo "available in $suite:" >&2
		chroot "$tmp" apt-cache policy haproxy >&2 || true
		die "installing haproxy $ver.* into the $suite chroot failed (full log: $log)"
	fi
	v=$(chroot "$tmp" /usr/sbin/haproxy -v 2>&1) || die "chroot $tmp haproxy -v failed: $v"
	case $v in
	"HAProxy version $ver."*) ;;
	*) die "the $suite chroot has '$(head -n1 <<<"$v")', wanted $ver.x" ;;
	esac
	mv "$tmp" "$dir"
	printf '%s\n' "$v" >"$stamp"
	say "chroot haproxy-$ver: ready: $(head -n1 <<<"$v")"
}

prepare_chroots() {
	command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
	build_chroot 3.0 trixie
	build_chroot 3.2 sid
	build_chroot 3.4 experimental
}

# ---------------------------------------------------------------- hydra
prepare_hydra() {
	command -v go >/dev/null || die "go is not on PATH (expected Go >= 1.24 at /usr/local/go/bin)"
	export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/cache" GOFLAGS=-modcacherw CGO_ENABLED=1 GOTOOLCHAIN=local
	local bin="$CACHE/bin/hydra" stampf="$CACHE/bin/hydra.stamp" want
	local hv
	hv=$(cd "$ROOT/tests/hydra" && go list -m -f '{{.Version}}' "$HYDRA_PKG") || die "go list -m $HYDRA_PKG failed in tests/hydra"
	want="$(sha "$ROOT/tests/hydra/go.mod" "$ROOT/tests/hydra/go.sum") $(go env GOVERSION) tags=$HYDRA_TAGS version=$hv"
	if [ -x "$bin" ] && [ -f "$stampf" ] && [ "$(cat "$stampf")" = "$want" ]; then
		say "hydra: cached ($bin, $(go env GOVERSION))"
	else
		say "hydra: building $HYDRA_PKG@$hv from tests/hydra ($(go env GOVERSION), CGO_ENABLED=1, -tags $HYDRA_TAGS)"
		say "hydra: the first build downloads modules and compiles ~800 packages; takes several minutes on 2 cores"
		mkdir -p "$CACHE/bin"
		rm -f "$bin.tmp"
		local log="$CACHE/bin/hydra.build.log" t0=$SECONDS
		# go build -v names each package it compiles: show a count every 50
		if ! (cd "$ROOT/tests/hydra" &&
			go build -v -trimpath -tags "$HYDRA_TAGS" -ldflags "-X $HYDRA_PKG/driver/config.Version=$hv" -o "$bin.tmp" "$HYDRA_PKG") 2>&1 |
			tee "$log" | awk '
				/^go: downloading / { d++; if (d % 25 == 1) { printf "[prepare] hydra: downloading module %d: %s\n", d, $3; fflush() } next }
				/^[A-Za-z0-9_.\/-]+$/ { n++; if (n % 50 == 0) { printf "[prepare] hydra: %d packages compiled (%s)\n", n, $0; fflush() } next }
				{ print "[prepare] hydra: " $0; fflush() }'; then
			:
		fi
		if [ ! -x "$bin.tmp" ]; then
			grep -vE '^[a-zA-Z0-9_./-]+$' "$log" | tail -n 40 >&2 || true
			die "hydra build failed (full log: $log)"
		fi
		mv "$bin.tmp" "$bin"
		printf '%s\n' "$want" >"$stampf"
		say "hydra: built in $((SECONDS - t0))s: $bin"
	fi
	"$bin" version >"$CACHE/bin/hydra.version" 2>&1 || die "$bin version failed: $(cat "$CACHE/bin/hydra.version")"
	say "hydra: $(grep -m1 -i version "$CACHE/bin/hydra.version" | tr -s ' \t' ' ')"
	[ $VERIFY = 1 ] && verify_hydra "$bin"
	return 0
}

# Start hydra on free ports with DSN=memory, issue a client_credentials token and introspect it.
verify_hydra() {
	local bin=$1 pub adm
	pub=$(free_port)
	adm=$(free_port)
	say "hydra: verifying (serve all on 127.0.0.1:$pub/$adm)"
	env DSN=memory SECRETS_SYSTEM=0123456789abcdef0123456789abcdef \
		URLS_SELF_ISSUER="http://127.0.0.1:$pub/" URLS_SELF_PUBLIC="http://127.0.0.1:$pub/" \
		URLS_SELF_ADMIN="http://127.0.0.1:$adm/" \
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$pub" SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$adm" \
		OAUTH2_HASHERS_PBKDF2_ITERATIONS=1000 LOG_LEVEL=warn SQA_OPT_OUT=true \
		"$bin" serve all --dev --sqa-opt-out >"$TMPD/hydra.log" 2>&1 &
	PIDS+=($!)
	if ! wait_http "http://127.0.0.1:$pub/health/ready" 60 || ! wait_http "http://127.0.0.1:$adm/health/ready" 10; then
		tail -n 30 "$TMPD/hydra.log" >&2
		die "hydra did not become ready within 60s"
	fi
	local out tok
	out=$(curl -fsS --max-time 10 -H 'Content-Type: application/json' -d \
		'{"client_id":"prepare-check","client_secret":"prepare-check-secret","grant_types":["client_credentials"],"response_types":["token"],"scope":"read write","audience":["https://api.example.test"]}' \
		"http://127.0.0.1:$adm/admin/clients") || die "hydra: POST /admin/clients failed"
	out=$(curl -fsS --max-time 10 -u prepare-check:prepare-check-secret -d grant_type=client_credentials \
		-d 'scope=read' -d audience=https://api.example.test "http://127.0.0.1:$pub/oauth2/token") ||
		die "hydra: POST /oauth2/token failed"
	tok=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$out") ||
		die "hydra: no access_token in: $out"
	out=$(curl -fsS --max-time 10 -d "token=$tok" "http://127.0.0.1:$adm/admin/oauth2/introspect") ||
		die "hydra: POST /admin/oauth2/introspect failed"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["active"] is True and d["client_id"]=="prepare-check" and d["scope"]=="read", d' <<<"$out" ||
		die "hydra: unexpected introspection answer: $out"
	local code
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -d "token=$tok" "http://127.0.0.1:$adm/oauth2/introspect")
	[ "$code" = 307 ] || die "hydra: POST /oauth2/introspect on the admin port answered $code, expected 307"
	say "hydra: verified: token issued and introspected ($out), legacy /oauth2/introspect -> $code"
}

# ---------------------------------------------------------------- oidc-provider
prepare_oidc_provider() {
	command -v npm >/dev/null || die "npm is not installed"
	local src="$ROOT/tests/oidc-provider" h dir
	h=$(sha "$src/package-lock.json")
	dir="$CACHE/node/$h"
	if [ -f "$dir/.ok" ] && [ -d "$dir/node_modules/oidc-provider" ]; then
		say "oidc-provider: cached ($dir/node_modules)"
	else
		say "oidc-provider: npm ci into $dir"
		safe_rm_tree "$dir"
		mkdir -p "$dir"
		cp "$src/package.json" "$src/package-lock.json" "$dir/"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --cache "$CACHE/node/.npm") ||
			die "npm ci for tests/oidc-provider failed"
		touch "$dir/.ok"
	fi
	ln -sfn "$h" "$CACHE/node/current"
	say "oidc-provider: $(node -p "require('$dir/node_modules/oidc-provider/package.json').version")"
	[ $VERIFY = 1 ] && verify_oidc_provider "$dir"
	return 0
}

verify_oidc_provider() {
	local dir=$1 port run="$TMPD/oidc"
	port=$(free_port)
	say "oidc-provider: verifying on 127.0.0.1:$port"
	mkdir -p "$run"
	cp "$ROOT/tests/oidc-provider/server.mjs" "$run/"
	ln -s "$dir/node_modules" "$run/node_modules"
	node "$run/server.mjs" "$port" >"$TMPD/oidc.log" 2>&1 &
	PIDS+=($!)
	if ! wait_http "http://127.0.0.1:$port/.well-known/openid-configuration" 30; then
		tail -n 30 "$TMPD/oidc.log" >&2
		die "oidc-provider did not become ready within 30s"
	fi
	local out tok base="http://127.0.0.1:$port"
	out=$(curl -fsS --max-time 10 -u svc-basic:svc-basic-secret -d grant_type=client_credentials -d scope=read "$base/token") ||
		die "oidc-provider: token request failed"
	tok=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <<<"$out") ||
		die "oidc-provider: no access_token in: $out"
	out=$(curl -fsS --max-time 10 -u rs-basic:rs-basic-secret -d "token=$tok" "$base/token/introspection") ||
		die "oidc-provider: introspection with client_secret_basic failed"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["active"] is True and d["scope"]=="read", d' <<<"$out" ||
		die "oidc-provider: unexpected introspection answer (basic): $out"
	out=$(curl -fsS --max-time 10 -d client_id=rs-post -d client_secret=rs-post-secret -d "token=$tok" "$base/token/introspection") ||
		die "oidc-provider: introspection with client_secret_post failed"
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["active"] is True, d' <<<"$out" ||
		die "oidc-provider: unexpected introspection answer (post): $out"
	local code
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -d "token=$tok" "$base/token/introspection")
	[ "$code" = 400 ] || die "oidc-provider: introspection without client auth answered $code, expected 400"
	say "oidc-provider: verified: introspection with basic and post auth, unauthenticated -> $code"
}

# ---------------------------------------------------------------- keycloak
# $CACHE/keycloak/m2 is mvn's local repository (the zip, checksum-verified by mvn); the unzipped
# distribution is $CACHE/keycloak/keycloak-VERSION with the stamp keycloak-VERSION.ok.
prepare_keycloak() {
	local ver dir stamp zip v
	ver=$(cat "$ROOT/tests/keycloak/version") || die "no tests/keycloak/version"
	dir="$CACHE/keycloak/keycloak-$ver" stamp="$CACHE/keycloak/keycloak-$ver.ok"
	zip="$CACHE/keycloak/m2/org/keycloak/keycloak-quarkus-dist/$ver/keycloak-quarkus-dist-$ver.zip"
	command -v java >/dev/null || die "java is not installed (apt-get install openjdk-17-jre-headless)"
	if [ -f "$stamp" ] && [ -x "$dir/bin/kc.sh" ]; then
		v=$(cat "$dir/version.txt" 2>/dev/null || true)
		if [ "$v" = "Keycloak - Version $ver" ] && [ -f "$dir/lib/quarkus-run.jar" ]; then
			# no live start here (30-60 s): t24 starts it, and fails loudly if it cannot
			say "keycloak: cached ($dir)"
			return 0
		fi
		say "keycloak: the cached distribution is broken ('$v'), unpacking again"
	fi
	command -v mvn >/dev/null || die "mvn is not installed (apt-get install maven)"
	command -v unzip >/dev/null || die "unzip is not installed (apt-get install unzip)"
	mkdir -p "$CACHE/keycloak"
	if ! unzip -tq "$zip" >/dev/null 2>&1; then
		rm -rf "$(dirname "$zip")"
		say "keycloak: fetching org.keycloak:keycloak-quarkus-dist:$ver:zip with mvn (about 160 MiB)"
		mvn -B -q --strict-checksums -Dmaven.repo.local="$CACHE/keycloak/m2" dependency:get \
			-Dartifact="org.keycloak:keycloak-quarkus-dist:$ver:zip" -Dtransitive=false \
			>"$CACHE/keycloak/mvn.log" 2>&1 || { tail -n 20 "$CACHE/keycloak/mvn.log" >&2; die "mvn dependency:get failed"; }
		unzip -tq "$zip" >/dev/null || die "keycloak: $zip is not a valid zip"
	fi
	rm -f "$stamp"
	safe_rm_tree "$dir"
	safe_rm_tree "$CACHE/keycloak/.unpack"
	mkdir -p "$CACHE/keycloak/.unpack"
	unzip -q "$zip" -d "$CACHE/keycloak/.unpack" || die "keycloak: unzip failed"
	mv "$CACHE/keycloak/.unpack/keycloak-$ver" "$dir"
	rmdir "$CACHE/keycloak/.unpack"
	[ "$(cat "$dir/version.txt")" = "Keycloak - Version $ver" ] || die "keycloak: $dir/version.txt says '$(cat "$dir/version.txt")'"
	printf '%s\n' "$ver" >"$stamp"
	say "keycloak: $ver unpacked into $dir"
	[ $VERIFY = 1 ] && verify_keycloak "$dir"
	return 0
}

# Start it as lib.sh does (start-dev, dev-mem: the first start also does Quarkus's build step,
# which later starts reuse), get an admin token, stop it.
verify_keycloak() {
	local dir=$1 port out t0=$SECONDS
	port=$(free_port)
	say "keycloak: verifying (start-dev on 127.0.0.1:$port, takes 30-60 s)"
	KC_BOOTSTRAP_ADMIN_USERNAME=prepare KC_BOOTSTRAP_ADMIN_PASSWORD=prepare-check \
		JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1" \
		setsid "$dir/bin/kc.sh" start-dev --db=dev-mem --http-host=127.0.0.1 --http-port="$port" \
		--hostname="http://127.0.0.1:$port" >"$TMPD/keycloak.log" 2>&1 </dev/null &
	local pid=$!
	PIDS+=("$pid") # kc.sh passes SIGTERM on to java
	until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/realms/master/.well-known/openid-configuration" 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null || [ $((SECONDS - t0)) -gt 240 ]; then
			tail -n 30 "$TMPD/keycloak.log" >&2
			die "keycloak exited or was not ready within 240s"
		fi
		sleep 0.5
	done
	out=$(curl -fsS --max-time 10 -d grant_type=password -d client_id=admin-cli -d username=prepare \
		-d password=prepare-check "http://127.0.0.1:$port/realms/master/protocol/openid-connect/token") ||
		die "keycloak: admin token request failed"
	python3 -c 'import json,sys; assert json.load(sys.stdin)["access_token"]' <<<"$out" ||
		die "keycloak: no access_token in the admin token answer"
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	say "keycloak: verified: $(grep -o 'Keycloak [0-9.]* on JVM' "$TMPD/keycloak.log" | head -n1), ready and stopped in $((SECONDS - t0))s"
}

for p in "${PARTS[@]}"; do
	case $p in
	chroots) prepare_chroots ;;
	hydra) prepare_hydra ;;
	oidc-provider) prepare_oidc_provider ;;
	keycloak) prepare_keycloak ;;
	esac
done
say "done: cache in $CACHE"

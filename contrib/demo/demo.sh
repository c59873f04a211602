#!/usr/bin/env bash
# demo.sh - `make demo` and `make demo-stop`: the whole stack on 127.0.0.1, then the walkthrough.
#
#   contrib/demo/demo.sh [start]   install the missing Debian packages, build the agent, build
#                                  (once, cached) Ory Hydra, stop a previous demo, start Hydra
#                                  (DSN=memory), oauth2-spoa, HAProxy and its demo upstream in the
#                                  background, then play contrib/docker/walkthrough.sh against them
#   contrib/demo/demo.sh stop      stop the stack (by the pid files in the state dir)
#   contrib/demo/demo.sh status    say what runs
#
# Fixed ports by default (those of haproxy/haproxy.cfg and policies/ratings-hydra.yaml); each can
# be moved by an environment variable, e.g. `make demo DEMO_HTTP_PORT=18080`:
#   DEMO_HTTP_PORT 8080 (HAProxy)          DEMO_UPSTREAM_PORT 8081 (demo upstream, in HAProxy)
#   DEMO_AGENT_PORT 12345 (oauth2-spoa)    DEMO_HYDRA_PUBLIC_PORT 4444  DEMO_HYDRA_ADMIN_PORT 4445
# A port already taken is an error that names it; nothing is started then.
# Other variables: DEMO_DIR (state: pid files, logs, configs; default
# ${XDG_RUNTIME_DIR:-/tmp}/oauth2-spoa-demo), DEMO_AGENT (use this agent binary, do not build),
# DEMO_HYDRA_BIN (use this Hydra binary, do not build), OAUTH2_SPOA_CACHE (Hydra build cache, as
# tests/tools/prepare.sh; default /var/cache/oauth2-spoa for root, ~/.cache/oauth2-spoa otherwise).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${DEMO_DIR:-${XDG_RUNTIME_DIR:-/tmp}/oauth2-spoa-demo}
HTTP_PORT=${DEMO_HTTP_PORT:-8080}
UPSTREAM_PORT=${DEMO_UPSTREAM_PORT:-8081}
AGENT_PORT=${DEMO_AGENT_PORT:-12345}
HYDRA_PUBLIC_PORT=${DEMO_HYDRA_PUBLIC_PORT:-4444}
HYDRA_ADMIN_PORT=${DEMO_HYDRA_ADMIN_PORT:-4445}
HAPROXY=${DEMO_HAPROXY:-/usr/sbin/haproxy}
if [ -z "${OAUTH2_SPOA_CACHE:-}" ]; then
	if [ "$(id -u)" = 0 ]; then OAUTH2_SPOA_CACHE=/var/cache/oauth2-spoa; else OAUTH2_SPOA_CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/oauth2-spoa; fi
fi
export OAUTH2_SPOA_CACHE
export PATH="/usr/local/go/bin:$PATH"
T0=$SECONDS

say() { printf '\n==> [demo +%ss] %s\n' "$((SECONDS - T0))" "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf '\n==> demo: ERROR: %s\n' "$*" >&2; exit 1; }

# starttime PID: the process start time (field 22 of /proc/PID/stat), which guards against pid
# reuse; "0" when the process is gone or a zombie (an exited process nobody reaped yet).
starttime() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	# shellcheck disable=SC2086 # split the fields
	set -- $s
	if [ "$1" = Z ]; then echo 0; else echo "${20}"; fi
}

# launch NAME CMD...: run CMD in its own session (it survives this script), log to DIR/NAME.log,
# record "pid starttime" in DIR/NAME.pid.
launch() {
	local name=$1
	shift
	setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid $(starttime "$pid")" >"$DIR/$name.pid"
	LAUNCHED=$pid
}

# stop_one NAME: SIGTERM the recorded process group, SIGKILL after 5 s.
stop_one() {
	local f="$DIR/$1.pid" pid start i
	[ -f "$f" ] || return 0
	read -r pid start <"$f" || true
	if [ -n "${pid:-}" ] && [ "$(starttime "$pid")" = "${start:-x}" ]; then
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			[ "$(starttime "$pid")" = "$start" ] || break
			sleep 0.1
		done
		if [ "$(starttime "$pid")" = "$start" ]; then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		info "stopped $1 (pid $pid)"
	fi
	rm -f "$f"
}

stop_stack() {
	local n
	for n in haproxy agent hydra; do
		stop_one "$n"
	done
}

status() {
	local n pid start any=0
	for n in hydra agent haproxy; do
		if [ -f "$DIR/$n.pid" ] && read -r pid start <"$DIR/$n.pid" && [ "$(starttime "$pid")" = "$start" ]; then
			info "$n: running (pid $pid, log $DIR/$n.log)"
			any=1
		else
			info "$n: not running"
		fi
	done
	[ $any = 1 ]
}

# port_free PORT: true when 127.0.0.1:PORT can be bound (as the servers bind it).
port_free() {
	python3 - "$1" <<-'EOF'
		import socket, sys
		s = socket.socket()
		s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
		try:
		    s.bind(("127.0.0.1", int(sys.argv[1])))
		except OSError:
		    sys.exit(1)
	EOF
}

check_ports() {
	local spec name var port bad=0 seen=" "
	for spec in "HAProxy frontend:DEMO_HTTP_PORT:$HTTP_PORT" "demo upstream:DEMO_UPSTREAM_PORT:$UPSTREAM_PORT" \
		"oauth2-spoa:DEMO_AGENT_PORT:$AGENT_PORT" "Hydra public API:DEMO_HYDRA_PUBLIC_PORT:$HYDRA_PUBLIC_PORT" \
		"Hydra admin API:DEMO_HYDRA_ADMIN_PORT:$HYDRA_ADMIN_PORT"; do
		IFS=: read -r name var port <<<"$spec"
		{ [[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ]; } || die "$var=$port is not a port number"
		case $seen in *" $port "*) die "port $port is given twice ($var)" ;; esac
		seen+="$port "
		if ! port_free "$port"; then
			printf '==> demo: ERROR: port %s on 127.0.0.1 (%s) is already in use' "$port" "$name" >&2
			if command -v ss >/dev/null; then
				printf ' by: %s' "$(ss -ltnpH "sport = :$port" 2>/dev/null | awk '{print $NF}' | head -n1)" >&2
			fi
			printf '\n    stop that program, or move the demo: make demo %s=<free port>\n' "$var" >&2
			bad=1
		fi
	done
	[ $bad = 0 ] || exit 1
}

# wait_until SECONDS WHAT PIDNAME CMD...: poll CMD; fail with the log of PIDNAME if it dies.
wait_until() {
	local max=$1 what=$2 name=$3 deadline pid start
	shift 3
	deadline=$((SECONDS + max))
	read -r pid start <"$DIR/$name.pid"
	until "$@" >/dev/null 2>&1; do
		if [ "$(starttime "$pid")" != "$start" ]; then
			tail -n 20 "$DIR/$name.log" >&2
			stop_stack
			die "$name exited (log above, full log $DIR/$name.log)"
		fi
		if [ $SECONDS -ge "$deadline" ]; then
			tail -n 20 "$DIR/$name.log" >&2
			stop_stack
			die "$what: not ready after ${max}s (log above, full log $DIR/$name.log)"
		fi
		sleep 0.2
	done
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1"); }

start() {
	# 1. packages, 2. agent, 3. Hydra
	say "1/6 Debian packages (build + runtime; only the missing ones are installed)"
	bash "$ROOT/contrib/tools/install-deps.sh" build runtime

	say "2/6 the agent"
	local agent
	if [ -n "${DEMO_AGENT:-}" ]; then
		agent=$DEMO_AGENT
		info "using DEMO_AGENT=$agent"
	else
		info "make -C $ROOT build/oauth2-spoa"
		make -C "$ROOT" --no-print-directory build/oauth2-spoa
		agent=$ROOT/build/oauth2-spoa
	fi
	[ -x "$agent" ] || die "no agent binary at $agent"
	info "$("$agent" --version 2>&1 | head -n1)"

	say "3/6 Ory Hydra v2.3.0 (built once from its Go module, then cached in $OAUTH2_SPOA_CACHE)"
	local hydra
	if [ -n "${DEMO_HYDRA_BIN:-}" ]; then
		hydra=$DEMO_HYDRA_BIN
		info "using DEMO_HYDRA_BIN=$hydra"
	else
		if ! command -v go >/dev/null; then
			die "Hydra is built from source with Go >= 1.24 (with cgo), and 'go' is not on PATH (nor in /usr/local/go/bin).
    Install Go from https://go.dev/dl/ into /usr/local/go, or set DEMO_HYDRA_BIN to a Hydra v2 binary."
		fi
		info "tests/tools/prepare.sh hydra (the first build takes several minutes; progress below)"
		bash "$ROOT/tests/tools/prepare.sh" --no-verify hydra
		hydra=$OAUTH2_SPOA_CACHE/bin/hydra
	fi
	[ -x "$hydra" ] || die "no Hydra binary at $hydra"

	# 4. a previous demo, the ports
	say "4/6 stopping a previous demo (if any) and checking the ports"
	mkdir -p "$DIR"
	chmod 700 "$DIR"
	stop_stack
	check_ports
	info "127.0.0.1 ports free: $HTTP_PORT $UPSTREAM_PORT $AGENT_PORT $HYDRA_PUBLIC_PORT $HYDRA_ADMIN_PORT"

	# 5. the stack
	say "5/6 starting Hydra, oauth2-spoa and HAProxy in the background (state in $DIR)"
	local pub="http://127.0.0.1:$HYDRA_PUBLIC_PORT" adm="http://127.0.0.1:$HYDRA_ADMIN_PORT" secret
	secret=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	launch hydra env DSN=memory SECRETS_SYSTEM="$secret" \
		URLS_SELF_ISSUER="$pub/" URLS_SELF_PUBLIC="$pub/" URLS_SELF_ADMIN="$adm/" \
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$HYDRA_PUBLIC_PORT" \
		SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$HYDRA_ADMIN_PORT" \
		LOG_LEVEL=info SQA_OPT_OUT=true "$hydra" serve all --dev --sqa-opt-out
	wait_until 60 "Hydra" hydra http_ok "$pub/health/ready"
	wait_until 10 "Hydra admin" hydra http_ok "$adm/health/ready"
	info "hydra       pid $LAUNCHED  public $pub  admin $adm  (DSN=memory: state is lost on stop)"

	mkdir -p "$DIR/policies" "$DIR/haproxy"
	sed "s#http://127.0.0.1:4445/#$adm/#" "$ROOT/policies/ratings-hydra.yaml" >"$DIR/policies/ratings-hydra.yaml"
	"$agent" --policies "$DIR/policies/ratings-hydra.yaml" --check >"$DIR/check.log" 2>&1 ||
		die "oauth2-spoa --check refused the policy: $(cat "$DIR/check.log")"
	launch agent "$agent" --listen "127.0.0.1:$AGENT_PORT" --listen "unix:$DIR/agent.sock" --threads 2 \
		--policies "$DIR/policies/ratings-hydra.yaml" --log-level debug
	wait_until 10 "oauth2-spoa" agent tcp_open "$AGENT_PORT"
	info "oauth2-spoa pid $LAUNCHED  127.0.0.1:$AGENT_PORT and unix:$DIR/agent.sock (HAProxy's)  policy $DIR/policies/ratings-hydra.yaml"

	cp "$ROOT/haproxy/oauth2-spoa.conf" "$ROOT/haproxy/routes.map" "$DIR/haproxy/"
	sed -e "s#127.0.0.1:8080#127.0.0.1:$HTTP_PORT#; s#127.0.0.1:8081#127.0.0.1:$UPSTREAM_PORT#" \
		-e "s#unix@/run/oauth2-spoa/agent.sock #unix@$DIR/agent.sock #" -e "s#/etc/haproxy/#$DIR/haproxy/#g" \
		"$ROOT/haproxy/haproxy.cfg" >"$DIR/haproxy/haproxy.cfg"
	grep -q "server agent1 unix@$DIR/agent.sock " "$DIR/haproxy/haproxy.cfg" ||
		die "haproxy/haproxy.cfg: the agent's unix@ server line was not found"
	[ -x "$HAPROXY" ] || die "no HAProxy at $HAPROXY"
	"$HAPROXY" -c -f "$DIR/haproxy/haproxy.cfg" >"$DIR/haproxy-check.log" 2>&1 ||
		die "haproxy -c refused $DIR/haproxy/haproxy.cfg: $(cat "$DIR/haproxy-check.log")"
	launch haproxy "$HAPROXY" -db -f "$DIR/haproxy/haproxy.cfg"
	wait_until 10 "HAProxy" haproxy tcp_open "$HTTP_PORT"
	# /details/1 (no policy) answers 200 once HAProxy talks to the agent
	wait_until 20 "HAProxy -> oauth2-spoa" haproxy http_ok "http://127.0.0.1:$HTTP_PORT/details/1"
	info "haproxy     pid $LAUNCHED  http://127.0.0.1:$HTTP_PORT -> upstream 127.0.0.1:$UPSTREAM_PORT  ($("$HAPROXY" -v | head -n1 | cut -d' ' -f1-3))"

	# 6. the walkthrough
	say "6/6 the walkthrough (contrib/docker/walkthrough.sh)"
	local rc=0
	HYDRA_PUBLIC_URL=$pub HYDRA_ADMIN_URL=$adm APP_URL="http://127.0.0.1:$HTTP_PORT" \
		CLIENT_ID=demo-client CLIENT_SECRET=demo-secret CLIENT_MAY_EXIST=0 WALKTHROUGH_ENV="$DIR/env" \
		bash "$ROOT/contrib/docker/walkthrough.sh" || rc=$?

	cat <<-EOF

		==> The stack keeps running in the background (pid files and logs in $DIR):
		    Hydra        public $pub, admin $adm  (log $DIR/hydra.log)
		    oauth2-spoa  127.0.0.1:$AGENT_PORT  (log $DIR/agent.log)
		    HAProxy      http://127.0.0.1:$HTTP_PORT  (log $DIR/haproxy.log)

		Keep playing (the token is valid for an hour):
		    . $DIR/env                     # exports TOKEN, APP_URL, CLIENT_ID, CLIENT_SECRET
		    curl -i -H "Authorization: Bearer \$TOKEN" \$APP_URL/ratings/1
		    curl -i -H "Authorization: Bearer nope" \$APP_URL/ratings/1
		    curl -i \$APP_URL/reviews/7
		    tail -n 5 $DIR/agent.log      # one line per decision (--log-level debug)

		Stop it:  make demo-stop
	EOF
	[ $rc = 0 ] || die "the walkthrough failed (the stack is left running for a look at the logs)"
}

case ${1:-start} in
start) start ;;
stop)
	if [ -d "$DIR" ]; then
		stop_stack
		echo "demo stopped ($DIR)"
	else
		echo "no demo state in $DIR: nothing to stop"
	fi
	;;
status) status ;;
-h | --help) sed -n '2,21p' "$0" ;;
*) die "unknown command '$1' (start, stop, status)" ;;
esac

# shellcheck shell=bash
# Library for the e2e tests, sourced by each tests/e2e/tNN_*.sh:
#     . "$(dirname "$0")/lib.sh"
# It gives the test a private temp dir ($T), kills every process it started through the lib
# when the test exits, and starts the real peers: HAProxy 2.6 (system), 3.0, 3.2 and 3.4 (chroots
# from tests/tools/prepare.sh), Ory Hydra and oidc-provider. A missing prerequisite FAILS the
# test: nothing is ever skipped.
#
# Environment: AGENT (agent binary), TOOLS (dir of C test tools), OAUTH2_SPOA_CACHE (prepare.sh's
# cache, default /var/cache/oauth2-spoa), HYDRA_BIN (default $CACHE/bin/hydra), E2E_KEEP=1 keeps $T.
# Each function's usage is in the comment above it; tests/tools/README.md has the overview.
# Rules for tests: call start_* in the test's main shell (not in $(...)), since they export
# variables and record the pids to kill; never use a bare `wait` (it also waits for every server
# started here, i.e. forever): wait for your own pids (`wait "$pid"`, `wait "${pids[@]}"`).
set -eu
shopt -s inherit_errexit # set -e also inside $(...)

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_CACHE=${OAUTH2_SPOA_CACHE:-/var/cache/oauth2-spoa}
E2E_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/oauth2-spoa-e2e.$E2E_NAME.XXXXXX")
export T E2E_ROOT E2E_CACHE
_LIB_PIDS=()   # process (and process group) ids started through the lib
_LIB_RMDIRS=() # dirs to remove at exit (haproxy run dirs inside the chroots)

E2E_MAIN_PID=$BASHPID

# fail MSG...: print MSG and end the test with status 1, also when called in a subshell such as
# x=$(hydra_token ...) or [ "$(json_get ...)" = ... ] (it signals the test's main shell).
fail() {
	printf 'FAIL [%s]: %s\n' "$E2E_NAME" "$*" >&2
	[ "$BASHPID" = "$E2E_MAIN_PID" ] || kill -USR1 "$E2E_MAIN_PID" 2>/dev/null || true
	exit 1
}

# log MSG...: progress line on stderr.
log() {
	printf '[%s %s] %s\n' "$E2E_NAME" "$(date +%H:%M:%S)" "$*" >&2
}

_lib_cleanup() {
	local rc=$? p i f
	trap - EXIT INT TERM HUP USR1
	set +e
	for p in "${_LIB_PIDS[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
	done
	for p in "${_LIB_PIDS[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$p" 2>/dev/null; then
			echo "[$E2E_NAME] pid $p ignored SIGTERM for 5s; sending SIGKILL" >&2
			kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
		fi
		wait "$p" 2>/dev/null
	done
	if [ "$rc" != 0 ]; then
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			echo "---- last lines of $f" >&2
			tail -n 20 "$f" >&2
		done
	fi
	for p in "${_LIB_RMDIRS[@]}"; do
		rm -rf --one-file-system "$p"
	done
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "[$E2E_NAME] kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _lib_cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP
trap 'exit 1' USR1

# start_bg NAME CMD [ARGS...]: run CMD in the background in its own session, output to $T/NAME.log
# (or to BG_OUT, a FIFO for instance, when set); it is killed (with its process group) when the
# test exits. Sets BG_PID.
start_bg() {
	[ $# -ge 2 ] || fail "usage: start_bg NAME CMD [ARGS...]"
	local name=$1
	shift
	setsid "$@" >"${BG_OUT:-$T/$name.log}" 2>&1 </dev/null &
	BG_PID=$!
	_LIB_PIDS+=("$BG_PID")
	# run.sh kills what is listed here if the test itself could not (pid + start time)
	if [ -n "${E2E_PIDFILE:-}" ]; then
		echo "$BG_PID $(cut -d' ' -f22 "/proc/$BG_PID/stat" 2>/dev/null || echo 0)" >>"$E2E_PIDFILE"
	fi
}

# stop_bg PID: stop one process started by start_bg (SIGTERM, SIGKILL after 5s) and wait for it.
stop_bg() {
	local p=$1 i
	kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# alive PID: true while the process runs.
alive() { kill -0 "$1" 2>/dev/null; }

# free_port: print a free TCP port on 127.0.0.1 (never the same twice in one test).
free_port() {
	local p i
	for ((i = 0; i < 20; i++)); do
		p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()') ||
			fail "free_port: python3 failed"
		if ! grep -qx "$p" "$T/.ports" 2>/dev/null; then
			echo "$p" >>"$T/.ports"
			echo "$p"
			return 0
		fi
	done
	fail "free_port: no new free port after 20 tries"
}

# wait_port PORT [TIMEOUT=10]: wait until 127.0.0.1:PORT accepts TCP connections, else fail.
wait_port() {
	local port=$1 deadline=$((SECONDS + ${2:-10}))
	until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		[ $SECONDS -lt "$deadline" ] || fail "wait_port: nothing listens on 127.0.0.1:$port after ${2:-10}s"
		sleep 0.1
	done
}

# wait_sock PATH [PID] [TIMEOUT=10]: wait until PATH is a socket file (a unix listener), else
# fail; with PID, fail at once when that process is gone.
wait_sock() {
	local path=$1 pid=${2:-} deadline=$((SECONDS + ${3:-10}))
	until [ -S "$path" ]; do
		[ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || fail "wait_sock: process $pid exited before creating $path"
		[ $SECONDS -lt "$deadline" ] || fail "wait_sock: no socket at $path after ${3:-10}s"
		sleep 0.05
	done
}

# wait_log FILE PATTERN [TIMEOUT=10]: wait until a line of FILE matches PATTERN (grep's basic
# regex), else fail with FILE's last lines.
wait_log() {
	local file=$1 pat=$2 deadline=$((SECONDS + ${3:-10}))
	until grep -q -- "$pat" "$file" 2>/dev/null; do
		[ $SECONDS -lt "$deadline" ] || fail "wait_log: no line matching '$pat' in $file after ${3:-10}s: $(tail -n 5 "$file" 2>/dev/null)"
		sleep 0.05
	done
}

# wait_http URL [TIMEOUT=10]: wait until URL answers a 2xx status, else fail.
wait_http() {
	local url=$1 deadline=$((SECONDS + ${2:-10}))
	until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
		[ $SECONDS -lt "$deadline" ] || fail "wait_http: $url did not answer 2xx within ${2:-10}s"
		sleep 0.1
	done
}

# render_template IN OUT: copy IN to OUT replacing each @NAME@ (NAME: [A-Z_][A-Z0-9_]*) by the
# value of the shell or environment variable NAME. Fails if a placeholder is left (NAME unset).
render_template() {
	[ $# = 2 ] || fail "usage: render_template IN OUT"
	local in=$1 out=$2 s res="" m name missing=""
	[ -f "$in" ] || fail "render_template: $in: no such file"
	s=$(cat "$in" && printf x) || fail "render_template: cannot read $in"
	s=${s%x}
	while [[ $s =~ @([A-Z_][A-Z0-9_]*)@ ]]; do
		m=${BASH_REMATCH[0]}
		name=${BASH_REMATCH[1]}
		res+=${s%%"$m"*}
		s=${s#*"$m"}
		if [ -n "${!name+x}" ]; then
			res+=${!name}
		else
			missing+=" @$name@"
			res+="@$name"
			s="@$s" # the closing @ may open the next placeholder
		fi
	done
	[ -z "$missing" ] || fail "render_template: $in: unset variable(s) for placeholder(s):$missing"
	printf '%s' "$res$s" >"$out"
}

# json_get FIELD < JSON: print a top-level field of a JSON object (strings raw, others as JSON);
# fails if the input is not JSON or has no such field.
json_get() {
	local in
	in=$(cat)
	python3 -c '
import json, sys
try:
    v = json.loads(sys.argv[2])[sys.argv[1]]
except (ValueError, KeyError, TypeError):
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$in" || fail "json_get: no field '$1' in: $in"
}

# _form_basic ID SECRET: the Authorization header value for client_secret_basic, with id and secret
# form-urlencoded before base64 (RFC 6749 2.3.1).
_form_basic() {
	python3 -c '
import base64, sys, urllib.parse as u
q = lambda s: u.quote_plus(s, safe="")
print("Basic " + base64.b64encode((q(sys.argv[1]) + ":" + q(sys.argv[2])).encode()).decode())' "$1" "$2"
}

# ------------------------------------------------------------------- Redis
# start_redis [NAME=redis]: Debian's redis-server on 127.0.0.1, a free port, no persistence
# (--save '' --appendonly no), files in $T/NAME. Exports REDIS_PORT and REDIS_PID; waits for PING.
# Stop it with stop_bg "$REDIS_PID" (by pid; start it again with start_redis on a new port, or
# REDIS_PORT=P start_redis to reuse P).
start_redis() {
	local name=${1:-redis} port=${REDIS_PORT:-} deadline
	command -v redis-server >/dev/null || fail "start_redis: no redis-server (contrib/tools/install-deps.sh test)"
	command -v redis-cli >/dev/null || fail "start_redis: no redis-cli (package redis-tools)"
	[ -n "$port" ] || port=$(free_port)
	mkdir -p "$T/$name"
	start_bg "$name" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--dir "$T/$name" --protected-mode yes --daemonize no
	REDIS_PID=$BG_PID
	REDIS_PORT=$port
	deadline=$((SECONDS + 10))
	until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
		alive "$REDIS_PID" || fail "start_redis: redis-server exited: $(tail -n 5 "$T/$name.log")"
		[ $SECONDS -lt $deadline ] || fail "start_redis: no PONG on port $port after 10s"
		sleep 0.05
	done
	export REDIS_PORT REDIS_PID
}

# ------------------------------------------------------------------- Hydra
# start_hydra [NAME=VALUE...]: start Ory Hydra (serve all --dev, DSN=memory) on two free ports;
# NAME=VALUE pairs are extra config env (e.g. TTL_ACCESS_TOKEN=5s, STRATEGIES_ACCESS_TOKEN=jwt).
# Exports HYDRA_PUBLIC, HYDRA_ADMIN (base URLs), HYDRA_ISSUER, HYDRA_TOKEN_URL,
# HYDRA_INTROSPECT (admin /admin/oauth2/introspect), HYDRA_PID. Waits for /health/ready.
start_hydra() {
	local bin=${HYDRA_BIN:-$E2E_CACHE/bin/hydra} pub adm
	[ -x "$bin" ] || fail "start_hydra: no Hydra binary at $bin (run tests/tools/prepare.sh)"
	pub=$(free_port) || exit 1
	adm=$(free_port) || exit 1
	export HYDRA_PUBLIC="http://127.0.0.1:$pub" HYDRA_ADMIN="http://127.0.0.1:$adm"
	export HYDRA_ISSUER="$HYDRA_PUBLIC/" HYDRA_TOKEN_URL="$HYDRA_PUBLIC/oauth2/token"
	export HYDRA_INTROSPECT="$HYDRA_ADMIN/admin/oauth2/introspect"
	start_bg hydra env DSN=memory SECRETS_SYSTEM=0123456789abcdef0123456789abcdef \
		URLS_SELF_ISSUER="$HYDRA_ISSUER" URLS_SELF_PUBLIC="$HYDRA_PUBLIC/" URLS_SELF_ADMIN="$HYDRA_ADMIN/" \
		SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT="$pub" SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT="$adm" \
		OAUTH2_HASHERS_PBKDF2_ITERATIONS=1000 LOG_LEVEL=warn SQA_OPT_OUT=true "$@" \
		"$bin" serve all --dev --sqa-opt-out
	export HYDRA_PID=$BG_PID
	local deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null --max-time 2 "$HYDRA_PUBLIC/health/ready" 2>/dev/null &&
		curl -fsS -o /dev/null --max-time 2 "$HYDRA_ADMIN/health/ready" 2>/dev/null; do
		alive "$HYDRA_PID" || fail "start_hydra: hydra exited: $(tail -n 5 "$T/hydra.log")"
		[ $SECONDS -lt $deadline ] || fail "start_hydra: not ready within 60s"
		sleep 0.1
	done
	log "hydra ready: public $HYDRA_PUBLIC admin $HYDRA_ADMIN"
}

# hydra_create_client ID SECRET SCOPES [AUDIENCE] [AUTH_METHOD]: create a client_credentials client.
# SCOPES and AUDIENCE are space-separated lists ("" for none); AUTH_METHOD is client_secret_basic
# (default) or client_secret_post (hydra_token then uses it).
hydra_create_client() {
	[ $# -ge 3 ] || fail "usage: hydra_create_client ID SECRET SCOPES [AUDIENCE] [AUTH_METHOD]"
	[ -n "${HYDRA_ADMIN:-}" ] || fail "hydra_create_client: call start_hydra first"
	local body out code method=${5:-client_secret_basic}
	body=$(python3 -c '
import json, sys
i, s, sc, aud, m = sys.argv[1:6]
print(json.dumps({"client_id": i, "client_secret": s, "client_name": i, "grant_types": ["client_credentials"],
    "response_types": ["token"], "scope": sc, "audience": aud.split(), "token_endpoint_auth_method": m}))' \
		"$1" "$2" "$3" "${4:-}" "$method")
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$body" \
		"$HYDRA_ADMIN/admin/clients") || fail "hydra_create_client: POST /admin/clients failed"
	code=${out##*$'\n'}
	[ "$code" = 201 ] || fail "hydra_create_client $1: HTTP $code: ${out%$'\n'*}"
	mkdir -p "$T/.hydra-clients"
	echo "$method" >"$T/.hydra-clients/$(printf '%s' "$1" | sha256sum | cut -c1-16)"
}

# hydra_token ID SECRET SCOPE [AUDIENCE]: print a client_credentials access token (SCOPE and
# AUDIENCE space-separated, "" for none), using the client's registered auth method.
hydra_token() {
	[ $# -ge 3 ] || fail "usage: hydra_token ID SECRET SCOPE [AUDIENCE]"
	local method=client_secret_basic f out code args=()
	f="$T/.hydra-clients/$(printf '%s' "$1" | sha256sum | cut -c1-16)"
	[ -f "$f" ] && method=$(cat "$f")
	args=(--data-urlencode grant_type=client_credentials)
	[ -z "$3" ] || args+=(--data-urlencode "scope=$3")
	[ -z "${4:-}" ] || args+=(--data-urlencode "audience=$4")
	if [ "$method" = client_secret_post ]; then
		args+=(--data-urlencode "client_id=$1" --data-urlencode "client_secret=$2")
	else
		args+=(-H "Authorization: $(_form_basic "$1" "$2")")
	fi
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' "${args[@]}" "$HYDRA_TOKEN_URL") ||
		fail "hydra_token: POST $HYDRA_TOKEN_URL failed"
	code=${out##*$'\n'}
	[ "$code" = 200 ] || fail "hydra_token $1: HTTP $code: ${out%$'\n'*}"
	json_get access_token <<<"${out%$'\n'*}"
}

# hydra_introspect TOKEN [SCOPE]: print Hydra's introspection JSON for TOKEN.
hydra_introspect() {
	local out code args=(--data-urlencode "token=$1")
	[ -z "${2:-}" ] || args+=(--data-urlencode "scope=$2")
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' "${args[@]}" "$HYDRA_INTROSPECT") ||
		fail "hydra_introspect: POST $HYDRA_INTROSPECT failed"
	code=${out##*$'\n'}
	[ "$code" = 200 ] || fail "hydra_introspect: HTTP $code: ${out%$'\n'*}"
	printf '%s\n' "${out%$'\n'*}"
}

# hydra_revoke ID SECRET TOKEN: revoke TOKEN (basic auth; post if the client was made so).
hydra_revoke() {
	local method=client_secret_basic f args=(--data-urlencode "token=$3")
	f="$T/.hydra-clients/$(printf '%s' "$1" | sha256sum | cut -c1-16)"
	[ -f "$f" ] && method=$(cat "$f")
	if [ "$method" = client_secret_post ]; then
		args+=(--data-urlencode "client_id=$1" --data-urlencode "client_secret=$2")
	else
		args+=(-H "Authorization: $(_form_basic "$1" "$2")")
	fi
	curl -fsS --max-time 10 -o /dev/null "${args[@]}" "$HYDRA_PUBLIC/oauth2/revoke" || fail "hydra_revoke: failed"
}

# ------------------------------------------------------------------- oidc-provider
# start_oidc_provider [NAME=VALUE...]: start tests/oidc-provider/server.mjs on a free port; pairs
# are env for it (CC_TTL, RS_TTL, RS_FMT, OIDC_EXTRA_CLIENTS). Exports OIDC_ISSUER, OIDC_TOKEN_URL,
# OIDC_INTROSPECT, OIDC_REVOKE, OIDC_JWKS, OIDC_AUDIENCE, OIDC_PID and the client credentials:
#   OIDC_RS_BASIC_ID/_SECRET, OIDC_RS_POST_ID/_SECRET, OIDC_RS_SPECIAL_ID/_SECRET (resource servers
#   allowed to introspect), OIDC_SVC_BASIC_ID/_SECRET (scopes "read write"), OIDC_SVC_POST_ID/_SECRET
#   (scope "read", client_secret_post): clients that get client_credentials tokens.
start_oidc_provider() {
	local src="$E2E_ROOT/tests/oidc-provider" h nm port dir
	command -v node >/dev/null || fail "start_oidc_provider: node is not installed"
	h=$(sha256sum <"$src/package-lock.json" | cut -c1-16)
	nm="$E2E_CACHE/node/$h/node_modules"
	if [ ! -f "$E2E_CACHE/node/$h/.ok" ] || [ ! -d "$nm/oidc-provider" ]; then
		fail "start_oidc_provider: no node_modules for this lockfile at $nm (run tests/tools/prepare.sh)"
	fi
	port=$(free_port) || exit 1
	dir=$(mktemp -d "$T/oidc.XXXXXX")
	cp "$src/server.mjs" "$dir/"
	ln -s "$nm" "$dir/node_modules"
	export OIDC_ISSUER="http://127.0.0.1:$port"
	export OIDC_TOKEN_URL="$OIDC_ISSUER/token" OIDC_INTROSPECT="$OIDC_ISSUER/token/introspection"
	export OIDC_REVOKE="$OIDC_ISSUER/token/revocation" OIDC_JWKS="$OIDC_ISSUER/jwks"
	export OIDC_AUDIENCE=https://api.example.test
	export OIDC_RS_BASIC_ID=rs-basic OIDC_RS_BASIC_SECRET=rs-basic-secret
	export OIDC_RS_POST_ID=rs-post OIDC_RS_POST_SECRET=rs-post-secret
	export OIDC_RS_SPECIAL_ID=rs-special OIDC_RS_SPECIAL_SECRET='p@ss:w0rd+/%& =~' # VSCHARs only
	export OIDC_SVC_BASIC_ID=svc-basic OIDC_SVC_BASIC_SECRET=svc-basic-secret
	export OIDC_SVC_POST_ID=svc-post OIDC_SVC_POST_SECRET=svc-post-secret
	start_bg "oidc-provider" env NODE_NO_WARNINGS=1 "$@" node "$dir/server.mjs" "$port"
	export OIDC_PID=$BG_PID
	local deadline=$((SECONDS + 30))
	until curl -fsS -o /dev/null --max-time 2 "$OIDC_ISSUER/.well-known/openid-configuration" 2>/dev/null; do
		alive "$OIDC_PID" || fail "start_oidc_provider: node exited: $(tail -n 5 "$T/oidc-provider.log")"
		[ $SECONDS -lt $deadline ] || fail "start_oidc_provider: not ready within 30s"
		sleep 0.1
	done
	log "oidc-provider ready: $OIDC_ISSUER"
}

# oidc_token ID SECRET SCOPE [RESOURCE]: print a client_credentials access token from oidc-provider
# (client_secret_post for svc-post, else client_secret_basic); RESOURCE sets the audience.
oidc_token() {
	[ $# -ge 3 ] || fail "usage: oidc_token ID SECRET SCOPE [RESOURCE]"
	local out code args=(--data-urlencode grant_type=client_credentials)
	[ -z "$3" ] || args+=(--data-urlencode "scope=$3")
	[ -z "${4:-}" ] || args+=(--data-urlencode "resource=$4")
	if [ "$1" = "${OIDC_SVC_POST_ID:-svc-post}" ]; then
		args+=(--data-urlencode "client_id=$1" --data-urlencode "client_secret=$2")
	else
		args+=(-H "Authorization: $(_form_basic "$1" "$2")")
	fi
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' "${args[@]}" "$OIDC_TOKEN_URL") ||
		fail "oidc_token: POST $OIDC_TOKEN_URL failed"
	code=${out##*$'\n'}
	[ "$code" = 200 ] || fail "oidc_token $1: HTTP $code: ${out%$'\n'*}"
	json_get access_token <<<"${out%$'\n'*}"
}

# oidc_introspect TOKEN [ID SECRET]: print oidc-provider's introspection JSON for TOKEN,
# authenticating with client_secret_basic as ID (default the rs-basic client).
oidc_introspect() {
	local out code
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' \
		-H "Authorization: $(_form_basic "${2:-$OIDC_RS_BASIC_ID}" "${3:-$OIDC_RS_BASIC_SECRET}")" \
		--data-urlencode "token=$1" "$OIDC_INTROSPECT") || fail "oidc_introspect: POST $OIDC_INTROSPECT failed"
	code=${out##*$'\n'}
	[ "$code" = 200 ] || fail "oidc_introspect as ${2:-$OIDC_RS_BASIC_ID}: HTTP $code: ${out%$'\n'*}"
	printf '%s\n' "${out%$'\n'*}"
}

# oidc_stats: print the server's request counters (GET /_test/stats, see server.mjs), e.g.
#   [ "$(oidc_stats | json_get introspection | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')" = 1 ]
# oidc_stats_reset zeroes them.
oidc_stats() {
	curl -fsS --max-time 5 "$OIDC_ISSUER/_test/stats" || fail "oidc_stats: GET $OIDC_ISSUER/_test/stats failed"
}
oidc_stats_reset() {
	curl -fsS --max-time 5 -X POST -o /dev/null "$OIDC_ISSUER/_test/reset" || fail "oidc_stats_reset failed"
}

# ------------------------------------------------------------------- HAProxy
# haproxy_chroot VERSION: print the chroot dir of HAProxy VERSION ("" for 2.6, the system one).
haproxy_chroot() {
	case ${1:-} in
	2.6) echo "" ;;
	3.0 | 3.2 | 3.4)
		local d="$E2E_CACHE/chroot/haproxy-$1"
		[ -x "$d/usr/sbin/haproxy" ] || fail "haproxy $1: no chroot at $d (run tests/tools/prepare.sh)"
		echo "$d"
		;;
	*) fail "haproxy: unknown version '${1:-}' (2.6, 3.0, 3.2 or 3.4)" ;;
	esac
}

# haproxy_bin VERSION: print the command (words) that runs HAProxy VERSION, after checking that
# `haproxy -v` reports that version: /usr/sbin/haproxy or "chroot DIR /usr/sbin/haproxy".
haproxy_bin() {
	local c cmd v
	c=$(haproxy_chroot "$1") || exit 1
	if [ -z "$c" ]; then
		[ -x /usr/sbin/haproxy ] || fail "haproxy 2.6: /usr/sbin/haproxy missing (apt-get install haproxy)"
		cmd=/usr/sbin/haproxy
	else
		[ "$(id -u)" = 0 ] || fail "haproxy $1: running it in its chroot needs root"
		cmd="chroot $c /usr/sbin/haproxy"
	fi
	# shellcheck disable=SC2086 # $cmd is a command line
	v=$($cmd -v 2>&1) || fail "haproxy $1: '$cmd -v' failed: $v"
	v=${v%%$'\n'*}
	case $v in
	"HAProxy version $1."*) ;;
	*) fail "haproxy $1: '$cmd -v' says '$v'" ;;
	esac
	echo "$cmd"
}

# start_haproxy VERSION CFGDIR [CFG=haproxy.cfg]: copy every file of CFGDIR into a private run dir,
# rendering @NAME@ placeholders (render_template), check the config (-c), start `haproxy -db -f CFG`
# with the run dir as working directory, and wait for each "bind 127.0.0.1:PORT" of CFG.
# For 3.0/3.2/3.4 the run dir is inside the chroot (/run/oauth2-spoa-e2e.*); loopback is shared.
# Templates may use @HAPROXY_DIR@: the run dir as HAProxy sees it (relative paths work too).
# Exports HAPROXY_PID, HAPROXY_LOG (host path of its stderr/stdout log), HAPROXY_RUNDIR (host path).
start_haproxy() {
	[ $# -ge 2 ] || fail "usage: start_haproxy VERSION CFGDIR [CFG]"
	local ver=$1 src=$2 cfg=${3:-haproxy.cfg} chr host inner f n out port
	[ -d "$src" ] || fail "start_haproxy: $src is not a directory"
	[ -f "$src/$cfg" ] || fail "start_haproxy: no $cfg in $src"
	haproxy_bin "$ver" >/dev/null
	chr=$(haproxy_chroot "$ver") || exit 1
	n=$(find "$T" -maxdepth 1 -name 'haproxy-*.log' | wc -l)
	if [ -z "$chr" ]; then
		host=$(mktemp -d "$T/haproxy-$ver.XXXXXX")
		inner=$host
	else
		host=$(mktemp -d "$chr/run/oauth2-spoa-e2e.XXXXXX")
		_LIB_RMDIRS+=("$host")
		inner=${host#"$chr"}
	fi
	chmod 755 "$host"
	export HAPROXY_DIR=$inner
	for f in "$src"/*; do
		[ -f "$f" ] || continue
		render_template "$f" "$host/$(basename "$f")"
	done
	# shellcheck disable=SC2016 # $1 and $@ belong to the inner sh
	local run=(sh -c 'cd "$1" && shift && exec /usr/sbin/haproxy "$@"' sh "$inner")
	# shellcheck disable=SC2016
	[ -z "$chr" ] || run=(chroot "$chr" /bin/sh -c 'cd "$1" && shift && exec /usr/sbin/haproxy "$@"' sh "$inner")
	out=$("${run[@]}" -c -f "$inner/$cfg" 2>&1) || fail "start_haproxy $ver: config check failed:
$out"
	export HAPROXY_LOG="$T/haproxy-$ver-$n.log" HAPROXY_RUNDIR=$host
	start_bg "haproxy-$ver-$n" "${run[@]}" -db -f "$inner/$cfg"
	export HAPROXY_PID=$BG_PID
	local ports deadline
	ports=$(sed -nE 's/^[[:space:]]*bind[[:space:]]+(ipv4@)?127\.0\.0\.1:([0-9]+).*/\2/p' "$host/$cfg")
	for port in $ports; do
		deadline=$((SECONDS + 10))
		until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
			alive "$HAPROXY_PID" || fail "start_haproxy $ver: haproxy exited: $(tail -n 10 "$HAPROXY_LOG")"
			[ $SECONDS -lt $deadline ] || fail "start_haproxy $ver: port $port not listening after 10s"
			sleep 0.1
		done
	done
	log "haproxy $ver running (pid $HAPROXY_PID, dir $host)"
}

# shellcheck shell=bash
# Helpers for tests that run the agent behind a real HAProxy, sourced after lib.sh:
#     . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/spoa.sh"

[ -n "${AGENT:-}" ] && [ -x "$AGENT" ] || fail "AGENT must name the built agent (make e2e sets it)"

# start_agent [ARGS...]: run the agent on a free port (AGENT_PORT) and wait until it listens.
# Sets AGENT_PID and AGENT_LOG.
start_agent() {
	AGENT_PORT=$(free_port)
	start_bg agent "$AGENT" --listen "127.0.0.1:$AGENT_PORT" --threads 2 "$@"
	AGENT_PID=$BG_PID
	AGENT_LOG=$T/agent.log
	local deadline=$((SECONDS + 10))
	until (exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT") 2>/dev/null; do
		alive "$AGENT_PID" || fail "agent exited: $(tail -n 20 "$AGENT_LOG")"
		[ $SECONDS -lt $deadline ] || fail "agent not listening after 10s"
		sleep 0.05
	done
	export AGENT_PORT AGENT_PID AGENT_LOG
}

# log_settle [FILE=AGENT_LOG]: wait until FILE stops growing (the same size over 50 ms; at most
# 5 s). A worker writes its log lines at most once per LOG_BATCH_DELAY_S (10 ms), so the line of a
# decision can trail its answer by that much; read the agent log after this.
log_settle() {
	local f=${1:-$AGENT_LOG} a b deadline=$((SECONDS + 5))
	b=$(stat -c %s "$f" 2>/dev/null || echo 0)
	while [ $SECONDS -lt $deadline ]; do
		sleep 0.05
		a=$b
		b=$(stat -c %s "$f" 2>/dev/null || echo 0)
		[ "$a" != "$b" ] || return 0
	done
}
# log_lines: lines in the agent log, once it settled.
log_lines() { log_settle && wc -l <"$AGENT_LOG"; }
# decisions_since N: the agent's decision lines after line N of its log, once it settled.
decisions_since() { log_settle && { tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep ' decision ' || true; }; }

# haproxy_sock_dir VERSION: a fresh directory for an agent's unix socket that HAProxy VERSION
# sees: inside its chroot on 3.x (removed at exit), under $T on 2.6. Sets SOCK_DIR (the path
# here) and SOCK_DIR_INNER (the path HAProxy uses).
haproxy_sock_dir() {
	local chr
	chr=$(haproxy_chroot "$1") || exit 1
	SOCK_DIR=$(mktemp -d "${chr:-$T}${chr:+/run}/oauth2-spoa-sock.XXXXXX")
	[ -z "$chr" ] || _LIB_RMDIRS+=("$SOCK_DIR")
	chmod 755 "$SOCK_DIR"
	SOCK_DIR_INNER=${SOCK_DIR#"$chr"}
}

# haproxy_cfg_dir OUTDIR [EXTRA_CFG_FILE]: the shipped haproxy/ files with test addresses:
# frontend FRONT_PORT, demo upstream UP_PORT, files relative to the run dir, and the agent at
# 127.0.0.1:AGENT_PORT (the shipped unix@ line turned to TCP), or with AGENT_SOCK set, the
# shipped unix@ line with only its path moved to AGENT_SOCK (as HAProxy sees it: inside its
# chroot on 3.x). EXTRA_CFG_FILE (optional) is appended to haproxy.cfg. Sets FRONT_PORT and UP_PORT.
SHIPPED_AGENT_SOCK=/run/oauth2-spoa/agent.sock
haproxy_cfg_dir() {
	local out=$1 extra=${2:-} agent
	FRONT_PORT=$(free_port)
	UP_PORT=$(free_port)
	mkdir -p "$out"
	cp "$E2E_ROOT/haproxy/oauth2-spoa.conf" "$E2E_ROOT/haproxy/routes.map" "$out/"
	agent=${AGENT_SOCK:+unix@$AGENT_SOCK}
	agent=${agent:-127.0.0.1:$AGENT_PORT}
	sed -e "s#127.0.0.1:8080#127.0.0.1:$FRONT_PORT#; s#127.0.0.1:8081#127.0.0.1:$UP_PORT#" \
		-e "s#^\(    server agent1 \)unix@$SHIPPED_AGENT_SOCK #\1$agent #" \
		-e "s#/etc/haproxy/#@HAPROXY_DIR@/#g" \
		"$E2E_ROOT/haproxy/haproxy.cfg" >"$out/haproxy.cfg"
	grep -q "127.0.0.1:$FRONT_PORT" "$out/haproxy.cfg" || fail "haproxy.cfg: frontend address not found"
	grep -q "^    server agent1 $agent " "$out/haproxy.cfg" || fail "haproxy.cfg: agent address not found"
	cat >>"$out/haproxy.cfg" <<-EOC

		# test-only: agent health as seen by HAProxy
		frontend e2e-status
		    bind 127.0.0.1:@STATUS_PORT@
		    http-request return status 200 content-type text/plain lf-string "%[srv_is_up(oauth2-spoa/agent1)]\n"
	EOC
	[ -z "$extra" ] || cat "$extra" >>"$out/haproxy.cfg"
	export FRONT_PORT UP_PORT
}

# wait_agent_up [TIMEOUT=15]: wait until HAProxy's spop-check marks the agent UP.
wait_agent_up() {
	local deadline=$((SECONDS + ${1:-15}))
	until [ "$(curl -s --max-time 2 "http://127.0.0.1:$STATUS_PORT/")" = 1 ]; do
		[ $SECONDS -lt $deadline ] || fail "spop-check never marked the agent UP: $(tail -n 5 "$HAPROXY_LOG")"
		sleep 0.2
	done
}

# wait_agent_down [TIMEOUT=15]
wait_agent_down() {
	local deadline=$((SECONDS + ${1:-15}))
	until [ "$(curl -s --max-time 2 "http://127.0.0.1:$STATUS_PORT/")" = 0 ]; do
		[ $SECONDS -lt $deadline ] || fail "spop-check never marked the agent DOWN"
		sleep 0.2
	done
}

# http_status PATH [CURL ARGS...]: print the status HAProxy answers for PATH.
http_status() {
	local path=$1
	shift
	curl -s -o "$T/last_body" -w '%{http_code}' --max-time 10 "$@" "http://127.0.0.1:$FRONT_PORT$path"
}

# expect_status WANT PATH [CURL ARGS...]: fail unless the status is WANT.
expect_status() {
	local want=$1 got
	shift
	got=$(http_status "$@")
	[ "$got" = "$want" ] || fail "GET $1: want $want, got $got ($(head -c 300 "$T/last_body"))"
}

# Sanitizer builds must stop at the first report, and say so in the log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:exitcode=23:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=24}

# check_agent_log: fail if the agent log holds a sanitizer report.
check_agent_log() {
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined)' "$AGENT_LOG"; then
		fail "sanitizer report in the agent log: $(grep -m3 -E 'Sanitizer|runtime error' "$AGENT_LOG")"
	fi
}

# stop_agent [MAX_SECONDS=8]: SIGTERM the agent, require exit status 0 within MAX_SECONDS and a
# clean log (no sanitizer report, leaks included).
stop_agent() {
	local max=${1:-8} i rc
	kill -TERM "$AGENT_PID" 2>/dev/null || fail "agent already gone"
	for ((i = 0; i < max * 20; i++)); do
		alive "$AGENT_PID" || break
		sleep 0.05
	done
	alive "$AGENT_PID" && fail "agent still running ${max}s after SIGTERM"
	wait "$AGENT_PID" && rc=0 || rc=$?
	check_agent_log
	[ "$rc" = 0 ] || fail "agent exit status $rc after SIGTERM: $(tail -n 5 "$AGENT_LOG")"
}

# start_fault_idp [ARGS...]: run tests/tools/fault_idp.py on a free port; sets IDP_PORT, IDP, IDP_PID.
start_fault_idp() {
	exec 3< <(exec python3 "$E2E_ROOT/tests/tools/fault_idp.py" --port 0 --quiet "$@")
	IDP_PID=$!
	_LIB_PIDS+=("$IDP_PID")
	read -r -t 10 IDP_PORT <&3 || fail "fault_idp.py did not print its port"
	exec 3<&-
	IDP=http://127.0.0.1:$IDP_PORT
	wait_http "$IDP/__health"
	export IDP_PORT IDP IDP_PID
}

# Policies for tests: the ExtAuthPolicy POLICY_NS/NAME (POLICY_NS defaults to "rel"; POLICY_MODE,
# when set, becomes spec.mode) selecting route=ROUTE, written to FILE.tmp then renamed, so an agent
# reloading a policy directory never reads half a file. Extra LINEs go under accessTokenValidation.
#   write_policy FILE NAME ROUTE URL [LINE...]                             introspectionUrl: URL
#   write_policy_client FILE NAME ROUTE URL CLIENT_ID METHOD SECRET_LINE [LINE...]
#                       introspection: {introspectionUrl, clientId, authMethod, SECRET_LINE}
write_policy() {
	local file=$1 name=$2 route=$3 url=$4
	shift 4
	{
		_policy_head "$name" "$route"
		printf '            introspectionUrl: %s\n' "$url"
		_policy_lines "$@"
	} >"$file.tmp"
	mv "$file.tmp" "$file"
}

write_policy_client() {
	local file=$1 name=$2 route=$3 url=$4 id=$5 method=$6 secret=$7
	shift 7
	{
		_policy_head "$name" "$route"
		printf '            introspection:\n'
		_policy_lines "introspectionUrl: $url" "clientId: $id" "authMethod: $method" "$secret" | sed 's/^/  /'
		_policy_lines "$@"
	} >"$file.tmp"
	mv "$file.tmp" "$file"
}

_policy_head() { # NAME ROUTE
	cat <<-EOP
		apiVersion: oauth2-spoa/v1
		kind: ExtAuthPolicy
		metadata: {name: $1, namespace: ${POLICY_NS:-rel}}
		spec:
	EOP
	[ -z "${POLICY_MODE:-}" ] || printf '  mode: %s\n' "$POLICY_MODE"
	cat <<-EOP
		  applyToRoutes:
		  - route: {labels: {route: $2}}
		  config:
		    glooAuth:
		      configs:
		      - oauth2:
		          accessTokenValidation:
	EOP
}

_policy_lines() { # LINE...: each indented under accessTokenValidation
	local l
	for l in "$@"; do printf '            %s\n' "$l"; done
}

# rfc6750_cfg OUTDIR [EXTRA_CFG_FILE]: haproxy_cfg_dir, then the shipped deny rule replaced by the
# commented RFC 6750 alternative of haproxy.cfg, so each outcome has its own status: 401 (missing,
# malformed or inactive token), 403 (insufficient_scope), 503 (introspection_error, or the agent
# could not answer: set-on-error). Also "maxconn 8000" in global for the load tests.
rfc6750_cfg() {
	local out=$1 n
	haproxy_cfg_dir "$@"
	n=$(grep -c '^    #   http-request ' "$out/haproxy.cfg" || true)
	[ "$n" = 5 ] || fail "rfc6750_cfg: want the 5 commented alternative rules in haproxy.cfg, found $n"
	grep -q '^    http-request deny deny_status 403 unless { var(txn.oauth2.allowed) -m bool }$' "$out/haproxy.cfg" ||
		fail "rfc6750_cfg: the shipped deny rule is not where expected"
	sed -i -e '/^    http-request deny deny_status 403 unless { var(txn.oauth2.allowed) -m bool }$/d' \
		-e 's/^    #   http-request /    http-request /' \
		-e 's/^global$/global\n    maxconn 8000/' "$out/haproxy.cfg"
}

# bearer_answer PATH TOKEN: GET PATH on the frontend with "Authorization: Bearer TOKEN"; the
# status line and headers (CR removed) land in $T/h.txt, the body in $T/body.
bearer_answer() {
	curl -s -D "$T/h" -o "$T/body" --max-time 5 -H "Authorization: Bearer $2" \
		"http://127.0.0.1:$FRONT_PORT$1" || true
	tr -d '\r' <"$T/h" >"$T/h.txt"
}

# want_answer WHAT STATUS [HEADER_PATTERN]: the last bearer_answer had STATUS (and a header line
# matching HEADER_PATTERN, case ignored), else the test fails naming WHAT.
want_answer() {
	head -n1 "$T/h.txt" | grep -q " $2" || fail "$1: want $2, got: $(head -n1 "$T/h.txt")"
	[ -z "${3:-}" ] || grep -qi -- "$3" "$T/h.txt" || fail "$1: want '$3' in: $(cat "$T/h.txt")"
}

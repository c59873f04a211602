#!/usr/bin/env bash
# Pins fail-closed behaviour when the real Ory Hydra goes away and recovery when it comes back,
# behind real HAProxy 2.6 with the RFC 6750 rules (introspection_error -> 503). Hydra keeps its
# data in a sqlite file, so clients and tokens survive its restart. The policy does not cache
# (cacheTimeout 0): every request asks Hydra. Agent: --introspection-timeout 500.
#  - Hydra up: the token -> 200;
#  - Hydra stopped (connection refused): 20 requests, 10 at a time -> every one 503,
#    reason=introspection_error, each within timeout + 100 ms;
#  - Hydra frozen (SIGSTOP: the kernel still accepts, nothing answers): every request 503 within
#    timeout + 100 ms (the timeout really bounds it), then SIGCONT;
#  - Hydra started again on the same ports and the same sqlite file, nothing else restarted: the
#    same token -> 200 again; the time from "Hydra ready" to the first 200 is reported.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

TIMEOUT_MS=500
LIMIT=$(awk -v t=$TIMEOUT_MS 'BEGIN { printf "%.3f", t / 1000 + 0.1 }')
HBIN=${HYDRA_BIN:-$E2E_CACHE/bin/hydra}
[ -x "$HBIN" ] || fail "no Hydra binary at $HBIN (run tests/tools/prepare.sh)"
HPUB=$(free_port)
HADM=$(free_port)
export DSN="sqlite://$T/hydra.sqlite?_fk=true&mode=rwc"
export SECRETS_SYSTEM=0123456789abcdef0123456789abcdef URLS_SELF_ISSUER="http://127.0.0.1:$HPUB/"
export URLS_SELF_PUBLIC="http://127.0.0.1:$HPUB/" URLS_SELF_ADMIN="http://127.0.0.1:$HADM/"
export SERVE_PUBLIC_HOST=127.0.0.1 SERVE_PUBLIC_PORT=$HPUB SERVE_ADMIN_HOST=127.0.0.1 SERVE_ADMIN_PORT=$HADM
export OAUTH2_HASHERS_PBKDF2_ITERATIONS=1000 LOG_LEVEL=warn SQA_OPT_OUT=true
timeout 60 "$HBIN" migrate sql up -e --yes >"$T/hydra-migrate.log" 2>&1 ||
	fail "hydra migrate sql up failed: $(tail -n 5 "$T/hydra-migrate.log")"

# hydra_up: start Hydra on the fixed ports and wait until both ports say ready; sets HPID.
hydra_up() {
	start_bg "hydra-$1" "$HBIN" serve all --dev --sqa-opt-out
	HPID=$BG_PID
	local deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HPUB/health/ready" 2>/dev/null &&
		curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$HADM/health/ready" 2>/dev/null; do
		alive "$HPID" || fail "hydra exited: $(tail -n 5 "$T/hydra-$1.log")"
		[ $SECONDS -lt $deadline ] || fail "hydra not ready within 60s"
		sleep 0.05
	done
}
hydra_up 1
export HYDRA_PUBLIC="http://127.0.0.1:$HPUB" HYDRA_ADMIN="http://127.0.0.1:$HADM"
export HYDRA_TOKEN_URL="$HYDRA_PUBLIC/oauth2/token" HYDRA_INTROSPECT="$HYDRA_ADMIN/admin/oauth2/introspect"
hydra_create_client svc-restart svc-restart-secret-123 "read"
TOKEN=$(hydra_token svc-restart svc-restart-secret-123 read)
log "token sha256 $(fp "$TOKEN")"

mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$HYDRA_INTROSPECT" "cacheTimeout: 0" "negativeCacheTimeout: 0"
start_agent --policies "$T/policies" --introspection-timeout $TIMEOUT_MS --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

# burst TAG N PAR: N requests with the token, PAR at a time; writes "code secs" lines to $T/TAG.
burst() {
	seq "$2" | xargs -P "$3" -I{} curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
		-H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$FRONT_PORT/ratings/{}" >"$T/$1" || true
}
# check_burst TAG N WANT LIMIT: all N lines have status WANT and time < LIMIT; logs the max time.
check_burst() {
	local n bad mx
	n=$(grep -c . "$T/$1" || true)
	[ "$n" = "$2" ] || fail "$1: want $2 answers, got $n"
	bad=$(awk -v w="$3" -v l="$4" '$1 != w || $2 >= l' "$T/$1")
	[ -z "$bad" ] || fail "$1: want $3 within ${4}s for all $2 requests; got: $(sort "$T/$1" | uniq -c | head -5 | tr '\n' ';')"
	mx=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {printf "%.3f", m}' "$T/$1")
	log "$1: $2 x $3, slowest ${mx}s (limit ${4}s)"
}

burst up 10 5
check_burst up 10 200 2

log "Hydra stopped"
stop_bg "$HPID"
alive "$HPID" && fail "hydra still runs"
n=$(log_lines)
burst stopped 20 10
check_burst stopped 20 503 "$LIMIT"
[ "$(decisions_since "$n" | grep -c ' reason=introspection_error ')" = 20 ] ||
	fail "Hydra stopped: want 20 introspection_error decisions: $(decisions_since "$n" | head -3)"

log "Hydra started again (same ports, same sqlite file)"
hydra_up 2
t0=$(date +%s.%N)
first=""
for ((i = 0; i < 100; i++)); do
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$FRONT_PORT/ratings/x") || true
	if [ "$c" = 200 ]; then
		first=$(since "$t0")
		break
	fi
	[ "$c" = 503 ] || fail "Hydra back: want 200 (or 503 until it answers), got $c"
	sleep 0.05
done
[ -n "$first" ] || fail "Hydra back: no 200 within 100 tries"
log "Hydra back: first 200 ${first}s after Hydra said ready (agent and HAProxy not restarted)"
burst back 20 10
check_burst back 20 200 2

log "Hydra frozen (SIGSTOP)"
kill -STOP "$HPID"
n=$(log_lines)
burst frozen 10 10
kill -CONT "$HPID"
check_burst frozen 10 503 "$LIMIT"
[ "$(decisions_since "$n" | grep -c ' reason=introspection_error ')" = 10 ] ||
	fail "Hydra frozen: want 10 introspection_error decisions: $(decisions_since "$n" | head -3)"
burst thawed 10 5
check_burst thawed 10 200 2

alive "$AGENT_PID" || fail "agent died"
alive "$HAPROXY_PID" || fail "haproxy died"
stop_agent
for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	! grep -qF "$TOKEN" "$f" || fail "the raw token appears in $(basename "$f")"
done
log "hydra restart passed"

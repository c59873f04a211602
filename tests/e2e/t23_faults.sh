#!/usr/bin/env bash
# Pins how the agent (behind real HAProxy 2.6, --introspection-timeout 500) survives a broken
# introspection endpoint (tests/tools/fault_idp.py):
#  - every fault mode (slow:3000, status:500, html, active-string, no-active, close-mid-body, huge,
#    hang, redirect-other) with a fresh token -> 403 within timeout + 0.5 s, agent log
#    reason=introspection_error, and the agent stays alive and keeps serving good tokens;
#  - inactive -> 403, reason=inactive_token;
#  - single flight (second agent, default --introspection-timeout 1000): 50 concurrent requests
#    with one NEW token against a slow (500 ms) endpoint -> all 200 and exactly 1 introspection call;
#  - negative cache: 20 requests with one token the IdP says inactive, within
#    negativeCacheTimeout -> all 403 and exactly 1 introspection call.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

TIMEOUT_MS=500
LIMIT=$(awk -v t=$TIMEOUT_MS 'BEGIN { printf "%.3f", t / 1000 + 0.5 }')

start_fault_idp --sub alice --client-id svc-a --scope "read write"

# policy NAME ROUTE URL [EXTRA YAML LINE...]: the policy faults/NAME in $T/policies.
policy() {
	local name=$1
	POLICY_NS=faults write_policy "$T/policies/$name.yaml" "$@"
}
mkdir -p "$T/policies"
# /ratings: the token picks the fault ("mode.<name>[.<arg>].<random>"); anything else is ok.
policy ratings ratings "$IDP/introspect"
# /sf: single flight against a 500 ms endpoint; /neg: an endpoint that says inactive.
policy single-flight sf "$IDP/slow:500"
policy negative neg "$IDP/inactive" "negativeCacheTimeout: 30s"

start_agent --policies "$T/policies" --introspection-timeout $TIMEOUT_MS --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
printf '/sf   route=sf\n/neg  route=neg\n' >>"$T/cfg/routes.map"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

# expect_reason N POLICY REASON: exactly one decision line since line N, for POLICY with REASON.
expect_reason() {
	local d cnt
	d=$(decisions_since "$1")
	cnt=$(printf '%s' "$d" | grep -c . || true)
	[ "$cnt" = 1 ] || fail "want 1 decision line (policy=$2 reason=$3) since line $1, got $cnt: $d"
	case $d in
	*" policy=$2 reason=$3 "*) ;;
	*) fail "want policy=$2 reason=$3, got: $d
$(tail -n +"$(($1 + 1))" "$AGENT_LOG")" ;;
	esac
}
# timed PATH TOKEN: print "<status> <seconds>" for one request (status 000 on a curl error).
timed() {
	curl -s -o "$T/last_body" -w '%{http_code} %{time_total}' --max-time 10 \
		-H "Authorization: Bearer $2" "http://127.0.0.1:$FRONT_PORT$1" || true
}
serving() {
	alive "$AGENT_PID" || fail "after $1: the agent died: $(tail -n 5 "$AGENT_LOG")"
	expect_status 200 /ratings/1 -H "Authorization: Bearer good-after-$1-$RANDOM$RANDOM"
	grep -q "sub=alice client_id=svc-a scope=read write$" "$T/last_body" || fail "after $1: upstream body: $(cat "$T/last_body")"
}

serving start
for mode in slow.3000 status.500 html active-string no-active close-mid-body huge hang redirect-other inactive; do
	token=mode.$mode.$RANDOM$RANDOM
	want=introspection_error
	[ "$mode" != inactive ] || want=inactive_token
	n=$(log_lines)
	read -r code secs <<<"$(timed /ratings/1 "$token")"
	log "fault $mode: $code in ${secs}s"
	[ "$code" = 403 ] || fail "fault $mode: want 403, got '$code' in ${secs}s ($(head -c 200 "$T/last_body"))"
	awk -v s="$secs" -v l="$LIMIT" 'BEGIN { exit !(s < l) }' || fail "fault $mode: took ${secs}s (want < ${LIMIT}s)"
	expect_reason "$n" faults/ratings "$want"
	serving "$mode"
done
# The same faults once more at the same time: no interference, no crash.
pids=()
for mode in slow.3000 status.500 html close-mid-body huge hang redirect-other; do
	timed /ratings/1 "mode.$mode.$RANDOM$RANDOM" >"$T/par.$mode" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for mode in slow.3000 status.500 html close-mid-body huge hang redirect-other; do
	read -r code secs <<<"$(cat "$T/par.$mode")"
	[ "$code" = 403 ] || fail "parallel fault $mode: want 403, got '$code' in ${secs}s"
	awk -v s="$secs" -v l="$LIMIT" 'BEGIN { exit !(s < l) }' || fail "parallel fault $mode: took ${secs}s (want < ${LIMIT}s)"
done
serving parallel-faults

# ---------------------------------------------------------------- single flight
# A 500 ms endpoint needs more than --introspection-timeout 500: a second agent with the default
# (1000 ms, below HAProxy's "timeout processing 1500ms") behind a second HAProxy.
stop_bg "$HAPROXY_PID"
stop_agent
start_agent --policies "$T/policies" --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg2"
printf '/sf   route=sf\n/neg  route=neg\n' >>"$T/cfg2/routes.map"
start_haproxy 2.6 "$T/cfg2"
wait_agent_up
log "single flight: 50 concurrent requests, one new token, slow:500 endpoint"
curl -fsS --max-time 5 -X POST -o /dev/null "$IDP/__reset" || fail "fault_idp /__reset failed"
SF_TOKEN=single-flight-$RANDOM$RANDOM$RANDOM
n=$(log_lines)
start=$(date +%s.%N)
seq 50 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
	-H "Authorization: Bearer $SF_TOKEN" "http://127.0.0.1:$FRONT_PORT/sf/{}" >"$T/sf.codes" || true
el=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
ok=$(grep -cx 200 "$T/sf.codes" || true)
calls=$(curl -fsS --max-time 5 "$IDP/__count?path=/slow:500") || fail "fault_idp /__count failed"
log "single flight: $ok/50 answered 200 in ${el}s, $calls introspection call(s)"
[ "$ok" = 50 ] || fail "single flight: want 50 x 200, got: $(sort "$T/sf.codes" | uniq -c | tr '\n' ' ')"
[ "$(decisions_since "$n" | grep -c ' policy=faults/single-flight reason=ok ')" = 50 ] ||
	fail "single flight: want 50 'reason=ok' decisions: $(decisions_since "$n" | head -5)"
[ "$calls" = 1 ] || fail "single flight: want exactly 1 introspection call for one new token, got $calls"
serving single-flight

# ---------------------------------------------------------------- negative cache
log "negative cache: 20 requests, one inactive token"
NEG_TOKEN=negative-$RANDOM$RANDOM$RANDOM
n=$(log_lines)
for i in $(seq 20); do
	expect_status 403 "/neg/$i" -H "Authorization: Bearer $NEG_TOKEN"
done
calls=$(curl -fsS --max-time 5 "$IDP/__count?path=/inactive") || fail "fault_idp /__count failed"
[ "$(decisions_since "$n" | grep -c ' policy=faults/negative reason=inactive_token ')" = 20 ] ||
	fail "negative cache: want 20 'reason=inactive_token' decisions: $(decisions_since "$n" | head -5)"
[ "$calls" = 1 ] || fail "negative cache: want exactly 1 introspection call for 20 requests, got $calls"

serving end
stop_agent
log "faults passed"

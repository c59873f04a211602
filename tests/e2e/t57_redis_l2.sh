#!/usr/bin/env bash
# e2e-timeout: 240
# Pins the shared L2 cache in Redis (Debian's redis-server, started here on a free port, no
# persistence) with three agents, each behind its own HAProxy 2.6, against tests/tools/fault_idp.py
# (which counts introspection calls):
#  - a token used on all three nodes costs ONE introspection (positive and negative results);
#    the Redis entry is keyed by a hash and holds neither the token nor the client secret;
#  - the Redis TTL is min(cacheTimeout, exp - now), or negativeCacheTimeout for inactive tokens;
#  - 50 concurrent requests with one new token on one node: one Redis GET, one introspection;
#  - Redis killed under load (100 connections, cacheTimeout 1s so entries keep expiring): 0 wrong
#    allows (inactive tokens never 200), every request answered, p99 within the introspection
#    timeout; the breaker opens; Redis back on the same port -> used again (L2 hit, no new call);
#  - a fake Redis answering garbage (tests/tools/fault_redis.py: junk, truncated or tampered
#    active values, wrong reply types, non-RESP bytes, a hang) -> never an allow: tokens the IdP
#    says are inactive stay 403, good ones are answered from the IdP, within the timeouts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"
start_redis
mkdir -p "$T/policies"
POLICY_NS=fleet write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect" \
	"cacheTimeout: 1s" "negativeCacheTimeout: 1s"
POLICY_NS=fleet write_policy "$T/policies/reviews.yaml" reviews reviews "$IDP/introspect" \
	"negativeCacheTimeout: 30s"
# cacheTimeout 2h, longer than the tokens' exp (fault_idp: now + 3600 s): the TTL is exp - now
POLICY_NS=fleet write_policy "$T/policies/long.yaml" long long "$IDP/introspect" "cacheTimeout: 2h"

# node N REDIS_PORT: agent N (log $T/agentN.log, --metrics) behind HAProxy N; sets FRONT[N], MET[N].
declare -a FRONT MET APID
node() {
	local n=$1 rport=$2
	AGENT_PORT=$(free_port)
	MET[n]=$(free_port)
	start_bg "agent$n" "$AGENT" --listen "127.0.0.1:$AGENT_PORT" --threads 2 --policies "$T/policies" \
		--redis "127.0.0.1:$rport" --metrics "127.0.0.1:${MET[n]}" --log-level info
	APID[n]=$BG_PID
	wait_port "$AGENT_PORT"
	STATUS_PORT=$(free_port)
	export STATUS_PORT AGENT_PORT
	haproxy_cfg_dir "$T/cfg$n"
	printf '/long   route=long\n' >>"$T/cfg$n/routes.map"
	start_haproxy 2.6 "$T/cfg$n"
	wait_agent_up
	FRONT[n]=$FRONT_PORT
}
node 1 "$REDIS_PORT"
node 2 "$REDIS_PORT"
node 3 "$REDIS_PORT"

calls() { curl -fsS "$IDP/__count?path=/introspect"; }
# status N PATH TOKEN
status() {
	curl -s -o "$T/last_body" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $3" \
		"http://127.0.0.1:${FRONT[$1]}$2"
}
metric() { # N NAME{LABELS}: the value on node N, 0 when absent
	curl -fsS "http://127.0.0.1:${MET[$1]}/metrics" | awk -v m="$2" '$1 == m { v = $2 } END { print v + 0 }'
}
gets() { redis-cli -p "$REDIS_PORT" info commandstats | sed -nE 's/^cmdstat_get:calls=([0-9]+),.*/\1/p' | tr -d '\r'; }

log "one token, three nodes"
tok=fleet-$RANDOM$RANDOM$RANDOM
c0=$(calls)
for n in 1 2 3; do
	s=$(status $n /reviews/1 "$tok")
	[ "$s" = 200 ] || fail "node $n: want 200, got $s"
done
[ "$(($(calls) - c0))" = 1 ] || fail "three nodes cost $(($(calls) - c0)) introspections, want 1"
[ "$(metric 2 'oauth2_spoa_l2_lookups_total{result="hit"}')" -ge 1 ] || fail "node 2: no L2 hit counted"
grep -q ' cache=l2 ' "$T/agent2.log" || fail "node 2 did not log cache=l2"
keys=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'oauth2-spoa:*')
[ -n "$keys" ] || fail "no oauth2-spoa:* key in Redis"
for k in $keys; do
	# cache entries, and the purge index sets (per sub and client_id, hashed)
	[[ $k =~ ^oauth2-spoa:(i:[sc]:)?[0-9a-f]{64}$ ]] || fail "unexpected key shape: $k"
	[[ $k == *:i:* ]] && continue
	redis-cli -p "$REDIS_PORT" --no-raw GET "$k" | grep -q "$tok" && fail "a Redis value holds the token"
	ttl=$(redis-cli -p "$REDIS_PORT" PTTL "$k")
	[ "$ttl" -gt 0 ] || fail "key without an expiry (PTTL $ttl)"
done
[[ $keys != *"$tok"* ]] || fail "a Redis key holds the token"

log "TTLs in Redis: min(cacheTimeout, exp - now), negativeCacheTimeout"
# pttl PATH TOKEN: the PTTL of the one cache entry a request with TOKEN writes (Redis flushed first)
pttl() {
	local k s
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
	s=$(status 1 "$1" "$2")
	[ "$s" = "$3" ] || fail "$1: want $3, got $s"
	sleep 0.2 # the SET is fire-and-forget
	k=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'oauth2-spoa:[0-9a-f]*')
	[ "$(printf '%s\n' "$k" | grep -c .)" = 1 ] || fail "$1: want one cache entry, got: $k"
	redis-cli -p "$REDIS_PORT" PTTL "$k"
}
t=$(pttl /ratings/1 "ttl-a-$RANDOM$RANDOM" 200)
[ "$t" -gt 0 ] && [ "$t" -le 1000 ] || fail "cacheTimeout 1s: PTTL $t"
t=$(pttl /reviews/1 "ttl-b-$RANDOM$RANDOM" 200)
[ "$t" -gt 590000 ] && [ "$t" -le 600000 ] || fail "default cacheTimeout 10m: PTTL $t"
t=$(pttl /long/1 "ttl-c-$RANDOM$RANDOM" 200)
[ "$t" -gt 3590000 ] && [ "$t" -le 3600000 ] || fail "cacheTimeout 2h, exp in 1h: PTTL $t (want exp - now)"
t=$(pttl /reviews/1 "mode.inactive.ttl-$RANDOM$RANDOM" 403)
[ "$t" -gt 29000 ] && [ "$t" -le 30000 ] || fail "negativeCacheTimeout 30s: PTTL $t"

log "negative result, three nodes"
neg=mode.inactive.$RANDOM$RANDOM
c0=$(calls)
for n in 1 2 3; do
	s=$(status $n /reviews/1 "$neg")
	[ "$s" = 403 ] || fail "inactive token on node $n: want 403, got $s"
done
[ "$(($(calls) - c0))" = 1 ] || fail "an inactive token on three nodes cost $(($(calls) - c0)) introspections"

log "single flight across both caches: 50 concurrent requests, one new token, node 3"
sf=sf-$RANDOM$RANDOM$RANDOM
c0=$(calls)
g0=$(gets)
pids=()
for i in $(seq 50); do
	(s=$(status 3 /reviews/1 "$sf"); [ "$s" = 200 ] || fail "concurrent $i: $s") &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent request failed"; done
[ "$(($(calls) - c0))" = 1 ] || fail "50 concurrent requests: $(($(calls) - c0)) introspections, want 1"
[ "$(($(gets) - g0))" = 1 ] || fail "50 concurrent requests: $(($(gets) - g0)) Redis GETs, want 1"

log "Redis killed under load (100 connections on node 1)"
python3 - "$T/spec.json" <<'PY'
import json, random, sys
r = random.Random()
good = ["Bearer load-%d-%d" % (i, r.randrange(1 << 30)) for i in range(300)]
bad = ["Bearer mode.inactive.%d-%d" % (i, r.randrange(1 << 30)) for i in range(300)]
json.dump({"classes": [
    {"name": "active", "path": "/ratings/1", "expect": [200], "authorization": good},
    {"name": "inactive", "path": "/ratings/1", "expect": [403], "authorization": bad}]},
    open(sys.argv[1], "w"))
PY
python3 "$E2E_ROOT/tests/tools/load_client.py" --port "${FRONT[1]}" --spec "$T/spec.json" \
	--conns 100 --duration 8 --timeout 5 --out "$T/load.json" 2>"$T/load.err" &
load=$!
sleep 2.5
stop_bg "$REDIS_PID"
killed_at=$SECONDS
sleep 3
wait "$load" && lrc=0 || lrc=$?
log "load: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["responses"], "responses", d["latency_ms"], d["classes"], "wrong", d.get("wrong"), "errors", d.get("errors"))' "$T/load.json")"
[ "$lrc" = 0 ] || fail "load with Redis killed: unexpected statuses or errors: $(cat "$T/load.json")"
p99=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency_ms"]["p99"])' "$T/load.json")
awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || fail "p99 ${p99} ms with Redis dead (want < 1000 ms, the introspection timeout)"
[ "$(metric 1 oauth2_spoa_l2_breaker_opened_total)" -ge 1 ] || fail "the breaker never opened"
[ "$(metric 1 'oauth2_spoa_l2_lookups_total{result="skipped"}')" -ge 1 ] || fail "no lookup skipped while Redis was dead"
alive "${APID[1]}" || fail "agent 1 died"

log "Redis back on port $REDIS_PORT: used again"
start_redis redis2
sleep 1.5 # > L2_BREAKER_COOLDOWN: the next request of each worker is the probe
back=back-$RANDOM$RANDOM$RANDOM
s=$(status 1 /reviews/1 "$back")
[ "$s" = 200 ] || fail "after Redis came back: node 1 $s"
c0=$(calls)
h0=$(metric 2 'oauth2_spoa_l2_lookups_total{result="hit"}')
for i in 1 2 3; do
	s=$(status 2 /reviews/1 "back-probe-$i-$RANDOM") # opens node 2's workers' breakers
	[ "$s" = 200 ] || fail "node 2 probe: $s"
done
c0=$(calls)
s=$(status 2 /reviews/1 "$back")
[ "$s" = 200 ] || fail "node 2 after Redis came back: $s"
[ "$(($(calls) - c0))" = 0 ] || fail "node 2 asked the IdP for a token node 1 put in the restarted Redis"
[ "$(metric 2 'oauth2_spoa_l2_lookups_total{result="hit"}')" -gt "$h0" ] || fail "no L2 hit after Redis came back"
: "$killed_at"

log "a fake Redis answering garbage (node 4): never an allow"
echo junk >"$T/rmode"
exec 4< <(exec python3 "$E2E_ROOT/tests/tools/fault_redis.py" --port 0 --mode-file "$T/rmode" --count-file "$T/rcount")
FR_PID=$!
_LIB_PIDS+=("$FR_PID")
read -r -t 10 FR_PORT <&4 || fail "fault_redis.py did not print its port"
exec 4<&-
node 4 "$FR_PORT"
for mode in junk truncated badversion trailing wrongtype array proto miss hang junk; do
	echo "$mode" >"$T/rmode"
	for i in 1 2 3; do
		bad=mode.inactive.$mode-$i-$RANDOM$RANDOM
		out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 10 \
			-H "Authorization: Bearer $bad" "http://127.0.0.1:${FRONT[4]}/reviews/1" || true)
		read -r s secs <<<"$out"
		[ "$s" = 403 ] || fail "fake Redis '$mode': an inactive token got $s"
		awk -v t="$secs" 'BEGIN { exit !(t < 1.0) }' || fail "fake Redis '$mode': ${secs}s"
		c0=$(calls)
		s=$(status 4 /reviews/1 "good-$mode-$i-$RANDOM$RANDOM")
		[ "$s" = 200 ] || fail "fake Redis '$mode': a good token got $s"
		[ "$(($(calls) - c0))" = 1 ] || fail "fake Redis '$mode': the good token was not introspected"
	done
done
[ "$(cat "$T/rcount")" -ge 1 ] || fail "the fake Redis was never asked"
[ "$(metric 4 'oauth2_spoa_l2_errors_total{kind="bad_value"}')" -ge 1 ] || fail "no bad_value error counted"
[ "$(metric 4 'oauth2_spoa_l2_lookups_total{result="hit"}')" = 0 ] || fail "a garbage answer counted as a hit"
grep -q 'mallory' "$T/agent4.log" && fail "a tampered value's sub reached the log"
for n in 1 2 3 4; do
	alive "${APID[n]}" || fail "agent $n died"
	AGENT_PID=${APID[n]} AGENT_LOG=$T/agent$n.log stop_agent
done
log "ok"

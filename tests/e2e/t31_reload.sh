#!/usr/bin/env bash
# SIGHUP reload under load (issue 7), behind real HAProxy 2.6, agent started with -c FILE:
#  - a load loop (2 curl clients) runs through all reloads; every response must be the expected
#    status (200 with a token, 401/403 without): zero failed requests;
#  - 20 reloads, alternating the policy directory between two valid variants and changing the
#    leeway; each must log "reloaded" (bounded wait);
#  - a reload that changes requiredScopes takes effect (the same token goes from 200 to 403 and
#    back), and a changed `maxFrameSize` is logged as "needs restart";
#  - an invalid reload (unknown key) is rejected with a log line, the old config keeps serving;
#  - the metrics count 20+ reloads and 1 failed reload; the agent stops cleanly (exit 0).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"

mkdir -p "$T/policies"
# ratings_policy SCOPE: the policy reload/ratings, requiring SCOPE.
ratings_policy() {
	POLICY_NS=reload write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect" \
		"requiredScopes: [$1]"
}
METRICS_PORT=$(free_port)
# write_config LEEWAY [EXTRA LINE]
write_config() {
	{
		printf 'log: {level: info}\nmetrics: 127.0.0.1:%s\nleeway: %s\npolicies: [policies]\n' "$METRICS_PORT" "$1"
		[ -z "${2:-}" ] || printf '%s\n' "$2"
	} >"$T/agent.yaml.tmp"
	mv "$T/agent.yaml.tmp" "$T/agent.yaml"
}
ratings_policy read
write_config 30s
"$AGENT" --check -c "$T/agent.yaml" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"

start_agent -c "$T/agent.yaml"
wait_http "http://127.0.0.1:$METRICS_PORT/healthz"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

TOKEN=good-reload-$RANDOM$RANDOM
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"
expect_status 403 /ratings/1

# The load: each client loops until $T/stop exists (at most 120 s), checking every status.
loader() {
	local id=$1 n=0 bad=0 code deadline=$((SECONDS + 120))
	while [ ! -e "$T/stop" ] && [ $SECONDS -lt $deadline ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $TOKEN" \
			"http://127.0.0.1:$FRONT_PORT/ratings/1" || true)
		n=$((n + 1))
		[ "$code" = 200 ] || { bad=$((bad + 1)); echo "client $id: token: $code" >>"$T/failures"; }
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$FRONT_PORT/ratings/1?$n" || true)
		n=$((n + 1))
		[ "$code" = 403 ] || { bad=$((bad + 1)); echo "client $id: no token: $code" >>"$T/failures"; }
	done
	echo "$n $bad" >"$T/loader.$id"
}
: >"$T/failures"
loader 1 &
L1=$!
loader 2 &
L2=$!

reloads() { grep -c 'reloaded: ' "$AGENT_LOG" || true; }
# hup: send SIGHUP and wait (10 s at most) for one more "reloaded" line.
hup() {
	local before deadline=$((SECONDS + 10))
	before=$(reloads)
	kill -HUP "$AGENT_PID"
	until [ "$(reloads)" -gt "$before" ]; do
		alive "$AGENT_PID" || fail "agent died on reload: $(tail -n 5 "$AGENT_LOG")"
		[ $SECONDS -lt $deadline ] || fail "no 'reloaded' line 10s after SIGHUP: $(tail -n 5 "$AGENT_LOG")"
		sleep 0.05
	done
}

for i in $(seq 1 20); do
	if [ $((i % 2)) = 1 ]; then write_config 10s; else write_config 30s; fi
	# variant B adds a second, unrelated policy file; variant A removes it
	if [ $((i % 2)) = 1 ]; then
		sed -e 's/name: ratings/name: other/' -e 's/route: ratings/route: other/' "$T/policies/ratings.yaml" >"$T/policies/other.yaml"
	else
		rm -f "$T/policies/other.yaml"
	fi
	hup
	sleep 0.2
done
log "20 reloads done"
grep -q 'policies: 2\|reloaded: 2 policies' "$AGENT_LOG" || fail "variant B (2 policies) never loaded: $(grep reloaded "$AGENT_LOG" | tail -n 3)"

# An invalid reload: rejected, the running configuration keeps serving.
write_config 30s "bogusKey: 1"
kill -HUP "$AGENT_PID"
wait_log "$AGENT_LOG" 'reload rejected.*agent.yaml:[0-9]*:[0-9]*: unknown key "bogusKey"'
sleep 1 # serving goes on (checked by the loaders)
touch "$T/stop"
wait "$L1" "$L2"
read -r n1 b1 <"$T/loader.1"
read -r n2 b2 <"$T/loader.2"
log "load: $((n1 + n2)) requests, $((b1 + b2)) failed"
[ "$((b1 + b2))" = 0 ] || fail "$((b1 + b2)) failed requests during reloads: $(head -n 5 "$T/failures")"
[ "$((n1 + n2))" -ge 100 ] || fail "only $((n1 + n2)) requests ran during the reloads"

# A reload that changes the policy takes effect; maxFrameSize needs a restart.
write_config 30s "maxFrameSize: 8192"
ratings_policy admin
hup
grep -q "maxFrameSize changed; needs restart" "$AGENT_LOG" || fail "no needs-restart line for maxFrameSize"
expect_status 403 /ratings/1 -H "Authorization: Bearer $TOKEN"
write_config 30s
ratings_policy read
hup
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"

m=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") || fail "metrics scrape failed"
r=$(printf '%s\n' "$m" | awk '$1 == "oauth2_spoa_reloads_total" { print $2 }')
f=$(printf '%s\n' "$m" | awk '$1 == "oauth2_spoa_reload_failures_total" { print $2 }')
[ "$r" = 22 ] || fail "oauth2_spoa_reloads_total: want 22, got '$r'"
[ "$f" = 1 ] || fail "oauth2_spoa_reload_failures_total: want 1, got '$f'"
stop_agent
log "ok"

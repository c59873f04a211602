#!/usr/bin/env bash
# e2e-timeout: 120
# Pins bounded serve-stale (staleIfError) with the real Ory Hydra behind HAProxy 2.6 (RFC 6750
# rules: introspection_error -> 503). Policy ratings: cacheTimeout 2s, staleIfError 3s; policy
# reviews on the same endpoint and cache rules but requiredScopes [write]. Two tokens (scope read)
# are cached, then Hydra is stopped and token B purged through the admin listener:
#  - past the 2 s TTL, before TTL + 3 s: A -> 200 with reason=stale (decision log cache=stale,
#    oauth2_spoa_decisions_total{reason="stale"}), again a second later;
#  - the purged token B -> 503 introspection_error (never served stale);
#  - A on reviews -> 403 insufficient_scope (the stale claims are checked like fresh ones);
#  - past TTL + 3 s: A -> 503 introspection_error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

start_hydra
hydra_create_client svc-stale svc-stale-secret-123 "read"
A=$(hydra_token svc-stale svc-stale-secret-123 read)
B=$(hydra_token svc-stale svc-stale-secret-123 read)

mkdir -p "$T/policies"
RULES=("cacheTimeout: 2s" "staleIfError: 3s")
write_policy "$T/policies/ratings.yaml" ratings ratings "$HYDRA_INTROSPECT" "${RULES[@]}"
write_policy "$T/policies/reviews.yaml" reviews reviews "$HYDRA_INTROSPECT" "${RULES[@]}" \
	"requiredScopes: [write]"
ADMIN_PORT=$(free_port)
METRICS_PORT=$(free_port)
printf 'admin-token-%s%s%s\n' "$RANDOM" "$RANDOM" "$RANDOM" >"$T/admin.token"
printf 'admin: {address: 127.0.0.1:%s, tokenFile: admin.token}\n' "$ADMIN_PORT" >"$T/agent.yaml"
start_agent -c "$T/agent.yaml" --policies "$T/policies" --introspection-timeout 500 \
	--metrics "127.0.0.1:$METRICS_PORT" --log-level info
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up
wait_port "$ADMIN_PORT"

get() { # ROUTE TOKEN: status
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $2" \
		"http://127.0.0.1:$FRONT_PORT/$1/1"
}
age() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
stale_count() {
	curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk '/^oauth2_spoa_decisions_total\{.*reason="stale"/ { n += $NF } END { print n + 0 }'
}

T0=$EPOCHREALTIME # the entries are stored at T0 + a few ms
[ "$(get ratings "$A")" = 200 ] || fail "Hydra up: A on ratings not 200"
[ "$(get ratings "$B")" = 200 ] || fail "Hydra up: B on ratings not 200"
[ "$(get reviews "$A")" = 403 ] || fail "Hydra up: A on reviews (needs write) not 403"
[ "$(stale_count)" = 0 ] || fail "stale decisions before any error"

stop_bg "$HYDRA_PID"
alive "$HYDRA_PID" && fail "hydra still runs"
log "Hydra stopped at $(age)s"
printf '%s\n' "$B" >"$T/tokfile"
"$AGENT" purge --admin "127.0.0.1:$ADMIN_PORT" --admin-token-file "$T/admin.token" \
	--token-file "$T/tokfile" >"$T/purge.out" || fail "purge of B failed: $(cat "$T/purge.out")"
sleep 2.3
n=$(log_lines)
for i in 1 2; do
	a=$(age)
	awk -v a="$a" 'BEGIN { exit !(a >= 2.2 && a < 4.6) }' || fail "too slow: at ${a}s, outside the window"
	[ "$(get ratings "$A")" = 200 ] || fail "A at ${a}s (TTL over, inside staleIfError): want 200 stale"
	log "A served stale at ${a}s"
	[ $i = 2 ] || sleep 1
done
[ "$(get ratings "$B")" = 503 ] || fail "purged B came back (want 503)"
[ "$(get reviews "$A")" = 403 ] || fail "stale A on reviews: want 403 insufficient_scope"
d=$(decisions_since "$n")
[ "$(grep -c ' reason=stale .* cache=stale ' <<<"$d")" = 2 ] || fail "want 2 stale decisions: $d"
grep -q ' reason=introspection_error ' <<<"$d" || fail "B: no introspection_error decision: $d"
grep -q ' reason=insufficient_scope ' <<<"$d" || fail "reviews: no insufficient_scope decision: $d"
[ "$(stale_count)" = 2 ] || fail "oauth2_spoa_decisions_total{reason=\"stale\"}: want 2, got $(stale_count)"

a=$(age)
s=$(awk -v a="$a" 'BEGIN { s = 5.4 - a; print (s > 0 ? s : 0) }')
sleep "$s"
log "past the window at $(age)s"
n=$(log_lines)
[ "$(get ratings "$A")" = 503 ] || fail "A past TTL + staleIfError: want 503"
decisions_since "$n" | grep -q ' reason=introspection_error ' || fail "A past the window: no introspection_error"

stop_agent
for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	! grep -qF "$A" "$f" || fail "the raw token appears in $(basename "$f")"
done
log "stale-if-error passed"

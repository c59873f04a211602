#!/usr/bin/env bash
# Pins bounded agent memory against an IdP that answers 100 MB bodies (fault_idp.py modes "huge",
# chunked, and "huge-cl", Content-Length: 104857600), behind real HAProxy 2.6 (RFC 6750 rules):
# 3 rounds of 16 concurrent requests (8 of each mode, distinct tokens) -> every one 503 within
# --introspection-timeout 1000 + 0.5 s, reason=introspection_error; the agent's RSS, sampled
# every 50 ms during the rounds, stays below baseline + 32 MB (the agent stops reading at its
# 64 KiB body cap instead of buffering); a good token still gets 200 afterwards. t23 pins the
# other fault modes one by one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect"
start_agent --policies "$T/policies" --introspection-timeout 1000 --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up
expect_status 200 /ratings/1 -H "Authorization: Bearer warm-up-token"
base=$(rss_kb "$AGENT_PID")

: >"$T/rss"
(
	while :; do
		awk '/^VmRSS:/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null >>"$T/rss" || exit 0
		sleep 0.05
	done
) &
SAMPLER=$!
n=$(log_lines)
for round in 1 2 3; do
	pids=()
	for i in $(seq 8); do
		for mode in huge huge-cl; do
			curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 \
				-H "Authorization: Bearer mode.$mode.$round.$i" "http://127.0.0.1:$FRONT_PORT/ratings/$i" \
				>"$T/r.$round.$mode.$i" &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
done
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
cat "$T"/r.* >"$T/all"
bad=$(awk '$1 != 503 || $2 >= 1.5' "$T/all")
[ -z "$bad" ] || fail "want 503 within 1.5 s for all 48 requests, got: $(sort "$T/all" | head -5 | tr '\n' ';')"
[ "$(grep -c . "$T/all")" = 48 ] || fail "want 48 answers"
[ "$(decisions_since "$n" | grep -c ' reason=introspection_error ')" = 48 ] ||
	fail "want 48 introspection_error decisions: $(decisions_since "$n" | head -3)"
peak=$(sort -n "$T/rss" | tail -n 1)
slow=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {printf "%.3f", m}' "$T/all")
log "48 x 503 with 100 MB bodies, slowest ${slow}s; agent RSS baseline ${base} kB, peak ${peak} kB over $(grep -c . "$T/rss") samples"
[ "$peak" -lt $((base + 32768)) ] || fail "agent RSS went from ${base} kB to ${peak} kB while the IdP sent 100 MB bodies"
expect_status 200 /ratings/1 -H "Authorization: Bearer good-after-huge"
stop_agent
log "huge bodies passed"

#!/usr/bin/env bash
# Operations (issue 7), behind real HAProxy 2.6 with the fault-injecting IdP:
#  - --check: the shipped contrib/oauth2-spoa.yaml passes; a config with an unknown key, a bad
#    value, or a bad policy fails with file:line:col on stderr and a non-zero exit; --policies
#    alone works;
#  - metrics (/metrics, /healthz, 404 elsewhere): decisions by policy/reason/mode, cache hits and
#    misses, introspection calls and latency histogram by endpoint,
#    SPOP connections/frames, build info; counters move as requests flow;
#  - shadow mode: a policy with `mode: shadow` answers allowed with reason shadow:<reason>;
#  - logs: JSON decision lines at info with policy, route, reason, token fingerprint, cache;
#    no raw token anywhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

# ---------------------------------------------------------------- --check
out=$("$AGENT" --check -c "$E2E_ROOT/contrib/oauth2-spoa.yaml" 2>&1) || fail "contrib/oauth2-spoa.yaml: $out"
case $out in "ok: "*) ;; *) fail "--check summary: $out" ;; esac
printf 'threads: 2\nlog:\n  level: info\n  colour: red\n' >"$T/bad1.yaml"
if out=$("$AGENT" --check -c "$T/bad1.yaml" 2>&1); then fail "--check accepted an unknown key"; fi
case $out in *"bad1.yaml:4:3: unknown key \"colour\" in log"*) ;; *) fail "unknown key: $out" ;; esac
printf 'defaultDecision: maybe\n' >"$T/bad2.yaml"
if out=$("$AGENT" --check -c "$T/bad2.yaml" 2>&1); then fail "--check accepted defaultDecision: maybe"; fi
case $out in *"bad2.yaml:1:18: defaultDecision: unknown value"*) ;; *) fail "bad value: $out" ;; esac
mkdir -p "$T/badpol"
printf 'apiVersion: oauth2-spoa/v1\nkind: ExtAuthPolicy\nmetadata: {name: x}\nspec:\n  mode: loud\n  config: {}\n' >"$T/badpol/x.yaml"
if out=$("$AGENT" --check --policies "$T/badpol" 2>&1); then fail "--check accepted mode: loud"; fi
case $out in *"x.yaml:5:9: spec.mode: unknown value \"loud\""*) ;; *) fail "bad policy: $out" ;; esac

# ---------------------------------------------------------------- agent with metrics
start_fault_idp --sub alice --client-id svc-a --scope "read write"
mkdir -p "$T/policies"
# policy NAME ROUTE URL MODE [ATV-LINE]
policy() {
	POLICY_NS=ops POLICY_MODE=$4 write_policy "$T/policies/$1.yaml" "$1" "$2" "$3" ${5:+"$5"}
}
# (labels never carry userinfo or a query: stats_endpoint_label() in tests/unit/test_stats.c;
# policies refuse credentials in URLs anyway)
policy ratings ratings "$IDP/introspect" enforce "requiredScopes: [read]"
policy reviews reviews "$IDP/introspect" shadow "requiredScopes: [admin]"
METRICS_PORT=$(free_port)
printf 'log: {level: info, format: json}\nmetrics: 127.0.0.1:%s\npolicies: [policies]\n' "$METRICS_PORT" >"$T/agent.yaml"
"$AGENT" --check -c "$T/agent.yaml" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
start_agent -c "$T/agent.yaml"
wait_http "http://127.0.0.1:$METRICS_PORT/healthz"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$METRICS_PORT/other")
[ "$code" = 404 ] || fail "GET /other: want 404, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$METRICS_PORT/metrics")
[ "$code" = 405 ] || fail "POST /metrics: want 405, got $code"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/metrics.$1" || fail "scrape $1 failed"; }
# metric FILE-SUFFIX 'NAME{LABELS}': its value (0 when absent)
metric() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$T/metrics.$1"; }

scrape 0
TOKEN=good-ops-$RANDOM$RANDOM
for i in 1 2 3 4 5; do expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"; done
expect_status 403 /ratings/1
expect_status 200 /reviews/1 -H "Authorization: Bearer $TOKEN"
scrape 1

ok=$(metric 1 'oauth2_spoa_decisions_total{policy="ops/ratings",reason="ok",mode="enforce"}')
[ "$ok" = 5 ] || fail "decisions ok for ops/ratings: want 5, got $ok: $(grep decisions "$T/metrics.1")"
mt=$(metric 1 'oauth2_spoa_decisions_total{policy="ops/ratings",reason="missing_token",mode="enforce"}')
[ "$mt" = 1 ] || fail "missing_token decisions: want 1, got $mt"
sh=$(metric 1 'oauth2_spoa_decisions_total{policy="ops/reviews",reason="insufficient_scope",mode="shadow"}')
[ "$sh" = 1 ] || fail "shadow decisions: want 1, got $sh: $(grep decisions "$T/metrics.1")"
h0=$(metric 0 oauth2_spoa_cache_hits_total)
h1=$(metric 1 oauth2_spoa_cache_hits_total)
[ "$((h1 - h0))" -ge 4 ] || fail "cache hits moved by $((h1 - h0)), want >= 4"
[ "$(metric 1 oauth2_spoa_cache_misses_total)" -ge 1 ] || fail "no cache miss counted"
grep -q '^oauth2_spoa_introspection_calls_total{endpoint="http://127.0.0.1:'"$IDP_PORT"'/introspect",outcome="ok"} [1-9]' "$T/metrics.1" ||
	fail "introspection calls by endpoint: $(grep introspection_calls "$T/metrics.1")"
grep -q 'oauth2_spoa_introspection_duration_seconds_bucket{endpoint="http://127.0.0.1:'"$IDP_PORT"'/introspect",le="+Inf"} [1-9]' "$T/metrics.1" ||
	fail "latency histogram: $(grep duration "$T/metrics.1" | head -n 3)"
[ "$(metric 1 oauth2_spoa_spop_connections_total)" -ge 1 ] || fail "no SPOP connection counted"
f0=$(metric 0 'oauth2_spoa_spop_frames_total{direction="in"}')
f1=$(metric 1 'oauth2_spoa_spop_frames_total{direction="in"}')
[ "$((f1 - f0))" -ge 7 ] || fail "SPOP frames in moved by $((f1 - f0)), want >= 7"
grep -q '^oauth2_spoa_build_info{version="[0-9.]*"} 1$' "$T/metrics.1" || fail "no build info"
grep -q '^# TYPE oauth2_spoa_introspection_duration_seconds histogram$' "$T/metrics.1" || fail "no histogram TYPE line"

# Shadow mode: allowed, reason shadow:insufficient_scope; JSON decision lines.
log_settle
grep -q '"msg":"decision".*"policy":"ops/reviews","reason":"shadow:insufficient_scope","status":200' "$AGENT_LOG" ||
	fail "no JSON shadow decision line: $(grep -m3 decision "$AGENT_LOG")"
grep -q '"msg":"decision".*"policy":"ops/ratings","reason":"ok".*"token":"[0-9a-f]\{8\}","cache":"hit".*"route":"route=ratings,app=bookinfo","sub":"alice","client_id":"svc-a"' "$AGENT_LOG" ||
	fail "no JSON ok decision line with route/sub/client_id: $(grep -m3 decision "$AGENT_LOG")"
for f in "$T"/*.log "$T"/metrics.*; do
	if grep -qF "$TOKEN" "$f"; then fail "the raw token appears in $(basename "$f")"; fi
done
stop_agent
log "ok"

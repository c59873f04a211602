#!/usr/bin/env bash
# Pins the production setup of the README's checklist (issue 11, item 3) through real HAProxy 2.6
# and 3.2 with the shipped haproxy/ files: defaultDecision deny plus an explicitly public route.
#  - a route no policy selects is denied (403, reason no_policy), with or without a token;
#  - the public route (spec.config.public: true) answers 200 without a token (reason
#    public_route, counted in oauth2_spoa_decisions_total), and without asking the IdP;
#  - the protected route needs a valid token (403 without, 200 with);
#  - a route only a shadow-mode policy selects stays denied (403 no_policy), even with a token
#    that policy would accept (before: allowed, so staging a policy opened its route);
#  - the policy file holds the README's public example, byte for byte.
# Before: `public` was an unknown key (the agent refused the policy), so the only way to keep a
# health check reachable under defaultDecision deny was a policy that demanded a token.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope read
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect"
# a policy being staged in shadow mode never opens its route
POLICY_MODE=shadow write_policy "$T/policies/reviews.yaml" reviews reviews "$IDP/introspect"
# The README's example of a public route, as written there.
python3 - "$E2E_ROOT/README.md" >"$T/policies/health.yaml" <<'PY' || fail "README: no public-route-example block"
import re, sys, textwrap
m = re.search(r"\n *# public-route-example\n(.*?)\n *```", open(sys.argv[1]).read(), re.S)
sys.exit(1) if not m else print(textwrap.dedent(m.group(1)))
PY
grep -q 'public: true' "$T/policies/health.yaml" || fail "README: no public-route-example block"
METRICS_PORT=$(free_port)
start_agent --policies "$T/policies" --default-decision deny --metrics "127.0.0.1:$METRICS_PORT"

for ver in 2.6 3.2; do
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	haproxy_cfg_dir "$T/cfg-$ver"
	printf '/healthz   route=health\n' >>"$T/cfg-$ver/routes.map"
	start_haproxy "$ver" "$T/cfg-$ver"
	wait_agent_up
	curl -s -o /dev/null -X POST "$IDP/__reset"
	expect_status 403 /details/1
	expect_status 403 /details/1 -H "Authorization: Bearer good-$RANDOM"
	expect_status 200 /healthz
	grep -q '^upstream: GET /healthz ' "$T/last_body" || fail "$ver: /healthz did not reach the upstream"
	expect_status 403 /ratings/1
	expect_status 200 /ratings/1 -H "Authorization: Bearer good-$RANDOM"
	[ "$(curl -s "$IDP/__count?path=/introspect")" = 1 ] ||
		fail "$ver: want exactly one introspection (the protected route), got $(curl -s "$IDP/__count")"
	expect_status 403 /reviews/1
	expect_status 403 /reviews/1 -H "Authorization: Bearer good-$RANDOM"
	stop_bg "$HAPROXY_PID"
done

grep -q 'reason=public_route status=200 .*route=health' "$AGENT_LOG" || fail "no public_route decision logged"
grep -q 'policy=- reason=no_policy status=403' "$AGENT_LOG" || fail "no no_policy 403 logged"
m=$(curl -s "http://127.0.0.1:$METRICS_PORT/metrics")
grep -q '^oauth2_spoa_decisions_total{policy="public/health",reason="public_route",mode="enforce"} 2$' <<<"$m" ||
	fail "public_route not counted: $(grep decisions_total <<<"$m")"
stop_agent
log "default deny with a public route passed"

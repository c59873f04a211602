#!/usr/bin/env bash
# Pins the documented alternative answer of haproxy/haproxy.cfg (the commented
# RFC 6750 block, uncommented here exactly as shipped): 401 with a Bearer
# WWW-Authenticate challenge for a missing or inactive token, 403 with
# error="insufficient_scope" and scope="..." for a token lacking a scope, 503
# when the IdP fails, 200 with a good token; on HAProxy 2.6, 3.2 and 3.4.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --scope "read"
cat >"$T/policies.yaml" <<EOP
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: ratings, namespace: e2e}
spec:
  applyToRoutes:
  - route: {labels: {route: ratings}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspectionUrl: http://127.0.0.1:$IDP_PORT/introspect
---
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: reviews-admin, namespace: e2e}
spec:
  applyToRoutes:
  - route: {labels: {route: reviews}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspectionUrl: http://127.0.0.1:$IDP_PORT/introspect
            requiredScopes: [admin, write]
EOP
start_agent --policies "$T/policies.yaml" --introspection-timeout 500 --log-level debug

# headers_of PATH [CURL ARGS]: status line + headers of the answer, in $T/h
hdrs() {
	local path=$1
	shift
	curl -s -D "$T/h" -o /dev/null --max-time 5 "$@" "http://127.0.0.1:$FRONT_PORT$path" || true
	tr -d '\r' <"$T/h" >"$T/h.txt"
}
want() { # want STATUS PATTERN_IN_HEADERS
	head -n1 "$T/h.txt" | grep -q " $1" || fail "want status $1, got: $(head -n1 "$T/h.txt")"
	[ -z "$2" ] || grep -qi -- "$2" "$T/h.txt" || fail "want header matching '$2' in: $(cat "$T/h.txt")"
}

for ver in 2.6 3.2 3.4; do
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	rfc6750_cfg "$T/cfg-$ver" # the commented alternative, uncommented as shipped
	start_haproxy "$ver" "$T/cfg-$ver"
	wait_agent_up
	hdrs /ratings/1
	want 401 '^www-authenticate: Bearer realm="oauth2-spoa"$'
	hdrs /ratings/1 -H "Authorization: Bearer mode.inactive.$ver"
	want 401 'www-authenticate: Bearer realm="oauth2-spoa", error="invalid_token"'
	hdrs /ratings/1 -H "Authorization: Bearer good.$ver"
	want 200 ""
	hdrs /reviews/1 -H "Authorization: Bearer good.$ver"
	want 403 'www-authenticate: Bearer realm="oauth2-spoa", error="insufficient_scope", .*scope="admin write"$'

	hdrs /ratings/1 -H "Authorization: Bearer mode.status.500.$ver"
	want 503 ""
	hdrs /ratings/1 -H "Authorization: Bearer Bearer x y"
	want 401 'error="invalid_request"'
	stop_bg "$HAPROXY_PID"
done
grep -q 'reason=insufficient_scope' "$AGENT_LOG" || fail "no insufficient_scope decision logged"
stop_agent
log "RFC 6750 answers passed"

#!/usr/bin/env bash
# Pins Gloo's accessTokenValidation.userinfoUrl (issue 13 item 3) with real Keycloak and the shipped
# haproxy/ files (HAProxy 3.2, with their RFC 6750 answers). Before, userinfoUrl was refused at load. The realm's svc client has
# a claim Keycloak puts in userinfo answers only (ui_tier: gold, not in the access token nor in the
# introspection answer), so X-Auth-Roles can only come from the userinfo call:
#   introspection + userinfoUrl, the user's token with openid   /ratings 200: upstream sees the
#       introspection answer's sub and client_id, roles=gold (userinfo) and the user's email
#   the same token again                                        200, same headers, no new call
#   a token without the openid scope: userinfo 403              /ratings 401 inactive_token
#   userinfoUrl alone (no introspection)                        /uinfo 200 with the userinfo sub,
#                                                               401 for the token without openid
#   Keycloak stopped, tokens not cached                         503 introspection_error on both
# and the userinfo calls counted under its URL in /metrics, a plain-http userinfo URL to another host
# warned about by --check, no token or secret in any log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"
. "$(dirname "$0")/keycloak.sh"

start_keycloak
kc_setup_realm e2e ratings
cid=$(_kc_id "/e2e/clients?clientId=$KC_SVC_ID" clientId "$KC_SVC_ID")
kc_api POST "/e2e/clients/$cid/protocol-mappers/models" '{"name":"ui-tier","protocol":"openid-connect",
	"protocolMapper":"oidc-hardcoded-claim-mapper","config":{"claim.name":"ui_tier","claim.value":"gold",
	"jsonType.label":"String","userinfo.token.claim":"true","access.token.claim":"false",
	"id.token.claim":"false","introspection.token.claim":"false"}}' >/dev/null
USERINFO=$KC_ISSUER/protocol/openid-connect/userinfo

mkdir -p "$T/policies/secrets"
printf '%s\n' "$KC_AGENT_SECRET" >"$T/policies/secrets/kc-agent"
chmod 600 "$T/policies/secrets/kc-agent"
cat >"$T/policies/ratings.yaml" <<EOF
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: ratings-kc, namespace: bookinfo}
spec:
  applyToRoutes:
  - route: {labels: {route: ratings}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspection:
              introspectionUrl: $KC_INTROSPECT
              clientId: $KC_AGENT_ID
              clientSecretFile: secrets/kc-agent
            userinfoUrl: $USERINFO
            cacheTimeout: 60s
            dynamicMetadataFromClaims:
              ui_tier: roles
              email: email
---
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: uinfo, namespace: bookinfo}
spec:
  applyToRoutes:
  - route: {labels: {route: uinfo}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            userinfoUrl: $USERINFO
            dynamicMetadataFromClaims:
              ui_tier: roles
EOF
"$AGENT" --check --policies "$T/policies" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
! grep -q warning "$T/check.out" || fail "--check warned about loopback URLs: $(cat "$T/check.out")"
# A plain-http userinfo URL to another host: warned about (the tokens would cross in clear).
mkdir -p "$T/plain"
sed "s#userinfoUrl: $USERINFO#userinfoUrl: http://sso.example/userinfo#" "$T/policies/ratings.yaml" >"$T/plain/p.yaml"
cp -a "$T/policies/secrets" "$T/plain/"
"$AGENT" --check --policies "$T/plain/p.yaml" >"$T/plain.out" 2>&1 || fail "--check plain: $(cat "$T/plain.out")"
[ "$(grep -c 'warning: userinfo URL http://sso.example/userinfo is plain http' "$T/plain.out")" = 1 ] ||
	fail "no single cleartext warning for the userinfo URL: $(cat "$T/plain.out")"
METRICS_PORT=$(free_port)
start_agent --policies "$T/policies" --metrics "127.0.0.1:$METRICS_PORT"

kc_password_tokens "$T/alice.json" "openid"
alice=$(json_get access_token <"$T/alice.json")
kc_password_tokens "$T/alice2.json" "openid"
alice2=$(json_get access_token <"$T/alice2.json") # first seen with Keycloak stopped
kc_password_tokens "$T/noid.json" "email"
noid=$(json_get access_token <"$T/noid.json")
user_sub=$(kc_introspect "$alice" | json_get sub)
# What Keycloak itself says, so the test pins the agent and not an assumption about Keycloak.
ui=$(curl -fsS --max-time 10 -H "Authorization: Bearer $alice" "$USERINFO") || fail "userinfo with openid failed"
[ "$(json_get ui_tier <<<"$ui")" = gold ] && [ "$(json_get sub <<<"$ui")" = "$user_sub" ] ||
	fail "Keycloak's userinfo answer: $ui"
kc_introspect "$alice" | grep -q ui_tier && fail "ui_tier is in the introspection answer too"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $noid" "$USERINFO")
[ "$code" = 403 ] || fail "Keycloak's userinfo for a token without openid: HTTP $code, want 403"

ECHO_PORT=$(free_port)
export ECHO_PORT
cat >"$T/echo.cfg" <<'EOF'

# test-only: the application, echoing the identity headers
frontend e2e-echo
    bind 127.0.0.1:@ECHO_PORT@
    http-request return status 200 content-type text/plain lf-string "sub=%[req.fhdr(x-auth-subject)] client_id=%[req.fhdr(x-auth-client-id)] roles=%[req.fhdr(x-auth-roles)] email=%[req.fhdr(x-auth-email)] n=%[req.fhdr_cnt(x-auth-roles)]\n"
EOF
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg" "$T/echo.cfg" # the agent's statuses (401, 503), not 403 for every denial
sed -i "s#^    server app1 127.0.0.1:$UP_PORT\$#    server app1 127.0.0.1:$ECHO_PORT#" "$T/cfg/haproxy.cfg"
grep -q "server app1 127.0.0.1:$ECHO_PORT" "$T/cfg/haproxy.cfg" || fail "the application address was not found"
printf '/uinfo     route=uinfo\n' >>"$T/cfg/routes.map"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

body_has() { grep -Eq "$2" "$T/last_body" || fail "$1: upstream saw '$(cat "$T/last_body")', want /$2/"; }
# expect_kc NAME WANT_STATUS REASON PATH TOKEN: the status and the agent's one decision line.
expect_kc() {
	local name=$1 want=$2 reason=$3 path=$4 tok=$5 n d got
	n=$(log_lines)
	got=$(http_status "$path" -H "Authorization: Bearer $tok" -H "X-Auth-Roles: admin")
	d=$(decisions_since "$n")
	[ "$got" = "$want" ] || fail "$name: want HTTP $want, got $got (agent: ${d:-no decision})"
	[ "$(printf '%s' "$d" | grep -c .)" = 1 ] || fail "$name: want 1 decision line, got: $d"
	case $d in *" reason=$reason "*) ;; *) fail "$name: want reason=$reason, got: $d" ;; esac
	log "$name: $got $reason"
}
# ui_calls OUTCOME: the userinfo calls with OUTCOME, from /metrics
ui_calls() {
	curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk -v k="oauth2_spoa_introspection_calls_total{endpoint=\"$USERINFO\",outcome=\"$1\"}" \
			'$1 == k { n = $2 } END { print n + 0 }'
}

expect_kc "introspection + userinfo" 200 ok /ratings/1 "$alice"
body_has "userinfo claims upstream" "^sub=$user_sub client_id=$KC_SVC_ID roles=gold email=alice@example.test n=1\$"
[ "$(ui_calls ok)" = 1 ] || fail "want 1 userinfo call, metrics say $(ui_calls ok)"
expect_kc "introspection + userinfo, cached" 200 ok /ratings/2 "$alice"
body_has "cached userinfo claims" "^sub=$user_sub client_id=$KC_SVC_ID roles=gold email=alice@example.test n=1\$"
[ "$(ui_calls ok)" = 1 ] || fail "a cache hit called userinfo again"
expect_kc "no openid scope: userinfo 403" 401 inactive_token /ratings/3 "$noid"
[ "$(ui_calls ok)" = 2 ] || fail "the 403 was not one userinfo call"

expect_kc "userinfo alone" 200 ok /uinfo/1 "$alice"
body_has "userinfo alone" "^sub=$user_sub client_id= roles=gold email= n=1\$"
expect_kc "userinfo alone, no openid scope" 401 inactive_token /uinfo/2 "$noid"
expect_kc "userinfo alone, made-up token" 401 inactive_token /uinfo/3 "made-up-token"

stop_bg "$KC_PID"
expect_kc "Keycloak stopped" 503 introspection_error /ratings/4 "$alice2"
expect_kc "Keycloak stopped, userinfo alone" 503 introspection_error /uinfo/4 "$alice2"
[ "$(ui_calls connect)" -ge 1 ] || fail "the failed userinfo call is not counted"
grep -q "userinfo failed: connect failed" "$AGENT_LOG" || fail "the failed userinfo call is not logged"

for s in "$alice" "$alice2" "$noid" "$KC_AGENT_SECRET" "$KC_SVC_SECRET" "$KC_PASSWORD"; do
	! grep -qF -- "$s" "$AGENT_LOG" "$T"/haproxy-*.log || fail "a token or secret is in a log"
done
stop_bg "$HAPROXY_PID"
stop_agent
check_agent_log
log "userinfo passed"

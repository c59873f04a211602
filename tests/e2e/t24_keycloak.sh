#!/usr/bin/env bash
# Pins Keycloak as a third real IdP (issue 11, items 4 and 5): Keycloak (tests/keycloak/version,
# start-dev, dev-mem) started once, a realm made by the test, the agent authenticating to
# Keycloak's introspection endpoint as a confidential client (client_secret_basic), behind real
# HAProxy 3.2 with the shipped files and the RFC 6750 rules (rfc6750_cfg). Keycloak answers
# "active": true for refresh, offline and ID tokens, with "typ"/"token_type" Refresh, Offline, ID:
# before this, a refresh token passed as an access token (its "scope" even carries the scopes),
# and an ID token passed every policy without requiredScopes.
#   client_credentials token with the optional scope   /ratings  200, sub and client_id upstream
#   password grant access token                        /ratings  200, the user's sub upstream
#   a user with 250 roles: a 13 KB access token        /ratings  200 (before: malformed_token)
#   token without the required scope                   /ratings  403 insufficient_scope
#   refresh, offline and ID tokens                     /ratings and /reviews  401 not_access_token
#   revoked (RFC 7009) or logged-out token             401 inactive_token once cacheTimeout (2s) passed
#   the agent's client secret wrong                    /wrong    503 introspection_error
#   Keycloak stopped                                   503 introspection_error within 1.5 s
#   jwt policy, keys from the realm's certs endpoint   /kjwt     200 for access tokens with no introspection,
#     (remoteJwks)                                               401 for ID (not_access_token) and refresh
#                                                                (invalid_token: HMAC-signed) tokens, 200 for
#                                                                a token first seen with Keycloak stopped
# and no token or secret in the agent's or HAProxy's log; the reasons are counted in /metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"
. "$(dirname "$0")/keycloak.sh"

start_keycloak
kc_setup_realm e2e ratings

mkdir -p "$T/policies/secrets"
printf '%s\n' "$KC_AGENT_SECRET" >"$T/policies/secrets/kc-agent"
printf '%s\n' "not-$KC_AGENT_SECRET" >"$T/policies/secrets/kc-wrong"
chmod 600 "$T"/policies/secrets/*
# policy NAME ROUTE SECRET_FILE [LINE...]
policy() {
	local name=$1 route=$2 secret=$3
	shift 3
	POLICY_NS=kc write_policy_client "$T/policies/$name.yaml" "$name" "$route" "$KC_INTROSPECT" \
		"$KC_AGENT_ID" client_secret_basic "clientSecretFile: secrets/$secret" \
		"issuers: ['$KC_ISSUER']" "cacheTimeout: 2s" "$@"
}
policy ratings ratings kc-agent "requiredScopes: [ratings]"
policy reviews reviews kc-agent
policy wrong wrong kc-wrong
# kjwt: Keycloak's JWT access tokens verified by the agent itself, keys from the realm's certs
# endpoint (remoteJwks), Keycloak never asked about a token.
{
	POLICY_NS=kc _policy_head kjwt kjwt
	printf '            jwt:\n              issuer: %s\n              typ: jwt\n' "$KC_ISSUER"
	printf '              remoteJwks: {url: "%s/protocol/openid-connect/certs"}\n' "$KC_ISSUER"
} >"$T/policies/kjwt.yaml"

METRICS_PORT=$(free_port)
"$AGENT" --check --policies "$T/policies" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
start_agent --policies "$T/policies" --metrics "127.0.0.1:$METRICS_PORT"
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
printf '/wrong     route=wrong\n/kjwt      route=kjwt\n' >>"$T/cfg/routes.map"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

secrets=("$KC_AGENT_SECRET" "$KC_SVC_SECRET" "$KC_PASSWORD" "$KC_ADMIN_PASSWORD")
# expect_kc NAME WANT_STATUS REASON PATH TOKEN: one request with TOKEN, its status and the agent's
# single decision line for it (policy kc/<route of PATH>).
expect_kc() {
	local name=$1 want=$2 reason=$3 path=$4 tok=$5 n d cnt pol got
	secrets+=("$tok")
	pol=kc/$(cut -d/ -f2 <<<"$path")
	n=$(log_lines)
	got=$(http_status "$path" -H "Authorization: Bearer $tok")
	d=$(decisions_since "$n")
	cnt=$(printf '%s' "$d" | grep -c . || true)
	[ "$got" = "$want" ] || fail "$name: want HTTP $want, got $got (agent: ${d:-no decision})"
	[ "$cnt" = 1 ] || fail "$name: want 1 decision line, got $cnt: $d"
	case $d in *" policy=$pol reason=$reason "*) ;; *) fail "$name: want policy=$pol reason=$reason, got: $d" ;; esac
	log "$name: $got $reason"
}
claim() { kc_introspect "$1" | json_get "$2"; }
# introspections: the introspection calls the agent made, from /metrics
introspections() {
	curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk 'index($1, "oauth2_spoa_introspection_calls_total{") == 1 { n += $2 } END { print n + 0 }'
}

# ---- access tokens
cc=$(kc_cc_token ratings)
expect_kc "client_credentials + scope" 200 ok /ratings/1 "$cc"
grep -Eq "sub=$(claim "$cc" sub) client_id=$KC_SVC_ID scope=(.* )?ratings( |$)" "$T/last_body" ||
	fail "upstream did not get the service account's identity: $(cat "$T/last_body")"
kc_password_tokens "$T/pw.json" "openid ratings"
at=$(json_get access_token <"$T/pw.json")
rt=$(json_get refresh_token <"$T/pw.json")
idt=$(json_get id_token <"$T/pw.json")
user_sub=$(claim "$at" sub)
[ "$(claim "$idt" sub)" = "$user_sub" ] || fail "the ID token is not the user's"
expect_kc "password grant access token" 200 ok /ratings/1 "$at"
grep -Eq "sub=$user_sub client_id=$KC_SVC_ID scope=(.* )?ratings( |$)" "$T/last_body" ||
	fail "upstream did not get the user's identity: $(cat "$T/last_body")"
log "access token sizes: client_credentials ${#cc}, password ${#at} bytes"
# remoteJwks against the realm's certs endpoint: the same tokens, verified locally
calls0=$(introspections)
expect_kc "client_credentials, jwt policy (remoteJwks certs)" 200 ok /kjwt/1 "$cc"
expect_kc "password grant, jwt policy (remoteJwks certs)" 200 ok /kjwt/2 "$at"
[ "$(introspections)" = "$calls0" ] || fail "a jwt policy asked Keycloak's introspection endpoint"
grep -q "oauth2_spoa_jwks_keys{url=\"$KC_ISSUER/protocol/openid-connect/certs\"} [1-9]" <<<"$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics")" ||
	fail "metrics: no key loaded from the realm's certs endpoint"
# A user with 250 roles: a 13 KB access token (over the old 8192-byte default), through the shipped
# HAProxy files and the agent's defaults.
kc_add_user_with_roles e2e bob 250
kc_user_tokens "$T/bob.json" bob "openid ratings"
big=$(json_get access_token <"$T/bob.json")
[ ${#big} -gt 12000 ] && [ ${#big} -le 16384 ] || fail "bob's access token has ${#big} bytes, want 12001-16384"
expect_kc "access token of ${#big} bytes (250 roles)" 200 ok /ratings/1 "$big"

# ---- the optional scope not asked for
noscope=$(kc_cc_token)
expect_kc "no ratings scope" 403 insufficient_scope /ratings/1 "$noscope"
curl -s -D "$T/hdrs" -o /dev/null --max-time 5 -H "Authorization: Bearer $noscope" "http://127.0.0.1:$FRONT_PORT/ratings/2"
grep -qi '^www-authenticate: Bearer .*error="insufficient_scope".*scope="ratings"' "$T/hdrs" ||
	fail "no insufficient_scope challenge: $(cat "$T/hdrs")"
expect_kc "no scope, policy without requiredScopes" 200 ok /reviews/1 "$noscope"

# ---- other kinds of tokens: Keycloak says active, the agent refuses them
[ "$(claim "$rt" active)" = true ] && [ "$(claim "$rt" typ)" = Refresh ] ||
	fail "Keycloak's answer for a refresh token changed: $(kc_introspect "$rt")"
[ "$(claim "$idt" active)" = true ] && [ "$(claim "$idt" typ)" = ID ] ||
	fail "Keycloak's answer for an ID token changed: $(kc_introspect "$idt")"
expect_kc "refresh token" 401 not_access_token /ratings/1 "$rt"
expect_kc "refresh token, no requiredScopes" 401 not_access_token /reviews/1 "$rt"
curl -s -D "$T/hdrs" -o /dev/null --max-time 5 -H "Authorization: Bearer $rt" "http://127.0.0.1:$FRONT_PORT/reviews/9"
grep -qi '^www-authenticate: Bearer .*error="invalid_token", error_description="The token is not an access token"' "$T/hdrs" ||
	fail "no invalid_token challenge for a refresh token: $(cat "$T/hdrs")"
expect_kc "ID token" 401 not_access_token /ratings/1 "$idt"
expect_kc "ID token, no requiredScopes" 401 not_access_token /reviews/1 "$idt"
expect_kc "ID token, jwt policy" 401 not_access_token /kjwt/3 "$idt"
# Keycloak signs refresh tokens with the realm's HMAC key: no asymmetric key verifies them
expect_kc "refresh token, jwt policy" 401 invalid_token /kjwt/4 "$rt"
kc_password_tokens "$T/off.json" "openid offline_access"
off=$(json_get refresh_token <"$T/off.json")
[ "$(claim "$off" typ)" = Offline ] || fail "not an offline token: typ $(claim "$off" typ)"
expect_kc "offline token" 401 not_access_token /reviews/1 "$off"
# ... and the cached answer keeps refusing (the result is cached as active, with its kind)
expect_kc "refresh token, cached" 401 not_access_token /reviews/2 "$rt"

# ---- revocation and logout: denied once the cached answer (cacheTimeout 2s) has expired
rev=$(kc_cc_token ratings)
kc_password_tokens "$T/lo.json" "openid"
lo_at=$(json_get access_token <"$T/lo.json")
t0=$(date +%s.%N) # the cached answers are younger than this ...
expect_kc "to be revoked" 200 ok /ratings/1 "$rev"
expect_kc "to be logged out" 200 ok /reviews/1 "$lo_at"
t1=$(date +%s.%N) # ... and expire at most 2 s after this
kc_revoke "$rev"
kc_logout "$(json_get refresh_token <"$T/lo.json")"
[ "$(claim "$rev" active)" = false ] || fail "Keycloak still says the revoked token is active"
[ "$(claim "$lo_at" active)" = false ] || fail "Keycloak still says the logged-out token is active"
if awk -v s="$(since "$t0")" 'BEGIN { exit !(s < 1.5) }'; then
	expect_kc "revoked, inside cacheTimeout (cached)" 200 ok /ratings/2 "$rev"
fi
sleep "$(awk -v s="$(since "$t1")" 'BEGIN { w = 2.3 - s; print (w > 0 ? w : 0) }')"
expect_kc "revoked, after cacheTimeout" 401 inactive_token /ratings/3 "$rev"
expect_kc "logged out, after cacheTimeout" 401 inactive_token /reviews/3 "$lo_at"

# ---- the agent's client secret is wrong: Keycloak answers 401 to the agent
wr=$(kc_cc_token ratings)
expect_kc "wrong agent secret" 503 introspection_error /wrong/1 "$wr"
grep -q "introspection failed: HTTP status 401" "$AGENT_LOG" || fail "agent log: no 'HTTP status 401' warning"
expect_kc "same token, right secret" 200 ok /reviews/4 "$wr"

# ---- metrics count the new reason
m=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") || fail "GET /metrics failed"
for want in 'policy="kc/ratings",reason="not_access_token",mode="enforce"} 2' \
	'policy="kc/reviews",reason="not_access_token",mode="enforce"} 5'; do
	grep -qF "oauth2_spoa_decisions_total{$want" <<<"$m" ||
		fail "metrics: no '$want': $(grep 'decisions_total{policy="kc/' <<<"$m")"
done

# ---- Keycloak stopped: denied at once (connection refused), not after a timeout
late=$(kc_cc_token ratings)
late2=$(kc_cc_token ratings)
stop_bg "$KC_PID"
t2=$(date +%s.%N)
expect_kc "Keycloak stopped" 503 introspection_error /ratings/1 "$late"
el=$(since "$t2")
awk -v s="$el" 'BEGIN { exit !(s < 1.5) }' || fail "the answer with Keycloak stopped took ${el}s"
log "Keycloak stopped: denied in ${el}s"
expect_kc "Keycloak stopped, a token first seen now, jwt policy" 200 ok /kjwt/5 "$late2"

log_settle
for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	for s in "${secrets[@]}"; do
		if grep -aqF "$s" "$f"; then fail "a token or secret (sha256 $(fp "$s")) appears in $(basename "$f")"; fi
	done
done
alive "$AGENT_PID" || fail "agent died"
stop_agent
log "keycloak passed"

#!/usr/bin/env bash
# Pins RFC 9701 signed introspection answers (introspection.signedResponse) behind real HAProxy 3.2
# with the shipped haproxy/ files (deny 403 unless allowed). No IdP here speaks RFC 9701 (Keycloak
# 26.4.7 and Hydra v2.3.0 do not, see README), so tests/tools/fault_idp.py signs its answers with a
# P-256 key made at run time by tests/tools/jwt_mint ("signed:<variant>" modes, chosen by the token):
#   /ratings (signedResponse, localJwks): a signed active answer -> 200 (Accept sent: fault_idp
#     answers plain JSON without it), cached like any answer; a plain JSON answer, a changed
#     signature character, wrong iss, wrong aud, iat an hour old or ahead, typ at+jwt, alg none,
#     HS256 keyed with the JWKS text, no token_introspection -> 403, reason
#     introspection_unverified, logged with the token's fingerprint only, never cached (the same
#     token asks the IdP again); a signed {"active":false} -> inactive_token;
#   /details (signedResponse, remoteJwks served by a second fault_idp): a signed answer -> 200;
#   /reviews (plain JSON policy, same IdP, same agent) -> 200 on the plain answer, even for a token
#     whose answer would be signed if asked;
#   /metrics: decisions_total{reason="introspection_unverified"} and
#     introspection_calls_total{outcome="unverified"} count the refusals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

MINT=$TOOLS/jwt_mint
[ -x "$MINT" ] || fail "jwt_mint not built ($MINT)"
mkdir -p "$T/keys" "$T/policies"
"$MINT" init "$T/keys"
ISS=http://fault-idp.test/
CID=oauth2-spoa

start_fault_idp --sub alice --client-id svc-a --scope "read write" \
	--sign-mint "$MINT" --sign-dir "$T/keys" --sign-issuer "$ISS" --sign-aud "$CID"
# The key set of /details, from a second fault_idp (its own port) serving jwks.json.
JWKS_PORT_IDP=$IDP
start_fault_idp --mode jwks --jwks "$T/keys/jwks.json"
JWKS_URL=$IDP/keys.json
IDP=$JWKS_PORT_IDP

signed_policy() { # NAME ROUTE KEYS_LINE
	{
		_policy_head "$1" "$2"
		printf '            introspection:\n'
		printf '              introspectionUrl: %s/introspect\n' "$IDP"
		printf '              clientId: %s\n' "$CID"
		printf '              authMethod: none\n'
		printf '              signedResponse:\n'
		printf '                issuer: %s\n' "$ISS"
		printf '                algorithms: [ES256]\n'
		printf '                maxAge: 60s\n'
		printf '                %s\n' "$3"
		printf '            negativeCacheTimeout: 30s\n'
	} >"$T/policies/$1.yaml"
}
signed_policy signed-local ratings "localJwks: {inlineString: '$(cat "$T/keys/jwks.json")'}"
signed_policy signed-remote details "remoteJwks: {url: \"$JWKS_URL\", refreshInterval: 1h}"
POLICY_NS=rel write_policy "$T/policies/plain.yaml" plain reviews "$IDP/introspect"

METRICS_PORT=$(free_port)
start_agent --policies "$T/policies" --log-level debug --introspection-timeout 1000 \
	--metrics "127.0.0.1:$METRICS_PORT"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
printf '/details   route=details\n' >>"$T/cfg/routes.map"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

last_decision() { grep ' decision ' "$AGENT_LOG" | tail -n1 || true; }
decided() { # decided POLICY REASON: the newest decision line says both
	local deadline=$((SECONDS + 5))
	until last_decision | grep -q " policy=rel/$1 reason=$2 "; do
		[ $SECONDS -lt $deadline ] || fail "want policy=rel/$1 reason=$2, last: $(last_decision)"
		sleep 0.05
	done
}
calls() { curl -fsS --max-time 5 "$IDP/__count?path=/introspect" || fail "fault_idp /__count failed"; }
metric() { # metric NAME{LABELS}: its value (0 when absent)
	curl -fsS --max-time 5 -o "$T/metrics" "http://127.0.0.1:$METRICS_PORT/metrics" ||
		fail "no /metrics"
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$T/metrics"
}

# ------------------------------------------------------------------ a good signed answer
tok=mode.signed.ok.$RANDOM$RANDOM
c0=$(calls)
expect_status 200 /ratings/1 -H "Authorization: Bearer $tok"
grep -q "sub=alice client_id=svc-a scope=read write$" "$T/last_body" ||
	fail "signed ok: upstream body: $(cat "$T/last_body")"
decided signed-local ok
expect_status 200 /ratings/2 -H "Authorization: Bearer $tok"
[ $(($(calls) - c0)) = 1 ] || fail "signed ok: want 1 introspection call for 2 requests, got $(($(calls) - c0))"
log "signed active answer: 200, cached"

expect_status 200 /details/1 -H "Authorization: Bearer mode.signed.ok.$RANDOM$RANDOM"
decided signed-remote ok
log "signed answer verified with a remoteJwks key set: 200"

# ------------------------------------------------------------------ refusals
# variant:the check that refuses it (the agent's log names it, with the token's fingerprint)
for vw in plain:not_signed bad-sig:bad_signature iss:wrong_issuer aud:wrong_audience stale:stale \
	future:iat_in_future typ:wrong_typ none:alg_refused hs256:alg_refused \
	no-claim:no_token_introspection; do
	v=${vw%%:*}
	tok=mode.signed.$v.$RANDOM$RANDOM
	n=$(log_lines)
	expect_status 403 /ratings/1 -H "Authorization: Bearer $tok"
	decided signed-local introspection_unverified
	log_settle
	tail -n +"$((n + 1))" "$AGENT_LOG" |
		grep -qE "introspection answer refused: ${vw#*:} \((signedResponse; )?token [0-9a-f]{8}\)" ||
		fail "$v: want '${vw#*:}' logged: $(tail -n +"$((n + 1))" "$AGENT_LOG" | grep refused)"
	! grep -qF "$tok" "$AGENT_LOG" || fail "$v: the token was logged"
	c0=$(calls)
	expect_status 403 /ratings/2 -H "Authorization: Bearer $tok"
	[ $(($(calls) - c0)) = 1 ] || fail "$v: a refused answer was cached (calls: $(($(calls) - c0)))"
	log "signed:$v -> 403 introspection_unverified (${vw#*:}), not cached"
done
expect_status 403 /ratings/1 -H "Authorization: Bearer mode.signed.inactive.$RANDOM"
decided signed-local inactive_token
log "signed {\"active\":false} -> 403 inactive_token"

# ------------------------------------------------------------------ a plain policy alongside
expect_status 200 /reviews/1 -H "Authorization: Bearer mode.signed.ok.$RANDOM$RANDOM"
decided plain ok
expect_status 200 /reviews/1 -H "Authorization: Bearer plain-$RANDOM$RANDOM"
decided plain ok
log "plain JSON policy on the same agent and IdP: 200"

# ------------------------------------------------------------------ metrics
d=$(metric 'oauth2_spoa_decisions_total{policy="rel/signed-local",reason="introspection_unverified",mode="enforce"}')
[ "$d" -ge 20 ] || fail "decisions_total introspection_unverified: want >= 20, got $d"
u=$(metric "oauth2_spoa_introspection_calls_total{endpoint=\"$IDP/introspect\",outcome=\"unverified\"}")
[ "$u" -ge 20 ] || fail "introspection_calls_total unverified: want >= 20, got $u: $(grep introspection_calls "$T/metrics")"
log "metrics: $d introspection_unverified decisions, $u unverified calls"

alive "$AGENT_PID" || fail "the agent died: $(tail -n 5 "$AGENT_LOG")"
stop_agent
log "signed introspection passed"

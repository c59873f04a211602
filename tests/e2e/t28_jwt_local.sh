#!/usr/bin/env bash
# Pins local JWT validation (accessTokenValidation.jwt with localJwks) behind real HAProxy 3.2,
# with no IdP running at all: tokens minted here (tests/tools/jwt_mint, keys made at run time)
#   RS256, PS256, ES256 and EdDSA tokens with the right iss/aud/scope -> 200, sub/scope upstream;
#   the same token again is a cache hit (cache=hit in the decision line, like introspection);
#   tampered payload, alg none, HS256 keyed with the JWKS text, unknown kid, ES256 under the
#   RSA kid, typ JWT on a strict policy -> 401 error="invalid_token" (reason invalid_token or
#   not_access_token); a refresh typ -> 401 not_access_token; expired, nbf in the future -> 401
#   inactive_token;
#   wrong iss -> 403 issuer_mismatch; wrong aud -> 403; missing scope -> 403 insufficient_scope;
#   a PEM localJwks with typ: jwt and algorithms [ES256] takes typ JWT and refuses RS256;
#   a reload (SIGHUP) whose JWKS drops the RSA key denies a cached RS256 token at once (the key set
#   is part of the cache key); a remoteJwks policy passes --check, with the cleartext warning for
#   plain http to a host that is not loopback (t60 runs remoteJwks).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

MINT=$TOOLS/jwt_mint
[ -x "$MINT" ] || fail "jwt_mint not built ($MINT)"
mkdir -p "$T/keys"
"$MINT" init "$T/keys"
ISS=https://idp.test/

# policy NAME ROUTE JWT_LINE...: a jwt policy (lines go under accessTokenValidation.jwt)
jwt_policy() {
	local name=$1 route=$2 l
	shift 2
	_policy_head "$name" "$route"
	printf '            jwt:\n'
	for l in "$@"; do printf '              %s\n' "$l"; done
}
write_policies() { # write_policies JWKS_TEXT: ratings (JWKS) and reviews (PEM), renamed into place
	{
		jwt_policy ratings ratings "issuer: $ISS" "localJwks: {inlineString: '$1'}"
		printf '            audiences: [api]\n            requiredScopes: [read]\n'
		echo ---
		jwt_policy reviews reviews "typ: jwt" "algorithms: [ES256]" "localJwks:" "  inlineString: |"
		sed 's/^/                  /' "$T/keys/ec.pub"
	} >"$T/policies.yaml.tmp"
	mv "$T/policies.yaml.tmp" "$T/policies.yaml"
}
write_policies "$(cat "$T/keys/jwks.json")"

out=$(sed 's/^\(              \)localJwks: {inlineString.*/\1remoteJwks: {url: "http:\/\/idp.example\/jwks"}/' \
	"$T/policies.yaml" >"$T/remote.yaml" && "$AGENT" --policies "$T/remote.yaml" --check 2>&1) ||
	fail "a remoteJwks policy was refused: $out"
grep -q 'warning: JWKS URL http://idp.example/jwks is plain http' <<<"$out" ||
	fail "no cleartext warning for a plain-http JWKS URL: $out"
# Every URL of a policy is warned about, not only the first: a jwt + introspection policy (its
# remoteJwks and its introspection URL) and an RFC 9701 one (its signedResponse.remoteJwks).
{
	_policy_head both both
	printf '            jwt:\n              issuer: %s\n              remoteJwks: {url: "http://keys.example/jwks"}\n' "$ISS"
	printf '            introspectionUrl: http://idp2.example/introspect\n'
} >"$T/urls.yaml"
{
	printf -- '---\n'
	POLICY_NS=t28b _policy_head signed signed
	printf '            introspection:\n              introspectionUrl: https://idp3.example/introspect\n'
	printf '              clientId: c\n              authMethod: none\n'
	printf '              signedResponse: {issuer: "%s", remoteJwks: {url: "http://signer.example/keys"}}\n' "$ISS"
} >>"$T/urls.yaml"
out=$("$AGENT" --policies "$T/urls.yaml" --check 2>&1) || fail "the URL policies were refused: $out"
for w in 'JWKS URL http://keys.example/jwks' 'introspection URL http://idp2.example/introspect' \
	'JWKS URL http://signer.example/keys'; do
	grep -q "warning: $w is plain http" <<<"$out" || fail "no cleartext warning for $w: $out"
done
! grep -q 'idp3.example' <<<"$out" || fail "an https URL was warned about: $out"

start_agent --policies "$T/policies.yaml" --log-level info
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

now=$(date +%s)
claims() { # claims [EXTRA_JSON_MEMBERS]: a payload for the ratings policy
	printf '{"iss":"%s","sub":"alice","aud":"api","scope":"read write","iat":%d,"exp":%d%s}' \
		"$ISS" "$now" $((now + 300)) "${1:-}"
}
mint() { # mint KEY ALG HEADER PAYLOAD
	"$MINT" sign "$T/keys" "$@"
}
hdrs() { bearer_answer "$@"; }
want() { want_answer "$@"; }
reason_logged() { # reason_logged REASON: the newest decision line names it
	local deadline=$((SECONDS + 5))
	until grep 'decision' "$AGENT_LOG" | tail -n1 | grep -q "reason=$1"; do
		[ $SECONDS -lt $deadline ] || fail "want reason $1 logged, last: $(grep decision "$AGENT_LOG" | tail -n1)"
		sleep 0.1
	done
}

for ka in rsa:RS256:r1 rsa:PS256:r1 ec:ES256:e1 ed:EdDSA:d1; do
	IFS=: read -r key alg kid <<<"$ka"
	tok=$(mint "$key" "$alg" "{\"alg\":\"$alg\",\"kid\":\"$kid\",\"typ\":\"at+jwt\"}" "$(claims)")
	hdrs /ratings/1 "$tok"
	want "$alg" 200
	grep -q "upstream: GET /ratings/1 sub=alice client_id= scope=read write" "$T/body" ||
		fail "$alg: upstream saw $(cat "$T/body")"
	grep decision "$AGENT_LOG" | tail -n1 | grep -q 'cache=local' || fail "$alg: first use not verified locally"
	hdrs /ratings/1 "$tok"
	want "$alg again" 200
	grep decision "$AGENT_LOG" | tail -n1 | grep -q 'cache=hit' || fail "$alg: second use not a cache hit"
done
log "RS256, PS256, ES256, EdDSA allowed; the second use is a cache hit"

H='{"alg":"RS256","kid":"r1","typ":"at+jwt"}'
good=$(mint rsa RS256 "$H" "$(claims)")
forged=$(mint rsa none "$H" "$(claims ',"scope":"admin"' | sed 's/"scope":"read write",//')")
hdrs /ratings/1 "${forged%.}.${good##*.}"
want "tampered payload" 401 'error="invalid_token"'
reason_logged invalid_token
hdrs /ratings/1 "$(mint rsa none '{"alg":"none","typ":"at+jwt"}' "$(claims)")"
want "alg none" 401 'error="invalid_token"'
reason_logged invalid_token
hdrs /ratings/1 "$(mint rsa HS256 '{"alg":"HS256","kid":"r1","typ":"at+jwt"}' "$(claims)")"
want "HS256 with the public key" 401 'error="invalid_token"'
hdrs /ratings/1 "$(mint rsa RS256 '{"alg":"RS256","kid":"r9","typ":"at+jwt"}' "$(claims)")"
want "unknown kid" 401 'error="invalid_token"'
hdrs /ratings/1 "$(mint ec ES256 '{"alg":"ES256","kid":"r1","typ":"at+jwt"}' "$(claims)")"
want "ES256 under the RSA kid" 401 'error="invalid_token"'
reason_logged invalid_token
hdrs /ratings/1 "$(mint rsa RS256 '{"alg":"RS256","kid":"r1","typ":"JWT"}' "$(claims)")"
want "typ JWT on a strict policy" 401 'error="invalid_token"'
hdrs /ratings/1 "$(mint rsa RS256 '{"alg":"RS256","kid":"r1","typ":"rt+jwt"}' "$(claims)")"
want "refresh typ" 401 'error="invalid_token"'
reason_logged not_access_token
hdrs /ratings/1 "$(mint rsa RS256 "$H" "$(claims | sed "s/\"exp\":[0-9]*/\"exp\":$((now - 120))/")")"
want "expired" 401 'error="invalid_token"'
reason_logged inactive_token
hdrs /ratings/1 "$(mint rsa RS256 "$H" "$(claims ",\"nbf\":$((now + 600))")")"
want "nbf in the future" 401 'error="invalid_token"'
reason_logged inactive_token
hdrs /ratings/1 "$(mint rsa RS256 "$H" "$(claims | sed 's#idp.test#evil.test#')")"
want "wrong iss" 403 'error="invalid_token"'
reason_logged issuer_mismatch
hdrs /ratings/1 "$(mint rsa RS256 "$H" "$(claims | sed 's#"aud":"api"#"aud":"other"#')")"
want "wrong aud" 403 'error="invalid_token"'
reason_logged audience_mismatch
hdrs /ratings/1 "$(mint rsa RS256 "$H" "$(claims | sed 's#"read write"#"write"#')")"
want "missing scope" 403 'error="insufficient_scope"'
reason_logged insufficient_scope
log "forgeries, time claims, typ, iss, aud and scope refused with their reasons"

hdrs /reviews/1 "$(mint ec ES256 '{"alg":"ES256","typ":"JWT"}' "$(claims)")"
want "PEM key, typ JWT, no kid" 200
hdrs /reviews/1 "$(mint ec ES256 '{"alg":"ES256"}' "$(claims)")"
want "PEM key, no typ" 200
hdrs /reviews/1 "$(mint rsa RS256 '{"alg":"RS256","typ":"JWT"}' "$(claims)")"
want "RS256 outside algorithms [ES256]" 401 'error="invalid_token"'
log "PEM localJwks with typ: jwt and algorithms [ES256]"

# Rotation by reload: the RS256 token is cached, then the key set loses r1.
hdrs /ratings/1 "$good"
want "RS256 before the reload" 200
hdrs /ratings/1 "$good"
want "RS256 cached" 200
before=$(grep -c 'reloaded: ' "$AGENT_LOG" || true)
write_policies "$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["keys"] = [k for k in d["keys"] if k["kty"] != "RSA"]
print(json.dumps(d, separators=(",", ":")))' "$T/keys/jwks.json")"
grep -q '"kty":"RSA"' "$T/policies.yaml" && fail "the RSA key is still in the policy"
kill -HUP "$AGENT_PID"
deadline=$((SECONDS + 10))
until [ "$(grep -c 'reloaded: ' "$AGENT_LOG" || true)" -gt "$before" ]; do
	[ $SECONDS -lt $deadline ] || fail "no reload: $(tail -n 3 "$AGENT_LOG")"
	sleep 0.05
done
hdrs /ratings/1 "$good"
want "RS256 after its key left" 401 'error="invalid_token"'
hdrs /ratings/1 "$(mint ec ES256 '{"alg":"ES256","kid":"e1","typ":"at+jwt"}' "$(claims)")"
want "ES256 after the reload" 200
log "a reload that drops a key denies its cached tokens"

stop_bg "$HAPROXY_PID"
stop_agent
log "local JWT validation passed"

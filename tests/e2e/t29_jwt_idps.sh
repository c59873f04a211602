#!/usr/bin/env bash
# Pins local JWT validation against a real IdP: Hydra v2.3.0 issuing JWT access tokens
# (STRATEGIES_ACCESS_TOKEN=jwt, RS256, typ JWT), its public /.well-known/jwks.json pasted into a
# jwt policy (localJwks, typ: jwt), behind HAProxy 3.2:
#   a Hydra token is allowed, scp becomes the scope upstream;
#   with Hydra STOPPED, a second token never seen before is still allowed (cache=local);
#   its payload tampered (scp widened, signature kept), re-signed with alg none, and an HS256
#   token keyed with the JWKS text -> 401 invalid_token; a token for another audience -> 403;
# and oidc-provider's RFC 9068 tokens (RS_FMT=jwt, typ at+jwt) against its /jwks with the
# default strict typ, also with the IdP stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_hydra STRATEGIES_ACCESS_TOKEN=jwt
hydra_create_client svc svc-secret "read write" "api other"
tok1=$(hydra_token svc svc-secret "read" "api")
tok2=$(hydra_token svc svc-secret "read write" "api")
tok_other=$(hydra_token svc svc-secret "read" "other")
jwks=$(curl -fsS --max-time 5 "$HYDRA_PUBLIC/.well-known/jwks.json") || fail "no JWKS from Hydra"
case $jwks in *"'"*) fail "the JWKS holds a quote: cannot inline it" ;; esac
[ "$(tr -cd . <<<"$tok1")" = .. ] || fail "Hydra did not issue a JWT: ${tok1:0:12}..."
start_oidc_provider RS_FMT=jwt
otok=$(oidc_token "$OIDC_SVC_BASIC_ID" "$OIDC_SVC_BASIC_SECRET" "read" "$OIDC_AUDIENCE")
ojwks=$(curl -fsS --max-time 5 "$OIDC_JWKS") || fail "no JWKS from oidc-provider"
case $ojwks in *"'"*) fail "the oidc-provider JWKS holds a quote" ;; esac

{
	_policy_head hydra-jwt ratings
	printf '            jwt:\n'
	printf '              issuer: %s\n' "$HYDRA_ISSUER"
	printf '              typ: jwt\n'
	printf '              algorithms: [RS256]\n'
	printf "              localJwks: {inlineString: '%s'}\n" "$jwks"
	printf '            audiences: [api]\n'
	printf '            requiredScopes: [read]\n'
	echo ---
	_policy_head oidc-jwt reviews
	printf '            jwt:\n'
	printf '              issuer: %s\n' "$OIDC_ISSUER"
	printf "              localJwks: {inlineString: '%s'}\n" "$ojwks"
	printf '            audiences: [%s]\n' "$OIDC_AUDIENCE"
} >"$T/policies.yaml"
start_agent --policies "$T/policies.yaml" --log-level info
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

hdrs() { bearer_answer "${2:-/ratings/1}" "$1"; } # hdrs TOKEN [PATH=/ratings/1]
want() { want_answer "$@"; }

hdrs "$tok1"
want "Hydra JWT" 200
grep -q "sub=svc client_id=svc scope=read$" "$T/body" || fail "upstream saw: $(cat "$T/body")"
log "a Hydra JWT access token is allowed by local validation"

stop_bg "$HYDRA_PID"
stop_bg "$OIDC_PID"
curl -s --max-time 2 -o /dev/null "$HYDRA_PUBLIC/health/ready" && fail "Hydra still answers"
hdrs "$otok" /reviews/1
want "oidc-provider at+jwt with the IdP stopped" 200
grep decision "$AGENT_LOG" | tail -n1 | grep -q 'cache=local' || fail "oidc: not verified locally"
hdrs "$tok2"
want "a new token with Hydra stopped" 200
grep decision "$AGENT_LOG" | tail -n1 | grep -q 'cache=local' || fail "not verified locally"
log "with the IdPs stopped, tokens never seen before are allowed (Hydra typ JWT, oidc-provider at+jwt)"

# forge KIND TOKEN: tamper (scp widened, signature kept), none (re-signed unsigned) or hs256
# (HMAC keyed with the JWKS text, alg HS256).
forge() {
	python3 - "$1" "$2" "$jwks" <<-'EOF'
		import base64, hashlib, hmac, json, sys
		kind, tok, jwks = sys.argv[1:4]
		d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
		e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
		h, p, s = tok.split(".")
		hdr, pl = json.loads(d(h)), json.loads(d(p))
		pl["scp"] = ["read", "write", "admin"]
		if kind == "tamper":
		    print(h + "." + e(json.dumps(pl).encode()) + "." + s)
		elif kind == "none":
		    hdr["alg"] = "none"
		    print(e(json.dumps(hdr).encode()) + "." + e(json.dumps(pl).encode()) + ".")
		else:
		    hdr["alg"] = "HS256"
		    si = e(json.dumps(hdr).encode()) + "." + e(json.dumps(pl).encode())
		    print(si + "." + e(hmac.new(jwks.encode(), si.encode(), hashlib.sha256).digest()))
	EOF
}
for kind in tamper none hs256; do
	hdrs "$(forge "$kind" "$tok1")"
	want "forged ($kind)" 401 'error="invalid_token"'
	log_settle
	grep decision "$AGENT_LOG" | tail -n1 | grep -q 'reason=invalid_token' ||
		fail "forged ($kind): $(grep decision "$AGENT_LOG" | tail -n1)"
done
hdrs "$tok_other"
want "audience other" 403 'error="invalid_token"'
grep decision "$AGENT_LOG" | tail -n1 | grep -q 'reason=audience_mismatch' || fail "no audience_mismatch"
log "tampered, alg none, HS256 with the public key and a foreign audience are refused"

stop_bg "$HAPROXY_PID"
stop_agent
log "JWT validation against real IdPs passed"

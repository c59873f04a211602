#!/usr/bin/env bash
# Pins a policy with both jwt and introspection (issue 13 item 2) against a real IdP: Hydra v2.3.0
# issuing JWT access tokens (STRATEGIES_ACCESS_TOKEN=jwt), its JWKS pasted as localJwks, its admin
# introspection endpoint as introspectionUrl (cacheTimeout 1s), behind HAProxy 3.2 with the
# shipped haproxy/ files:
#   a Hydra JWT is allowed after both steps (one introspection call), then a cache hit (no call);
#   its payload tampered (signature kept), re-signed with alg none -> 401 invalid_token with NO
#   introspection call (the agent's introspection counter does not move);
#   a token revoked at Hydra (POST /oauth2/revoke), signature still valid -> 401 inactive_token
#   once its cached answer expired, and a token revoked before its first use at once: both
#   introspected;
#   with Hydra stopped, a new token whose signature is valid -> 503 introspection_error (the
#   introspection step still decides: never allowed on the signature alone).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_hydra STRATEGIES_ACCESS_TOKEN=jwt
hydra_create_client svc svc-secret "read write" "api"
tok1=$(hydra_token svc svc-secret "read" "api")
tok2=$(hydra_token svc svc-secret "read" "api")
tok3=$(hydra_token svc svc-secret "read" "api")
tok4=$(hydra_token svc svc-secret "read" "api")
jwks=$(curl -fsS --max-time 5 "$HYDRA_PUBLIC/.well-known/jwks.json") || fail "no JWKS from Hydra"
case $jwks in *"'"*) fail "the JWKS holds a quote: cannot inline it" ;; esac
[ "$(tr -cd . <<<"$tok1")" = .. ] || fail "Hydra did not issue a JWT: ${tok1:0:12}..."

{
	_policy_head hydra-both ratings
	printf '            jwt:\n'
	printf '              issuer: %s\n' "$HYDRA_ISSUER"
	printf '              typ: jwt\n'
	printf '              algorithms: [RS256]\n'
	printf "              localJwks: {inlineString: '%s'}\n" "$jwks"
	printf '            introspectionUrl: %s\n' "$HYDRA_INTROSPECT"
	printf '            cacheTimeout: 1s\n'
	printf '            audiences: [api]\n'
	printf '            requiredScopes: [read]\n'
} >"$T/policies.yaml"
"$AGENT" --policies "$T/policies.yaml" --check >"$T/check.out" 2>&1 ||
	fail "jwt + introspection refused by --check: $(cat "$T/check.out")"
MPORT=$(free_port)
start_agent --policies "$T/policies.yaml" --log-level info --metrics "127.0.0.1:$MPORT"
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

hdrs() { bearer_answer /ratings/1 "$1"; }
want() { want_answer "$@"; }
last() { log_settle && grep decision "$AGENT_LOG" | tail -n1; }
calls() { # introspection calls the agent made to Hydra (every outcome)
	curl -fsS --max-time 5 "http://127.0.0.1:$MPORT/metrics" |
		awk -v e="endpoint=\"$HYDRA_INTROSPECT\"" \
			'index($1, "oauth2_spoa_introspection_calls_total{") == 1 && index($1, e) { n += $2 } END { print n + 0 }'
}
want_calls() { # want_calls N WHAT
	local n
	n=$(calls)
	[ "$n" = "$1" ] || fail "$2: want $1 introspection calls, the agent counted $n"
}

want_calls 0 "at start"
hdrs "$tok1"
want "Hydra JWT, active" 200
grep -q "sub=svc client_id=svc scope=read$" "$T/body" || fail "upstream saw: $(cat "$T/body")"
last | grep -q 'reason=ok .*cache=miss' || fail "first use: $(last)"
want_calls 1 "a JWT that passes is introspected"
hdrs "$tok1"
want "the same token again" 200
last | grep -q 'cache=hit' || fail "second use not a cache hit: $(last)"
want_calls 1 "the second use is a cache hit"
log "a Hydra JWT is allowed after the local check and one introspection; the second use hits the cache"

# forge KIND TOKEN: tamper (scp widened, signature kept) or none (re-signed unsigned)
forge() {
	python3 - "$1" "$2" <<-'EOF2'
		import base64, json, sys
		kind, tok = sys.argv[1:3]
		d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
		e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
		h, p, s = tok.split(".")
		hdr, pl = json.loads(d(h)), json.loads(d(p))
		pl["scp"] = ["read", "write", "admin"]
		if kind == "tamper":
		    print(h + "." + e(json.dumps(pl).encode()) + "." + s)
		else:
		    hdr["alg"] = "none"
		    print(e(json.dumps(hdr).encode()) + "." + e(json.dumps(pl).encode()) + ".")
	EOF2
}
for kind in tamper none; do
	hdrs "$(forge "$kind" "$tok2")"
	want "forged ($kind)" 401 'error="invalid_token"'
	last | grep -q 'reason=invalid_token' || fail "forged ($kind): $(last)"
done
want_calls 1 "a JWT refused locally is never introspected"
log "tampered and alg none tokens are refused (invalid_token) with no call to Hydra"

hdrs "$tok2"
want "second token, active" 200
want_calls 2 "second token"
hydra_revoke svc svc-secret "$tok2"
hydra_introspect "$tok2" | grep -q '"active":false' || fail "Hydra still says tok2 is active"
sleep 1.3 # cacheTimeout 1s: the cached active answer expires
hdrs "$tok2"
want "revoked at Hydra, signature still valid" 401 'error="invalid_token"'
last | grep -q 'reason=inactive_token' || fail "revoked: $(last)"
want_calls 3 "the revoked token was introspected"
hydra_revoke svc svc-secret "$tok3"
hdrs "$tok3"
want "revoked before its first use" 401 'error="invalid_token"'
last | grep -q 'reason=inactive_token' || fail "revoked before use: $(last)"
want_calls 4 "the token revoked before use was introspected"
log "revoked tokens whose signatures are still valid are refused by introspection (inactive_token)"

stop_bg "$HYDRA_PID"
curl -s --max-time 2 -o /dev/null "$HYDRA_PUBLIC/health/ready" && fail "Hydra still answers"
hdrs "$tok4"
want "Hydra stopped, valid signature" 503
last | grep -q 'reason=introspection_error' || fail "Hydra stopped: $(last)"
log "with Hydra stopped a validly signed token is not allowed (introspection_error)"

stop_bg "$HAPROXY_PID"
stop_agent
log "jwt + introspection against Hydra passed"

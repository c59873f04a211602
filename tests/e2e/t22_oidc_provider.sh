#!/usr/bin/env bash
# Pins authenticated introspection against a second real RFC 7662 server, oidc-provider (strict:
# each resource server must use its registered client authentication method), behind real
# HAProxy 2.6. Four policies on four routes:
#   ratings  rs-basic   client_secret_basic, secret from clientSecretFile (relative path)  -> 200
#   reviews  rs-post    client_secret_post,  secret from clientSecretEnv                   -> 200
#   special  rs-special client_secret_basic, a secret that must be form-urlencoded before
#                       base64 (RFC 6749 2.3.1: '@', ':', '+', '/', '%', '&', ' ', '=', '~') -> 200
#   wrong    rs-basic   a WRONG secret: the endpoint answers 401 -> 403, introspection_error
# and the provider's counters show the agent used the configured method for each.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_oidc_provider

mkdir -p "$T/policies/secrets"
printf '%s\n' "$OIDC_RS_BASIC_SECRET" >"$T/policies/secrets/rs-basic"
printf '%s\n' "$OIDC_RS_SPECIAL_SECRET" >"$T/policies/secrets/rs-special"
printf '%s\n' "not-the-$OIDC_RS_BASIC_SECRET" >"$T/policies/secrets/rs-basic-wrong"
chmod 600 "$T"/policies/secrets/*
export E2E_RS_POST_SECRET=$OIDC_RS_POST_SECRET

# policy NAME ROUTE ID METHOD SECRET_KEY SECRET_VALUE
policy() {
	POLICY_NS=oidc write_policy_client "$T/policies/$1.yaml" "$1" "$2" "$OIDC_INTROSPECT" "$3" "$4" "$5: $6"
}
policy a-basic ratings "$OIDC_RS_BASIC_ID" client_secret_basic clientSecretFile secrets/rs-basic
policy b-post reviews "$OIDC_RS_POST_ID" client_secret_post clientSecretEnv E2E_RS_POST_SECRET
policy c-special special "$OIDC_RS_SPECIAL_ID" client_secret_basic clientSecretFile secrets/rs-special
policy d-wrong wrong "$OIDC_RS_BASIC_ID" client_secret_basic clientSecretFile secrets/rs-basic-wrong

"$AGENT" --check --policies "$T/policies" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
start_agent --policies "$T/policies" --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
printf '/special   route=special\n/wrong     route=wrong\n' >>"$T/cfg/routes.map"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }
# expect_reason N POLICY REASON: exactly one decision line since line N, for POLICY with REASON.
expect_reason() {
	local d cnt
	log_settle
	d=$(tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep ' decision ' || true)
	cnt=$(printf '%s' "$d" | grep -c . || true)
	[ "$cnt" = 1 ] || fail "want 1 decision line (policy=$2 reason=$3) since line $1, got $cnt: $d"
	case $d in
	*" policy=$2 reason=$3 "*) ;;
	*) fail "want policy=$2 reason=$3, got: $d
$(tail -n +"$(($1 + 1))" "$AGENT_LOG")" ;;
	esac
}
# oidc_stat KEY...: a number from the provider's /_test/stats (missing -> 0).
oidc_stat() {
	oidc_stats | python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v.get(k, 0) if isinstance(v, dict) else 0
print(v)' "$@"
}

# oidc-provider puts no "sub" in client_credentials introspection responses: the upstream sees sub= .
# The token cache is keyed by (introspection URL, token), shared by policies with the same URL,
# so each route gets a token of its own: every check below is a real introspection call.
tok() { oidc_token "$OIDC_SVC_BASIC_ID" "$OIDC_SVC_BASIC_SECRET" "read write"; }
TOKEN=$(tok)
log "token sha256 $(fp "$TOKEN")"
[ "$(oidc_introspect "$TOKEN" | json_get active)" = true ] || fail "oidc-provider says the token is not active"
oidc_stats_reset

n=$(log_lines)
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"
expect_reason "$n" oidc/a-basic ok
grep -q "sub= client_id=$OIDC_SVC_BASIC_ID scope=read write$" "$T/last_body" ||
	fail "upstream body: $(cat "$T/last_body")"
[ "$(oidc_stat introspection by_client "$OIDC_RS_BASIC_ID")" = 1 ] || fail "no introspection as rs-basic: $(oidc_stats)"
[ "$(oidc_stat introspection by_method client_secret_basic)" = 1 ] || fail "rs-basic did not use client_secret_basic: $(oidc_stats)"

T_POST=$(tok)
n=$(log_lines)
expect_status 200 /reviews/1 -H "Authorization: Bearer $T_POST"
expect_reason "$n" oidc/b-post ok
[ "$(oidc_stat introspection by_client "$OIDC_RS_POST_ID")" = 1 ] || fail "no introspection as rs-post: $(oidc_stats)"
[ "$(oidc_stat introspection by_method client_secret_post)" = 1 ] || fail "rs-post did not use client_secret_post: $(oidc_stats)"

T_SPECIAL=$(tok)
n=$(log_lines)
expect_status 200 /special/1 -H "Authorization: Bearer $T_SPECIAL"
expect_reason "$n" oidc/c-special ok
[ "$(oidc_stat introspection by_client "$OIDC_RS_SPECIAL_ID")" = 1 ] || fail "no introspection as rs-special: $(oidc_stats)"
[ "$(oidc_stat introspection total)" = 3 ] || fail "want 3 introspection calls so far: $(oidc_stats)"

# A token of the other client (client_secret_post at the token endpoint), scope read.
TOKEN2=$(oidc_token "$OIDC_SVC_POST_ID" "$OIDC_SVC_POST_SECRET" "read")
expect_status 200 /reviews/2 -H "Authorization: Bearer $TOKEN2"
grep -q "sub= client_id=$OIDC_SVC_POST_ID scope=read$" "$T/last_body" ||
	fail "upstream body: $(cat "$T/last_body")"
# Unknown token: the provider answers active:false.
n=$(log_lines)
expect_status 403 /ratings/1 -H "Authorization: Bearer not-a-real-token-$RANDOM"
expect_reason "$n" oidc/a-basic inactive_token

# The wrong secret: 401 from the provider -> introspection_error, denied.
T_WRONG=$(tok)
n=$(log_lines)
expect_status 403 /wrong/1 -H "Authorization: Bearer $T_WRONG"
expect_reason "$n" oidc/d-wrong introspection_error
grep -q "introspection failed: HTTP status 401" "$AGENT_LOG" || fail "agent log: no 'HTTP status 401' warning"
# ... and still denied on the next try (the error is not remembered as a success).
n=$(log_lines)
expect_status 403 /wrong/1 -H "Authorization: Bearer $T_WRONG"
expect_reason "$n" oidc/d-wrong introspection_error
# The same token is good on a correctly configured route.
expect_status 200 /ratings/2 -H "Authorization: Bearer $T_WRONG"
# A result cached through a correctly configured policy never serves the misconfigured one:
# the cache key covers the endpoint's client credentials, not just its URL.
n=$(log_lines)
expect_status 403 /wrong/2 -H "Authorization: Bearer $T_WRONG"
expect_reason "$n" oidc/d-wrong introspection_error
alive "$AGENT_PID" || fail "agent died"

for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	for s in "$TOKEN" "$TOKEN2" "$T_POST" "$T_SPECIAL" "$T_WRONG" "$OIDC_RS_BASIC_SECRET" "$OIDC_RS_POST_SECRET" "$OIDC_RS_SPECIAL_SECRET" "not-the-$OIDC_RS_BASIC_SECRET"; do
		if grep -qF "$s" "$f"; then fail "a token or secret (sha256 $(fp "$s")) appears in $(basename "$f")"; fi
	done
done
stop_agent
log "oidc-provider passed"

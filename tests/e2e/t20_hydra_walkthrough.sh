#!/usr/bin/env bash
# Pins the README walkthrough against a real Ory Hydra v2.3.0 behind real HAProxy 2.6: the policy
# document of policies/ratings-hydra.yaml, unchanged except that its introspectionUrl points at
# this Hydra's admin port with the OLD v1 path /oauth2/introspect, which Hydra v2 answers with a
# 307 to /admin/oauth2/introspect (the agent must follow that same-origin redirect, re-POSTing the
# body). /ratings/1 without a token -> 403 (missing_token), with a made-up token -> 403
# (inactive_token), with a real client_credentials token -> 200 and the upstream sees
# sub=<client id>; /details/1 (no policy) -> 200 without a token. The agent logs those three
# reasons in that order, and the raw token never appears in the agent's or HAProxy's logs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_hydra

# The shipped policy, only the IdP address changed (same path /oauth2/introspect).
src=$E2E_ROOT/policies/ratings-hydra.yaml
grep -q 'introspectionUrl: http://127.0.0.1:4445/oauth2/introspect$' "$src" ||
	fail "policies/ratings-hydra.yaml no longer has the expected introspectionUrl line"
sed "s#http://127.0.0.1:4445/oauth2/introspect#$HYDRA_ADMIN/oauth2/introspect#" "$src" >"$T/ratings-hydra.yaml"
grep -q "introspectionUrl: $HYDRA_ADMIN/oauth2/introspect\$" "$T/ratings-hydra.yaml" ||
	fail "could not rewrite the introspectionUrl"

# Hydra v2 really answers the old path with a same-origin 307 (what the agent must follow).
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 -d token=x "$HYDRA_ADMIN/oauth2/introspect")
case $code in
"307 $HYDRA_ADMIN/admin/oauth2/introspect" | "307 $HYDRA_ADMIN//admin/oauth2/introspect") ;;
*) fail "Hydra /oauth2/introspect: want 307 to $HYDRA_ADMIN/admin/oauth2/introspect, got '$code'" ;;
esac

start_agent --policies "$T/ratings-hydra.yaml" --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

CLIENT_ID=walkthrough-$RANDOM
CLIENT_SECRET=walkthrough-secret-$RANDOM$RANDOM
hydra_create_client "$CLIENT_ID" "$CLIENT_SECRET" "read write"
TOKEN=$(hydra_token "$CLIENT_ID" "$CLIENT_SECRET" "read write")
[ -n "$TOKEN" ] || fail "empty token from Hydra"
log "token sha256 $(printf '%s' "$TOKEN" | sha256sum | cut -c1-12)"
[ "$(hydra_introspect "$TOKEN" | json_get active)" = true ] || fail "Hydra says the new token is not active"

expect_status 403 /ratings/1
expect_status 403 /ratings/1 -H "Authorization: Bearer qwertyuio23456789"
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"
grep -q "^upstream: GET /ratings/1 sub=$CLIENT_ID client_id=$CLIENT_ID scope=read write" "$T/last_body" ||
	fail "upstream did not get the token's identity: $(cat "$T/last_body")"
expect_status 200 /details/1
grep -q "^upstream: GET /details/1 sub= " "$T/last_body" || fail "unexpected upstream body for /details/1: $(cat "$T/last_body")"

# No raw token anywhere in the logs.
log_settle
for f in "$AGENT_LOG" "$HAPROXY_LOG" "$T/hydra.log"; do
	[ -f "$f" ] || fail "log file $f is missing"
done
for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	if grep -qF "$TOKEN" "$f"; then fail "the raw Hydra token appears in $(basename "$f")"; fi
	if grep -qF "qwertyuio23456789" "$f"; then fail "the raw made-up token appears in $(basename "$f")"; fi
	# Not even its signature half.
	if grep -qF "${TOKEN##*.}" "$f"; then fail "the token's signature appears in $(basename "$f")"; fi
done
grep -q 'decision .*reason=ok status=200 token=[0-9a-f]\{1,\} cache=miss' "$AGENT_LOG" ||
	fail "agent log: no 'reason=ok status=200 token=<fingerprint> cache=miss' line: $(grep decision "$AGENT_LOG")"
if grep -q 'decision .*reason=introspection_error' "$AGENT_LOG"; then
	fail "agent log: an introspection error (the 307 not followed?): $(grep -E 'decision|introspection' "$AGENT_LOG")"
fi
alive "$AGENT_PID" || fail "agent died"

# The agent's decisions, in order (checked last: everything above holds on its own). Every
# request a policy selects gets one debug "decision" line, including the ones denied before
# any introspection (missing_token).
reasons=$(sed -n 's/.*decision .* policy=bookinfo\/ratings-hydra reason=\([a-z_]*\) .*/\1/p' "$AGENT_LOG" | tr '\n' ' ')
[ "$reasons" = "missing_token inactive_token ok " ] ||
	fail "agent log: want decisions 'missing_token inactive_token ok' for bookinfo/ratings-hydra, got '$reasons'
$(grep decision "$AGENT_LOG")"
stop_agent
log "walkthrough passed"

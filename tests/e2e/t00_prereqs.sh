#!/usr/bin/env bash
# t00: pins the e2e prerequisites themselves: HAProxy 2.6 (system), 3.0, 3.2 and 3.4 (chroots) each
# start a trivial config and answer over loopback, and Hydra v2.3.0 issues a client_credentials
# token that its admin endpoint introspects as active (and the legacy path answers 307).
# oidc-provider introspection with client_secret_basic and client_secret_post is pinned too.
# It needs no agent: if it fails, every other e2e test would fail for the same reason.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

cfg="$T/cfg"
mkdir -p "$cfg"
cat >"$cfg/haproxy.cfg" <<'CFG'
global
	log stderr format raw local0 info
defaults
	mode http
	timeout connect 2s
	timeout client 5s
	timeout server 5s
frontend fe
	bind 127.0.0.1:@FE_PORT@
	http-request return status 200 content-type text/plain string "hello @VERSION@ from @HAPROXY_DIR@"
CFG

for VERSION in 2.6 3.0 3.2 3.4; do
	hb=$(haproxy_bin "$VERSION") # fails unless `haproxy -v` reports $VERSION
	v=$($hb -v)
	log "haproxy $VERSION: ${v%%$'\n'*}"
	FE_PORT=$(free_port)
	start_haproxy "$VERSION" "$cfg"
	body=$(curl -fsS --max-time 5 "http://127.0.0.1:$FE_PORT/") || fail "haproxy $VERSION: curl failed"
	[ "$body" = "hello $VERSION from $HAPROXY_DIR" ] || fail "haproxy $VERSION: unexpected body '$body'"
	stop_bg "$HAPROXY_PID"
	! alive "$HAPROXY_PID" || fail "haproxy $VERSION: still running after stop_bg"
done

start_hydra
hydra_create_client t00-basic t00-basic-secret "read write" "https://api.example.test"
hydra_create_client t00-post t00-post-secret "read" "" client_secret_post
tok=$(hydra_token t00-basic t00-basic-secret "read write" "https://api.example.test")
case $tok in ory_at_*) ;; *) fail "hydra: token '$tok' lacks the ory_at_ prefix" ;; esac
out=$(hydra_introspect "$tok")
[ "$(json_get active <<<"$out")" = true ] || fail "hydra: token not active: $out"
[ "$(json_get client_id <<<"$out")" = t00-basic ] || fail "hydra: wrong client_id: $out"
[ "$(json_get scope <<<"$out")" = "read write" ] || fail "hydra: wrong scope: $out"
[ "$(json_get aud <<<"$out")" = '["https://api.example.test"]' ] || fail "hydra: wrong aud: $out"
[ "$(json_get token_use <<<"$out")" = access_token ] || fail "hydra: wrong token_use: $out"
tok2=$(hydra_token t00-post t00-post-secret read)
[ "$(hydra_introspect "$tok2" | json_get active)" = true ] || fail "hydra: post-client token not active"
[ "$(hydra_introspect garbage | json_get active)" = false ] || fail "hydra: garbage token active"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -d "token=$tok" "$HYDRA_ADMIN/oauth2/introspect")
[ "$code" = 307 ] || fail "hydra: legacy /oauth2/introspect answered $code, expected 307"
hydra_revoke t00-basic t00-basic-secret "$tok"
[ "$(hydra_introspect "$tok" | json_get active)" = false ] || fail "hydra: revoked token still active"

start_oidc_provider
otok=$(oidc_token "$OIDC_SVC_BASIC_ID" "$OIDC_SVC_BASIC_SECRET" "read write")
out=$(oidc_introspect "$otok")
[ "$(json_get active <<<"$out")" = true ] || fail "oidc-provider: token not active (basic): $out"
[ "$(json_get scope <<<"$out")" = "read write" ] || fail "oidc-provider: wrong scope: $out"
out=$(curl -fsS --max-time 5 --data-urlencode "client_id=$OIDC_RS_POST_ID" \
	--data-urlencode "client_secret=$OIDC_RS_POST_SECRET" --data-urlencode "token=$otok" "$OIDC_INTROSPECT")
[ "$(json_get active <<<"$out")" = true ] || fail "oidc-provider: token not active (post): $out"
out=$(oidc_introspect "$otok" "$OIDC_RS_SPECIAL_ID" "$OIDC_RS_SPECIAL_SECRET")
[ "$(json_get active <<<"$out")" = true ] || fail "oidc-provider: token not active (special secret): $out"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 --data-urlencode "token=$otok" "$OIDC_INTROSPECT")
[ "$code" = 400 ] || fail "oidc-provider: unauthenticated introspection answered $code, expected 400"
ptok=$(oidc_token "$OIDC_SVC_POST_ID" "$OIDC_SVC_POST_SECRET" read "$OIDC_AUDIENCE")
out=$(oidc_introspect "$ptok")
[ "$(json_get aud <<<"$out")" = "$OIDC_AUDIENCE" ] || fail "oidc-provider: wrong aud: $out"
log "all prerequisites work"

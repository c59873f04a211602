#!/usr/bin/env bash
# Pins the agent's token checks against a real Ory Hydra v2.3.0 behind real HAProxy 2.6:
#  - requiredScopes (extended `introspection:` syntax, route reviews, scope admin): a token with
#    scope "read" -> 403 on /reviews (insufficient_scope) and 200 on /ratings (no scope needed);
#  - a REFRESH token (authorization-code flow with offline_access, driven with curl against
#    Hydra's login/consent admin API) -> 403 (not_access_token: Hydra says active, token_use
#    refresh_token), while the access token of the same grant -> 200 with sub=alice;
#  - revocation vs. the positive cache (ratings has cacheTimeout 2s): a revoked token is still
#    allowed while cached, denied once the entry expired;
#  - Hydra stopped: an uncached token -> 403 (introspection_error) within the agent's
#    --introspection-timeout 500 (request < 1.5 s, never a hang, never a 200), while a token
#    still in the cache -> 200.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

# Login and consent UIs: nothing listens there, the test reads the Location headers instead.
UI=http://127.0.0.1:$(free_port)
start_hydra URLS_LOGIN="$UI/login" URLS_CONSENT="$UI/consent"

cat >"$T/ratings.yaml" <<EOP
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: ratings-hydra, namespace: bookinfo}
spec:
  applyToRoutes:
  - route: {labels: {route: ratings}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspectionUrl: $HYDRA_INTROSPECT
            cacheTimeout: 2s
EOP
cat >"$T/reviews.yaml" <<EOP
apiVersion: oauth2-spoa/v1
kind: ExtAuthPolicy
metadata: {name: reviews-admin, namespace: bookinfo}
spec:
  applyToRoutes:
  - route: {labels: {route: reviews}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspection:
              introspectionUrl: $HYDRA_INTROSPECT
            requiredScopes: [admin]
EOP

start_agent --policies "$T/ratings.yaml" --policies "$T/reviews.yaml" --introspection-timeout 500 --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }


# expect_reason N POLICY REASON: the agent logged exactly one decision since line N, for POLICY
# with REASON.
expect_reason() {
	local d n
	d=$(decisions_since "$1")
	n=$(printf '%s' "$d" | grep -c . || true)
	[ "$n" = 1 ] || fail "want 1 decision line (policy=$2 reason=$3) since line $1, got $n: $d"
	case $d in
	*" policy=$2 reason=$3 "*) ;;
	*) fail "want policy=$2 reason=$3, got: $d" ;;
	esac
}

hydra_create_client svc-checks svc-checks-secret-123 "read write admin"

# ---------------------------------------------------------------- requiredScopes
log "requiredScopes"
READ=$(hydra_token svc-checks svc-checks-secret-123 "read")
log "read token sha256 $(fp "$READ")"
n=$(log_lines)
expect_status 403 /reviews/1 -H "Authorization: Bearer $READ"
expect_reason "$n" bookinfo/reviews-admin insufficient_scope
n=$(log_lines)
expect_status 200 /ratings/1 -H "Authorization: Bearer $READ"
expect_reason "$n" bookinfo/ratings-hydra ok
grep -q "sub=svc-checks client_id=svc-checks scope=read$" "$T/last_body" || fail "upstream body: $(cat "$T/last_body")"
ADMIN=$(hydra_token svc-checks svc-checks-secret-123 "read admin")
n=$(log_lines)
expect_status 200 /reviews/1 -H "Authorization: Bearer $ADMIN"
expect_reason "$n" bookinfo/reviews-admin ok
grep -q "sub=svc-checks client_id=svc-checks scope=read admin$" "$T/last_body" || fail "upstream body: $(cat "$T/last_body")"

# ---------------------------------------------------------------- refresh token
log "refresh token (authorization code flow)"
CB=$UI/callback
out=$(curl -sS --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' -d "$(
	python3 -c 'import json, sys; print(json.dumps({"client_id": "web-app", "client_secret": "web-app-secret-123",
"grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "scope": "offline_access read",
"redirect_uris": [sys.argv[1]], "token_endpoint_auth_method": "client_secret_basic"}))' "$CB"
)" "$HYDRA_ADMIN/admin/clients") || fail "POST /admin/clients failed"
[ "${out##*$'\n'}" = 201 ] || fail "create web-app client: ${out}"

JAR=$T/cookies
# location URL [CURL ARGS]: GET URL with the cookie jar, require a redirect, print its Location.
location() {
	local url=$1 res
	shift
	res=$(curl -sS --max-time 10 -b "$JAR" -c "$JAR" -o /dev/null -w '%{http_code} %{redirect_url}' "$@" "$url") ||
		fail "GET ${url%%\?*} failed"
	case $res in
	30[1237]" "?*) printf '%s\n' "${res#* }" ;;
	*) fail "GET ${url%%\?*}: want a redirect, got '${res%% *}'" ;;
	esac
}
# query_param URL NAME: print the (decoded) query parameter NAME of URL.
query_param() {
	python3 -c 'import sys, urllib.parse as u
v = u.parse_qs(u.urlsplit(sys.argv[1]).query).get(sys.argv[2])
sys.exit(1) if not v else print(v[0])' "$1" "$2" || fail "no '$2' parameter in the redirect to ${1%%\?*}"
}
# accept KIND CHALLENGE JSON: accept a login or consent request, print redirect_to.
accept() {
	local out
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' -X PUT -H 'Content-Type: application/json' -d "$3" \
		"$HYDRA_ADMIN/admin/oauth2/auth/requests/$1/accept?$1_challenge=$2") || fail "accept $1 failed"
	[ "${out##*$'\n'}" = 200 ] || fail "accept $1: ${out}"
	json_get redirect_to <<<"${out%$'\n'*}"
}
STATE=state-$RANDOM$RANDOM$RANDOM
AUTH_URL="$HYDRA_PUBLIC/oauth2/auth?$(python3 -c 'import sys, urllib.parse as u
print(u.urlencode({"client_id": "web-app", "response_type": "code", "scope": "offline_access read",
"redirect_uri": sys.argv[1], "state": sys.argv[2]}))' "$CB" "$STATE")"
loc=$(location "$AUTH_URL")
case $loc in "$UI/login?"*) ;; *) fail "auth: want a redirect to the login UI, got ${loc%%\?*}" ;; esac
redir=$(accept login "$(query_param "$loc" login_challenge)" '{"subject":"alice"}')
loc=$(location "$redir")
case $loc in "$UI/consent?"*) ;; *) fail "after login: want a redirect to the consent UI, got ${loc%%\?*}" ;; esac
redir=$(accept consent "$(query_param "$loc" consent_challenge)" '{"grant_scope":["offline_access","read"]}')
loc=$(location "$redir")
case $loc in "$CB?"*) ;; *) fail "after consent: want a redirect to the callback, got ${loc%%\?*}" ;; esac
[ "$(query_param "$loc" state)" = "$STATE" ] || fail "state mismatch in the callback"
CODE=$(query_param "$loc" code)
out=$(curl -sS --max-time 10 -w '\n%{http_code}' -H "Authorization: $(_form_basic web-app web-app-secret-123)" \
	--data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" --data-urlencode "redirect_uri=$CB" \
	"$HYDRA_TOKEN_URL") || fail "POST /oauth2/token failed"
[ "${out##*$'\n'}" = 200 ] || fail "code exchange: HTTP ${out##*$'\n'}"
REFRESH=$(json_get refresh_token <<<"${out%$'\n'*}")
USER_AT=$(json_get access_token <<<"${out%$'\n'*}")
log "refresh token sha256 $(fp "$REFRESH"), access token sha256 $(fp "$USER_AT")"
intro=$(hydra_introspect "$REFRESH")
if [ "$(json_get active <<<"$intro")" != true ] || [ "$(json_get token_use <<<"$intro")" != refresh_token ]; then
	fail "Hydra does not say the refresh token is an active refresh_token"
fi
n=$(log_lines)
expect_status 403 /ratings/1 -H "Authorization: Bearer $REFRESH"
expect_reason "$n" bookinfo/ratings-hydra not_access_token
n=$(log_lines)
expect_status 200 /ratings/1 -H "Authorization: Bearer $USER_AT"
expect_reason "$n" bookinfo/ratings-hydra ok
grep -q "sub=alice client_id=web-app scope=offline_access read$" "$T/last_body" ||
	fail "upstream body for the user's token: $(cat "$T/last_body")"

# ---------------------------------------------------------------- revocation vs cache
log "revocation (cacheTimeout 2s)"
REV=$(hydra_token svc-checks svc-checks-secret-123 "read write")
t0=$(date +%s.%N)
expect_status 200 /ratings/1 -H "Authorization: Bearer $REV"
hydra_revoke svc-checks svc-checks-secret-123 "$REV"
[ "$(hydra_introspect "$REV" | json_get active)" = false ] || fail "Hydra still says the revoked token is active"
n=$(log_lines)
expect_status 200 /ratings/1 -H "Authorization: Bearer $REV"
el=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
awk -v e="$el" 'BEGIN { exit !(e < 1.8) }' || fail "test too slow: the cached check came ${el}s after the first"
d=$(decisions_since "$n")
case $d in *" reason=ok "*" cache=hit "*) ;; *) fail "revoked token within cacheTimeout: want a cache hit, got: $d" ;; esac
sleep_until=$(awk -v s="$t0" 'BEGIN { printf "%.2f", s + 2.5 }')
while awk -v u="$sleep_until" -v n="$(date +%s.%N)" 'BEGIN { exit !(n < u) }'; do sleep 0.1; done
n=$(log_lines)
expect_status 403 /ratings/1 -H "Authorization: Bearer $REV"
expect_reason "$n" bookinfo/ratings-hydra inactive_token

# ---------------------------------------------------------------- Hydra down
log "Hydra stopped"
NEW=$(hydra_token svc-checks svc-checks-secret-123 "read admin")
# $ADMIN was introspected above for reviews (default cacheTimeout 10m): refresh nothing, just
# make sure it is cached right now.
n=$(log_lines)
expect_status 200 /reviews/1 -H "Authorization: Bearer $ADMIN"
case $(decisions_since "$n") in *" cache=hit "*) ;; *) fail "the admin token was not served from the cache: $(decisions_since "$n")" ;; esac
stop_bg "$HYDRA_PID"
alive "$HYDRA_PID" && fail "Hydra still runs"

# timed PATH TOKEN: print "<status> <seconds>" for one request.
timed() {
	curl -s -o "$T/last_body" -w '%{http_code} %{time_total}' --max-time 10 \
		-H "Authorization: Bearer $2" "http://127.0.0.1:$FRONT_PORT$1" || true
}
for path in /ratings/1 /reviews/1; do
	n=$(log_lines)
	read -r code secs <<<"$(timed "$path" "$NEW")"
	[ "$code" = 403 ] || fail "Hydra down, uncached token on $path: want 403, got '$code' in ${secs}s"
	awk -v s="$secs" 'BEGIN { exit !(s < 1.5) }' || fail "Hydra down, uncached token on $path: took ${secs}s (want < 1.5 s)"
	log "Hydra down: $path uncached -> $code in ${secs}s"
	d=$(decisions_since "$n")
	case $d in *" reason=introspection_error "*) ;; *) fail "Hydra down, $path: want reason=introspection_error, got: $d" ;; esac
done
n=$(log_lines)
read -r code secs <<<"$(timed /reviews/1 "$ADMIN")"
[ "$code" = 200 ] || fail "Hydra down, cached token: want 200, got '$code' in ${secs}s"
case $(decisions_since "$n") in *" reason=ok "*" cache=hit "*) ;; *) fail "Hydra down, cached token: $(decisions_since "$n")" ;; esac
# Still failing closed on a second try (an error is not cached as a success).
read -r code secs <<<"$(timed /ratings/1 "$NEW")"
[ "$code" = 403 ] || fail "Hydra down, second try of the uncached token: want 403, got '$code'"
awk -v s="$secs" 'BEGIN { exit !(s < 1.5) }' || fail "Hydra down, second try took ${secs}s"
alive "$AGENT_PID" || fail "agent died"

for f in "$AGENT_LOG" "$HAPROXY_LOG"; do
	for tok in "$READ" "$ADMIN" "$REFRESH" "$USER_AT" "$REV" "$NEW"; do
		if grep -qF "$tok" "$f"; then fail "a raw token (sha256 $(fp "$tok")) appears in $(basename "$f")"; fi
	done
done
stop_agent
log "hydra checks passed"

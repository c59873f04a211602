#!/usr/bin/env bash
# walkthrough.sh - the "access token validation with Hydra" walkthrough, step by step, against a
# running stack: Ory Hydra (public + admin API), HAProxy with oauth2-spoa in front of an upstream.
# Each step prints the request (a curl line you can copy), the expected status and the status
# it got. Exits 0 when every step got its expected status, 1 otherwise.
#
#   contrib/docker/walkthrough.sh                  # against `docker compose up` (contrib/docker)
#   make demo                                      # runs this same script against the local stack
#
# Environment (defaults = the published ports of docker-compose.yml and of `make demo`):
#   HYDRA_PUBLIC_URL   http://127.0.0.1:4444   token endpoint /oauth2/token
#   HYDRA_ADMIN_URL    http://127.0.0.1:4445   /admin/clients, /admin/oauth2/introspect
#   APP_URL            http://127.0.0.1:8080   HAProxy's frontend
#   CLIENT_ID          demo-client             the client_credentials client to create
#   CLIENT_SECRET      demo-secret
#   CLIENT_MAY_EXIST   1                       accept 409 at step 1 (the compose job "hydra-init"
#                                              already created the client); 0 = require 201
#   WALKTHROUGH_ENV    (unset)                 write "export TOKEN=... APP_URL=..." to this file
# Needs bash, curl and python3 (to read JSON).
set -euo pipefail

HYDRA_PUBLIC_URL=${HYDRA_PUBLIC_URL:-http://127.0.0.1:4444}
HYDRA_ADMIN_URL=${HYDRA_ADMIN_URL:-http://127.0.0.1:4445}
APP_URL=${APP_URL:-http://127.0.0.1:8080}
CLIENT_ID=${CLIENT_ID:-demo-client}
CLIENT_SECRET=${CLIENT_SECRET:-demo-secret}
CLIENT_MAY_EXIST=${CLIENT_MAY_EXIST:-1}
BOGUS=qwertyuio23456789
NSTEPS=7

for c in curl python3; do
	command -v "$c" >/dev/null || { echo "walkthrough: $c is needed" >&2; exit 2; }
done

body=$(mktemp "${TMPDIR:-/tmp}/oauth2-spoa-walkthrough.XXXXXX")
trap 'rm -f "$body"' EXIT
failures=0
n=0

# step TITLE: print the step header.
step() {
	n=$((n + 1))
	printf '\n[%d/%d] %s\n' "$n" "$NSTEPS" "$1"
}

# show CMDLINE: print the curl line as a user would type it.
show() { printf '  $ %s\n' "$1"; }

# check WANT GOT [ALSO_OK]: print "expect WANT, got GOT" with ok/FAILED.
check() {
	local want=$1 got=$2 also=${3:-}
	if [ "$got" = "$want" ] || { [ -n "$also" ] && [ "$got" = "$also" ]; }; then
		printf '  expect %s%s, got %s  ok\n' "$want" "${also:+ (or $also)}" "$got"
	else
		printf '  expect %s%s, got %s  FAILED\n' "$want" "${also:+ (or $also)}" "$got"
		failures=$((failures + 1))
	fi
}

# req ARGS...: curl with a time limit; the body goes to $body, the status is printed ("000" when
# nothing answered).
req() {
	curl -s -o "$body" -w '%{http_code}' --max-time 10 "$@" || true
}

# excerpt: the first 300 bytes of the last body, indented.
excerpt() {
	[ -s "$body" ] || return 0
	head -c 300 "$body" | sed 's/^/  > /'
	[ -z "$(tail -c 1 "$body")" ] || echo
}

json_field() { # FIELD < JSON
	python3 -c 'import json,sys
try: v = json.load(sys.stdin)[sys.argv[1]]
except Exception: sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

echo "walkthrough: Hydra public $HYDRA_PUBLIC_URL, admin $HYDRA_ADMIN_URL; HAProxy $APP_URL"

# 1. the client
client_json=$(printf '{"client_id":"%s","client_secret":"%s","grant_types":["client_credentials"],"response_types":["token"],"scope":"read write","token_endpoint_auth_method":"client_secret_basic"}' "$CLIENT_ID" "$CLIENT_SECRET")
step "create an OAuth2 client through Hydra's admin API"
show "curl -s -X POST $HYDRA_ADMIN_URL/admin/clients -H 'Content-Type: application/json' -d '$client_json'"
code=$(req -X POST -H 'Content-Type: application/json' -d "$client_json" "$HYDRA_ADMIN_URL/admin/clients")
if [ "$CLIENT_MAY_EXIST" = 1 ]; then check 201 "$code" 409; else check 201 "$code"; fi
[ "$code" != 409 ] || echo "  (the client already exists: created by the hydra-init job or an earlier run)"

# 2. a token
step "get a client_credentials access token"
show "curl -s -u $CLIENT_ID:$CLIENT_SECRET -d grant_type=client_credentials -d scope='read write' $HYDRA_PUBLIC_URL/oauth2/token"
code=$(req -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials --data-urlencode 'scope=read write' \
	"$HYDRA_PUBLIC_URL/oauth2/token")
check 200 "$code"
TOKEN=$(json_field access_token <"$body" 2>/dev/null || true)
if [ -n "$TOKEN" ]; then
	printf '  access_token: %s… (%d characters, expires in %ss)\n' "${TOKEN:0:16}" "${#TOKEN}" \
		"$(json_field expires_in <"$body" 2>/dev/null || echo '?')"
else
	echo "  no access_token in the answer:"
	excerpt
	failures=$((failures + 1))
	TOKEN=none
fi

# 3. introspection, as the agent does it
step "introspect the token (what oauth2-spoa asks Hydra)"
show "curl -s -d token=\$TOKEN $HYDRA_ADMIN_URL/admin/oauth2/introspect"
code=$(req --data-urlencode "token=$TOKEN" "$HYDRA_ADMIN_URL/admin/oauth2/introspect")
check 200 "$code"
excerpt
active=$(json_field active <"$body" 2>/dev/null || true)
if [ "$active" = true ]; then
	echo "  active: true"
else
	echo "  active: '$active', want true  FAILED"
	failures=$((failures + 1))
fi

# 4-6. the protected route
step "GET /ratings/1 without a token (the policy ratings-hydra applies: denied)"
show "curl -s -o /dev/null -w '%{http_code}\\n' $APP_URL/ratings/1"
check 403 "$(req "$APP_URL/ratings/1")"

step "GET /ratings/1 with a made-up token (Hydra says inactive: denied)"
show "curl -s -o /dev/null -w '%{http_code}\\n' -H 'Authorization: Bearer $BOGUS' $APP_URL/ratings/1"
check 403 "$(req -H "Authorization: Bearer $BOGUS" "$APP_URL/ratings/1")"

step "GET /ratings/1 with the real token (allowed; the upstream sees the identity)"
show "curl -s -H \"Authorization: Bearer \$TOKEN\" $APP_URL/ratings/1"
code=$(req -H "Authorization: Bearer $TOKEN" "$APP_URL/ratings/1")
check 200 "$code"
excerpt
if [ "$code" = 200 ] && ! grep -q "sub=$CLIENT_ID client_id=$CLIENT_ID scope=read write" "$body"; then
	echo "  the upstream did not get sub/client_id/scope from the token  FAILED"
	failures=$((failures + 1))
fi

# 7. a route no policy selects
step "GET /details/1 without a token (no policy selects it: allowed)"
show "curl -s $APP_URL/details/1"
check 200 "$(req "$APP_URL/details/1")"
excerpt

if [ -n "${WALKTHROUGH_ENV:-}" ]; then
	umask 077
	{
		printf 'export TOKEN=%q\n' "$TOKEN"
		printf 'export APP_URL=%q HYDRA_PUBLIC_URL=%q HYDRA_ADMIN_URL=%q\n' "$APP_URL" "$HYDRA_PUBLIC_URL" "$HYDRA_ADMIN_URL"
		printf 'export CLIENT_ID=%q CLIENT_SECRET=%q\n' "$CLIENT_ID" "$CLIENT_SECRET"
	} >"$WALKTHROUGH_ENV"
fi

echo
if [ $failures = 0 ]; then
	echo "walkthrough: all $NSTEPS steps got the expected status"
else
	echo "walkthrough: $failures check(s) FAILED"
	exit 1
fi

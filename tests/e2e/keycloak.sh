# shellcheck shell=bash
# Keycloak helpers for the e2e tests, sourced after lib.sh:
#     . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/keycloak.sh"
# The distribution (version in tests/keycloak/version) is unpacked by tests/tools/prepare.sh under
# $OAUTH2_SPOA_CACHE/keycloak; a missing one FAILS the test. Keycloak runs as `kc.sh start-dev
# --db=dev-mem` on the machine's Java 17 (30-60 s to start, about 0.6 GB RSS), so a test starts it
# once. The realm, its clients and its user are made by kc_setup_realm through the admin REST API.

KC_VERSION=$(cat "$E2E_ROOT/tests/keycloak/version") || fail "no tests/keycloak/version"

# _kc_rand: a random URL-safe secret.
_kc_rand() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }

# start_keycloak [TIMEOUT=150]: start Keycloak on a free port and wait until the master realm
# answers. Exports KC_URL, KC_PID, KC_ADMIN_USER, KC_ADMIN_PASSWORD.
start_keycloak() {
	local dir="$E2E_CACHE/keycloak/keycloak-$KC_VERSION" port t0=$SECONDS max=${1:-150}
	[ -f "$E2E_CACHE/keycloak/keycloak-$KC_VERSION.ok" ] && [ -x "$dir/bin/kc.sh" ] ||
		fail "start_keycloak: no Keycloak $KC_VERSION at $dir (run tests/tools/prepare.sh keycloak)"
	command -v java >/dev/null || fail "start_keycloak: java is not installed"
	port=$(free_port) || exit 1
	export KC_URL="http://127.0.0.1:$port" KC_ADMIN_USER=admin KC_ADMIN_PASSWORD
	KC_ADMIN_PASSWORD=$(_kc_rand)
	# C1 only: the JIT's second tier costs more start time than these tests ever win back.
	start_bg keycloak env KC_BOOTSTRAP_ADMIN_USERNAME="$KC_ADMIN_USER" \
		KC_BOOTSTRAP_ADMIN_PASSWORD="$KC_ADMIN_PASSWORD" JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1" \
		"$dir/bin/kc.sh" start-dev --db=dev-mem --http-host=127.0.0.1 --http-port="$port" \
		--hostname="$KC_URL"
	export KC_PID=$BG_PID
	until curl -fsS -o /dev/null --max-time 2 "$KC_URL/realms/master/.well-known/openid-configuration" 2>/dev/null; do
		alive "$KC_PID" || fail "start_keycloak: Keycloak exited: $(tail -n 5 "$T/keycloak.log")"
		[ $((SECONDS - t0)) -lt "$max" ] || fail "start_keycloak: not ready within ${max}s"
		sleep 0.5
	done
	log "keycloak $KC_VERSION ready on $KC_URL in $((SECONDS - t0))s"
}

# kc_api METHOD PATH [JSON]: call the admin REST API ($KC_URL/admin/realms PATH) as the bootstrap
# admin; prints the body, fails on a non-2xx status (60 s each: creating a realm takes 5-20 s
# on a loaded machine). The admin token (60 s life) is renewed every 30 s.
kc_api() {
	local out code now=$SECONDS args=()
	if [ -z "${_KC_TOKEN:-}" ] || [ $((now - _KC_TOKEN_AT)) -ge 30 ]; then
		out=$(curl -fsS --max-time 10 -d grant_type=password -d client_id=admin-cli \
			--data-urlencode "username=$KC_ADMIN_USER" --data-urlencode "password=$KC_ADMIN_PASSWORD" \
			"$KC_URL/realms/master/protocol/openid-connect/token") || fail "kc_api: no admin token"
		_KC_TOKEN=$(json_get access_token <<<"$out")
		_KC_TOKEN_AT=$now
	fi
	[ $# -lt 3 ] || args=(-H 'Content-Type: application/json' --data-binary "$3")
	out=$(curl -sS --max-time 60 -X "$1" -w '\n%{http_code}' -H "Authorization: Bearer $_KC_TOKEN" \
		"${args[@]}" "$KC_URL/admin/realms$2") || fail "kc_api $1 $2: curl failed"
	code=${out##*$'\n'}
	case $code in 2??) ;; *) fail "kc_api $1 $2: HTTP $code: ${out%$'\n'*}" ;; esac
	printf '%s' "${out%$'\n'*}"
}

# _kc_id PATH?QUERY FIELD VALUE: the "id" of the entry of a list whose FIELD is VALUE.
_kc_id() {
	kc_api GET "$1" | python3 -c 'import json, sys
m = [e["id"] for e in json.load(sys.stdin) if e.get(sys.argv[1]) == sys.argv[2]]
assert len(m) == 1, m
print(m[0])' "$2" "$3" || fail "_kc_id: no single $2=$3 in $1"
}

# kc_setup_realm REALM SCOPE: a realm with
#   - the optional client scope SCOPE (it appears in "scope" only when asked for),
#   - KC_AGENT_ID/KC_AGENT_SECRET: a confidential client with no grant at all, which the agent
#     uses to authenticate to the introspection endpoint,
#   - KC_SVC_ID/KC_SVC_SECRET: a confidential client with client_credentials (service account)
#     and password grants, SCOPE as an optional scope,
#   - KC_USER/KC_PASSWORD: a user (alice) with a password.
# Exports those and KC_ISSUER, KC_TOKEN_URL, KC_INTROSPECT, KC_REVOKE, KC_LOGOUT.
kc_setup_realm() {
	local realm=$1 scope=$2 sid cid
	export KC_ISSUER="$KC_URL/realms/$realm"
	export KC_TOKEN_URL="$KC_ISSUER/protocol/openid-connect/token"
	export KC_INTROSPECT="$KC_TOKEN_URL/introspect" KC_REVOKE="$KC_ISSUER/protocol/openid-connect/revoke"
	export KC_LOGOUT="$KC_ISSUER/protocol/openid-connect/logout"
	export KC_AGENT_ID=oauth2-spoa KC_SVC_ID=svc KC_USER=alice
	export KC_AGENT_SECRET KC_SVC_SECRET KC_PASSWORD
	KC_AGENT_SECRET=$(_kc_rand)
	KC_SVC_SECRET=$(_kc_rand)
	KC_PASSWORD=$(_kc_rand)
	kc_api POST "" "{\"realm\":\"$realm\",\"enabled\":true}" >/dev/null
	kc_api POST "/$realm/client-scopes" "{\"name\":\"$scope\",\"protocol\":\"openid-connect\",
		\"attributes\":{\"include.in.token.scope\":\"true\",\"display.on.consent.screen\":\"false\"}}" >/dev/null
	kc_api POST "/$realm/clients" "{\"clientId\":\"$KC_AGENT_ID\",\"secret\":\"$KC_AGENT_SECRET\",
		\"publicClient\":false,\"clientAuthenticatorType\":\"client-secret\",\"standardFlowEnabled\":false,
		\"directAccessGrantsEnabled\":false,\"serviceAccountsEnabled\":false}" >/dev/null
	kc_api POST "/$realm/clients" "{\"clientId\":\"$KC_SVC_ID\",\"secret\":\"$KC_SVC_SECRET\",
		\"publicClient\":false,\"clientAuthenticatorType\":\"client-secret\",\"standardFlowEnabled\":false,
		\"directAccessGrantsEnabled\":true,\"serviceAccountsEnabled\":true}" >/dev/null
	# Given at creation, optionalClientScopes would also drop the realm's default scopes (sub...).
	sid=$(_kc_id "/$realm/client-scopes" name "$scope")
	cid=$(_kc_id "/$realm/clients?clientId=$KC_SVC_ID" clientId "$KC_SVC_ID")
	kc_api PUT "/$realm/clients/$cid/optional-client-scopes/$sid" >/dev/null
	kc_api POST "/$realm/users" "{\"username\":\"$KC_USER\",\"enabled\":true,\"email\":\"alice@example.test\",
		\"emailVerified\":true,\"firstName\":\"Alice\",\"lastName\":\"Liddell\",
		\"credentials\":[{\"type\":\"password\",\"value\":\"$KC_PASSWORD\",\"temporary\":false}]}" >/dev/null
	log "keycloak realm $realm: clients $KC_AGENT_ID (introspection) and $KC_SVC_ID, user $KC_USER, optional scope $scope"
}

# _kc_post URL FIELDS...: POST form fields as the svc client (client_secret_basic); prints the body,
# fails unless 2xx.
_kc_post() {
	local url=$1 out code args=()
	shift
	for f in "$@"; do args+=(--data-urlencode "$f"); done
	out=$(curl -sS --max-time 10 -w '\n%{http_code}' -H "Authorization: $(_form_basic "$KC_SVC_ID" "$KC_SVC_SECRET")" \
		"${args[@]}" "$url") || fail "POST $url failed"
	code=${out##*$'\n'}
	case $code in 2??) ;; *) fail "POST $url: HTTP $code: ${out%$'\n'*}" ;; esac
	printf '%s' "${out%$'\n'*}"
}

# kc_cc_token [SCOPE]: a client_credentials access token of the svc client.
kc_cc_token() {
	local f=(grant_type=client_credentials)
	[ -z "${1:-}" ] || f+=("scope=$1")
	_kc_post "$KC_TOKEN_URL" "${f[@]}" | json_get access_token
}

# kc_password_tokens OUT SCOPE: the user's password grant as the svc client; the whole answer
# (access_token, refresh_token, id_token when SCOPE has openid) goes to the file OUT.
kc_password_tokens() {
	_kc_post "$KC_TOKEN_URL" grant_type=password "username=$KC_USER" "password=$KC_PASSWORD" "scope=$2" >"$1"
}

# kc_introspect TOKEN: Keycloak's introspection JSON for TOKEN, as the agent's client.
kc_introspect() {
	curl -fsS --max-time 10 -H "Authorization: $(_form_basic "$KC_AGENT_ID" "$KC_AGENT_SECRET")" \
		--data-urlencode "token=$1" "$KC_INTROSPECT" || fail "kc_introspect: POST $KC_INTROSPECT failed"
}

# kc_revoke TOKEN: RFC 7009 revocation as the svc client (Keycloak revokes access tokens too).
kc_revoke() { _kc_post "$KC_REVOKE" "token=$1" >/dev/null; }

# kc_logout REFRESH_TOKEN: end the user's session (every token of it becomes inactive).
kc_logout() { _kc_post "$KC_LOGOUT" "refresh_token=$1" >/dev/null; }

# kc_add_user_with_roles REALM USER N: a user with the password $KC_PASSWORD and N realm roles
# of 32-byte names (one partial import), so its access tokens carry N roles: real big tokens.
kc_add_user_with_roles() {
	local body
	body=$(python3 -c 'import json, sys
realm, user, n, pw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
roles = ["bookinfo-ratings-reader-role-%03d" % i for i in range(n)]
print(json.dumps({"ifResourceExists": "FAIL", "roles": {"realm": [{"name": r} for r in roles]},
    "users": [{"username": user, "enabled": True, "email": user + "@example.test", "emailVerified": True,
               "firstName": user, "lastName": "Test", "realmRoles": roles + ["default-roles-" + realm],
               "credentials": [{"type": "password", "value": pw, "temporary": False}]}]}))' \
		"$1" "$2" "$3" "$KC_PASSWORD")
	kc_api POST "/$1/partialImport" "$body" >/dev/null
}

# kc_user_tokens OUT USER SCOPE: kc_password_tokens for another user of the realm.
kc_user_tokens() {
	_kc_post "$KC_TOKEN_URL" grant_type=password "username=$2" "password=$KC_PASSWORD" "scope=$3" >"$1"
}

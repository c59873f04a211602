#!/usr/bin/env bash
# Pins claims to variables (issue 13 item 4) with real Keycloak and the shipped haproxy/ files as a
# user installs them, on HAProxy 2.6, 3.2 and 3.4. Before, Gloo's dynamicMetadataFromClaims and
# introspection.userIdAttributeName were refused at load. A Gloo-style policy maps
# realm_access.roles (a nested array) to "roles" and email to "email", and takes the subject from
# preferred_username:
#   the user's token, with client-supplied X-Auth-Roles/-Email/-Subject   200; upstream sees only
#       the agent's values (one header each): sub=alice, roles joined with ",", the user's email
#   the same token again (a cache hit)                                    the same headers
#   a service account token (no email claim) with a client-supplied X-Auth-Email   no X-Auth-Email
#   a user with 250 roles (8.4 KB of role names)                         X-Auth-Roles cut to whole
#       roles within 1024 bytes, oauth2_spoa_claim_values_truncated_total counts it
#   the shipped rate limit per client_id, turned on as haproxy.cfg says ("#rl " removed, limit 5)
#       one client_id over the limit                                      429
#       another client_id at the same time                                200
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/keycloak.sh"

start_keycloak
kc_setup_realm e2e ratings
# A second service account, for a second client_id.
SVC2_SECRET=$(_kc_rand)
kc_api POST "/e2e/clients" "{\"clientId\":\"svc2\",\"secret\":\"$SVC2_SECRET\",\"publicClient\":false,
	\"clientAuthenticatorType\":\"client-secret\",\"standardFlowEnabled\":false,
	\"serviceAccountsEnabled\":true}" >/dev/null
kc_add_user_with_roles e2e bob 250

mkdir -p "$T/policies/secrets"
printf '%s\n' "$KC_AGENT_SECRET" >"$T/policies/secrets/kc-agent"
chmod 600 "$T/policies/secrets/kc-agent"
cat >"$T/policies/ratings.yaml" <<EOF
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: ratings-kc, namespace: bookinfo}
spec:
  applyToRoutes:
  - route: {labels: {route: ratings}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspection:
              introspectionUrl: $KC_INTROSPECT
              clientId: $KC_AGENT_ID
              clientSecretFile: secrets/kc-agent
              userIdAttributeName: preferred_username
            dynamicMetadataFromClaims:
              realm_access.roles: roles
              email: email
EOF
"$AGENT" --check --policies "$T/policies" >"$T/check.out" 2>&1 || fail "--check: $(cat "$T/check.out")"
# The same with a name the agent sends itself: refused at load, the Gloo field named.
mkdir -p "$T/bad"
cp -a "$T/policies/secrets" "$T/bad/"
sed 's/email: email/email: client_id/' "$T/policies/ratings.yaml" >"$T/bad/bad.yaml"
out=$("$AGENT" --check --policies "$T/bad/bad.yaml" 2>&1) && fail "a mapping onto client_id loaded"
grep -q 'dynamicMetadataFromClaims.email: variable "client_id"' <<<"$out" ||
	fail "the refusal does not name the field: $out"

METRICS_PORT=$(free_port)
start_agent --policies "$T/policies" --metrics "127.0.0.1:$METRICS_PORT"

kc_password_tokens "$T/alice.json" "openid email"
alice=$(json_get access_token <"$T/alice.json")
kc_user_tokens "$T/bob.json" bob "openid email"
bob=$(json_get access_token <"$T/bob.json")
svc=$(kc_cc_token)
svc2=$(curl -fsS --max-time 10 -u "svc2:$SVC2_SECRET" -d grant_type=client_credentials "$KC_TOKEN_URL" |
	json_get access_token) || fail "no svc2 token"
want_roles=$(kc_introspect "$alice" | python3 -c 'import json, sys
print(",".join(json.load(sys.stdin)["realm_access"]["roles"]))')
case $want_roles in *default-roles-e2e*) ;; *) fail "alice's roles in Keycloak's answer: $want_roles" ;; esac

# The upstream: prints the identity headers it got (full values, and how many of each).
ECHO_PORT=$(free_port)
export ECHO_PORT
cat >"$T/echo.cfg" <<'EOF'

# test-only: the application, echoing the identity headers
frontend e2e-echo
    bind 127.0.0.1:@ECHO_PORT@
    http-request return status 200 content-type text/plain lf-string "sub=%[req.fhdr(x-auth-subject)] client_id=%[req.fhdr(x-auth-client-id)] roles=%[req.fhdr(x-auth-roles)] email=%[req.fhdr(x-auth-email)] n=%[req.fhdr_cnt(x-auth-subject)]/%[req.fhdr_cnt(x-auth-roles)]/%[req.fhdr_cnt(x-auth-email)]\n"
EOF

# cfg_dir OUT: the shipped files, the application pointed at the echo frontend, and the rate limit
# turned on as haproxy.cfg's comment says, with a limit of 5.
cfg_dir() {
	local out=$1 n
	haproxy_cfg_dir "$out" "$T/echo.cfg"
	n=$(grep -c '^ *#rl ' "$out/haproxy.cfg" || true)
	[ "$n" = 4 ] || fail "haproxy.cfg: want the 4 '#rl ' rate limit lines, found $n"
	grep -q "register-var-names .* roles email" "$out/oauth2-spoa.conf" || fail "oauth2-spoa.conf: roles and email not registered"
	sed -i -e 's/^\( *\)#rl /\1/' -e 's/{ sc_http_req_rate(0) gt 100 }/{ sc_http_req_rate(0) gt 5 }/' \
		-e "s#^    server app1 127.0.0.1:$UP_PORT\$#    server app1 127.0.0.1:$ECHO_PORT#" "$out/haproxy.cfg"
	grep -q "gt 5 }" "$out/haproxy.cfg" && grep -q "server app1 127.0.0.1:$ECHO_PORT" "$out/haproxy.cfg" ||
		fail "cfg_dir: the rate limit or the application address was not found"
}

# body_has WHAT PATTERN: the last answer's body matches the extended regex PATTERN.
body_has() { grep -Eq "$2" "$T/last_body" || fail "$1: upstream saw '$(cat "$T/last_body")', want /$2/"; }

run() {
	local ver=$1 codes="" c i
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	cfg_dir "$T/cfg-$ver"
	start_haproxy "$ver" "$T/cfg-$ver"
	wait_agent_up

	expect_status 200 /ratings/1 -H "Authorization: Bearer $alice" -H "X-Auth-Roles: admin" \
		-H "X-Auth-Email: mallory@example.test" -H "X-Auth-Subject: root"
	body_has "$ver alice" "^sub=alice client_id=$KC_SVC_ID roles=$want_roles email=alice@example.test n=1/1/1\$"
	expect_status 200 /ratings/2 -H "Authorization: Bearer $alice" -H "X-Auth-Roles: admin"
	body_has "$ver alice, cached" "^sub=alice client_id=$KC_SVC_ID roles=$want_roles email=alice@example.test n=1/1/1\$"
	log "$ver: mapped claims upstream, client copies removed, same on a cache hit"

	expect_status 200 /ratings/3 -H "Authorization: Bearer $bob" -H "X-Auth-Email: x@y"
	body_has "$ver bob" "^sub=bob client_id=$KC_SVC_ID roles=[^ ]+ email=bob@example.test n=1/1/1\$"
	python3 - "$T/last_body" <<-'EOP' || fail "$ver bob: X-Auth-Roles is not whole roles within 1024 bytes: $(cat "$T/last_body")"
		import re, sys
		roles = re.search(r"roles=(\S+)", open(sys.argv[1]).read()).group(1)
		items = roles.split(",")
		ok = 900 < len(roles) <= 1024 and 20 < len(items) < 250
		ok = ok and all(re.fullmatch(r"bookinfo-ratings-reader-role-\d{3}|default-roles-e2e|offline_access|uma_authorization", r) for r in items)
		sys.exit(0 if ok else 1)
	EOP

	# The service account: no email claim, so no X-Auth-Email at all, whatever the client sent.
	expect_status 200 /ratings/4 -H "Authorization: Bearer $svc" -H "X-Auth-Email: mallory@example.test"
	body_has "$ver svc" "^sub=service-account-svc client_id=$KC_SVC_ID roles=[^ ]*default-roles-e2e[^ ]* email= n=1/1/0\$"

	# Rate limit: client svc has made 4 requests; 6 more in a row cross the limit of 5.
	for i in 1 2 3 4 5 6; do
		c=$(http_status "/ratings/$i" -H "Authorization: Bearer $svc")
		codes+="$c "
	done
	case $codes in *429*) ;; *) fail "$ver: client_id $KC_SVC_ID never limited: $codes" ;; esac
	[[ $codes =~ ^(200 )*(429 )+$ ]] || fail "$ver: want 200s then only 429s, got $codes"
	expect_status 200 /ratings/7 -H "Authorization: Bearer $svc2"
	body_has "$ver svc2" "^sub=service-account-svc2 client_id=svc2 "
	log "$ver: client_id $KC_SVC_ID limited ($codes), svc2 passes"
	stop_bg "$HAPROXY_PID"
}
run 2.6
run 3.2
run 3.4

m=$(curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics") || fail "GET /metrics failed"
grep -Eq '^oauth2_spoa_claim_values_truncated_total [1-9]' <<<"$m" ||
	fail "bob's roles were not counted as truncated: $(grep claim <<<"$m")"
grep -q '^oauth2_spoa_claim_vars_omitted_total 0$' <<<"$m" || fail "variables omitted: $(grep claim <<<"$m")"
for s in "$alice" "$bob" "$svc" "$svc2" "$KC_AGENT_SECRET" "$SVC2_SECRET"; do
	! grep -qF -- "$s" "$AGENT_LOG" "$T"/haproxy-*.log || fail "a token or secret is in a log"
done
stop_agent
check_agent_log
log "claim headers passed"

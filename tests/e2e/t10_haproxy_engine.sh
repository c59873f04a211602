#!/usr/bin/env bash
# Pins the SPOP engine against real HAProxy 2.6, 3.0, 3.2 and 3.4 with the shipped
# haproxy/ files: spop-check marks the agent UP, a request flows through the
# agent and its variables reach HAProxy's ACLs and headers, a fragmented
# NOTIFY (long Authorization header, 2.6/3.0) is reassembled, and with the agent
# stopped every protected request is denied (set-on-error, fail closed). The
# shipped SPOE log line keeps errors only: no notice per successful exchange,
# a warning when the agent is down. haproxy -dW -c accepts the shipped files.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

# The introspection endpoint: a stand-in IdP that says every token is active.
start_fault_idp --sub alice --client-id svc-a --scope "read write"

cat >"$T/policy.yaml" <<EOP
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: ratings-test, namespace: e2e}
spec:
  applyToRoutes:
  - route: {labels: {route: ratings}}
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspectionUrl: http://127.0.0.1:$IDP_PORT/ok
EOP

start_agent --policies "$T/policy.yaml" --max-token-length 65536 --log-level debug

for ver in 2.6 3.0 3.2 3.4; do
	log "HAProxy $ver"
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	haproxy_cfg_dir "$T/cfg-$ver"
	# A small frame size forces HAProxy 2.6/3.0 to fragment a long header.
	sed -i 's/^\(    timeout processing .*\)$/\1\n    max-frame-size 4096/' "$T/cfg-$ver/oauth2-spoa.conf"
	start_haproxy "$ver" "$T/cfg-$ver"
	# The shipped files raise no warning on any version (-dW: warnings are errors).
	hb=$(haproxy_bin "$ver")
	# shellcheck disable=SC2086 # $hb is a command line
	out=$(cd "$HAPROXY_RUNDIR" && $hb -dW -c -f "$HAPROXY_DIR/haproxy.cfg" 2>&1) ||
		fail "$ver: haproxy -dW -c warns about the shipped files: $out"
	wait_agent_up

	expect_status 403 /ratings/1
	expect_status 403 /ratings/1 -H "Authorization: Basic YWxpY2U6c2VjcmV0"
	expect_status 200 /ratings/1 -H "Authorization: Bearer good-token-$ver"
	grep -q "sub=alice client_id=svc-a scope=read write" "$T/last_body" ||
		fail "$ver: upstream did not get the identity headers: $(cat "$T/last_body")"
	# A client cannot inject identity headers.
	expect_status 200 /reviews/1 -H "X-Auth-Subject: mallory"
	grep -q "sub= " "$T/last_body" || fail "$ver: client X-Auth-Subject reached upstream"
	# Unknown routes have no policy: allowed without a token.
	expect_status 200 /details/1

	# A 10 KB token does not fit a 4096-byte frame.
	big=$(head -c 7500 /dev/zero | tr '\0' 'a')
	if [ "$ver" = 2.6 ] || [ "$ver" = 3.0 ]; then
		expect_status 200 /ratings/1 -H "Authorization: Bearer $big"
	else
		# 3.1+ cannot fragment: the event fails alone, and the request is denied.
		expect_status 403 /ratings/1 -H "Authorization: Bearer $big"
		expect_status 200 /ratings/1 -H "Authorization: Bearer good-token-$ver"
	fi
	# The shipped SPOE log keeps errors only: no notice line for the exchanges that went well.
	! grep -q '^<5>SPOE' "$HAPROXY_LOG" || fail "$ver: SPOE logged a successful exchange: $(grep -m1 '^<5>SPOE' "$HAPROXY_LOG")"
	stop_bg "$HAPROXY_PID"
done

# With the agent stopped, HAProxy denies every protected request.
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg-down"
start_haproxy 2.6 "$T/cfg-down"
wait_agent_up
expect_status 200 /ratings/1 -H "Authorization: Bearer good-token"
stop_agent
for i in 1 2 3 4 5; do
	expect_status 403 /ratings/1 -H "Authorization: Bearer good-token"
done
wait_agent_down
expect_status 403 /ratings/1 -H "Authorization: Bearer good-token"
# Routes without a policy need the agent too: fail closed.
expect_status 403 /details/1
# ... and the failed exchanges are logged (warning).
grep -q '^<4>SPOE' "$HAPROXY_LOG" || fail "no SPOE warning logged while the agent was down"
log "all versions passed"

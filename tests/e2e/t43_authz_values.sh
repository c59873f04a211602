#!/usr/bin/env bash
# Pins what hostile Authorization values do end to end: real HAProxy 2.6 (RFC 6750 rules,
# tune.bufsize 131072 so 64 KiB headers get through), the agent with --log-level debug, and an
# IdP (fault_idp.py) that would say ACTIVE to any token it is asked about, so one call with a
# garbage token would be an allow. For each value: the HTTP status, the agent's decision line
# (reason=...), and the IdP's call counter, which must stay 0 for the whole test.
#   value                                     status  agent
#   no header                                 401     missing_token
#   "Basic dXNlcjpwYXNz"                      401     missing_token
#   "Bearer" (no token), "Bearer   "          401     malformed_token
#   "Bearer tök€n" (UTF-8, obs-text)          401     malformed_token
#   "Bearer a b", "Bearer\ttab"               401     malformed_token
#   16385-byte token (> the default --max-token-length 16384)   401   token_too_long
#   60 KiB token (fragmented NOTIFY, reassembled)  401  token_too_long
#   64 KiB token (payload > 64 KiB reassembly cap): the agent refuses that NOTIFY with an ACK
#     ABORT (no decision line), HAProxy sets txn.oauth2.error -> 503; the connection lives on
#   "Bearer ab\0cd" (NUL): HAProxy 2.6 passes it on    401     malformed_token
#   "\0" alone                                          401     missing_token
#   two Authorization headers, or "a, b" in one (see TWO HEADERS)   400 from HAProxy, no decision
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect"
start_agent --policies "$T/policies" --log-level debug
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
sed -i 's/^    tune.bufsize 32768$/    tune.bufsize 131072/' "$T/cfg/haproxy.cfg"
grep -q '^    tune.bufsize 131072$' "$T/cfg/haproxy.cfg" || fail "could not raise tune.bufsize"
start_haproxy 2.6 "$T/cfg"
wait_agent_up
RAW="python3 $E2E_ROOT/tests/tools/raw_http.py $FRONT_PORT"

calls() { curl -fsS --max-time 5 "$IDP/__count" | json_get total; }
[ "$(calls)" = 0 ] || fail "the IdP was called before the test"

# expect NAME WANT_STATUS WANT_REASON|- RAW_SPEC...: one request through HAProxy with the raw header
# specs (raw_http.py); WANT_REASON "-" means the agent must log no decision for it.
expect() {
	local name=$1 want=$2 reason=$3 n got d cnt
	shift 3
	n=$(log_lines)
	got=$($RAW "/ratings/1" "$@") || fail "$name: raw_http.py failed"
	sleep 0.05
	d=$(decisions_since "$n")
	cnt=$(printf '%s' "$d" | grep -c . || true)
	[ "$got" = "$want" ] || fail "$name: want HTTP $want, got $got (agent: ${d:-no decision})"
	if [ "$reason" = - ]; then
		[ "$cnt" = 0 ] || fail "$name: want no agent decision, got: $d"
	else
		[ "$cnt" = 1 ] || fail "$name: want 1 decision line, got $cnt: $d"
		case $d in *" policy=rel/ratings reason=$reason "*) ;; *) fail "$name: want reason=$reason, got: $d" ;; esac
	fi
	[ "$(calls)" = 0 ] || fail "$name: the IdP was called (a garbage token went out)"
	log "$name: $got ${reason/#-/no decision}"
}

expect "no header" 401 missing_token
expect "Basic" 401 missing_token 'Authorization=Basic dXNlcjpwYXNz'
expect "Bearer alone" 401 malformed_token 'Authorization=Bearer'
expect "Bearer + spaces" 401 malformed_token 'Authorization=Bearer   '
expect "non-ASCII" 401 malformed_token 'Authorization=Bearer t\xc3\xb6k\xe2\x82\xacn'
expect "latin-1 byte" 401 malformed_token 'Authorization=Bearer abc\xff'
expect "two tokens" 401 malformed_token 'Authorization=Bearer a b'
expect "tab separator" 401 malformed_token 'Authorization=Bearer\tabc'
python3 -c 'print("Authorization=Bearer " + "a" * 16385)' >"$T/h16k"
expect "16385-byte token" 401 token_too_long "@$T/h16k"
python3 -c 'print("Authorization=Bearer " + "a" * 61440)' >"$T/h60k"
expect "60 KiB token" 401 token_too_long "@$T/h60k"
python3 -c 'print("Authorization=Bearer " + "a" * 65536)' >"$T/h64k"
expect "64 KiB token" 503 - "@$T/h64k"
# HAProxy 2.6 lets a NUL inside a header value through (it only refuses NUL in names): the
# agent gets the bytes and must refuse them itself.
expect "NUL in token" 401 malformed_token 'Authorization=Bearer ab\x00cd'
expect "NUL alone" 401 missing_token 'Authorization=\x00'
expect "NUL after scheme" 401 malformed_token 'Authorization=Bearer \x00'

# TWO HEADERS. HAProxy's req.hdr(authorization) (the spoe-message) returns only the LAST
# comma-separated value, so the agent alone cannot see a first Bearer header: the shipped
# haproxy.cfg refuses any request with more than one value (req.hdr_cnt > 1) with 400 before the
# agent is asked. Required: 400, no decision, no IdP call, never an allow.
expect "two Bearer headers" 400 - 'Authorization=Bearer tokenA' 'Authorization=Bearer tokenB'
expect "Basic + Bearer headers" 400 - 'Authorization=Basic dXNlcjpwYXNz' 'Authorization=Bearer tokenB'
expect "Bearer + Basic headers" 400 - 'Authorization=Bearer tokenA' 'Authorization=Basic dXNlcjpwYXNz'
expect "two Bearer values in one header" 400 - 'Authorization=Bearer tokenA, Bearer tokenB'
expect "comma in token" 400 - 'Authorization=Bearer a,b'
expect "empty + Bearer headers" 400 - 'Authorization=' 'Authorization=Bearer tokenB'

# The agent connection survived all of it: a good token still works (and is the first IdP call).
expect_status 200 /ratings/1 -H "Authorization: Bearer good-token-after"
[ "$(calls)" = 1 ] || fail "want exactly 1 IdP call (the good token), got $(calls)"
alive "$AGENT_PID" || fail "agent died"
stop_agent
log "authorization values passed"

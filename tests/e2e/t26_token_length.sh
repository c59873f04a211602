#!/usr/bin/env bash
# Pins real token sizes (issue 11, item 6) with the shipped haproxy/ files and the agent's
# defaults on every supported HAProxy version (2.6, 3.0, 3.2, 3.4): a bearer token of exactly the
# default maxTokenLength (16384 bytes; Keycloak tokens with many roles pass 10 KB) reaches the IdP
# and is allowed; one byte more is refused by the agent as token_too_long (not malformed_token),
# without an IdP call, with a warning naming the limit and never the token. HAProxy 3.1+ cannot
# fragment a NOTIFY, so the whole message must fit one frame: HAProxy announces tune.bufsize - 4 =
# 32764 and the agent's default --max-frame-size must not cut that down (before: 16380, and the
# 16 KiB header failed on every version).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

VERSIONS=(2.6 3.0 3.2 3.4)
LIMIT=16384

start_fault_idp --sub alice --client-id svc-a --scope "read write"
write_policy "$T/ratings.yaml" ratings ratings "$IDP/ok"
# Defaults only (no --max-token-length, no --max-frame-size); debug shows the negotiated size.
start_agent --policies "$T/ratings.yaml" --log-level debug

idp_calls() { curl -fsS --max-time 5 "$IDP/__count?path=/ok"; }
# token N PREFIX: a b64token of exactly N bytes, different for each PREFIX (the cache is shared).
token() { python3 -c 'import random, string, sys
n, p = int(sys.argv[1]), sys.argv[2]
r = random.Random(p)
print(p + "".join(r.choice(string.ascii_letters + string.digits + "-._~+/") for _ in range(n - len(p))))' "$@"; }
# one_decision N REASON: exactly one decision line since log line N, with REASON.
one_decision() {
	local d cnt
	d=$(decisions_since "$1")
	cnt=$(printf '%s' "$d" | grep -c . || true)
	[ "$cnt" = 1 ] || fail "$ver: want 1 decision line (reason=$2), got $cnt: $d"
	case $d in *" reason=$2 "*) ;; *) fail "$ver: want reason=$2, got: $d" ;; esac
}

secrets=()
for ver in "${VERSIONS[@]}"; do
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	haproxy_cfg_dir "$T/cfg-$ver"
	start_haproxy "$ver" "$T/cfg-$ver"
	wait_agent_up

	max=$(token "$LIMIT" "max-$ver-")
	over=$(token $((LIMIT + 1)) "over-$ver-")
	[ ${#max} = "$LIMIT" ] && [ ${#over} = $((LIMIT + 1)) ] || fail "token lengths ${#max}/${#over}"
	secrets+=("$max" "$over")

	c0=$(idp_calls)
	n=$(log_lines)
	expect_status 200 /ratings/1 -H "Authorization: Bearer $max"
	grep -q "sub=alice client_id=svc-a" "$T/last_body" || fail "$ver: upstream body: $(cat "$T/last_body")"
	one_decision "$n" ok
	[ "$(idp_calls)" = $((c0 + 1)) ] || fail "$ver: the $LIMIT-byte token did not reach the IdP once"
	grep -aq "HELLO done, max-frame-size 32764" "$AGENT_LOG" ||
		fail "$ver: no connection negotiated 32764-byte frames: $(grep -a 'HELLO done' "$AGENT_LOG" | tail -n 2)"
	! grep -q '^<4>SPOE' "$HAPROXY_LOG" || fail "$ver: SPOE error: $(grep -m1 '^<4>SPOE' "$HAPROXY_LOG")"

	n=$(log_lines)
	expect_status 403 /ratings/1 -H "Authorization: Bearer $over"
	one_decision "$n" token_too_long
	[ "$(idp_calls)" = $((c0 + 1)) ] || fail "$ver: the $((LIMIT + 1))-byte token was sent to the IdP"
	log "$ver: $LIMIT-byte token allowed, $((LIMIT + 1)) bytes token_too_long"
	stop_bg "$HAPROXY_PID"
done

# The warning names the limit and the header's length (7 + 16385), never the token; it is rate
# limited per worker thread (10 s), so the loop above logged at least one and at most two.
log_settle
w=$(grep -ac 'token_too_long.*maxTokenLength=16384' "$AGENT_LOG" || true)
[ "$w" -ge 1 ] && [ "$w" -le 2 ] || fail "want 1-2 token_too_long warnings naming the limit, got $w"
grep -aq "has $((LIMIT + 8)) bytes" "$AGENT_LOG" || fail "the warning does not give the header length"
for f in "$AGENT_LOG" "$T"/haproxy-*.log; do
	for s in "${secrets[@]}"; do
		if grep -aqF "${s:0:64}" "$f"; then fail "a token (sha256 $(fp "$s")) appears in $(basename "$f")"; fi
	done
done
stop_agent
log "token length passed"

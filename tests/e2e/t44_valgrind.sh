#!/usr/bin/env bash
# Pins memory correctness of a real run: the agent under valgrind memcheck
# (--leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99) behind real HAProxy 2.6,
# a handful of requests (no policy, missing token, good token with an introspection call to
# fault_idp.py and then a cache hit, inactive token, IdP answering 500, a 20 KB token that arrives
# in NOTIFY fragments, an Authorization value with a NUL byte), then SIGTERM: exit status 0,
# "ERROR SUMMARY: 0 errors" and no definitely lost block.
# valgrind cannot run an ASan binary: in the sanitizer pass (E2E_PASS=asan) this test runs the
# plain build next to it ($E2E_ROOT/build/oauth2-spoa, which `make test` builds first).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

command -v valgrind >/dev/null || fail "valgrind is not installed (apt-get install valgrind)"
BIN=$AGENT
if [ "$E2E_PASS" = asan ]; then
	BIN=$E2E_ROOT/build/oauth2-spoa
	[ -x "$BIN" ] || fail "the sanitizer pass runs valgrind on the plain build, and $BIN is missing (make all)"
fi

start_fault_idp --sub alice --client-id svc-a --scope "read write"
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect"
AGENT_PORT=$(free_port)
start_bg agent valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--show-leak-kinds=definite --track-fds=no "$BIN" --listen "127.0.0.1:$AGENT_PORT" --threads 2 \
	--policies "$T/policies" --log-level debug
AGENT_PID=$BG_PID
AGENT_LOG=$T/agent.log
deadline=$((SECONDS + 60))
until (exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT") 2>/dev/null; do
	alive "$AGENT_PID" || fail "agent under valgrind exited: $(tail -n 20 "$AGENT_LOG")"
	[ $SECONDS -lt $deadline ] || fail "agent under valgrind not listening after 60s"
	sleep 0.2
done
export AGENT_PORT AGENT_PID AGENT_LOG
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
# Under valgrind the agent is ~20x slower: give the SPOE exchange more time.
sed -i 's/^\(    timeout processing\) .*/\1 5s/' "$T/cfg/oauth2-spoa.conf"
start_haproxy 2.6 "$T/cfg"
wait_agent_up 30

long=$(python3 -c 'print("x" * 20000)')
t0=$(date +%s.%N)
expect_status 200 /details/1
expect_status 403 /ratings/1
expect_status 200 /ratings/1 -H "Authorization: Bearer good-valgrind-1"
expect_status 200 /ratings/2 -H "Authorization: Bearer good-valgrind-1"
expect_status 403 /ratings/1 -H "Authorization: Bearer mode.inactive.1"
expect_status 403 /ratings/1 -H "Authorization: Bearer mode.status.500.1"
expect_status 403 /ratings/1 -H "Authorization: Bearer $long"
got=$(python3 "$E2E_ROOT/tests/tools/raw_http.py" "$FRONT_PORT" /ratings/1 'Authorization=Bearer a\x00b')
[ "$got" = 403 ] || fail "NUL byte: want 403, got $got"
calls=$(curl -fsS --max-time 5 "$IDP/__count" | json_get total)
[ "$calls" = 3 ] || fail "want 3 introspection calls (good, inactive, status 500), got $calls"
log "8 requests in $(since "$t0")s under valgrind"

t0=$(date +%s.%N)
kill -TERM "$AGENT_PID"
for ((i = 0; i < 600; i++)); do
	alive "$AGENT_PID" || break
	sleep 0.05
done
alive "$AGENT_PID" && fail "agent under valgrind still running 30s after SIGTERM"
wait "$AGENT_PID" && rc=0 || rc=$?
log "valgrind: exit $rc $(since "$t0")s after SIGTERM"
[ "$rc" = 0 ] || fail "agent under valgrind exited $rc (99: valgrind found errors): $(grep -m 20 '==[0-9]*==' "$AGENT_LOG")"
! grep -q '==[0-9]*== ' "$AGENT_LOG" || fail "valgrind reported: $(grep -m 20 '==[0-9]*== ' "$AGENT_LOG")"
grep -q "stopped" "$AGENT_LOG" || fail "no 'stopped' line in the agent log"
log "valgrind run clean"

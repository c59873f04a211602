#!/usr/bin/env bash
# Pins fail-closed behaviour when the agent dies or stops under load, behind real HAProxy 2.6 with
# the RFC 6750 rules (agent unreachable: set-on-error -> 503). tests/tools/load_client.py keeps
# 100 connections busy for the whole test with four request classes:
#   valid       /ratings  a token the IdP says is active         -> 200
#   invalid     /ratings  a token the IdP says is inactive       -> 401
#   missing     /ratings  no Authorization header                -> 401
#   wrongscope  /reviews  active token, policy requires "admin"  -> 403
# For a request in flight at any moment while the agent is down (a marker file exists) 503 is also
# accepted: one HAProxy had passed to the agent before a SIGKILL waits for "timeout processing"
# and may be answered after the restart. 200 is NEVER accepted for invalid, missing or
# wrongscope, down or not, and no connection error is accepted at all.
#  A. SIGKILL the agent, restart it on the same port 0.2 s later (HAProxy still has it UP: the
#     shipped check needs three failures, 250 ms apart once the first one is seen):
#     a fresh client gets a 200 within 1 s of the restart, and every load request SENT from
#     restart + 1 s on gets exactly its expected status (requests in flight while the agent was
#     down may wait for HAProxy's "timeout processing" and get 503);
#  B. SIGKILL again and wait until spop-check marks it DOWN, then restart: recovery then waits
#     for a health check (shipped "downinter 250ms rise 1"): bound 1 s, the figure is reported;
#  C. SIGTERM under the same load: it exits 0 within 6 s, and nothing but the expected statuses
#     or 503 is seen.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

CONNS=100
start_fault_idp --sub alice --client-id svc-a --scope "read write"
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$IDP/introspect"
write_policy "$T/policies/reviews.yaml" reviews reviews "$IDP/introspect" "requiredScopes: [admin]"
AGENT_ARGS=(--policies "$T/policies" --introspection-timeout 1000)
start_agent "${AGENT_ARGS[@]}"
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

python3 - "$T/spec.json" <<'EOF'
import json, sys
tok = lambda p, n: ["Bearer %s.%d.x" % (p, i) for i in range(n)]
json.dump({"classes": [
    {"name": "valid", "path": "/ratings/1", "expect": [200], "expect_down": [503], "authorization": tok("good", 50)},
    {"name": "invalid", "path": "/ratings/2", "expect": [401], "expect_down": [503], "authorization": tok("mode.inactive", 50)},
    {"name": "missing", "path": "/ratings/3", "expect": [401], "expect_down": [503]},
    {"name": "wrongscope", "path": "/reviews/1", "expect": [403], "expect_down": [503], "authorization": tok("scoped", 50)},
]}, open(sys.argv[1], "w"))
EOF
DOWN=$T/agent-down
STOP=$T/load-stop
python3 "$E2E_ROOT/tests/tools/load_client.py" --port "$FRONT_PORT" --spec "$T/spec.json" --conns $CONNS \
	--duration 60 --down-file "$DOWN" --stop-file "$STOP" --events "$T/events" --out "$T/load.json" &
LOAD_PID=$!
sleep 2

# restart_agent: start the agent again on the same port, wait until it listens; sets t_restart.
restart_agent() {
	t_restart=$(date +%s.%N)
	start_bg "agent-$1" "$AGENT" --listen "127.0.0.1:$AGENT_PORT" --threads 2 "${AGENT_ARGS[@]}"
	AGENT_PID=$BG_PID
	AGENT_LOG=$T/agent-$1.log
	until (exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT") 2>/dev/null; do
		alive "$AGENT_PID" || fail "restarted agent exited: $(tail -n 5 "$AGENT_LOG")"
		sleep 0.01
	done
	log "agent $1 listening $(since "$t_restart")s after exec"
}
# first_200_after T: seconds from T to the first 200 of class valid after T ("none" if none).
first_200_after() {
	awk -v r="$1" '$1 > r && $2 == "valid" && $3 == 200 { printf "%.3f\n", $1 - r; f = 1; exit }
		END { if (!f) print "none" }' "$T/events"
}
# kill_agent: SIGKILL the agent (the marker file makes 503 acceptable from now on).
kill_agent() {
	touch "$DOWN"
	t_kill=$(date +%s.%N)
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
}

log "A: SIGKILL under load, restart after 0.2 s (before spop-check notices)"
kill_agent
t_killA=$t_kill
sleep 0.2
[ "$(curl -s --max-time 2 "http://127.0.0.1:$STATUS_PORT/")" = 1 ] ||
	fail "A: spop-check already marked the agent DOWN after 0.2 s"
restart_agent A
t_rA=$t_restart
# A fresh client: time from the restart to its first 200.
probeA=none
for ((i = 0; i < 100; i++)); do
	c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -H "Authorization: Bearer good.probe.$i" \
		"http://127.0.0.1:$FRONT_PORT/ratings/probe") || true
	if [ "$c" = 200 ]; then
		probeA=$(since "$t_rA")
		break
	fi
	sleep 0.02
done
# The marker goes away 1 s after the restart: from then on a 503 is a wrong status.
until awk -v s="$t_rA" -v n="$(date +%s.%N)" 'BEGIN { exit !(n >= s + 1.0) }'; do sleep 0.02; done
rm -f "$DOWN"
sleep 2

log "B: SIGKILL under load, restart once spop-check marked the agent DOWN"
kill_agent
t_killB=$t_kill
wait_agent_down 10
log "B: spop-check marked the agent DOWN $(since "$t_killB")s after SIGKILL"
sleep 0.5
restart_agent B
t_rB=$t_restart
wait_agent_up 10
t_upB=$(date +%s.%N)
rm -f "$DOWN"
sleep 2

log "C: SIGTERM under load"
touch "$DOWN"
t_term=$(date +%s.%N)
stop_agent 6
log "C: agent exited 0 $(since "$t_term")s after SIGTERM"
sleep 1
touch "$STOP"
wait "$LOAD_PID" && rc=0 || rc=$?
cat "$T/load.json" >&2

# Figures and checks from the load's own responses.
recA=$(first_200_after "$t_rA")
recB=$(first_200_after "$t_rB")
upB=$(awk -v a="$t_upB" -v r="$t_rB" 'BEGIN { printf "%.3f", a - r }')
log "recovery A (agent still UP in HAProxy): fresh client's first 200 ${probeA}s, load's first 200 ${recA}s after the restart"
log "recovery B (agent marked DOWN): spop-check UP ${upB}s, first 200 ${recB}s after the restart"
{ [ "$probeA" != none ] && awk -v x="$probeA" 'BEGIN { exit !(x < 1.0) }'; } ||
	fail "A: a fresh client's first 200 came '$probeA' s after the restart (want < 1 s)"
[ "$recA" != none ] || fail "A: the load saw no 200 after the restart"
# Once spop-check has marked the agent DOWN, recovery depends on when the next check runs (the
# shipped "check inter 2s", rise 2): observed 0.2 s to 1.4 s. Bound: two intervals + 1 s.
{ [ "$recB" != none ] && awk -v x="$recB" 'BEGIN { exit !(x < 1.0) }'; } || fail "B: first 200 '$recB' s after the restart (want < 1 s)"
bad=$(awk '$2 != "valid" && $3 == 200' "$T/events" | wc -l)
[ "$bad" = 0 ] || fail "$bad responses 200 for a request without a valid token"
for ph in "A $t_killA $t_rA" "B $t_killB $t_rB"; do
	read -r name k r <<<"$ph"
	n503=$(awk -v k="$k" -v r="$r" '$4 > k && $4 < r && $3 == 503' "$T/events" | wc -l)
	nother=$(awk -v k="$k" -v r="$r" '$4 > k && $4 < r && $3 != 503' "$T/events" | wc -l)
	# The others waited in HAProxy until the agent was back, and load_client checked their status.
	log "$name: requests sent while the agent was down: $n503 answered 503, $nother answered by the restarted agent"
	# A short outage (A) may be bridged entirely by HAProxy; a long one (B) must show the denials.
	[ "$name" = A ] || [ "$n503" -gt 0 ] || fail "$name: no 503 while the agent was down"
done
[ "$rc" = 0 ] || fail "load_client: wrong statuses or connection errors (see above)"
log "agent kill/restart/stop under load passed"

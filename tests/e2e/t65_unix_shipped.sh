#!/usr/bin/env bash
# Pins the shipped transport: haproxy/haproxy.cfg reaches the agent at
# unix@/run/oauth2-spoa/agent.sock. On HAProxy 2.6, 3.2 and 3.4, with that server line as
# shipped (only its path moved: inside HAProxy's chroot on 3.x, where it must be), the agent
# listening on the unix socket alone:
#   spop-check marks it UP; no token 403, a good token 200 with the identity upstream, a route
#   no policy selects 200;
#   the agent stopped: 403 (fail closed), and its socket file is gone;
#   the agent started again on the same path: HAProxy comes back to it, 200.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"
write_policy "$T/ratings.yaml" ratings ratings "$IDP/introspect"

# agent_on_sock HOST_PATH: the agent on the unix socket only (AGENT_PID, AGENT_LOG).
agent_on_sock() {
	start_bg "agent-$ver" "$AGENT" --listen "unix:$1" --threads 2 --policies "$T/ratings.yaml"
	AGENT_PID=$BG_PID AGENT_LOG=$T/agent-$ver.log
	wait_sock "$1" "$AGENT_PID"
}

for ver in 2.6 3.2 3.4; do
	haproxy_sock_dir "$ver"
	sock=$SOCK_DIR/agent.sock
	agent_on_sock "$sock"
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	AGENT_SOCK=$SOCK_DIR_INNER/agent.sock haproxy_cfg_dir "$T/cfg-$ver"
	grep -q "^    server agent1 unix@$SOCK_DIR_INNER/agent.sock check " "$T/cfg-$ver/haproxy.cfg" ||
		fail "$ver: the shipped unix@ server line was not kept"
	start_haproxy "$ver" "$T/cfg-$ver"
	wait_agent_up
	expect_status 403 /ratings/1
	expect_status 200 /ratings/1 -H "Authorization: Bearer good.$RANDOM"
	grep -q "sub=alice" "$T/last_body" || fail "$ver: the upstream did not get the identity: $(cat "$T/last_body")"
	expect_status 200 /details/1
	stop_agent
	[ ! -e "$sock" ] || fail "$ver: the agent left its socket file behind"
	expect_status 403 /ratings/1 -H "Authorization: Bearer good.$RANDOM"
	agent_on_sock "$sock"
	wait_agent_up
	expect_status 200 /ratings/1 -H "Authorization: Bearer good.$RANDOM"
	stop_agent
	stop_bg "$HAPROXY_PID"
	log "HAProxy $ver: the shipped unix@ line decides (403/200), fails closed without the agent, reconnects"
done

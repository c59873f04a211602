#!/usr/bin/env bash
# Pins --variables (the SET-VARs the agent sends) behind real HAProxy 2.6 with the shipped
# haproxy.cfg, whose upstream echoes X-Auth-Subject / X-Auth-Client-Id / X-Auth-Scope:
#   default (all)             -> sub, client_id and scope reach the upstream
#   --variables allowed,sub   -> only sub does; a missing token and an inactive one are still
#                                denied (403): "allowed" is always sent, so failing closed holds
#   --variables allowed       -> a good token still passes, no claim goes upstream
# and a bad list is refused at start with a message that names the option.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope "read write"
write_policy "$T/ratings.yaml" ratings ratings "$IDP/introspect"

out=$("$AGENT" --policies "$T/ratings.yaml" --variables allowed,subject --check 2>&1) &&
	fail "--variables with an unknown name was accepted"
grep -q -- "--variables" <<<"$out" || fail "the refusal does not name --variables: $out"

# run VARIABLES|- WANT_UPSTREAM_LINE: agent + HAProxy, one good token, then the denials.
run() {
	local vars=$1 want=$2 args=(--policies "$T/ratings.yaml")
	[ "$vars" = - ] || args+=(--variables "$vars")
	start_agent "${args[@]}"
	STATUS_PORT=$(free_port)
	export STATUS_PORT
	haproxy_cfg_dir "$T/cfg-$vars"
	start_haproxy 2.6 "$T/cfg-$vars"
	wait_agent_up
	expect_status 200 /ratings/1 -H "Authorization: Bearer good.$RANDOM"
	grep -qx "upstream: GET /ratings/1 $want" "$T/last_body" ||
		fail "variables '$vars': upstream saw '$(cat "$T/last_body")', want '$want'"
	expect_status 403 /ratings/1
	expect_status 403 /ratings/1 -H "Authorization: Bearer mode.inactive.$RANDOM"
	log "variables '$vars': upstream line '$want', denials 403"
	stop_bg "$HAPROXY_PID"
	stop_agent
}
run - "sub=alice client_id=svc-a scope=read write"
run allowed,sub "sub=alice client_id= scope="
run allowed "sub= client_id= scope="
log "variables passed"

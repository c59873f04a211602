#!/usr/bin/env bash
# Pins issue 11 item 2, an unset route label, against real HAProxy 2.6, 3.0, 3.2 and 3.4: with the
# SPOE message sent on "event on-frontend-http-request" (the pitfall: it runs before the rule that
# sets txn.route, so HAProxy sends route NULL) and a policy that selects by route label
# (policies/ratings-hydra.yaml), every request is denied with reason route_unknown (status 403),
# a token-less /ratings/1 included, which the label-less policy match used to allow; the decisions
# are counted in oauth2_spoa_decisions_total{reason="route_unknown"} and the agent warns once,
# naming the likely cause. The shipped send-spoe-group form on the same agent: the map's empty
# default means "no label" (/details/1 allowed), /ratings/1 needs a token.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --scope read
sed "s#http://127.0.0.1:4445/oauth2/introspect#$IDP/introspect#" "$E2E_ROOT/policies/ratings-hydra.yaml" \
	>"$T/ratings-hydra.yaml"
grep -q "$IDP/introspect" "$T/ratings-hydra.yaml" || fail "ratings-hydra.yaml: introspectionUrl not found"
METRICS_PORT=$(free_port)
start_agent --policies "$T/ratings-hydra.yaml" --metrics "127.0.0.1:$METRICS_PORT"
wait_http "http://127.0.0.1:$METRICS_PORT/healthz"

# cfg FORM DIR: the shipped files, the agent's reason in a response header; FORM "event" sends
# the message on on-frontend-http-request instead of the send-spoe-group rule.
cfg() {
	local form=$1 dir=$2
	haproxy_cfg_dir "$dir"
	sed -i 's#^    default_backend app$#&\n    http-after-response set-header x-oauth2-reason "%[var(txn.oauth2.reason)]"#' \
		"$dir/haproxy.cfg"
	[ "$form" = event ] || return 0
	grep -q '^    http-request send-spoe-group oauth2 oauth2-group$' "$dir/haproxy.cfg" ||
		fail "cfg: the send-spoe-group rule is not where expected"
	sed -i '/^    http-request send-spoe-group oauth2 oauth2-group$/d' "$dir/haproxy.cfg"
	grep -q '^    groups oauth2-group$' "$dir/oauth2-spoa.conf" || fail "cfg: 'groups oauth2-group' not found"
	sed -i -e 's/^    groups oauth2-group$/    messages oauth2-check/' \
		-e 's/^\(    args method=method .*\)$/\1\n    event on-frontend-http-request/' \
		-e '/^spoe-group oauth2-group$/,$d' "$dir/oauth2-spoa.conf"
	grep -q '^    event on-frontend-http-request$' "$dir/oauth2-spoa.conf" || fail "cfg: event line not added"
}

# want STATUS REASON PATH [CURL ARGS]
want() {
	local st=$1 reason=$2 path=$3 got
	shift 3
	got=$(curl -s -D "$T/h" -o /dev/null -w '%{http_code}' --max-time 5 "$@" "http://127.0.0.1:$FRONT_PORT$path") || true
	[ "$got" = "$st" ] || fail "$ver $form GET $path: want $st, got $got"
	grep -qi "^x-oauth2-reason: $reason"$'\r$' "$T/h" || fail "$ver $form GET $path: want reason $reason: $(cat "$T/h")"
}

decisions() { # the route_unknown counter, summed
	curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" |
		awk '/^oauth2_spoa_decisions_total\{.*reason="route_unknown"/ { n += $NF } END { print n + 0 }'
}

GOOD="Authorization: Bearer good-token"
for ver in 2.6 3.0 3.2 3.4; do
	for form in event shipped; do
		STATUS_PORT=$(free_port)
		export STATUS_PORT
		cfg "$form" "$T/cfg-$ver-$form"
		start_haproxy "$ver" "$T/cfg-$ver-$form"
		wait_agent_up
		before=$(decisions)
		if [ "$form" = event ]; then
			want 403 route_unknown /ratings/1
			want 403 route_unknown /ratings/1 -H "$GOOD"
			want 403 route_unknown /details/1
			[ "$(decisions)" = $((before + 3)) ] || fail "$ver: route_unknown not counted 3 times: $(decisions) - $before"
		else
			want 403 missing_token /ratings/1
			want 200 ok /ratings/1 -H "$GOOD"
			want 200 no_policy /details/1
			[ "$(decisions)" = "$before" ] || fail "$ver shipped: a route_unknown decision"
		fi
		stop_bg "$HAPROXY_PID"
	done
done
log_settle
n=$(grep -c 'route_unknown: .*"event".*send-spoe-group' "$AGENT_LOG" || true)
[ "$n" = 1 ] || fail "want one rate-limited route_unknown warning naming the cause, found $n"
grep -q 'warn route_unknown' "$AGENT_LOG" || fail "the route_unknown line is not a warning"
stop_agent
log "unset route label: denied as route_unknown on every version, counted, warned once"

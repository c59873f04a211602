#!/usr/bin/env bash
# e2e-timeout: 180
# Pins the fleet purge: three agents (each behind its own HAProxy 2.6) share one redis-server;
# node 1 has the admin listener on TCP (Authorization: Bearer from admin.tokenFile), node 2 on a
# unix socket (mode 0600), node 3 none. With tokens cached everywhere and the IdP (fault_idp.py)
# now answering inactive for everything:
#  - the admin listener without a token or with a wrong one -> 401, and nothing is purged;
#    other paths 404, GET 405, a bad body 400;
#  - `oauth2-spoa purge --token-file` on node 1 -> that token is denied on all three nodes within
#    1 s, the other tokens still allowed; the same by sub (unix socket, node 2) and by client_id
#    (node 1); then `--all`; no positive entry is left in Redis;
#  - Redis restarted (the subscription lost): each agent flushes its local cache when it is back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --scope "read write"
start_redis
mkdir -p "$T/policies"
POLICY_NS=fleet write_policy "$T/policies/reviews.yaml" reviews reviews "$IDP/introspect" \
	"negativeCacheTimeout: 30s"
ADMIN_PORT=$(free_port)
printf 'admin-token-%s%s%s\n' "$RANDOM" "$RANDOM" "$RANDOM" >"$T/admin.token"
printf 'redis: {address: 127.0.0.1:%s}\nadmin: {address: 127.0.0.1:%s, tokenFile: admin.token}\n' \
	"$REDIS_PORT" "$ADMIN_PORT" >"$T/node1.yaml"
printf 'redis: {address: 127.0.0.1:%s}\nadmin: {address: "unix:%s/admin2.sock"}\n' \
	"$REDIS_PORT" "$T" >"$T/node2.yaml"
printf 'redis: {address: 127.0.0.1:%s}\n' "$REDIS_PORT" >"$T/node3.yaml"

declare -a FRONT APID
node() {
	local n=$1
	AGENT_PORT=$(free_port)
	start_bg "agent$n" "$AGENT" -c "$T/node$n.yaml" --listen "127.0.0.1:$AGENT_PORT" --threads 2 \
		--policies "$T/policies" --log-level info
	APID[n]=$BG_PID
	wait_port "$AGENT_PORT"
	STATUS_PORT=$(free_port)
	export STATUS_PORT AGENT_PORT
	haproxy_cfg_dir "$T/cfg$n"
	start_haproxy 2.6 "$T/cfg$n"
	wait_agent_up
	FRONT[n]=$FRONT_PORT
}
node 1
node 2
node 3
wait_port "$ADMIN_PORT"
[ -S "$T/admin2.sock" ] || fail "node 2: no admin socket"
[ "$(stat -c %a "$T/admin2.sock")" = 600 ] || fail "admin socket mode $(stat -c %a "$T/admin2.sock"), want 600"

calls() { curl -fsS "$IDP/__count?path=/introspect"; }
status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $2" \
		"http://127.0.0.1:${FRONT[$1]}/reviews/1"
}
# all_nodes WANT TOKEN: every node answers WANT.
all_nodes() {
	local n s
	for n in 1 2 3; do
		s=$(status $n "$2")
		[ "$s" = "$1" ] || fail "node $n: want $1 for ${3:-the token}, got $s"
	done
}
# denied_within_1s TOKEN WHAT: every node answers 403 within 1 s of the purge's answer.
denied_within_1s() {
	local t0=$EPOCHREALTIME n s left=3 el
	while [ $left -gt 0 ]; do
		left=0
		for n in 1 2 3; do
			s=$(status $n "$1")
			[ "$s" = 403 ] || left=$((left + 1))
		done
		el=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		awk -v e="$el" 'BEGIN { exit !(e <= 1.0) }' || fail "$2: still allowed on $left node(s) after ${el}s"
	done
	log "$2: denied on all three nodes after ${el}s"
}

A=who.alice.app1.$RANDOM$RANDOM
B=who.bob.app2.$RANDOM$RANDOM
C=who.carol.app3.$RANDOM$RANDOM
D=who.dave.app4.$RANDOM$RANDOM
c0=$(calls)
for t in "$A" "$B" "$C" "$D"; do all_nodes 200 "$t"; done
[ "$(($(calls) - c0))" = 4 ] || fail "four tokens on three nodes: $(($(calls) - c0)) introspections, want 4"
curl -fsS -o /dev/null -X POST --data-binary inactive "$IDP/__mode"
for t in "$A" "$B" "$C" "$D"; do all_nodes 200 "$t"; done # still cached everywhere

log "admin listener: authentication and bad requests"
adm() { curl -s -o "$T/adm.body" -w '%{http_code}' --max-time 5 "$@"; }
[ "$(adm -X POST -d '{"all":true}' "http://127.0.0.1:$ADMIN_PORT/purge")" = 401 ] || fail "no token: want 401"
[ "$(adm -X POST -H 'Authorization: Bearer wrong-token-xxxxxxxx' -d '{"all":true}' "http://127.0.0.1:$ADMIN_PORT/purge")" = 401 ] ||
	fail "wrong token: want 401"
[ "$(adm -X POST -H "Authorization: Bearer $(cat "$T/admin.token")x" -d '{"all":true}' "http://127.0.0.1:$ADMIN_PORT/purge")" = 401 ] ||
	fail "token with a suffix: want 401"
grep -q unauthorized "$T/adm.body" || fail "401 body: $(cat "$T/adm.body")"
for t in "$A" "$B" "$C" "$D"; do all_nodes 200 "$t"; done # nothing purged
AUTH="Authorization: Bearer $(cat "$T/admin.token")"
[ "$(adm -H "$AUTH" "http://127.0.0.1:$ADMIN_PORT/purge")" = 405 ] || fail "GET /purge: want 405"
[ "$(adm -X POST -H "$AUTH" -d '{}' "http://127.0.0.1:$ADMIN_PORT/other")" = 404 ] || fail "other path: want 404"
[ "$(adm -X POST -H "$AUTH" -d '{"sub":"a","client_id":"b"}' "http://127.0.0.1:$ADMIN_PORT/purge")" = 400 ] || fail "two selectors: want 400"
[ "$(adm -X POST -H "$AUTH" -d 'not json' "http://127.0.0.1:$ADMIN_PORT/purge")" = 400 ] || fail "not JSON: want 400"
[ "$(adm -X POST -H "$AUTH" -d '{"all":false}' "http://127.0.0.1:$ADMIN_PORT/purge")" = 400 ] || fail "all false: want 400"
for t in "$A" "$B" "$C" "$D"; do all_nodes 200 "$t"; done

log "purge by token (node 1, TCP, the CLI)"
printf '%s\n' "$A" >"$T/tokfile"
"$AGENT" purge --admin "127.0.0.1:$ADMIN_PORT" --admin-token-file "$T/admin.token" --token-file "$T/tokfile" >"$T/purge.out" ||
	fail "oauth2-spoa purge --token-file failed: $(cat "$T/purge.out")"
grep -q '"published":true' "$T/purge.out" || fail "purge by token not published: $(cat "$T/purge.out")"
denied_within_1s "$A" "purge by token"
all_nodes 200 "$B"
all_nodes 200 "$D"
grep -q "$A" "$T"/agent*.log && fail "the purged token reached a log"

log "purge by sub (node 2, unix socket)"
curl -fsS --max-time 5 --unix-socket "$T/admin2.sock" -X POST -d '{"sub":"bob"}' http://localhost/purge >"$T/purge.out" ||
	fail "purge by sub over the unix socket failed"
denied_within_1s "$B" "purge by sub"
all_nodes 200 "$C"
all_nodes 200 "$D"

log "purge by client_id (node 1, the CLI)"
"$AGENT" purge --admin "127.0.0.1:$ADMIN_PORT" --admin-token-file "$T/admin.token" --client-id app3 >"$T/purge.out" ||
	fail "purge --client-id failed"
denied_within_1s "$C" "purge by client_id"
all_nodes 200 "$D"

log "purge all"
"$AGENT" purge --admin "127.0.0.1:$ADMIN_PORT" --all >"$T/purge.out" 2>&1 && fail "purge without the admin token succeeded"
"$AGENT" purge --admin "127.0.0.1:$ADMIN_PORT" --admin-token-file "$T/admin.token" --all >"$T/purge.out" ||
	fail "purge --all failed"
denied_within_1s "$D" "purge all"
left=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'oauth2-spoa:[0-9a-f]*' | wc -l)
# the 403s above wrote negative entries again; none may be a positive one
for k in $(redis-cli -p "$REDIS_PORT" --scan --pattern 'oauth2-spoa:[0-9a-f]*'); do
	redis-cli -p "$REDIS_PORT" --no-raw GET "$k" | grep -q alice && fail "a positive entry for alice survived in Redis"
done
log "redis keys after purge all and the denials: $left (negative entries)"
log "the purge channel lost and back: every subscriber flushes its local cache"
curl -fsS -o /dev/null -X POST --data-binary ok "$IDP/__mode"
E=who.erin.app5.$RANDOM$RANDOM
all_nodes 200 "$E"
curl -fsS -o /dev/null -X POST --data-binary inactive "$IDP/__mode"
all_nodes 200 "$E" # cached
stop_bg "$REDIS_PID"
REDIS_PORT=$REDIS_PORT start_redis redis2 # empty: no entry, and no purge message for E
deadline=$((SECONDS + 5))
until [ "$(status 3 "$E")" = 403 ] && [ "$(status 1 "$E")" = 403 ]; do
	[ $SECONDS -lt $deadline ] || fail "after the subscription was lost, a cached token was still allowed 5 s later"
	sleep 0.1
done
grep -q 'purge channel back after a loss' "$T/agent3.log" || fail "node 3 did not log the flush"
for n in 1 2 3; do
	AGENT_PID=${APID[n]} AGENT_LOG=$T/agent$n.log stop_agent
done
[ ! -e "$T/admin2.sock" ] || fail "the admin socket was not removed at exit"
log "ok"

#!/usr/bin/env bash
# e2e-timeout: 900
# t53: pins contrib/docker on a real Docker engine, host networking only (no bridge network is
# made; docker.sh starts our own dockerd when none runs and stops it by PID):
#   1. the base image debian:bookworm-slim is made from Debian's packages when missing
#      (contrib/docker/debian-base.sh; kept in the engine's data root under $E2E_CACHE/docker);
#   2. the agent image builds from contrib/docker/Dockerfile; it runs as uid 10001, its
#      HEALTHCHECK reaches "healthy", `--check` of its baked-in policy passes, and behind Debian's
#      HAProxy on the host, with the shipped haproxy/ files and a real Hydra, it decides over SPOP
#      (403 without a token, 403 with a made-up one, 200 with Hydra's token and the identity
#      upstream); `docker stop` ends it with status 0;
#   3. the compose demo as a user runs it on such a machine: contrib/docker/docker-compose.yml with
#      docker-compose.host.yml, the peer images made by contrib/docker/local-images.sh (Debian's
#      HAProxy and curl, the Hydra of tests/tools/prepare.sh), `up -d --build`, then the seven steps
#      of contrib/docker/walkthrough.sh through the containers, then `down` leaves nothing.
# Docker that cannot work FAILS the test. It runs in the normal e2e pass only: the image builds
# its own agent from the sources (a plain -O2 build), so the ASan pass (E2E_PASS=asan) would
# test the same binary again, minutes later. The durations of each stage are logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/docker.sh"

if [ "${E2E_PASS:-}" = asan ]; then
	log "not run in the ASan pass: the image builds its own (non-sanitized) agent, tested by the normal pass"
	exit 0
fi

D=$E2E_ROOT/contrib/docker
NAME=o2s-t53-$$
PROJECT=o2st53$$
export COMPOSE_PROJECT_NAME=$PROJECT DOCKER_BUILDKIT=0 # the classic builder finds local base images
compose=(docker-compose -f "$D/docker-compose.yml" -f "$D/docker-compose.host.yml")
t53_cleanup() {
	set +e
	if [ -n "${DOCKER_HOST:-}" ] || docker version >/dev/null 2>&1; then
		docker logs "$NAME" >"$T/agent-container.log" 2>&1
		docker rm -f "$NAME" >/dev/null 2>&1
		[ ! -f "$T/compose.env" ] || "${compose[@]}" down --timeout 5 >>"$T/compose-down.log" 2>&1
	fi
	_docker_stop
}
trap 'rc=$?; t53_cleanup; (exit $rc); _lib_cleanup' EXIT
stage() { log "$1: $(($(date +%s) - t0))s"; t0=$(date +%s); }

t0=$(date +%s)
docker_engine
stage "engine"
# ------------------------------------------------------------------ 1. base image
if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
	log "debian:bookworm-slim: cached in the engine"
else
	TMPDIR=/var/tmp bash "$D/debian-base.sh" >"$T/base.log" 2>&1 || fail "debian-base.sh: $(tail -n 20 "$T/base.log")"
	stage "base image debian:bookworm-slim built"
fi
# ------------------------------------------------------------------ 2. the agent image
(cd "$E2E_ROOT" && docker build --network host -f contrib/docker/Dockerfile -t oauth2-spoa:local .) >"$T/build.log" 2>&1 ||
	fail "docker build: $(tail -n 30 "$T/build.log")"
stage "agent image built"
# old build stages of changed sources: dangling after a day
docker image prune -f --filter until=24h >/dev/null 2>&1 || true
[ "$(docker image inspect -f '{{.Config.User}}' oauth2-spoa:local)" = 10001:10001 ] || fail "image user is not 10001:10001"
out=$(docker run --rm --network host oauth2-spoa:local --check --policies /etc/oauth2-spoa/policies 2>&1) ||
	fail "--check of the baked-in policy: $out"
[ "$out" = "ok: 1 policies from 1 paths" ] || fail "--check of the baked-in policy said: $out"
[ "$(docker run --rm --network host --entrypoint id oauth2-spoa:local -u)" = 10001 ] || fail "the image does not run as 10001"

start_hydra
mkdir -p "$T/pol"
sed "s#http://127.0.0.1:4445/oauth2/introspect#$HYDRA_INTROSPECT#" "$E2E_ROOT/policies/ratings-hydra.yaml" >"$T/pol/ratings-hydra.yaml"
chmod 755 "$T/pol"
chmod 644 "$T/pol/ratings-hydra.yaml"
AGENT_PORT=$(free_port)
docker run -d --name "$NAME" --network host -e HEALTH_PORT="$AGENT_PORT" -v "$T/pol:/etc/oauth2-spoa/policies:ro" \
	oauth2-spoa:local --listen "127.0.0.1:$AGENT_PORT" --threads 2 --policies /etc/oauth2-spoa/policies >/dev/null ||
	fail "docker run failed"
deadline=$((SECONDS + 40))
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$NAME")" = healthy ]; do
	[ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "the agent container exited: $(docker logs "$NAME" 2>&1 | tail -n 5)"
	[ $SECONDS -lt $deadline ] || fail "HEALTHCHECK never healthy: $(docker inspect -f '{{json .State.Health}}' "$NAME")"
	sleep 0.5
done
uids=$(docker exec "$NAME" sh -c 'grep ^Uid: /proc/1/status') || fail "docker exec failed"
[ "$(awk '{ print $2, $3, $4, $5 }' <<<"$uids")" = "10001 10001 10001 10001" ] || fail "the agent process runs as: $uids"
stage "agent container healthy"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/hap"
start_haproxy 2.6 "$T/hap"
wait_agent_up
hydra_create_client t53 t53-secret "read write"
tok=$(hydra_token t53 t53-secret read)
expect_status 403 /ratings/1
expect_status 403 /ratings/1 -H "Authorization: Bearer made-up"
expect_status 200 /ratings/1 -H "Authorization: Bearer $tok"
grep -q "sub=t53 client_id=t53 scope=read" "$T/last_body" || fail "the upstream did not get the identity: $(cat "$T/last_body")"
expect_status 200 /details/1
docker logs "$NAME" >"$T/agent-container.log" 2>&1
for r in missing_token inactive_token ok no_policy; do
	grep -q "decision .*reason=$r " "$T/agent-container.log" || fail "no $r decision in the container log: $(tail -n 5 "$T/agent-container.log")"
done
if grep -qF "$tok" "$T/agent-container.log"; then fail "the token is in the container log"; fi
stop_bg "$HAPROXY_PID"
docker stop -t 10 "$NAME" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$NAME")" = 0 ] || fail "docker stop: exit $(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
docker rm "$NAME" >/dev/null
stop_bg "$HYDRA_PID"
stage "agent container: decisions over SPOP through HAProxy 2.6, clean stop"

# ------------------------------------------------------------------ 3. the compose demo
bash "$D/local-images.sh" >"$T/images.env" 2>"$T/images.log" || fail "local-images.sh: $(tail -n 20 "$T/images.log")"
# shellcheck disable=SC1091
. "$T/images.env"
stage "peer images (local-images.sh)"
for v in HTTP UPSTREAM AGENT HYDRA_PUBLIC HYDRA_ADMIN LOCAL_UPSTREAM; do
	export "DEMO_${v}_PORT=$(free_port)"
done
mkdir -p "$T/cpol"
sed "s#http://hydra:4445/#http://hydra:$DEMO_HYDRA_ADMIN_PORT/#" "$D/policies/ratings-hydra.yaml" >"$T/cpol/ratings-hydra.yaml"
chmod 755 "$T/cpol"
chmod 644 "$T/cpol/ratings-hydra.yaml"
export DEMO_POLICIES=$T/cpol
env | grep -E '^(DEMO_|HYDRA_IMAGE|HAPROXY_IMAGE|CURL_IMAGE)' >"$T/compose.env"
"${compose[@]}" config -q || fail "compose config"
timeout 300 "${compose[@]}" up -d --build >"$T/compose-up.log" 2>&1 || fail "compose up: $(tail -n 30 "$T/compose-up.log")"
deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$DEMO_HTTP_PORT/details/1")" = 200 ]; do
	[ $SECONDS -lt $deadline ] || fail "the compose HAProxy never answered 200: $("${compose[@]}" ps 2>&1; "${compose[@]}" logs --tail 10 2>&1)"
	sleep 0.5
done
stage "compose up"
"${compose[@]}" logs hydra-init >"$T/hydra-init.log" 2>&1
grep -q 'hydra-init: client demo-client: HTTP 201' "$T/hydra-init.log" || fail "hydra-init: $(cat "$T/hydra-init.log")"
out=$(HYDRA_PUBLIC_URL=http://127.0.0.1:$DEMO_HYDRA_PUBLIC_PORT HYDRA_ADMIN_URL=http://127.0.0.1:$DEMO_HYDRA_ADMIN_PORT \
	APP_URL=http://127.0.0.1:$DEMO_HTTP_PORT WALKTHROUGH_ENV=$T/walk.env timeout 60 bash "$D/walkthrough.sh" 2>&1) ||
	fail "walkthrough.sh through the containers: $out"
printf '%s\n' "$out" >"$T/walkthrough.out"
[ "$(grep -c '  ok$' <<<"$out")" = 7 ] || fail "walkthrough: want 7 ok checks: $out"
grep -q 'expect 201 (or 409), got 409  ok' <<<"$out" || fail "walkthrough step 1 (hydra-init made the client): $out"
grep -q '^walkthrough: all 7 steps got the expected status$' <<<"$out" || fail "walkthrough: no final line"
grep -q '> upstream: GET /ratings/1 sub=demo-client client_id=demo-client scope=read write' <<<"$out" ||
	fail "walkthrough: the upstream container did not see the identity"
"${compose[@]}" logs oauth2-spoa >"$T/compose-agent.log" 2>&1
grep -q 'decision .*reason=ok ' "$T/compose-agent.log" || fail "no decision in the agent container's log"
[ "$("${compose[@]}" ps -q | wc -l)" = 5 ] || fail "want 5 containers: $("${compose[@]}" ps)"
state=$(docker inspect -f '{{.State.Health.Status}}' "$("${compose[@]}" ps -q oauth2-spoa)")
[ "$state" = healthy ] || fail "the compose agent is $state"
# host networking only: the engine has no other network, and no container has one
nets=$(docker network ls --format '{{.Name}}' | sort | tr '\n' ' ')
[ "$nets" = "host none " ] || fail "networks besides host and none: $nets"
for c in $("${compose[@]}" ps -q); do
	[ "$(docker inspect -f '{{.HostConfig.NetworkMode}}' "$c")" = host ] || fail "container $c is not on the host network"
done
stage "walkthrough through the containers"
"${compose[@]}" down --timeout 5 >"$T/compose-down.log" 2>&1 || fail "compose down: $(cat "$T/compose-down.log")"
rm -f "$T/compose.env"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" | wc -l)
[ "$left" = 0 ] || fail "$left containers left after down"
stage "compose down"
log "contrib/docker: image built and run (healthy, non-root, --check, SPOP decisions); compose demo walkthrough 7/7"

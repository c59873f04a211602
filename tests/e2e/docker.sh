# shellcheck shell=bash
# Docker for the e2e tests, sourced after lib.sh: a Docker engine that uses host networking only.
#   docker_engine   use the engine that answers on DOCKER_HOST (or the default socket); when none
#                   does, start our own dockerd (--iptables=false --ip6tables=false --bridge=none
#                   --storage-driver=vfs) with its data root under $E2E_CACHE/docker/root (images
#                   and the build cache survive the test), its exec root and socket under $T. It
#                   is stopped by its PID when the test ends. Exports DOCKER_HOST.
# Only one test uses our data root at a time: docker_engine holds $E2E_CACHE/docker/.lock.
# Everything that is missing FAILS the test (contrib/tools/install-deps.sh test installs it).

DOCKERD_PID=""
DOCKERD_DIR=""

_docker_stop() {
	local i
	[ -n "$DOCKERD_PID" ] || return 0
	kill -TERM "$DOCKERD_PID" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		alive "$DOCKERD_PID" || break
		sleep 0.1
	done
	if ! alive "$DOCKERD_PID"; then
		wait "$DOCKERD_PID" 2>/dev/null
		_docker_umount "$DOCKERD_DIR"
		log "dockerd (pid $DOCKERD_PID) stopped"
		return 0
	fi
	log "dockerd (pid $DOCKERD_PID) ignored SIGTERM for 20s; SIGKILL"
	kill -KILL "$DOCKERD_PID" 2>/dev/null || true
	wait "$DOCKERD_PID" 2>/dev/null
	_docker_umount "$DOCKERD_DIR"
}

# dockerd leaves the mount of its network namespace (exec-root/netns/default) behind
_docker_umount() {
	local m
	awk -v r="$1/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
}

docker_engine() {
	local d root deadline
	for c in docker docker-compose debootstrap; do
		command -v "$c" >/dev/null || fail "$c is not installed (contrib/tools/install-deps.sh test)"
	done
	if docker version >/dev/null 2>&1; then
		log "using the running Docker engine (${DOCKER_HOST:-default socket})"
		return 0
	fi
	[ -x /usr/sbin/dockerd ] || fail "no Docker engine runs and /usr/sbin/dockerd is missing (package docker.io: contrib/tools/install-deps.sh test)"
	[ "$(id -u)" = 0 ] || fail "starting dockerd needs root"
	root=$E2E_CACHE/docker
	mkdir -p "$root/root"
	exec 8>"$root/.lock"
	flock -w 600 8 || fail "another test holds $root/.lock for 10 minutes"
	d=$(mktemp -d /tmp/o2s-dockerd.XXXXXX) # short: unix socket paths are limited to 107 bytes
	DOCKERD_DIR=$d
	_LIB_RMDIRS+=("$d")
	export DOCKER_HOST=unix://$d/docker.sock
	start_bg dockerd /usr/sbin/dockerd --iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs --data-root "$root/root" --exec-root "$d/x" --pidfile "$d/dockerd.pid" \
		-H "$DOCKER_HOST"
	DOCKERD_PID=$BG_PID
	deadline=$((SECONDS + 60))
	until docker version >/dev/null 2>&1; do
		alive "$DOCKERD_PID" || fail "dockerd exited: $(tail -n 20 "$T/dockerd.log")"
		[ $SECONDS -lt $deadline ] || fail "dockerd did not answer within 60s: $(tail -n 20 "$T/dockerd.log")"
		sleep 0.2
	done
	log "dockerd $(docker version -f '{{.Server.Version}}') started (pid $DOCKERD_PID, data root $root/root)"
}

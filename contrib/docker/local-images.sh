#!/usr/bin/env bash
# local-images.sh - build the compose demo's peer images locally, for a Docker engine that cannot
# pull from a registry, and print the variables that make docker-compose.yml use them:
#     eval "$(contrib/docker/local-images.sh)"
#   oauth2-spoa-local/haproxy:2.6   Debian 12's HAProxy 2.6 and curl (HAPROXY_IMAGE, CURL_IMAGE)
#   oauth2-spoa-local/hydra:v2.3.0  the Ory Hydra binary of tests/tools/prepare.sh (HYDRA_IMAGE)
# Both start FROM debian:bookworm-slim, which must exist locally (contrib/docker/debian-base.sh
# makes it). HYDRA_BIN moves the Hydra binary (default $OAUTH2_SPOA_CACHE/bin/hydra, built by
# `tests/tools/prepare.sh hydra`). Docker's build cache makes a second run take seconds.
# Progress goes to stderr, the variables to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${OAUTH2_SPOA_CACHE:-/var/cache/oauth2-spoa}
HYDRA_BIN=${HYDRA_BIN:-$CACHE/bin/hydra}
T0=$SECONDS

say() { printf '[local-images +%ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { printf '[local-images] ERROR: %s\n' "$*" >&2; exit 1; }

docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
	die "no local debian:bookworm-slim image (run contrib/docker/debian-base.sh first)"
[ -x "$HYDRA_BIN" ] || die "no Hydra binary at $HYDRA_BIN (run: tests/tools/prepare.sh hydra)"
hv=$("$HYDRA_BIN" version 2>/dev/null) || true # whole, so grep cannot cut the pipe under pipefail
grep -q 'v2\.3\.0' <<<"$hv" || die "$HYDRA_BIN is not Hydra v2.3.0: $hv"

# The classic builder: BuildKit would look FROM up in a registry.
export DOCKER_BUILDKIT=0
ctx=$(mktemp -d "${TMPDIR:-/tmp}/oauth2-spoa-local-images.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
build() { # TARGET TAG CONTEXT
	say "docker build --target $1 -t $2"
	docker build -q --network host --target "$1" -t "$2" -f "$ROOT/contrib/docker/peers.Dockerfile" "$3" >"$ctx/build.log" 2>&1 ||
		{ cat "$ctx/build.log" >&2; die "building $2 failed"; }
}
build haproxy oauth2-spoa-local/haproxy:2.6 "$ctx"
mkdir "$ctx/hydra"
cp "$HYDRA_BIN" "$ctx/hydra/hydra"
build hydra oauth2-spoa-local/hydra:v2.3.0 "$ctx/hydra"
say "done"
echo "export HYDRA_IMAGE=oauth2-spoa-local/hydra:v2.3.0 HAPROXY_IMAGE=oauth2-spoa-local/haproxy:2.6 CURL_IMAGE=oauth2-spoa-local/haproxy:2.6"

#!/usr/bin/env bash
# test-prereqs.sh - the first phase of `make test` (and so of CI): everything the suites need,
# installed or built when missing, so that `make test` works on a fresh Debian 12 clone:
#   1. refuses at once unless root (apt-get, debootstrap, chroot and dockerd need it): the message
#      names `sudo make test`;
#   2. installs the missing Debian packages (contrib/tools/install-deps.sh build test);
#   3. checks the preinstalled Go (>= 1.24, /usr/local/go/bin or PATH) and Node.js (>= 20);
#   4. builds or finds in the cache HAProxy 3.0/3.2/3.4 chroots, Hydra, oidc-provider and Keycloak
#      (tests/tools/prepare.sh; minutes on a cold machine, seconds on a warm one).
# On a warm machine it takes seconds. `make test PREREQS_ONLY=1` stops after it.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="/usr/local/go/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
T0=$SECONDS

step() { printf '\n==> [make test %s, +%ss] %s\n' "$(date +%H:%M:%S)" "$((SECONDS - T0))" "$*"; }
die() { printf '==> make test: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "make test installs packages and runs chroots and a Docker engine: it needs root.
    Run:  sudo make test"

step "1/3 Debian packages (contrib/tools/install-deps.sh build test; only the missing ones are installed)"
bash contrib/tools/install-deps.sh build test || die "installing the Debian packages failed"

step "2/3 toolchains"
command -v go >/dev/null || die "Go not found (Go >= 1.24 is expected in /usr/local/go/bin or on PATH: https://go.dev/dl/)"
go_minor=$(go env GOVERSION | sed -nE 's/^go1\.([0-9]+).*/\1/p')
[ "${go_minor:-0}" -ge 24 ] || die "Go >= 1.24 is needed to build Hydra, found $(go env GOVERSION)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	die "Node.js >= 20 with npm is needed by the oidc-provider test server, and was not found"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is needed by oidc-provider 9, found $(node --version)"
echo "$(go version); node $(node --version); npm $(npm --version); $(cc --version | sed -n 1p)"
/usr/sbin/haproxy -v | sed -n 1p

step "3/3 cached prerequisites: HAProxy 3.0/3.2/3.4 chroots, Hydra, oidc-provider, Keycloak (tests/tools/prepare.sh)"
tests/tools/prepare.sh || die "tests/tools/prepare.sh failed"
step "prerequisites ready"

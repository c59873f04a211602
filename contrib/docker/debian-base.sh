#!/usr/bin/env bash
# debian-base.sh - make the local base image debian:bookworm-slim from Debian's packages, for a
# Docker engine that cannot pull from an image registry but whose host reaches a Debian mirror.
#
# Usage (root): contrib/docker/debian-base.sh [IMAGE]    (default debian:bookworm-slim)
#   debootstrap --variant=minbase bookworm, the bookworm-updates and -security updates applied,
#   the Docker-image conventions (no daemon starts in package scripts, no docs, man pages,
#   locales or apt caches), then `tar | docker import`. An IMAGE that exists is kept (FORCE=1
#   rebuilds). The docker CLI talks to $DOCKER_HOST as usual. DEBIAN_MIRROR and
#   DEBIAN_SECURITY_MIRROR move the mirrors (default deb.debian.org). About 30 s on a fast mirror.
# The result is not the official image byte for byte, but the same suite and the same conventions.
set -euo pipefail

IMAGE=${1:-debian:bookworm-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
T0=$SECONDS

say() { printf '[debian-base +%ss] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '[debian-base] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot): run  sudo $0 $*"
command -v debootstrap >/dev/null || die "debootstrap is not installed (contrib/tools/install-deps.sh test)"
docker version >/dev/null 2>&1 || die "no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-default})"
if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
	say "$IMAGE exists; kept (FORCE=1 rebuilds)"
	exit 0
fi

ROOTFS=$(mktemp -d "${TMPDIR:-/var/tmp}/debian-base.XXXXXX")
LOG=$ROOTFS.log
cleanup() {
	local m
	# unmount what the chroot step mounted before removing the tree
	awk -v r="$ROOTFS/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT
chmod 755 "$ROOTFS"

say "debootstrap --variant=minbase bookworm ($MIRROR; log $LOG)"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG" >&2; die "debootstrap failed (log $LOG)"; }

cat >"$ROOTFS/etc/apt/sources.list" <<-EOF
	deb $MIRROR bookworm main
	deb $MIRROR bookworm-updates main
	deb $SECURITY_MIRROR bookworm-security main
EOF
printf '#!/bin/sh\n# never start daemons from package scripts in an image\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
	DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
	Dir::Cache::pkgcache "";
	Dir::Cache::srcpkgcache "";
	Acquire::Languages "none";
	APT::Install-Recommends "false";
EOF
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
	path-exclude /usr/share/doc/*
	path-include /usr/share/doc/*/copyright
	path-exclude /usr/share/man/*
	path-exclude /usr/share/info/*
	path-exclude /usr/share/locale/*
	path-include /usr/share/locale/locale.alias
EOF

say "applying bookworm-updates and bookworm-security"
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
mount -t proc proc "$ROOTFS/proc"
chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
	sh -c 'apt-get update && apt-get -y dist-upgrade' >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG" >&2; die "upgrade in the rootfs failed (log $LOG)"; }
umount "$ROOTFS/proc"

find "$ROOTFS/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/var/lib/apt/lists/* \
	"$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/apt/* \
	"$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/*
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
mkdir -p "$ROOTFS/var/lib/apt/lists/partial"
: >"$ROOTFS/etc/resolv.conf"
echo localhost >"$ROOTFS/etc/hostname"
[ ! -e "$ROOTFS/etc/machine-id" ] || : >"$ROOTFS/etc/machine-id"

say "docker import as $IMAGE"
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' \
	--message "debootstrap --variant=minbase bookworm (contrib/docker/debian-base.sh)" - "$IMAGE" >/dev/null
rm -f "$LOG"
say "$IMAGE ready: $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"

#!/bin/sh
# install.sh install|uninstall|list - `make install` and `make uninstall`: the agent laid out as a
# package would, under $DESTDIR (the Makefile passes every variable):
#   $BINDIR/oauth2-spoa                          0755  the agent
#   $MANDIR/man8/oauth2-spoa.8                   0644  generated from its --help (mkman.sh)
#   $UNITDIR/oauth2-spoa.service                 0644  contrib/systemd, paths set to BINDIR/SYSCONFDIR
#   $SYSCONFDIR/oauth2-spoa/oauth2-spoa.yaml     0644  contrib/oauth2-spoa.yaml, reading policies/
#   $SYSCONFDIR/oauth2-spoa/policies/ratings-hydra.yaml 0644
#   $DATADIR/oauth2-spoa/haproxy/{haproxy.cfg,oauth2-spoa.conf,routes.map} 0644 (Debian's haproxy
#                                                owns /etc/haproxy: these are copied there by hand)
#   $DATADIR/oauth2-spoa/policies/{ratings-hydra,examples}.yaml, README.md  0644
# Files under SYSCONFDIR are configuration: install keeps one that exists (and says so), uninstall
# removes one only while it is as installed, and keeps an edited one (and says so).
set -eu
: "${BUILD:?}" "${BINDIR:?}" "${MANDIR:?}" "${UNITDIR:?}" "${SYSCONFDIR:?}" "${DATADIR:?}"
D=${DESTDIR:-}
ETC=$SYSCONFDIR/oauth2-spoa
SHARE=$DATADIR/oauth2-spoa

# each line: MODE SOURCE DESTINATION [conf]; sources in $BUILD/install are made by stage()
files() {
	cat <<-LIST
		0755 $BUILD/oauth2-spoa $BINDIR/oauth2-spoa
		0644 $BUILD/oauth2-spoa.8 $MANDIR/man8/oauth2-spoa.8
		0644 $BUILD/install/oauth2-spoa.service $UNITDIR/oauth2-spoa.service
		0644 $BUILD/install/oauth2-spoa.yaml $ETC/oauth2-spoa.yaml conf
		0644 policies/ratings-hydra.yaml $ETC/policies/ratings-hydra.yaml conf
		0644 haproxy/haproxy.cfg $SHARE/haproxy/haproxy.cfg
		0644 haproxy/oauth2-spoa.conf $SHARE/haproxy/oauth2-spoa.conf
		0644 haproxy/routes.map $SHARE/haproxy/routes.map
		0644 policies/ratings-hydra.yaml $SHARE/policies/ratings-hydra.yaml
		0644 policies/examples.yaml $SHARE/policies/examples.yaml
		0644 policies/README.md $SHARE/policies/README.md
	LIST
}

# the unit and the config with the installed paths
stage() {
	mkdir -p "$BUILD/install"
	sed -e "s#/usr/local/bin/oauth2-spoa#$BINDIR/oauth2-spoa#g" -e "s#/etc/oauth2-spoa/#$ETC/#g" \
		contrib/systemd/oauth2-spoa.service >"$BUILD/install/oauth2-spoa.service"
	sed -e "s#^  - \.\./policies/ratings-hydra\.yaml\$#  - policies#" -e "s#/etc/oauth2-spoa/#$ETC/#g" \
		contrib/oauth2-spoa.yaml >"$BUILD/install/oauth2-spoa.yaml"
	grep -q '^  - policies$' "$BUILD/install/oauth2-spoa.yaml" ||
		{ echo "install.sh: contrib/oauth2-spoa.yaml no longer lists ../policies/ratings-hydra.yaml" >&2; exit 1; }
}

case ${1:-} in
install)
	stage
	files | while read -r mode src dst conf; do
		if [ -n "$conf" ] && [ -e "$D$dst" ] && ! cmp -s "$src" "$D$dst"; then
			echo "  KEEP    $D$dst (changed locally; the new one is not installed)"
			continue
		fi
		echo "  INSTALL $D$dst"
		install -D -m "$mode" "$src" "$D$dst"
	done
	;;
uninstall)
	stage
	files | while read -r mode src dst conf; do
		[ -e "$D$dst" ] || continue
		if [ -n "$conf" ] && ! cmp -s "$src" "$D$dst"; then
			echo "  KEEP    $D$dst (changed locally)"
			continue
		fi
		echo "  RM      $D$dst"
		rm -f "$D$dst"
	done
	# the directories that only held our files
	for d in "$ETC/policies" "$ETC" "$SHARE/haproxy" "$SHARE/policies" "$SHARE"; do
		rmdir "$D$d" 2>/dev/null || true
	done
	;;
list) files | awk '{ print $1, $3 }' ;;
*) echo "usage: install.sh install|uninstall|list" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# t55: pins `make install` and `make uninstall` as a package would lay the agent out, into a
# DESTDIR (PREFIX=/usr): the exact file list and modes; the installed binary's --version and
# --check of the installed config (which reads the installed policies) and policy dir; the man
# page oauth2-spoa(8) names every option of --help (it is generated from it) and has its sections;
# the unit runs the installed paths; a configuration file changed locally is kept by a second
# install and by uninstall, and uninstall leaves no other file behind.
. "$(dirname "$0")/lib.sh"

B=$(dirname "$AGENT")
D=$T/dest
mk() { make -C "$E2E_ROOT" --no-print-directory "B=$B" "DESTDIR=$D" PREFIX=/usr "$@" >>"$T/make.log" 2>&1 ||
	fail "make $*: $(tail -n 20 "$T/make.log")"; }

mk install
(cd "$D" && find . -type f -printf '%m %p\n' | sort) >"$T/files"
cat >"$T/want" <<-'LIST'
	644 ./etc/oauth2-spoa/oauth2-spoa.yaml
	644 ./etc/oauth2-spoa/policies/ratings-hydra.yaml
	644 ./usr/lib/systemd/system/oauth2-spoa.service
	644 ./usr/share/man/man8/oauth2-spoa.8
	644 ./usr/share/oauth2-spoa/haproxy/haproxy.cfg
	644 ./usr/share/oauth2-spoa/haproxy/oauth2-spoa.conf
	644 ./usr/share/oauth2-spoa/haproxy/routes.map
	644 ./usr/share/oauth2-spoa/policies/README.md
	644 ./usr/share/oauth2-spoa/policies/examples.yaml
	644 ./usr/share/oauth2-spoa/policies/ratings-hydra.yaml
	755 ./usr/bin/oauth2-spoa
LIST
diff <(sort "$T/want") "$T/files" >"$T/files.diff" || fail "installed files differ: $(cat "$T/files.diff")"
cmp -s "$D/usr/bin/oauth2-spoa" "$AGENT" || fail "the installed binary is not $AGENT"

v=$("$D/usr/bin/oauth2-spoa" --version) || fail "installed --version failed"
[ "$v" = "oauth2-spoa $(cat "$E2E_ROOT/VERSION")" ] || fail "installed --version says '$v'"
out=$("$D/usr/bin/oauth2-spoa" --check -c "$D/etc/oauth2-spoa/oauth2-spoa.yaml" 2>&1) || fail "--check -c: $out"
[ "$out" = "ok: $D/etc/oauth2-spoa/oauth2-spoa.yaml: 1 policies from 1 paths" ] || fail "--check -c said: $out"
out=$("$D/usr/bin/oauth2-spoa" --check --policies "$D/etc/oauth2-spoa/policies" 2>&1) || fail "--check policies: $out"
out=$(RATINGS_INTROSPECTION_SECRET=s "$D/usr/bin/oauth2-spoa" --check --policies "$D/usr/share/oauth2-spoa/policies/examples.yaml" 2>&1) ||
	fail "--check examples.yaml: $out"
# the shipped haproxy files, as installed, pass haproxy -c (paths moved to the installed copies)
sed "s#/etc/haproxy/#$D/usr/share/oauth2-spoa/haproxy/#g" "$D/usr/share/oauth2-spoa/haproxy/haproxy.cfg" >"$T/h.cfg"
out=$(/usr/sbin/haproxy -c -f "$T/h.cfg" 2>&1) || fail "haproxy -c of the installed files: $out"

# the unit names the installed binary and policy dir
u=$D/usr/lib/systemd/system/oauth2-spoa.service
grep -qx 'ExecStartPre=/usr/bin/oauth2-spoa --policies /etc/oauth2-spoa/policies --check' "$u" || fail "unit ExecStartPre: $(grep Exec "$u")"
grep -q '^ExecStart=/usr/bin/oauth2-spoa ' "$u" || fail "unit ExecStart: $(grep Exec "$u")"
if grep -q /usr/local "$u"; then fail "the unit still names /usr/local: $(grep /usr/local "$u")"; fi

# the man page: every long option of --help, its sections, valid roff
m=$D/usr/share/man/man8/oauth2-spoa.8
for o in $("$AGENT" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -qF -- "\\fB${o//-/\\-}\\fR" "$m" || fail "the man page lacks $o"
done
for s in NAME SYNOPSIS DESCRIPTION OPTIONS SIGNALS 'EXIT STATUS' FILES 'SEE ALSO'; do
	grep -qx ".SH $s" "$m" || fail "the man page lacks the section $s"
done
grep -q '^\.TH OAUTH2\\-SPOA 8 ' "$m" || fail "no .TH line in the man page"
grep -q "oauth2\\\\-spoa $(cat "$E2E_ROOT/VERSION")" "$m" || fail "the man page does not carry the version"
if grep -n '@[A-Z]*@' "$m"; then fail "placeholder left in the man page"; fi
command -v groff >/dev/null || fail "groff is not installed (groff-base: contrib/tools/install-deps.sh test)"
out=$(groff -man -Tutf8 -ww -z "$m" 2>&1) && [ -z "$out" ] || fail "groff warns on the man page: $out"

# local changes to configuration survive install and uninstall
echo "# site change" >>"$D/etc/oauth2-spoa/oauth2-spoa.yaml"
mk install
grep -q 'KEEP .*etc/oauth2-spoa/oauth2-spoa.yaml' "$T/make.log" || fail "second install did not say it kept the config"
[[ $(tail -n 1 "$D/etc/oauth2-spoa/oauth2-spoa.yaml") == *'site change'* ]] || fail "second install replaced the changed config"
mk uninstall
left=$(cd "$D" && find . -type f | sort | tr '\n' ' ')
[ "$left" = "./etc/oauth2-spoa/oauth2-spoa.yaml " ] || fail "after uninstall, left: '$left'"
rm "$D/etc/oauth2-spoa/oauth2-spoa.yaml"
mk install
mk uninstall
left=$(cd "$D" && find . \( -type f -o -name '*oauth2-spoa*' \) | sort | tr '\n' ' ')
[ -z "$left" ] || fail "after install + uninstall, left: '$left'"
log "make install/uninstall: 11 files with their modes, installed binary checks its config, man page from --help"

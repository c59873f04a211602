#!/usr/bin/env bash
# e2e-timeout: 600
# t56: pins the README's quick start as a new user types it, in a clean copy of the repository
# (the files git tracks or would track, nothing built): the "Quick start" block is exactly
# `make demo` and `make test`; as a non-root user `make test` refuses within its first second and
# names `sudo make test`; as root `make test PREREQS_ONLY=1` runs the first phase of `make test`
# (packages, toolchains, tests/tools/prepare.sh: what a fresh machine installs or builds) and stops
# where the suites would start, so this test does not run make test inside make test; then
# `make demo` (its own build of the agent, ports moved by its DEMO_* variables) plays the
# walkthrough, and `make demo-stop` stops the stack. The order is test then demo: the demo's
# packages are a subset of the test's. Normal e2e pass only: it builds its own plain agent, so the
# ASan pass (E2E_PASS=asan) would repeat it unchanged.
. "$(dirname "$0")/lib.sh"

if [ "${E2E_PASS:-}" = asan ]; then
	log "not run in the ASan pass: it builds and tests its own plain agent in a copy of the tree"
	exit 0
fi
command -v git >/dev/null || fail "git is not installed"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is not installed"

# the quick-start block of the README, commands only
qs=$(sed -n '/^## Quick start/,/^## /p' "$E2E_ROOT/README.md" | sed -n '/^```sh$/,/^```$/p' | sed -n '2,/^```$/p' |
	sed -e '/^```$/d' -e 's/[[:space:]]*#.*$//' | tr '\n' ';')
[ "$qs" = "make demo;make test;" ] || fail "the README's quick start is '$qs', want 'make demo;make test;'"

C=$T/clone
mkdir -p "$C"
(cd "$E2E_ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
	tar --null -T - -cf -) | tar -C "$C" -xf - || fail "copying the tracked files failed"
[ ! -e "$C/build" ] || fail "the copy has a build directory"
chmod 755 "$T"

# non-root: a refusal in the first second that names the command
start=$(date +%s%N)
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups make -C "$C" --no-print-directory test 2>&1) &&
	fail "make test as uid 65534 succeeded: $out"
ms=$((($(date +%s%N) - start) / 1000000))
grep -q 'Run:  sudo make test' <<<"$out" || fail "the non-root refusal does not name 'sudo make test': $out"
[ "$ms" -lt 1000 ] || fail "the non-root refusal took ${ms}ms"
log "non-root make test: refused in ${ms}ms"

# root: the first phase of make test, verbatim but for the variable that stops it
(cd "$C" && timeout 500 make --no-print-directory test PREREQS_ONLY=1) >"$T/test.out" 2>&1 </dev/null ||
	fail "make test PREREQS_ONLY=1 in the copy: $(tail -n 30 "$T/test.out")"
for want in '1/3 Debian packages' '[install-deps] all ' '2/3 toolchains' '3/3 cached prerequisites' \
	'[prepare' 'hydra: verified' 'oidc-provider: verified' 'prerequisites ready; stopped before the suites (PREREQS_ONLY=1)'; do
	grep -qF -- "$want" "$T/test.out" || fail "make test's first phase lacks '$want': $(cat "$T/test.out")"
done
[ ! -e "$C/build" ] || fail "make test PREREQS_ONLY=1 built something: $(ls "$C/build")"

# make demo in the copy, then make demo-stop
vars=(DEMO_DIR="$T/demo")
for v in HTTP UPSTREAM AGENT HYDRA_PUBLIC HYDRA_ADMIN; do
	vars+=("DEMO_${v}_PORT=$(free_port)")
done
demo_cleanup() { make -C "$C" --no-print-directory demo-stop "DEMO_DIR=$T/demo" >/dev/null 2>&1 || true; }
trap 'rc=$?; demo_cleanup; (exit $rc); _lib_cleanup' EXIT
(cd "$C" && timeout 400 make --no-print-directory demo "${vars[@]}") >"$T/demo.out" 2>&1 </dev/null ||
	fail "make demo in the copy: $(tail -n 30 "$T/demo.out")"
[ -z "${E2E_PIDFILE:-}" ] || cat "$T/demo"/*.pid >>"$E2E_PIDFILE" 2>/dev/null || true
grep -q "make -C $C build/oauth2-spoa" "$T/demo.out" || fail "make demo did not build the copy's agent"
[ -x "$C/build/oauth2-spoa" ] || fail "no agent built in the copy"
grep -q '^walkthrough: all 7 steps got the expected status$' "$T/demo.out" || fail "make demo's walkthrough: $(cat "$T/demo.out")"
(cd "$C" && make --no-print-directory demo-stop "DEMO_DIR=$T/demo") >"$T/stop.out" 2>&1 || fail "make demo-stop: $(cat "$T/stop.out")"
grep -q 'demo stopped' "$T/stop.out" || fail "make demo-stop said: $(cat "$T/stop.out")"
log "quick start in a clean copy: make test (first phase) and make demo + make demo-stop"

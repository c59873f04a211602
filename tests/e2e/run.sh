#!/usr/bin/env bash
# Runs every tests/e2e/tNN_*.sh (sorted), each in its own bash process with a time limit
# (E2E_TEST_TIMEOUT seconds, default 300, or the test's "# e2e-timeout: N" line), prints ok/FAILED with the duration per test and
# closes with "e2e: N passed, M failed". Exits 1 if any test failed.
# Environment passed in by the Makefile: AGENT (agent binary), TOOLS (dir of C test tools).
# E2E_ONLY=PATTERN runs only the tests whose file name matches the shell glob *PATTERN*.
set -uo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
timeout_s=${E2E_TEST_TIMEOUT:-300}
export AGENT=${AGENT:-} TOOLS=${TOOLS:-}
work=$(mktemp -d "${TMPDIR:-/tmp}/oauth2-spoa-e2e-run.XXXXXX")
trap 'rm -rf "$work"' EXIT

# kill_leftovers PIDFILE: kill what a test started through lib.sh and left running (pid reuse is
# ruled out by comparing the start time recorded by lib.sh).
kill_leftovers() {
	local pid start
	[ -f "$1" ] || return 0
	while read -r pid start; do
		[ -n "$pid" ] || continue
		if [ "$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)" = "$start" ]; then
			echo "  (killing pid $pid left behind by the test)"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
	done <"$1"
}

pass=0
failed=0
failed_names=()
shopt -s nullglob
tests=("$dir"/t[0-9][0-9]_*.sh)
[ ${#tests[@]} -gt 0 ] || { echo "e2e: no tests found in $dir" >&2; exit 1; }
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ -n "${E2E_ONLY:-}" ] && [[ $name != *$E2E_ONLY* ]]; then
		continue
	fi
	echo "--- $name"
	start=$(date +%s.%N)
	# a test may ask for more time in its header ("# e2e-timeout: SECONDS")
	t_s=$(sed -n '1,5s/^# e2e-timeout: \([0-9][0-9]*\)$/\1/p' "$t")
	E2E_PIDFILE="$work/$name.pids" timeout -k 15 "${t_s:-$timeout_s}" bash "$t" </dev/null
	rc=$?
	dur=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }')
	kill_leftovers "$work/$name.pids"
	if [ $rc = 0 ]; then
		echo "ok      $name ($dur)"
		pass=$((pass + 1))
	else
		[ $rc = 124 ] && echo "  (timed out after ${t_s:-$timeout_s}s)"
		echo "FAILED  $name ($dur, exit $rc)"
		failed=$((failed + 1))
		failed_names+=("$name")
	fi
done
# a mistyped pattern (E2E_ONLY='t19|t30' is a glob, not a regex) must not pass by running nothing
if [ $((pass + failed)) = 0 ]; then
	echo "e2e: E2E_ONLY='${E2E_ONLY:-}' matches no test in $dir" >&2
	exit 1
fi
[ $failed = 0 ] || echo "failed tests: ${failed_names[*]}"
echo "e2e: $pass passed, $failed failed"
[ $failed = 0 ]

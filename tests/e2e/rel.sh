# shellcheck shell=bash
# Helpers for the reliability tests (t4x_*.sh), sourced after lib.sh and spoa.sh:
#     . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/spoa.sh"; . "$(dirname "$0")/rel.sh"
# E2E_PASS is "asan" in the sanitizer pass of `make test` (the Makefile sets it), else empty.

E2E_PASS=${E2E_PASS:-}

# rss_kb PID: the resident set size of PID in kB (fails when PID is gone).
rss_kb() {
	awk '/^VmRSS:/ {print $2; f=1} END {exit !f}' "/proc/$1/status" 2>/dev/null || fail "rss_kb: pid $1 is gone"
}

# since SECS_START: seconds elapsed since a `date +%s.%N` value, 3 decimals.
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'; }

# fp TOKEN: the short SHA-256 prefix used to name a token in test logs.
fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }


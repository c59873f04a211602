#!/bin/sh
# Runs each unit-test binary given on the command line; fails if any fails.
set -u
fail=0
for t in "$@"; do
	"$t" || { echo "FAILED: $t"; fail=1; }
done
exit $fail

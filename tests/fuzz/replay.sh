#!/bin/sh
# Replays every corpus through its replay binary (built without libFuzzer).
set -eu
dir=$1
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
for bin in "$dir"/*; do
	name=$(basename "$bin")
	corpus=$root/tests/fuzz/corpus/$name
	if [ ! -d "$corpus" ]; then
		echo "fuzz replay $name: no corpus at $corpus"
		fail=$((fail + 1))
		continue
	fi
	if "$bin" "$corpus" >/dev/null; then
		pass=$((pass + 1))
	else
		echo "fuzz replay $name: FAILED"
		fail=$((fail + 1))
	fi
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" = 0 ]

#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer (clang, ASan+UBSan) and runs
# each for $1 seconds on its corpus in tests/fuzz/corpus/<name>/. New inputs the
# fuzzer keeps are written back to the corpus; crashes land in build/fuzz/.
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build/fuzz
mkdir -p "$out"
cd "$root"
srcs=$(ls spoa/*.c | grep -v 'spoa/main.c')
cflags="-std=c11 -D_GNU_SOURCE -Ispoa -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(pkg-config --cflags libcurl jansson yaml-0.1 libcrypto hiredis libmicrohttpd cjose)"
libs="$(pkg-config --libs libcurl jansson yaml-0.1 libcrypto hiredis libmicrohttpd cjose) -lev -lpthread -lm"
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c | sed 's/^fuzz_//')
	echo "== fuzz $name: building"
	# shellcheck disable=SC2086
	clang $cflags -DOAUTH2_SPOA_VERSION='"fuzz"' -o "$out/fuzz_$name" "$f" $srcs $libs
	mkdir -p "tests/fuzz/corpus/$name"
	echo "== fuzz $name: running ${secs}s"
	# spop_stream must reach past the 64 KiB NOTIFY reassembly cap
	maxlen=
	[ "$name" != spop_stream ] || maxlen=-max_len=70000
	# shellcheck disable=SC2086 # $maxlen is empty or one word
	(cd "$out" && ./"fuzz_$name" -max_total_time="$secs" -print_final_stats=1 $maxlen \
		-artifact_prefix="$out/$name-" "$root/tests/fuzz/corpus/$name" 2>&1 |
		grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|==.*ERROR|SUMMARY)' || true)
done

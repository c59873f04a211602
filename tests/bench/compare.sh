#!/usr/bin/env bash
# tests/bench/compare.sh OLD NEW [ROUNDS=5] [spop_bench args...]: compares two agent binaries on
# one engine scenario (default: cache hit, 4 conns x 20 in flight, 3 s), alternating OLD and NEW
# round by round so that both see the same moments of a noisy machine. Prints each round and the
# medians (decisions/s, agent CPU us per decision). Like `make bench`, a table, never pass/fail.
#   tests/bench/compare.sh /tmp/old/build/oauth2-spoa build/oauth2-spoa 7
#   tests/bench/compare.sh OLD NEW 5 -c 4 -w 20 -d 3 --route route=other --path /other
# Environment: BENCH (dir of spop_bench, default build/bench), BENCH_AGENT_CPU=0, BENCH_LOAD_CPU=1,
# COMPARE_LOG=warn (the agent's --log-level) or "pipe" (info, the decision log to a FIFO that cat
# reads on the load core, as a container runtime's log pipe).
. "$(dirname "$0")/../e2e/lib.sh"
[ $# -ge 2 ] || fail "usage: $0 OLD_AGENT NEW_AGENT [ROUNDS] [spop_bench args...]"
OLD=$1 NEW=$2 ROUNDS=${3:-5}
shift $(($# >= 3 ? 3 : 2))
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(-c 4 -w 20 -d 3 --warm)
SB=${BENCH:-$E2E_ROOT/build/bench}/spop_bench
CPU_A=${BENCH_AGENT_CPU:-0} CPU_L=${BENCH_LOAD_CPU:-1}
for b in "$OLD" "$NEW" "$SB"; do [ -x "$b" ] || fail "not an executable: $b"; done

AGENT=$NEW # for spoa.sh, whose helpers start the fault IdP and write the policy
. "$E2E_ROOT/tests/e2e/spoa.sh"
start_fault_idp
write_policy "$T/p.yaml" bench ratings "$IDP/introspect"

LOG=${COMPARE_LOG:-warn}
# one BIN LABEL: start BIN on CPU_A, run the scenario from CPU_L; sets RATE and CPU.
one() {
	local port out level=$LOG cat_pid="" fifo=$T/log-$2.fifo
	port=$(free_port)
	if [ "$LOG" = pipe ]; then
		level=info
		rm -f "$fifo" && mkfifo "$fifo"
		taskset -c "$CPU_L" cat "$fifo" >/dev/null &
		cat_pid=$!
		_LIB_PIDS+=("$cat_pid")
	fi
	BG_OUT=$([ -n "$cat_pid" ] && echo "$fifo") start_bg "agent-$2" taskset -c "$CPU_A" "$1" \
		--listen "127.0.0.1:$port" --threads 1 --policies "$T/p.yaml" --log-level "$level"
	wait_port "$port"
	out=$(taskset -c "$CPU_L" "$SB" -p "$port" --agent-pid "$BG_PID" "${ARGS[@]}") ||
		fail "spop_bench failed against $1"
	stop_bg "$BG_PID"
	[ -z "$cat_pid" ] || wait "$cat_pid"
	RATE=$(sed -nE 's/.*per_s=([0-9]+).*/\1/p' <<<"$out")
	CPU=$(sed -nE 's/.*agent_cpu_us=([0-9.]+).*/\1/p' <<<"$out")
	[ -n "$RATE" ] && [ -n "$CPU" ] || fail "unexpected spop_bench output: $out"
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rate_old="" cpu_old="" rate_new="" cpu_new=""
printf '%-6s %-22s %-22s\n' round "old: per_s cpu_us" "new: per_s cpu_us"
for ((r = 1; r <= ROUNDS; r++)); do
	one "$OLD" old
	ro=$RATE co=$CPU
	one "$NEW" new
	rn=$RATE cn=$CPU
	printf '%-6s %-22s %-22s\n' "$r" "$ro $co" "$rn $cn"
	rate_old+=" $ro" cpu_old+=" $co" rate_new+=" $rn" cpu_new+=" $cn"
done
printf '%-6s %-22s %-22s\n' median "$(median <<<"$rate_old") $(median <<<"$cpu_old")" \
	"$(median <<<"$rate_new") $(median <<<"$cpu_new")"

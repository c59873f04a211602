# shellcheck shell=bash
# tests/bench/log_sink.sh - the part log of tests/bench/run.sh (sourced by it; not in its default
# BENCH_PARTS): what the decision log costs, by sink. ROUNDS rounds, each one engine cache-hit
# run (CONNS x WINDOW, SECS) per setting in turn: --log-level warn, info to /dev/null (what the
# agent's own code and the write(2) calls cost, with no reader), info to a file, info to a pipe
# read by cat on CPU_L (as a container runtime's log FIFO). The agent's user and system CPU per
# decision come from /proc/PID/stat (utime, stime) around the measured run.

# log_run SINK LEVEL: one run; SINK is "file", "null" or "pipe". Prints "user_us sys_us per_s".
log_run() {
	local sink=$1 level=$2 port pid out n u0 s0 u1 s1 cat_pid="" dest=$T/log-sink.log
	port=$(free_port)
	rm -f "$dest"
	[ "$sink" != null ] || dest=/dev/null
	if [ "$sink" = pipe ]; then
		mkfifo "$dest"
		load cat "$dest" >/dev/null &
		cat_pid=$!
		_LIB_PIDS+=("$cat_pid")
	fi
	setsid taskset -c "$CPU_A" "$AGENT" --listen "127.0.0.1:$port" --threads 1 --policies "$T/log.yaml" \
		--log-level "$level" >/dev/null 2>"$dest" </dev/null &
	pid=$!
	_LIB_PIDS+=("$pid")
	wait_port "$port"
	sb_at "$port" --warm -d 1 >/dev/null
	read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
	out=$(sb_at "$port" -d "$SECS")
	read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
	stop_bg "$pid"
	[ -z "$cat_pid" ] || wait "$cat_pid"
	[ "$(kv allowed "$out")" = 1.000 ] || fail "log $sink/$level: not every decision allowed: $out"
	n=$(kv decisions "$out")
	[ "${n:-0}" -gt 0 ] || fail "log $sink/$level: no decisions: $out"
	[ "$level" = warn ] || [ "$sink" != file ] || [ -s "$dest" ] || fail "log $sink/$level: no line reached the file"
	[ "$sink" = null ] || rm -f "$dest"
	awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v n="$n" -v hz="$(getconf CLK_TCK)" -v r="$(kv per_s "$out")" \
		'BEGIN {printf "%.3f %.3f %s", u / hz * 1e6 / n, s / hz * 1e6 / n, r}'
}
sink_name() { case $1 in null) echo /dev/null ;; *) echo "a $1" ;; esac; }
sb_at() { local p=$1; shift; load "$SB" -p "$p" -c "$CONNS" -w "$WINDOW" "$@"; }

part_log() {
	local r set res u s t
	declare -A US SS TS
	log "log: engine hit, $CONNS conns x $WINDOW, ${SECS}s, $ROUNDS rounds of warn / info to /dev/null / info to a file / info to a pipe"
	start_fault_idp
	policy "$T/log.yaml" "http://127.0.0.1:$IDP_PORT/introspect"
	row "== log: the decision log's cost by sink, engine hit, 1 agent thread" "user us  system us  decisions/s"
	for ((r = 1; r <= ROUNDS; r++)); do
		for set in warn:file info:null info:file info:pipe; do
			res=$(log_run "${set#*:}" "${set%%:*}")
			read -r u s t <<<"$res"
			row "log round $r ${set%%:*} to $(sink_name "${set#*:}")" "$u  $s  $t"
			US[$set]+=" $u" SS[$set]+=" $s" TS[$set]+=" $(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.3f", u + s}')"
		done
	done
	for set in warn:file info:null info:file info:pipe; do
		row "log ${set%%:*}$([ "${set%%:*}" = warn ] || echo " to $(sink_name "${set#*:}")"): agent CPU us/decision" \
			"median $(awk "$MED" <<<"${TS[$set]}") (user $(awk "$MED" <<<"${US[$set]}"), system $(awk "$MED" <<<"${SS[$set]}"))"
	done
	stop_bg "$IDP_PID"
}

#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: performance figures for oauth2-spoa, printed as a table.
# Never a pass/fail test: it fails only when a part cannot run at all.
#
# Parts (BENCH_PARTS, default "engine e2e apache hydra mem"):
#   engine  SPOP load generator (spop_bench) -> agent; fault IdP for the warm-up
#   e2e     wrk -> HAProxy -> agent (A) vs the same HAProxy without the SPOE filter (B), for each
#           HAProxy of BENCH_HAPROXY_VERSIONS; ends with the summary table (version | setting |
#           req/s vs no SPOE | agent CPU per request | p99)
#   apache  HAProxy 2.6 + agent as shipped vs Apache 2.4 + mod_oauth2 (apache-oauth2.conf), same
#           core, same token: the req/s ratio
#   hydra   miss path with real Ory Hydra, and single-flight (fault IdP counts the calls)
#   mem     agent RSS with 0 and N cached tokens (HAProxy answers the introspections)
#   l2      (not in the default list: BENCH_PARTS=l2; tests/bench/l2_jwt.sh) the shared L2 cache
#           in a local redis-server: what an L2 hit adds over a local hit (p50, p99), and
#           introspections per token across 3 agents with and without Redis (fault IdP counts)
#   jwt     (not in the default list: BENCH_PARTS=jwt; tests/bench/l2_jwt.sh) jwt_bench's us per
#           uncached verification per algorithm, and an engine cache hit of a jwt localJwks
#           policy beside one of an introspection policy
#   log     (not in the default list: BENCH_PARTS=log; tests/bench/log_sink.sh) the decision
#           log's cost by sink: engine hit at warn, at info to /dev/null, a file, a pipe, rounds
#           alternating, agent user and system CPU per decision
# Knobs (environment):
#   BENCH_SECONDS=3       each engine scenario
#   BENCH_HAPROXY_VERSIONS="2.6 3.2 3.4"  the e2e series, one per HAProxy (a missing chroot fails)
#   BENCH_E2E_MODES="shipped tcp normal warn floor floorbatch floortcp"  e2e variants on every version (part_e2e)
#   BENCH_E2E_EXTRA="nohdr lean min floormin mwf20 t2"   more variants, first version only
#                         (also: lowlat, rqd: HAProxy tune.sched.low-latency on / tune.runqueue-depth 1000)
#   Every variant but tcp and floortcp talks over the shipped transport, the unix socket
#   (haproxy.cfg's unix@ line, the path moved inside HAProxy's chroot on 3.x).
#   The agent runs at its shipped defaults (log level info, every variable) unless the variant
#   says otherwise; its stderr is a pipe read on CPU_L (journald's or Docker's part).
#   BENCH_UPSTREAM=fixed  the upstream (a frontend of the same HAProxy) answers a fixed string;
#                         echo: as shipped, echoing the X-Auth-* headers (A has them, B not)
#   BENCH_E2E_SECONDS=2   each wrk run;   BENCH_ROUNDS=9   A/B rounds (median ratio)
#   BENCH_CONNS=4 BENCH_WINDOW=20         engine connections and NOTIFYs in flight per connection
#   BENCH_WRK_CONNS=64    wrk connections
#   BENCH_MEM_TOKENS=250000               cached tokens for the memory figure (1000000: ~3 min more)
#   BENCH_AGENT_CPU=0 BENCH_LOAD_CPU=1    cores: agent (and HAProxy) / load generators
#   BENCH_L2_TOKENS=2000  distinct tokens of part l2;  BENCH_JWT_ITERS=2000  jwt_bench rounds
# Needs: AGENT (agent binary), BENCH (dir of spop_bench); wrk, /usr/sbin/haproxy, python3, and
# the Hydra binary cached by tests/tools/prepare.sh; l2: redis-server; jwt: TOOLS (jwt_mint).
. "$(dirname "$0")/../e2e/lib.sh"
. "$E2E_ROOT/tests/e2e/spoa.sh"

SECS=${BENCH_SECONDS:-3}
E2E_SECS=${BENCH_E2E_SECONDS:-2}
ROUNDS=${BENCH_ROUNDS:-9}
CONNS=${BENCH_CONNS:-4}
WINDOW=${BENCH_WINDOW:-20}
WRK_CONNS=${BENCH_WRK_CONNS:-64}
MEM_TOKENS=${BENCH_MEM_TOKENS:-250000}
L2_TOKENS=${BENCH_L2_TOKENS:-2000}
JWT_ITERS=${BENCH_JWT_ITERS:-2000}
PARTS=${BENCH_PARTS:-engine e2e apache hydra mem}
HAPROXY_VERSIONS=${BENCH_HAPROXY_VERSIONS:-2.6 3.2 3.4}
E2E_MODES=${BENCH_E2E_MODES:-shipped tcp normal warn floor floorbatch floortcp}
E2E_EXTRA=${BENCH_E2E_EXTRA-nohdr lean min floormin mwf20 t2}
UPSTREAM=${BENCH_UPSTREAM:-fixed}
CPU_A=${BENCH_AGENT_CPU:-0}
CPU_L=${BENCH_LOAD_CPU:-1}
[ -n "${BENCH:-}" ] && [ -x "$BENCH/spop_bench" ] && [ -x "$BENCH/floor_agent" ] ||
	fail "BENCH must name the dir of spop_bench and floor_agent"
# wrk is the one package only the benchmark needs: install it like the others.
command -v wrk >/dev/null || bash "$E2E_ROOT/contrib/tools/install-deps.sh" wrk ||
	fail "wrk is not installed and could not be installed (apt-get install wrk)"

# Private copies: a concurrent `make` must not swap binaries under a run.
cp "$AGENT" "$T/oauth2-spoa"
cp "$BENCH/spop_bench" "$T/spop_bench"
cp "$BENCH/floor_agent" "$T/floor_agent"
AGENT=$T/oauth2-spoa
SB=$T/spop_bench
TABLE=$T/table
SUMMARY=$T/summary
: >"$TABLE"
: >"$SUMMARY"

# MED: an awk program printing the median of the numbers on its input line.
MED='{ n = split($0, v, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
	printf "%.3f", n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }'
row() { printf '%-44s %s\n' "$1" "$2" | tee -a "$TABLE" >&2; }
kv() { sed -nE "s/.*(^| )$1=([^ ]*).*/\\2/p" <<<"$2"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# ctx_switches PID voluntary|nonvoluntary: the sum over PID's threads. An agent thread switches
# voluntarily when it waits for frames: its count is the agent's wakeups.
ctx_switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk -v k="$2" '$1 == k "_ctxt_switches:" { n += $2 } END { print n + 0 }'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
load() { taskset -c "$CPU_L" "$@"; }

# policy FILE URL: one policy guarding route=ratings with introspection at URL (the fault IdP
# comes from spoa.sh's start_fault_idp).
policy() { POLICY_NS=bench write_policy "$1" bench ratings "$2"; }

# agent_on_core ARGS...: start the agent pinned to CPU_A, its stderr a pipe, as under systemd
# (journald's stream socket) or Docker (the runtime's log pipe); the pipe's reader, journald's
# part, copies the lines to AGENT_LOG on CPU_L. (Part log measures a file as the sink too.)
agent_on_core() {
	rm -f "$T/agent.fifo"
	mkfifo "$T/agent.fifo"
	load cat "$T/agent.fifo" >>"$T/agent.log" &
	_LIB_PIDS+=("$!")
	AGENT_MPORT=$(free_port) # /metrics, idle until stop_bench_agent reads the log's drops
	BG_OUT=$T/agent.fifo start_agent --metrics "127.0.0.1:$AGENT_MPORT" "$@"
	taskset -acp "$CPU_A" "$AGENT_PID" >/dev/null
}

# stop_bench_agent LABEL: stop the agent of agent_on_core, with a row of the decision lines it
# dropped (oauth2_spoa_log_lines_dropped_total): the figures of a series that dropped many do
# not show what the log costs.
stop_bench_agent() {
	local d
	d=$(curl -fsS --max-time 5 "http://127.0.0.1:$AGENT_MPORT/metrics" |
		awk '$1 == "oauth2_spoa_log_lines_dropped_total" {print $2}') || d="? (/metrics did not answer)"
	row "log lines dropped, $1" "${d:-?}"
	stop_agent
}

sb() { load "$SB" -p "$AGENT_PORT" --agent-pid "$AGENT_PID" "$@"; }

# trim_agent_log: at info the agent writes a line per decision (a million a second in the
# engine): empty its log between runs so the disk does not fill (the file stays sparse).
trim_agent_log() { [ -z "${AGENT_LOG:-}" ] || : >"$AGENT_LOG"; }

machine() {
	local cpu
	cpu=$(sed -nE 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	row "machine" "$(nproc) CPUs, $cpu, kernel $(uname -r), $(/usr/sbin/haproxy -v | head -n1 | cut -d' ' -f1-3)"
	row "load while measuring (loadavg)" "$(cut -d' ' -f1-3 /proc/loadavg) (other processes skew figures)"
}

# ---------------------------------------------------------------- 1. engine
part_engine() {
	local out
	log "engine: SPOP generator -> agent (1 thread on CPU $CPU_A), ${SECS}s per scenario"
	start_fault_idp
	policy "$T/engine.yaml" "http://127.0.0.1:$IDP_PORT/introspect"
	agent_on_core --threads 1 --policies "$T/engine.yaml" # the shipped log level: info
	row "== engine: $CONNS conns x $WINDOW in flight, 1 agent thread, log level info" "decisions/s  p50/p90/p99/p99.9 us  agent CPU us/decision"
	for sc in hit open missing distinct10k; do
		case $sc in
		hit) out=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --warm --label "$sc") ;;
		open) out=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --route route=other --path /other --label "$sc") ;;
		missing) out=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --no-token --label "$sc") ;;
		distinct10k) out=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --tokens 10000 --warm --token bench-distinct --label "$sc") ;;
		esac
		[ "$sc" = missing ] || [ "$(kv allowed "$out")" = 1.000 ] || fail "engine $sc: not every decision allowed: $out"
		row "engine $sc" "$(kv per_s "$out")  $(kv p50_us "$out")/$(kv p90_us "$out")/$(kv p99_us "$out")/$(kv p999_us "$out")  $(kv agent_cpu_us "$out")"
		trim_agent_log
	done
	# As HAProxy 2.6-3.0 sends with the shipped max-waiting-frames 100.
	out=$(sb -c "$CONNS" -w 100 -d "$SECS" --label hit-w100)
	[ "$(kv allowed "$out")" = 1.000 ] || fail "engine hit-w100: not every decision allowed: $out"
	row "engine hit, $CONNS conns x 100 in flight" "$(kv per_s "$out")  $(kv p50_us "$out")/$(kv p90_us "$out")/$(kv p99_us "$out")/$(kv p999_us "$out")  $(kv agent_cpu_us "$out")"
	out=$(sb -c 1 -w 1 -d "$SECS" --label hit-c1w1)
	row "engine hit, 1 conn, 1 in flight" "$(kv per_s "$out")  $(kv p50_us "$out")/$(kv p90_us "$out")/$(kv p99_us "$out")/$(kv p999_us "$out")  $(kv agent_cpu_us "$out")"
	stop_bench_agent "engine, log level info"
	# What the decision log costs: the same hit scenario without it.
	agent_on_core --threads 1 --policies "$T/engine.yaml" --log-level warn
	out=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --warm --label hit-warn)
	row "engine hit, --log-level warn (no decision log)" "$(kv per_s "$out")  $(kv p50_us "$out")/$(kv p90_us "$out")/$(kv p99_us "$out")/$(kv p999_us "$out")  $(kv agent_cpu_us "$out")"
	stop_agent
	stop_bg "$IDP_PID"
}

# ---------------------------------------------------------------- 2. end to end
# wrk_run URL CONNS SECONDS [AGENT_PID]: prints "req_s p50_us p99_us non2xx cpu_us_per_req"
wrk_run() {
	local url=$1 c=$2 d=$3 pid=${4:-} out c0=0 c1=0 rps p50 p99 bad cpu=0
	[ -z "$pid" ] || c0=$(cpu_ticks "$pid")
	out=$(load wrk -t1 -c "$c" -d "${d}s" --latency -H "Authorization: Bearer $E2E_TOKEN" ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} "$url")
	[ -z "$pid" ] || c1=$(cpu_ticks "$pid")
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	[ -z "$pid" ] || cpu=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$d" \
		'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')
	echo "$rps $(to_us "$p50") $(to_us "$p99") ${bad:-0} $cpu"
}
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1e6; else print n }'; }

# ab_rounds LABEL: ROUNDS alternating wrk runs on A (A_PORT; HAProxy A_PID, agent AGENT_PID) and
# B (B_PORT; HAProxy B_PID), after one discarded warm-up pair; a row per run, then medians of the
# per-round figures (each pair runs back to back, so a ratio cancels slow drift; the median drops
# a disturbed round): the req/s ratio A/B; the agent's CPU per request; and the CPU ratio
# B HAProxy / (A HAProxy + agent) per request, which is what the req/s ratio tends to on a
# saturated core and moves less when the VM's neighbours are noisy. SETTING (default LABEL) names
# the row of the summary table.
ab_rounds() {
	local label=$1 setting=${2:-$1} ra rb ha0 ha1 hb0 hb1 ratios="" cpus="" cratios="" p99s="" p99a=""
	local w0 w1 p0 p1 wakes="" preempts=""
	wrk_run "http://127.0.0.1:$A_PORT/ratings/1" "$WRK_CONNS" 2 >/dev/null
	wrk_run "http://127.0.0.1:$B_PORT/ratings/1" "$WRK_CONNS" 2 >/dev/null
	for ((r = 1; r <= ROUNDS; r++)); do
		ha0=$(cpu_ticks "$A_PID")
		w0=$(ctx_switches "$AGENT_PID" voluntary) p0=$(ctx_switches "$A_PID" nonvoluntary)
		ra=$(wrk_run "http://127.0.0.1:$A_PORT/ratings/1" "$WRK_CONNS" "$E2E_SECS" "$AGENT_PID")
		w1=$(ctx_switches "$AGENT_PID" voluntary) p1=$(ctx_switches "$A_PID" nonvoluntary)
		ha1=$(cpu_ticks "$A_PID")
		wakes+=" $(awk -v n=$((w1 - w0)) -v r="${ra%% *}" -v d="$E2E_SECS" 'BEGIN {printf "%.3f", n / (r * d)}')"
		preempts+=" $(awk -v n=$((p1 - p0)) -v r="${ra%% *}" -v d="$E2E_SECS" 'BEGIN {printf "%.3f", n / (r * d)}')"
		hb0=$(cpu_ticks "$B_PID")
		rb=$(wrk_run "http://127.0.0.1:$B_PORT/ratings/1" "$WRK_CONNS" "$E2E_SECS")
		hb1=$(cpu_ticks "$B_PID")
		trim_agent_log
		row "e2e round $r A ($label)" "$ra"
		row "e2e round $r B (no SPOE)" "${rb% *}"
		ratios+=" $(awk -v a="${ra%% *}" -v b="${rb%% *}" 'BEGIN {printf "%.3f", a / b}')"
		cpus+=" ${ra##* }"
		p99a+=" $(cut -d' ' -f3 <<<"$ra")"
		p99s+=" $(awk -v a="$(cut -d' ' -f3 <<<"$ra")" -v b="$(cut -d' ' -f3 <<<"$rb")" 'BEGIN {printf "%.2f", a / b}')"
		cratios+=" $(awk -v ta=$((ha1 - ha0)) -v tb=$((hb1 - hb0)) -v a="${ra%% *}" -v b="${rb%% *}" \
			-v ag="${ra##* }" -v hz="$(getconf CLK_TCK)" -v d="$E2E_SECS" \
			'BEGIN { ca = ta / hz * 1e6 / (a * d) + ag; cb = tb / hz * 1e6 / (b * d); printf "%.3f", cb / ca }')"
	done
	row "e2e A/B req/s ratio, $label" "median $(awk "$MED" <<<"$ratios") of:$ratios"
	row "e2e A/B CPU ratio, $label" "median $(awk "$MED" <<<"$cratios") of:$cratios"
	row "e2e agent CPU per request, $label" "median $(awk "$MED" <<<"$cpus") us of:$cpus"
	row "e2e A/B p99 ratio, $label" "median $(awk "$MED" <<<"$p99s") of:$p99s"
	row "e2e agent wakeups per request, $label" "median $(awk "$MED" <<<"$wakes") of:$wakes"
	row "e2e HAProxy preempted per request, $label" "median $(awk "$MED" <<<"$preempts") of:$preempts"
	printf '| %s | %s | %.2f | %.2f us | %.2f ms (%.2f x no SPOE) | %.3f | %.3f |\n' "$E2E_VER" "$setting" \
		"$(awk "$MED" <<<"$ratios")" "$(awk "$MED" <<<"$cpus")" "$(awk "$MED" <<<"$p99a" | awk '{print $1 / 1000}')" \
		"$(awk "$MED" <<<"$p99s")" "$(awk "$MED" <<<"$wakes")" "$(awk "$MED" <<<"$preempts")" >>"$SUMMARY"
}

# pair_runs CONNS: ROUNDS alternating wrk runs of E2E_SECS with CONNS connections, A then B
# (WRK_SCRIPT, if set, applies to both); sets PAIRS_A and PAIRS_B, arrays of wrk_run lines.
pair_runs() {
	local r
	PAIRS_A=() PAIRS_B=()
	for ((r = 1; r <= ROUNDS; r++)); do
		PAIRS_A+=("$(wrk_run "http://127.0.0.1:$A_PORT/ratings/1" "$1" "$E2E_SECS" "$AGENT_PID")")
		PAIRS_B+=("$(wrk_run "http://127.0.0.1:$B_PORT/ratings/1" "$1" "$E2E_SECS")")
	done
}

# pair_stat AWK_EXPR: one figure per pair of pair_runs, AWK_EXPR of a (A's line) and b (B's line)
# split into fields: a[1] req/s, a[2] p50, a[3] p99, a[5] agent CPU per request.
pair_stat() {
	local i
	for i in "${!PAIRS_A[@]}"; do
		printf ' %s' "$(awk -v la="${PAIRS_A[i]}" -v lb="${PAIRS_B[i]}" \
			"BEGIN { split(la, a, \" \"); split(lb, b, \" \"); print $1 }")"
	done
}

# one_conn WHO: what WHO (the agent or the floor agent) and HAProxy's SPOE exchange add to p50 at
# one connection; the median over ROUNDS alternating pairs (a single pair moves by tens of
# microseconds on a noisy VM).
one_conn() {
	local d
	pair_runs 1
	d=$(pair_stat 'a[2] - b[2]')
	row "e2e 1 connection, last pair A (SPOE, $1)" "${PAIRS_A[-1]}"
	row "e2e 1 connection, last pair B (no SPOE)" "${PAIRS_B[-1]% *}"
	row "e2e 1 connection: $1 adds to p50" "median $(awk "$MED" <<<"$d") us of:$d"
	row "e2e 1 connection: $1 CPU per request" "median $(awk "$MED" <<<"$(pair_stat 'a[5]')") us"
}

# fixed_load WHO: p50 and p99 of A and B at about the same offered load, below saturation: 20
# connections that each wait 1-3 ms (random) after every answer (wrk's delay(); about 8,000
# req/s, a quarter of what the core can do), alternating ROUNDS pairs; medians of the p99
# ratios. Under saturation (ab_rounds) p99 only follows throughput. wrk's timers have a
# millisecond grain, so requests still come in small bursts that queue behind each other.
fixed_load() {
	local r
	printf 'function delay()\n  return math.random(1, 3)\nend\n' >"$T/delay.lua"
	WRK_SCRIPT=$T/delay.lua pair_runs 20
	r=$(pair_stat 'sprintf("%.2f", a[3] / b[3])')
	row "e2e fixed load, last pair A ($1)" "${PAIRS_A[-1]}"
	row "e2e fixed load, last pair B (no SPOE)" "${PAIRS_B[-1]% *}"
	row "e2e fixed load: A/B p99 ratio, $1" "median $(awk "$MED" <<<"$r") of:$r"
	row "e2e fixed load: req/s A/B per pair" "$(pair_stat 'a[1] "/" b[1]')"
}

# upstream_cfg FILE: with BENCH_UPSTREAM=fixed, the shipped demo upstream's answer, which echoes
# the X-Auth-* headers, becomes a fixed string: the upstream is not what we measure, and it would
# do more work in A (headers present) than in B. The set-header rules themselves stay.
upstream_cfg() {
	[ "$UPSTREAM" = fixed ] || return 0
	sed -i -e 's#^\([[:space:]]*http-request return status 200 content-type text/plain\) lf-string "upstream: .*#\1 string "upstream\\n"#' "$1"
	grep -q 'string "upstream\\n"' "$1" || fail "e2e: the demo upstream line was not found in $1"
}

# The variables the shipped haproxy.cfg reads (README: Variables set by the agent).
LEAN_VARS=allowed,sub,client_id,scope

# e2e_agent MODE: start what answers HAProxy A in MODE (AGENT_PID, AGENT_PORT): the agent at its
# shipped defaults (log level info, every variable; one thread, as it has one core) plus the
# mode's flags, or the floor agent; on a unix socket as shipped (UNIX_HOST, haproxy.cfg's
# unix@ line), on TCP in the modes tcp and floortcp.
e2e_agent() {
	local sock=() floor=(-p) vars=all
	AGENT_PORT=$(free_port)
	case $1 in
	tcp | floortcp) UNIX_HOST= floor+=("$AGENT_PORT") ;;
	*)
		unix_dir
		sock=(--listen "unix:$UNIX_HOST/agent.sock")
		floor=(--unix "$UNIX_HOST/agent.sock")
		;;
	esac
	case $1 in
	floor | floormin | floorbatch | floortcp)
		[ "$1" != floormin ] || vars=allowed
		start_bg floor "$T/floor_agent" "${floor[@]}" --vars "$vars"
		AGENT_PID=$BG_PID
		taskset -acp "$CPU_A" "$AGENT_PID" >/dev/null
		# the agent's default class (--cpu-scheduling batch), for the floor agent
		case $1 in floorbatch | floortcp) chrt -b -a -p 0 "$AGENT_PID" || fail "e2e: chrt -b failed" ;; esac
		if [ -n "$UNIX_HOST" ]; then wait_sock "$UNIX_HOST/agent.sock" "$AGENT_PID"; else wait_port "$AGENT_PORT"; fi
		;;
	shipped | all | mwf20 | nohdr | lowlat | rqd | tcp) agent_on_core --threads 1 --policies "$T/e2e.yaml" "${sock[@]}" ;;
	warn) agent_on_core --threads 1 --policies "$T/e2e.yaml" "${sock[@]}" --log-level warn ;;
	normal) agent_on_core --threads 1 --policies "$T/e2e.yaml" "${sock[@]}" --cpu-scheduling normal ;;
	lean) agent_on_core --threads 1 --policies "$T/e2e.yaml" "${sock[@]}" --variables "$LEAN_VARS" ;;
	min) agent_on_core --threads 1 --policies "$T/e2e.yaml" "${sock[@]}" --variables allowed ;;
	t2) agent_on_core --threads 2 --policies "$T/e2e.yaml" "${sock[@]}" ;;
	*) fail "e2e: unknown mode '$1'" ;;
	esac
}

# unix_dir: the agent's socket directory for HAProxy E2E_VER: UNIX_HOST (our path) and
# UNIX_INNER (HAProxy's).
unix_dir() {
	haproxy_sock_dir "$E2E_VER"
	UNIX_HOST=$SOCK_DIR UNIX_INNER=$SOCK_DIR_INNER
}

# e2e_cfg MODE DIR: the shipped haproxy/ files for A in MODE (logging off: HAProxy's own log line
# per request is not what we measure); the agent's unix socket moved to UNIX_INNER, or TCP.
e2e_cfg() {
	AGENT_SOCK=${UNIX_HOST:+$UNIX_INNER/agent.sock} haproxy_cfg_dir "$2"
	sed -i -e '/^[[:space:]]*log stderr/d' "$2/haproxy.cfg"
	if [ "$1" = mwf20 ]; then
		sed -i -e '/^[[:space:]]*max-waiting-frames /d' "$2/oauth2-spoa.conf"
		! grep -q max-waiting-frames "$2/oauth2-spoa.conf" || fail "e2e: max-waiting-frames still set"
	fi
	sed -e "s/@STATUS_PORT@/$(free_port)/" "$2/haproxy.cfg" >"$2/h" && mv "$2/h" "$2/haproxy.cfg"
	upstream_cfg "$2/haproxy.cfg"
	case $1 in
	lowlat | rqd)
		sed -i -e "/^global/a\\    $([ "$1" = lowlat ] && echo 'tune.sched.low-latency on' || echo 'tune.runqueue-depth 1000')" "$2/haproxy.cfg"
		grep -q -E '^    tune.(sched.low-latency|runqueue-depth)' "$2/haproxy.cfg" || fail "e2e: tune line not added"
		;;
	nohdr)
		sed -i -e '/^[[:space:]]*http-request set-header X-Auth-/d' "$2/haproxy.cfg"
		! grep -q 'set-header X-Auth-' "$2/haproxy.cfg" || fail "e2e: set-header rules still there"
		;;
	esac
}

# e2e_label MODE: the row label of MODE.
e2e_label() {
	case $1 in
	shipped | all) echo "oauth2-spoa as shipped (unix socket, log level info, every variable, SCHED_BATCH)" ;;
	warn) echo "oauth2-spoa --log-level warn" ;;
	floor) echo "floor agent (the same SET-VARs, unix socket)" ;;
	floorbatch) echo "floor agent, SCHED_BATCH (as the agent's default)" ;;
	normal) echo "oauth2-spoa --cpu-scheduling normal" ;;
	floormin) echo "floor agent, the ACK of --variables allowed" ;;
	lean) echo "oauth2-spoa --variables $LEAN_VARS" ;;
	min) echo "oauth2-spoa --variables allowed (no claims upstream)" ;;
	mwf20) echo "oauth2-spoa, max-waiting-frames 20" ;;
	nohdr) echo "oauth2-spoa, no set-header rules" ;;
	t2) echo "oauth2-spoa --threads 2 (same core)" ;;
	tcp) echo "oauth2-spoa on loopback TCP (server agent1 127.0.0.1:12345)" ;;
	floortcp) echo "floor agent, SCHED_BATCH, on loopback TCP" ;;
	lowlat) echo "oauth2-spoa, HAProxy tune.sched.low-latency on" ;;
	rqd) echo "oauth2-spoa, HAProxy tune.runqueue-depth 1000" ;;
	esac
}

# e2e_version VER FIRST: the series on HAProxy VER (B, then A per mode); FIRST=1 adds the extra
# modes and the one-connection and fixed-load measures.
e2e_version() {
	local ver=$1 first=$2 mode modes=$E2E_MODES deadline
	E2E_VER=$ver
	[ "$first" = 0 ] || modes+=" $E2E_EXTRA"
	# B: the shipped config without the SPOE filter, the send-spoe-group rule and the deny rule
	start_agent --threads 1 --policies "$T/e2e.yaml" # only for B's addresses
	haproxy_cfg_dir "$T/hap-b-$ver"
	stop_agent
	sed -i -e '/^[[:space:]]*log stderr/d' -e '/^[[:space:]]*filter spoe/d' \
		-e '/^[[:space:]]*http-request send-spoe-group/d' -e '/^[[:space:]]*http-request deny deny_status 403 unless/d' \
		"$T/hap-b-$ver/haproxy.cfg"
	sed -e "s/@STATUS_PORT@/$(free_port)/" "$T/hap-b-$ver/haproxy.cfg" >"$T/hap-b-$ver/h" && mv "$T/hap-b-$ver/h" "$T/hap-b-$ver/haproxy.cfg"
	upstream_cfg "$T/hap-b-$ver/haproxy.cfg"
	start_haproxy "$ver" "$T/hap-b-$ver"
	B_PORT=$FRONT_PORT B_PID=$HAPROXY_PID
	row "== e2e: wrk -c $WRK_CONNS, HAProxy $ver (one core: nbthread 1) + agent on CPU $CPU_A, upstream $UPSTREAM" "req/s  p50 us  p99 us  non-2xx  agent CPU us/req"
	for mode in $modes; do
		e2e_agent "$mode"
		e2e_cfg "$mode" "$T/hap-a-$ver-$mode"
		start_haproxy "$ver" "$T/hap-a-$ver-$mode"
		A_PORT=$FRONT_PORT A_PID=$HAPROXY_PID
		# warm the cache, and make sure A really allows (a 403 would be fast, and wrong)
		deadline=$((SECONDS + 15))
		until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $E2E_TOKEN" "http://127.0.0.1:$A_PORT/ratings/1")" = 200 ]; do
			[ $SECONDS -lt $deadline ] || fail "e2e $ver $mode: HAProxy with the agent does not answer 200"
			sleep 0.2
		done
		ab_rounds "HAProxy $ver, $(e2e_label "$mode")" "$(e2e_label "$mode")"
		if [ "$first" = 1 ]; then
			case $mode in
			shipped | all) one_conn agent && fixed_load agent ;;
			floor) one_conn "floor agent" && fixed_load "floor agent" ;;
			esac
		fi
		stop_bg "$A_PID"
		case $mode in
		floor | floormin | floorbatch | floortcp) stop_bg "$AGENT_PID" ;;
		*) stop_bench_agent "HAProxy $ver, $(e2e_label "$mode")" ;;
		esac
	done
	stop_bg "$B_PID"
}

part_e2e() {
	local ver first=1
	log "e2e: wrk (CPU $CPU_L) -> HAProxy $HAPROXY_VERSIONS + agent (CPU $CPU_A), ${E2E_SECS}s x $ROUNDS rounds"
	# Every version first: a missing chroot fails now, not after an hour of figures.
	for ver in $HAPROXY_VERSIONS; do
		haproxy_bin "$ver" >/dev/null || fail "e2e: HAProxy $ver is not available (tests/tools/prepare.sh builds the chroots)"
		# shellcheck disable=SC2046 # the command's words
		row "HAProxy $ver" "$($(haproxy_bin "$ver") -v 2>&1 | head -n1 | cut -d' ' -f1-3)"
	done
	start_fault_idp
	policy "$T/e2e.yaml" "http://127.0.0.1:$IDP_PORT/introspect"
	E2E_TOKEN=bench-e2e-token-0123456789abcdef
	# Everything started from here on (HAProxy, agent) inherits CPU_A; HAProxy then runs one thread.
	taskset -cp "$CPU_A" $BASHPID >/dev/null
	for ver in $HAPROXY_VERSIONS; do
		e2e_version "$ver" "$first"
		first=0
	done
	taskset -cp 0-"$(($(nproc) - 1))" $BASHPID >/dev/null
	stop_bg "$IDP_PID"
}

# ---------------------------------------------------------------- 2b. a peer: Apache + mod_oauth2
# sid_ticks SID: CPU ticks of every process of session SID (Apache's parent and its child).
sid_ticks() {
	local t=0 p
	for p in $(pgrep -s "$1"); do t=$((t + $(cpu_ticks "$p" 2>/dev/null || echo 0))); done
	echo "$t"
}

idp_calls() { curl -fsS "http://127.0.0.1:$IDP_PORT/__count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }

# part_apache: HAProxy 2.6 + oauth2-spoa as shipped against Apache 2.4 + mod_oauth2
# (tests/bench/apache-oauth2.conf: introspection with its shm cache), the same token and the
# same core, ROUNDS alternating pairs; medians of the req/s ratio and of each side's CPU per
# request (HAProxy + agent; Apache's processes).
part_apache() {
	local ap_pid r a h ratios="" cpua="" cpuh="" t0 t1 h0 h1 deadline port calls0
	[ -x /usr/sbin/apache2 ] && [ -f /usr/lib/apache2/modules/mod_oauth2.so ] ||
		bash "$E2E_ROOT/contrib/tools/install-deps.sh" apache2 libapache2-mod-oauth2 ||
		fail "apache2 and libapache2-mod-oauth2 are not installed and could not be installed"
	log "apache: wrk (CPU $CPU_L) -> Apache 2.4 + mod_oauth2 vs HAProxy 2.6 + agent (CPU $CPU_A)"
	start_fault_idp
	policy "$T/e2e.yaml" "http://127.0.0.1:$IDP_PORT/introspect" # e2e_agent reads it
	E2E_TOKEN=bench-apache-token-0123456789abcdef
	taskset -cp "$CPU_A" $BASHPID >/dev/null
	E2E_VER=2.6
	e2e_agent shipped
	e2e_cfg shipped "$T/hap-ap"
	start_haproxy 2.6 "$T/hap-ap"
	A_PORT=$FRONT_PORT A_PID=$HAPROXY_PID
	# Apache's run dir must be readable by its www-data workers
	export APACHE_DIR=$T/apache APACHE_PORT INTROSPECT_URL="http://127.0.0.1:$IDP_PORT/introspect"
	APACHE_PORT=$(free_port)
	mkdir -p "$APACHE_DIR/htdocs/ratings" "$APACHE_DIR/run"
	printf 'upstream\n' >"$APACHE_DIR/htdocs/ratings/1"
	chmod o+x "$T"
	chmod -R o+rX "$APACHE_DIR"
	render_template "$E2E_ROOT/tests/bench/apache-oauth2.conf" "$APACHE_DIR/httpd.conf"
	/usr/sbin/apache2 -t -f "$APACHE_DIR/httpd.conf" 2>"$T/apache-check.log" || fail "apache: config check failed: $(cat "$T/apache-check.log")"
	start_bg apache /usr/sbin/apache2 -DFOREGROUND -f "$APACHE_DIR/httpd.conf"
	ap_pid=$BG_PID
	wait_port "$APACHE_PORT"
	for port in "$A_PORT" "$APACHE_PORT"; do
		deadline=$((SECONDS + 15))
		until [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $E2E_TOKEN" "http://127.0.0.1:$port/ratings/1")" = 200 ]; do
			[ $SECONDS -lt $deadline ] || fail "apache part: 127.0.0.1:$port does not answer 200 with the token"
			sleep 0.2
		done
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ratings/1")" != 200 ] ||
			fail "apache part: 127.0.0.1:$port answers 200 without a token"
	done
	row "== a peer: Apache 2.4 + mod_oauth2 vs HAProxy 2.6 + oauth2-spoa as shipped, CPU $CPU_A" "req/s  p50 us  p99 us  non-2xx"
	wrk_run "http://127.0.0.1:$APACHE_PORT/ratings/1" "$WRK_CONNS" 2 >/dev/null
	calls0=$(idp_calls)
	for ((r = 1; r <= ROUNDS; r++)); do
		t0=$(sid_ticks "$ap_pid")
		a=$(wrk_run "http://127.0.0.1:$APACHE_PORT/ratings/1" "$WRK_CONNS" "$E2E_SECS")
		t1=$(sid_ticks "$ap_pid")
		h0=$(($(cpu_ticks "$A_PID") + $(cpu_ticks "$AGENT_PID")))
		h=$(wrk_run "http://127.0.0.1:$A_PORT/ratings/1" "$WRK_CONNS" "$E2E_SECS")
		h1=$(($(cpu_ticks "$A_PID") + $(cpu_ticks "$AGENT_PID")))
		trim_agent_log
		row "apache round $r Apache + mod_oauth2" "${a% *}"
		row "apache round $r HAProxy + oauth2-spoa" "${h% *}"
		ratios+=" $(awk -v a="${a%% *}" -v h="${h%% *}" 'BEGIN {printf "%.3f", h / a}')"
		cpua+=" $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r="${a%% *}" -v d="$E2E_SECS" 'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')"
		cpuh+=" $(awk -v t=$((h1 - h0)) -v hz="$(getconf CLK_TCK)" -v r="${h%% *}" -v d="$E2E_SECS" 'BEGIN {printf "%.2f", t / hz * 1e6 / (r * d)}')"
	done
	row "introspection calls during the rounds (both caches hit)" "$(($(idp_calls) - calls0))"
	row "req/s HAProxy + oauth2-spoa / Apache + mod_oauth2" "median $(awk "$MED" <<<"$ratios") of:$ratios"
	row "CPU per request, Apache + mod_oauth2" "median $(awk "$MED" <<<"$cpua") us of:$cpua"
	row "CPU per request, HAProxy + oauth2-spoa" "median $(awk "$MED" <<<"$cpuh") us of:$cpuh"
	stop_bg "$ap_pid"
	stop_bg "$A_PID"
	stop_bench_agent "apache part, HAProxy 2.6 + oauth2-spoa as shipped"
	taskset -cp 0-"$(($(nproc) - 1))" $BASHPID >/dev/null
	stop_bg "$IDP_PID"
}

# ---------------------------------------------------------------- 3. Hydra, single-flight
part_hydra() {
	local tok out direct sf before after
	log "hydra: miss path against real Hydra"
	start_hydra
	hydra_create_client bench-client bench-secret "read"
	tok=$(hydra_token bench-client bench-secret "read")
	policy "$T/hydra.yaml" "$HYDRA_INTROSPECT"
	# The cache off: every decision is one introspection call.
	start_agent --threads 2 --policies "$T/hydra.yaml" --cache-entries 0 --log-level warn
	row "== miss path (cache off, agent 2 threads, Hydra --dev, DSN=memory)" "per s  p50/p99 us"
	out=$(load "$SB" -p "$AGENT_PORT" --agent-pid "$AGENT_PID" -c 4 -w 20 -d "$SECS" --token "$tok" --label hydra)
	[ "$(kv allowed "$out")" = 1.000 ] || fail "hydra: decisions not allowed: $out"
	row "introspections through the agent, 80 in flight" "$(kv per_s "$out")  $(kv p50_us "$out")/$(kv p99_us "$out")"
	printf 'wrk.method = "POST"\nwrk.body = "token=%s"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' "$tok" >"$T/introspect.lua"
	direct=$(load wrk -t1 -c 80 -d "${SECS}s" --latency -s "$T/introspect.lua" "$HYDRA_INTROSPECT")
	row "introspections at Hydra directly (wrk), 80 in flight" "$(awk '/^Requests\/sec:/ {print $2}' <<<"$direct")  $(to_us "$(awk '$1 == "50%" {print $2}' <<<"$direct")")/$(to_us "$(awk '$1 == "99%" {print $2}' <<<"$direct")")"
	out=$(load "$SB" -p "$AGENT_PORT" -c 1 -w 1 -d "$SECS" --token "$tok" --label hydra1)
	direct=$(load wrk -t1 -c 1 -d "${SECS}s" --latency -s "$T/introspect.lua" "$HYDRA_INTROSPECT")
	local p_agent p_direct
	p_agent=$(kv p50_us "$out")
	p_direct=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$direct")")
	row "1 in flight: p50 through agent / Hydra direct" "$p_agent / $p_direct us (agent adds $(awk -v a="$p_agent" -v b="$p_direct" 'BEGIN {printf "%.0f", a - b}') us)"
	stop_agent
	# Single-flight: 1000 concurrent NOTIFYs, one new token; the IdP answers after 300 ms.
	start_fault_idp
	policy "$T/sf.yaml" "http://127.0.0.1:$IDP_PORT/introspect"
	start_agent --threads 2 --policies "$T/sf.yaml" --log-level warn
	before=$(curl -s "http://127.0.0.1:$IDP_PORT/__count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
	out=$(load "$SB" -p "$AGENT_PORT" -c 50 -w 20 --once --count 1000 --token "mode.slow.300.sf$RANDOM$RANDOM" --label sf)
	after=$(curl -s "http://127.0.0.1:$IDP_PORT/__count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
	row "single-flight: 1000 concurrent, one new token" "$((after - before)) introspection call(s), 50 conns over 2 worker threads ($(kv seconds "$out") s)"
	stop_agent
}

# ---------------------------------------------------------------- 4. memory
part_mem() {
	local r0 r1 out idp_port
	log "mem: $MEM_TOKENS cached tokens"
	# A fast IdP: HAProxy answering every introspection with the same active claims.
	idp_port=$(free_port)
	mkdir -p "$T/idp"
	cat >"$T/idp/haproxy.cfg" <<-EOF
		global
		    maxconn 4096
		defaults
		    mode http
		    timeout client 30s
		    timeout connect 2s
		    timeout server 30s
		frontend idp
		    bind 127.0.0.1:$idp_port
		    http-request return status 200 content-type application/json string "{\"active\":true,\"scope\":\"read write\",\"client_id\":\"svc-a\",\"sub\":\"user-1\",\"exp\":4102444800,\"iat\":1700000000,\"token_type\":\"Bearer\"}"
	EOF
	start_haproxy 2.6 "$T/idp"
	policy "$T/mem.yaml" "http://127.0.0.1:$idp_port/introspect"
	start_agent --threads 2 --policies "$T/mem.yaml" --cache-entries "$((MEM_TOKENS > 1000000 ? MEM_TOKENS : 1000000))" --log-level warn
	sleep 0.3
	r0=$(rss_kb "$AGENT_PID")
	out=$(load "$SB" -p "$AGENT_PORT" -c 8 -w 32 --once --tokens "$MEM_TOKENS" --token "mem-token-0123456789abcdef0123456789" --label fill)
	sleep 0.3
	r1=$(rss_kb "$AGENT_PID")
	row "== memory (--cache-entries $((MEM_TOKENS > 1000000 ? MEM_TOKENS : 1000000)), 2 threads)" ""
	row "RSS with 0 / $MEM_TOKENS cached tokens" "$r0 KiB / $r1 KiB (filled at $(kv per_s "$out") introspections/s)"
	row "bytes per cached entry, claims included" "$(awk -v a="$r0" -v b="$r1" -v n="$MEM_TOKENS" 'BEGIN {printf "%.0f", (b - a) * 1024 / n}') (sub, client_id, scope, exp, iat)"
	stop_agent
	# The miss path's own cost, against an IdP that answers in tens of microseconds (Hydra's
	# ~0.7 ms hides it, and a vCPU idle that long wakes up slowly).
	local p_agent p_direct direct
	start_agent --threads 1 --policies "$T/mem.yaml" --cache-entries 0 --log-level warn
	out=$(load "$SB" -p "$AGENT_PORT" -c 1 -w 1 -d "$SECS" --token fast-idp-token --label fastidp)
	printf 'wrk.method = "POST"\nwrk.body = "token=fast-idp-token&token_type_hint=access_token"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' >"$T/fast.lua"
	direct=$(load wrk -t1 -c 1 -d "${SECS}s" --latency -s "$T/fast.lua" "http://127.0.0.1:$idp_port/introspect")
	p_agent=$(kv p50_us "$out")
	p_direct=$(to_us "$(awk '$1 == "50%" {print $2}' <<<"$direct")")
	row "miss, 1 in flight, IdP = HAProxy: p50 agent / direct" "$p_agent / $p_direct us (agent adds $(awk -v a="$p_agent" -v b="$p_direct" 'BEGIN {printf "%.0f", a - b}') us)"
	stop_agent
}

. "$E2E_ROOT/tests/bench/l2_jwt.sh"
. "$E2E_ROOT/tests/bench/log_sink.sh"

machine
for p in $PARTS; do
	"part_$p"
done
echo
echo "oauth2-spoa bench ($(date -u +%Y-%m-%dT%H:%MZ))"
cat "$TABLE"
if [ -s "$SUMMARY" ]; then
	echo
	echo "| HAProxy | setting | req/s vs no SPOE | agent CPU per request | p99 (A) | agent wakeups per request | HAProxy preempted per request |"
	echo "|---|---|---|---|---|---|---|"
	cat "$SUMMARY"
	echo "(medians of $ROUNDS alternating A/B pairs of ${E2E_SECS}s, wrk -c $WRK_CONNS; cache hit on a protected route)"
fi

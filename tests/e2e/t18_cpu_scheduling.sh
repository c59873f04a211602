#!/usr/bin/env bash
# Pins cpuScheduling (issue 12): every thread of the agent runs SCHED_BATCH by default (the class
# that keeps a wakeup from preempting HAProxy on a shared core) and says so in its ready line;
# --cpu-scheduling normal and the config file's cpuScheduling: normal give SCHED_OTHER on every
# thread; a bad value is refused at start. The class is read from /proc (stat field 41:
# 0 SCHED_OTHER, 3 SCHED_BATCH), per thread, while the agent answers a real HAProxy 3.2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --scope read
write_policy "$T/p.yaml" ratings ratings "$IDP/introspect"

# policies PID: the scheduling class of every thread of PID, sorted and unique ("3" or "0")
policies() {
	local t out=""
	for t in /proc/"$1"/task/*; do
		out+="$(awk '{ sub(/^.*\) /, ""); print $39 }' "$t/stat")"$'\n'
	done
	sort -u <<<"${out%$'\n'}" | tr '\n' ' ' | sed 's/ $//'
}

start_agent --policies "$T/p.yaml"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/hap"
start_haproxy 3.2 "$T/hap"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$FRONT_PORT/ratings/1")
[ "$code" = 403 ] || fail "no token through HAProxy 3.2: $code, want 403"
n=$(ls /proc/"$AGENT_PID"/task | wc -l)
[ "$n" -ge 3 ] || fail "expected the main thread and 2 workers, found $n threads"
[ "$(policies "$AGENT_PID")" = 3 ] || fail "default: thread classes '$(policies "$AGENT_PID")', want 3 (SCHED_BATCH) on all $n"
grep -q 'ready: 2 worker threads, .*cpu scheduling batch' "$AGENT_LOG" || fail "ready line does not name the class: $(grep ready "$AGENT_LOG")"
stop_agent
echo "ok: default SCHED_BATCH on all $n threads, decisions answered"

start_agent --policies "$T/p.yaml" --cpu-scheduling normal
[ "$(policies "$AGENT_PID")" = 0 ] || fail "--cpu-scheduling normal: classes '$(policies "$AGENT_PID")', want 0"
grep -q 'cpu scheduling normal' "$AGENT_LOG" || fail "ready line: $(grep ready "$AGENT_LOG")"
stop_agent
printf 'cpuScheduling: normal\npolicies: [%s]\n' "$T/p.yaml" >"$T/c.yaml"
start_agent -c "$T/c.yaml"
[ "$(policies "$AGENT_PID")" = 0 ] || fail "cpuScheduling: normal: classes '$(policies "$AGENT_PID")', want 0"
stop_agent
echo "ok: --cpu-scheduling normal and cpuScheduling: normal give SCHED_OTHER"

if out=$("$AGENT" --cpu-scheduling fifo 2>&1); then fail "--cpu-scheduling fifo was accepted"; fi
grep -q 'batch or normal' <<<"$out" || fail "--cpu-scheduling fifo: message '$out'"
echo "ok: a bad class is refused: $out"

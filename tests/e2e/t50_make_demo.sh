#!/usr/bin/env bash
# `make demo` and `make demo-stop` as the README gives them, with the ports moved to free ones by
# make variables (make demo DEMO_HTTP_PORT=...): the walkthrough prints each step with the
# expected and the received status; the stack keeps running after make returns; the "keep
# playing" lines it prints work when pasted; a second `make demo` stops the first stack by its
# pid files and starts a new one; a port in use is an error that names it; `make demo-stop`
# stops everything (twice is fine).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

DEMO_DIR=$T/demo
P_HTTP=$(free_port)
P_UP=$(free_port)
P_AGENT=$(free_port)
P_PUB=$(free_port)
P_ADM=$(free_port)
vars=(DEMO_DIR="$DEMO_DIR" DEMO_HTTP_PORT="$P_HTTP" DEMO_UPSTREAM_PORT="$P_UP" DEMO_AGENT_PORT="$P_AGENT"
	DEMO_HYDRA_PUBLIC_PORT="$P_PUB" DEMO_HYDRA_ADMIN_PORT="$P_ADM" DEMO_AGENT="$AGENT")

# stop the demo however the test ends (run.sh also gets the pids, as a backstop)
demo_cleanup() { make -C "$E2E_ROOT" --no-print-directory demo-stop "DEMO_DIR=$DEMO_DIR" >/dev/null 2>&1 || true; }
trap 'rc=$?; demo_cleanup; (exit $rc); _lib_cleanup' EXIT
record_pids() {
	[ -z "${E2E_PIDFILE:-}" ] || cat "$DEMO_DIR"/*.pid >>"$E2E_PIDFILE" 2>/dev/null || true
}

run_demo() { # OUTFILE [extra make vars]: make demo; its exit status is the function's
	local out=$1
	shift
	timeout 240 make -C "$E2E_ROOT" --no-print-directory demo "${vars[@]}" "$@" >"$out" 2>&1 </dev/null
}

running() { # NAME: the pid of a running demo process, or fail
	local pid start
	read -r pid start <"$DEMO_DIR/$1.pid" || fail "no pid file for $1"
	[ "$(cut -d' ' -f22 "/proc/$pid/stat" 2>/dev/null)" = "$start" ] || fail "demo $1 (pid $pid) is not running"
	grep -q '^[^ ]* ([^)]*) [^Z]' "/proc/$pid/stat" || fail "demo $1 (pid $pid) is a zombie"
	echo "$pid"
}

gone() { # PID: fail unless the process is gone (or a zombie nobody reaped)
	local st
	# One read: the process may exit between a test for the file and a read of it.
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	grep -q '^[^ ]* ([^)]*) Z' <<<"$st" || fail "pid $1 still runs: $st"
}

# ---- 1. make demo
run_demo "$T/demo1.out" || fail "make demo failed: $(tail -n 30 "$T/demo1.out")"
record_pids
cp "$T/demo1.out" "$T/demo1.log"
o=$T/demo1.out
for want in '1/6 Debian packages' '2/6 the agent' '3/6 Ory Hydra' '4/6 stopping a previous demo' '5/6 starting' '6/6 the walkthrough' \
	'expect 201, got 201  ok' 'expect 403, got 403  ok' 'walkthrough: all 7 steps got the expected status' \
	'The stack keeps running in the background' 'Keep playing' 'Stop it:  make demo-stop' \
	"\$ curl -s -X POST http://127.0.0.1:$P_ADM/admin/clients" "http://127.0.0.1:$P_PUB/oauth2/token" \
	"\$ curl -s -H \"Authorization: Bearer \$TOKEN\" http://127.0.0.1:$P_HTTP/ratings/1" \
	'> upstream: GET /ratings/1 sub=demo-client client_id=demo-client scope=read write'; do
	grep -qF -- "$want" "$o" || fail "make demo output lacks '$want':
$(cat "$o")"
done
[ "$(grep -c '  ok$' "$o")" = 7 ] || fail "make demo: want 7 ok checks: $(grep expect "$o")"
[ "$(grep -c 'expect 403, got 403  ok' "$o")" = 2 ] || fail "make demo: want two 403 checks"
[ "$(grep -c 'expect 200, got 200  ok' "$o")" = 4 ] || fail "make demo: want four 200 checks"
if grep -q FAILED "$o"; then fail "make demo printed FAILED: $(grep FAILED "$o")"; fi
log "make demo: walkthrough ok ($(grep -c '^\[./7\]' "$o") steps)"

# ---- 2. the stack runs after make returned
h1=$(running hydra)
a1=$(running agent)
p1=$(running haproxy)
[ -f "$DEMO_DIR/env" ] || fail "no $DEMO_DIR/env"
[ "$(stat -c %a "$DEMO_DIR/env")" = 600 ] || fail "$DEMO_DIR/env is readable by others"

# ---- 3. the "keep playing" lines, pasted into a shell
sed -n '/^Keep playing/,/^Stop it/p' "$o" | sed -n 's/^    \(\(\. \|curl \|tail \).*\)$/\1/p' >"$T/play.sh"
[ "$(wc -l <"$T/play.sh")" -ge 4 ] || fail "keep-playing lines not found: $(cat "$T/play.sh")"
(cd "$T" && timeout 30 bash -e "$T/play.sh") >"$T/play.out" 2>&1 || fail "the keep-playing lines failed: $(cat "$T/play.out")"
codes=$(grep -o '^HTTP/1.1 [0-9]*' "$T/play.out" | cut -d' ' -f2 | tr '\n' ' ')
[ "$codes" = "200 403 200 " ] || fail "keep-playing statuses '$codes', want '200 403 200 ': $(cat "$T/play.out")"
grep -q 'upstream: GET /ratings/1 sub=demo-client' "$T/play.out" || fail "keep-playing: no identity upstream"
grep -q 'decision .*policy=- reason=no_policy' "$T/play.out" || fail "keep-playing: tail of agent.log shows no decision"
# shellcheck disable=SC1091 # written by the demo
if grep -qF "$(. "$DEMO_DIR/env" && echo "$TOKEN")" "$DEMO_DIR/agent.log"; then fail "the token appears in the agent log"; fi
log "keep-playing lines: 200 403 200"

# ---- 4. a second make demo replaces the first stack
run_demo "$T/demo2.out" || fail "second make demo failed: $(tail -n 30 "$T/demo2.out")"
record_pids
for n in "haproxy (pid $p1)" "agent (pid $a1)" "hydra (pid $h1)"; do
	grep -qF "stopped $n" "$T/demo2.out" || fail "second make demo did not stop $n: $(cat "$T/demo2.out")"
done
grep -q 'walkthrough: all 7 steps got the expected status' "$T/demo2.out" || fail "second walkthrough: $(cat "$T/demo2.out")"
gone "$h1"
gone "$a1"
gone "$p1"
h2=$(running hydra)
a2=$(running agent)
p2=$(running haproxy)
log "second make demo: old stack stopped, new one runs"

# ---- 5. a port in use: a clear error, nothing started
make -C "$E2E_ROOT" --no-print-directory demo-stop "DEMO_DIR=$DEMO_DIR" >"$T/stop0.out" 2>&1 || fail "make demo-stop: $(cat "$T/stop0.out")"
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("ready", flush=True); time.sleep(300)' "$P_HTTP" >"$T/squatter.out" 2>&1 &
squatter=$!
for ((i = 0; i < 50; i++)); do grep -q ready "$T/squatter.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$T/squatter.out" || fail "could not take port $P_HTTP: $(cat "$T/squatter.out")"
if run_demo "$T/demo3.out"; then
	kill "$squatter"
	fail "make demo succeeded with port $P_HTTP taken: $(cat "$T/demo3.out")"
fi
kill "$squatter" 2>/dev/null || true
wait "$squatter" 2>/dev/null || true
grep -q "ERROR: port $P_HTTP on 127.0.0.1 (HAProxy frontend) is already in use" "$T/demo3.out" ||
	fail "no clear error for the taken port: $(cat "$T/demo3.out")"
grep -q "make demo DEMO_HTTP_PORT=<free port>" "$T/demo3.out" || fail "the error does not say how to move the port"
if grep -q '5/6 starting' "$T/demo3.out"; then fail "make demo started something despite the taken port"; fi
gone "$h2"
gone "$a2"
gone "$p2"
log "taken port: clear error"

# ---- 6. make demo-stop
run_demo "$T/demo4.out" || fail "make demo failed after the port was freed: $(tail -n 30 "$T/demo4.out")"
record_pids
h4=$(running hydra)
a4=$(running agent)
p4=$(running haproxy)
make -C "$E2E_ROOT" --no-print-directory demo-stop "DEMO_DIR=$DEMO_DIR" >"$T/stop.out" 2>&1 || fail "make demo-stop: $(cat "$T/stop.out")"
grep -q "demo stopped" "$T/stop.out" || fail "make demo-stop said: $(cat "$T/stop.out")"
gone "$h4"
gone "$a4"
gone "$p4"
for p in "$P_HTTP" "$P_UP" "$P_AGENT" "$P_PUB" "$P_ADM"; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p still listens after make demo-stop"; fi
done
make -C "$E2E_ROOT" --no-print-directory demo-stop "DEMO_DIR=$DEMO_DIR" >"$T/stop2.out" 2>&1 || fail "second make demo-stop failed"
log "make demo-stop: everything stopped; twice is fine"

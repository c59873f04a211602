#!/usr/bin/env bash
# Pins two listener behaviours: (1) the agent serves HAProxy over a unix
# socket (spop-check UP, a request decided through it), and (2) running out of
# file descriptors on accept does not spin the CPU: with RLIMIT_NOFILE at 64
# and 100 connections open, the agent's CPU stays low, and once they close it
# serves again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

# (1) unix socket behind HAProxy 2.6
SOCK=$T/agent.sock
start_bg agent-unix "$AGENT" --listen "unix:$SOCK" --threads 2
UPID=$BG_PID
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "agent did not create $SOCK"
AGENT_PORT=1 # unused: the server line is rewritten below
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
sed -i "s#server agent1 127.0.0.1:1 check#server agent1 unix@$SOCK check#" "$T/cfg/haproxy.cfg"
grep -q "unix@$SOCK" "$T/cfg/haproxy.cfg" || fail "could not point HAProxy at the unix socket"
start_haproxy 2.6 "$T/cfg"
wait_agent_up
# 200 only if the agent's allowed=true came back over the socket
expect_status 200 /details/1
kill -TERM "$UPID"
wait "$UPID" || fail "unix-socket agent: non-zero exit after SIGTERM"
expect_status 403 /details/1
[ -e "$SOCK" ] && fail "the agent left its socket file behind"
grep -qE 'Sanitizer|runtime error' "$T/agent-unix.log" && fail "sanitizer report: $(cat "$T/agent-unix.log")"

# (2) EMFILE: accept() fails; the agent must back off, not spin
PORT=$(free_port)
start_bg agent-emfile prlimit --nofile=64 "$AGENT" --listen "127.0.0.1:$PORT" --threads 1
EPID=$BG_PID
wait_port "$PORT"
python3 - "$PORT" "$EPID" <<'PY' || fail "EMFILE check failed"
import socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100.0   # utime + stime, seconds
conns = []
for _ in range(100):
    try:
        conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
time.sleep(0.5)
c0, t0 = cpu(), time.time()
time.sleep(2.0)
used = (cpu() - c0) / (time.time() - t0)
print("agent CPU with the fd table full: %.1f%%" % (used * 100))
if used > 0.2:
    sys.exit("agent spins at %.0f%% CPU while out of descriptors" % (used * 100))
for c in conns:
    c.close()
time.sleep(0.5)
# serves again: a health-check HELLO gets an AGENT-HELLO
hello = bytes.fromhex("0000004E0100000001000012737570706F727465642D76657273696F6E730803322E300E6D61782D6672616D652D73697A6503FCF0060C6361706162696C697469657308000B6865616C7468636865636B11")
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(hello)
data = s.recv(4096)
if len(data) < 5 or data[4] != 101:
    sys.exit("no AGENT-HELLO after the descriptors came back: %r" % data[:16])
print("serving again after EMFILE")
PY
grep -q "pausing accepts" "$T/agent-emfile.log" || fail "no EMFILE back-off logged: $(tail -n 5 "$T/agent-emfile.log")"
stop_bg "$EPID"
log "unix socket and EMFILE back-off passed"

#!/usr/bin/env bash
# Pins two listener behaviours: (1) the agent serves HAProxy over a unix
# socket (spop-check UP, a request decided through it), created with the
# documented mode whatever the umask (0660 by default, --unix-mode and
# unixSocketMode otherwise; before, it was 0777 & ~umask: srwxrwxrwx under
# umask 000), and (2) running out of file descriptors on accept does not spin
# the CPU: with RLIMIT_NOFILE at 64 and 100 connections open, the agent's CPU
# stays low, and once they close it serves again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

# (1) unix socket behind HAProxy 2.6
SOCK=$T/agent.sock
# umask 000 would give 0777 if the agent left the mode to bind().
# shellcheck disable=SC2016 # $@ belongs to the inner sh
start_bg agent-unix sh -c 'umask 000 && exec "$@"' sh "$AGENT" --listen "unix:$SOCK" --threads 2 \
	--allow-empty-policies
UPID=$BG_PID
wait_sock "$SOCK"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "unix socket mode $(stat -c %a "$SOCK"), want 660 (the default)"
# --unix-mode, and unixSocketMode in the config file (the option wins)
printf 'unixSocketMode: "0640"\nallowEmptyPolicySet: true\n' >"$T/unix.yaml"
for args in "--unix-mode 0600:600" "-c $T/unix.yaml:640" "-c $T/unix.yaml --unix-mode 600:600"; do
	want=${args##*:}
	# shellcheck disable=SC2086 # word splitting of the arguments is wanted
	start_bg agent-mode "$AGENT" --listen "unix:$T/m.sock" --threads 1 --allow-empty-policies ${args%:*}
	wait_sock "$T/m.sock"
	[ "$(stat -c %a "$T/m.sock")" = "$want" ] || fail "${args%:*}: mode $(stat -c %a "$T/m.sock"), want $want"
	stop_bg "$BG_PID"
done
if out=$("$AGENT" --check --unix-mode 0999 2>&1); then fail "--unix-mode 0999 accepted"; fi
case $out in *"--unix-mode: octal"*) ;; *) fail "--unix-mode 0999: $out" ;; esac
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
start_bg agent-emfile prlimit --nofile=64 "$AGENT" --listen "127.0.0.1:$PORT" --threads 1 --allow-empty-policies
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

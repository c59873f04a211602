#!/usr/bin/env bash
# Pins the agent's SPOP behaviour byte by byte against a raw client: handshake
# and negotiation, pipelining with ids echoed, every protocol error with its
# DISCONNECT status code, fragment reassembly and ABORT, 500 half-open
# connections, a byte-by-byte writer, a peer that never reads (bounded memory),
# and a healthy connection afterwards. Then SIGTERM: exit 0 promptly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_agent --allow-empty-policies # the SPOP engine needs no policy
python3 "$E2E_ROOT/tests/tools/spop_wire_test.py" "$AGENT_PORT" || fail "raw SPOP checks failed"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
log "agent peak RSS after the abuse: ${rss} kB"
[ "$rss" -lt 200000 ] || fail "agent peak RSS ${rss} kB: memory not bounded"
alive "$AGENT_PID" || fail "agent died"
stop_agent 5
grep -q "stopped" "$AGENT_LOG" || fail "no 'stopped' line in the agent log"

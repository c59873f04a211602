#!/usr/bin/env bash
# Pins exact answers under load: 1,000 concurrent keep-alive HTTP connections through real HAProxy
# 2.6 (RFC 6750 rules) for 30 s, the agent validating against a real Ory Hydra, with five request
# classes spread over every connection (tests/tools/load_client.py):
#   valid       /reviews  Hydra token with scope "read admin"      -> 200
#   wrongscope  /reviews  Hydra token with scope "read" (policy requires admin) -> 403
#   invalid     /ratings  made-up tokens (Hydra: inactive)         -> 401
#   missing     /ratings  no Authorization header                  -> 401
#   malformed   /ratings  "Bearer a b"                             -> 401
# Every response must have exactly its class's status, with no connection error. The agent's RSS
# is sampled every second; after a 10 s warm-up it must stay flat (the last 10 s may not exceed the
# highest sample of seconds 10-20 by more than 10% + 4 MB). The series is printed.
# In the sanitizer pass (E2E_PASS=asan) the same runs with 200 connections for 10 s, and the RSS
# series is reported but not judged (ASan's quarantine grows by design).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

CONNS=${E2E_LOAD_CONNS:-1000}
SECS=${E2E_LOAD_SECS:-30}
JUDGE_RSS=1
if [ "$E2E_PASS" = asan ]; then
	CONNS=${E2E_LOAD_CONNS:-200}
	SECS=${E2E_LOAD_SECS:-10}
	JUDGE_RSS=0
fi

start_hydra
hydra_create_client svc-load svc-load-secret-123 "read admin"
mkdir -p "$T/policies"
write_policy "$T/policies/ratings.yaml" ratings ratings "$HYDRA_INTROSPECT"
write_policy "$T/policies/reviews.yaml" reviews reviews "$HYDRA_INTROSPECT" "requiredScopes: [admin]"
: >"$T/valid.tokens"
: >"$T/scoped.tokens"
for i in $(seq 5); do
	hydra_token svc-load svc-load-secret-123 "read admin" >>"$T/valid.tokens"
	hydra_token svc-load svc-load-secret-123 "read" >>"$T/scoped.tokens"
done
python3 - "$T" <<'EOF'
import json, sys
t = sys.argv[1]
rd = lambda f: ["Bearer " + l.strip() for l in open(t + "/" + f) if l.strip()]
json.dump({"classes": [
    {"name": "valid", "path": "/reviews/1", "expect": [200], "authorization": rd("valid.tokens")},
    {"name": "wrongscope", "path": "/reviews/2", "expect": [403], "authorization": rd("scoped.tokens")},
    {"name": "invalid", "path": "/ratings/1", "expect": [401],
     "authorization": ["Bearer not-a-hydra-token-%03d" % i for i in range(100)]},
    {"name": "missing", "path": "/ratings/2", "expect": [401]},
    {"name": "malformed", "path": "/ratings/3", "expect": [401], "authorization": ["Bearer a b"]},
]}, open(t + "/spec.json", "w"))
EOF

start_agent --policies "$T/policies"
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up
ulimit -n 20000

log "load: $CONNS connections for ${SECS}s"
rss0=$(rss_kb "$AGENT_PID")
python3 "$E2E_ROOT/tests/tools/load_client.py" --port "$FRONT_PORT" --spec "$T/spec.json" --conns "$CONNS" \
	--duration "$SECS" --out "$T/load.json" &
LOAD_PID=$!
: >"$T/rss"
while alive "$LOAD_PID"; do
	sleep 1
	rss_kb "$AGENT_PID" >>"$T/rss"
done
wait "$LOAD_PID" && rc=0 || rc=$?
cat "$T/load.json" >&2
alive "$AGENT_PID" || fail "the agent died under load"
log "agent RSS (kB) before: $rss0; every second: $(tr '\n' ' ' <"$T/rss")"
[ "$rc" = 0 ] || fail "load_client: wrong statuses or connection errors (see above)"
python3 - "$T/load.json" "$CONNS" <<'EOF' || fail "load report check failed"
import json, sys
r = json.load(open(sys.argv[1]))
need = {"valid", "wrongscope", "invalid", "missing", "malformed"}
assert set(r["classes"]) == need, r["classes"].keys()
for n, c in r["classes"].items():
    assert c["responses"] >= int(sys.argv[2]) // 5, "class %s: only %d responses" % (n, c["responses"])
EOF
if [ "$JUDGE_RSS" = 1 ]; then
	n=$(grep -c . "$T/rss")
	[ "$n" -ge 25 ] || fail "only $n RSS samples"
	read -r mid late <<<"$(awk 'NR >= 10 && NR <= 20 { if ($1 > m) m = $1 } NR > 20 && NR > n - 10 { if ($1 > l) l = $1 }
		END { print m, l }' n="$n" "$T/rss")"
	lim=$((mid + mid / 10 + 4096))
	log "RSS: highest of seconds 10-20 ${mid} kB, of the last 10 s ${late} kB (limit ${lim} kB)"
	[ "$late" -le "$lim" ] || fail "agent RSS grew under steady load: ${mid} kB -> ${late} kB"
fi
stop_agent 8
log "load passed: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["responses"], "responses,", r["rps"], "req/s, p99", r["latency_ms"]["p99"], "ms")' "$T/load.json")"

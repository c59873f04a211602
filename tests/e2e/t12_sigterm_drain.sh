#!/usr/bin/env bash
# Pins graceful shutdown under load: with decisions in flight (the IdP takes
# 700 ms), SIGTERM lets every pending request get its answer (200), the agent
# exits 0 with a clean log, and afterwards HAProxy denies (agent down).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice
cat >"$T/policy.yaml" <<EOP
apiVersion: security.policy.gloo.solo.io/v2
kind: ExtAuthPolicy
metadata: {name: slow-idp}
spec:
  config:
    glooAuth:
      configs:
      - oauth2:
          accessTokenValidation:
            introspectionUrl: http://127.0.0.1:$IDP_PORT/slow:700
EOP
start_agent --policies "$T/policy.yaml" --introspection-timeout 1400
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

# 20 requests with distinct tokens, all waiting on the IdP when SIGTERM lands.
pids=()
for i in $(seq 1 20); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 \
		-H "Authorization: Bearer drain-token-$i" "http://127.0.0.1:$FRONT_PORT/ratings/$i" >"$T/r.$i" &
	pids+=("$!")
done
sleep 0.3
t0=$(date +%s.%N)
stop_agent 6
t1=$(date +%s.%N)
wait "${pids[@]}"
for i in $(seq 1 20); do
	[ "$(cat "$T/r.$i")" = 200 ] || fail "request $i in flight at SIGTERM got $(cat "$T/r.$i"), want 200"
done
log "agent drained 20 pending decisions and exited in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s"
expect_status 403 /ratings/1 -H "Authorization: Bearer drain-token-1"

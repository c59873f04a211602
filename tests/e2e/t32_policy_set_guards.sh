#!/usr/bin/env bash
# Pins the policy-set guards of issue 11 (items 7 and 8), with the real agent behind HAProxy 2.6:
#  - an empty policy set (empty directory, zero-byte file, directory without policy files, no
#    path at all) is refused at start, by --check and on SIGHUP (the running set keeps serving)
#    unless allowEmptyPolicySet / --allow-empty-policies says it is intended;
#    before: the agent started (or reloaded) with 0 policies and allowed every route;
#  - a directory of *.yml files is read like *.yaml (before: skipped, so an empty set);
#  - cacheTimeout: 0 is honoured when another policy (10m) shares the endpoint: every request of
#    the 0 policy asks the IdP (before: it was answered from the other policy's cache entry);
#  - 33 policies on one route (32 shadow, then an enforcing one past the limit of 32): denied,
#    reason too_many_policies (before: allowed as shadow, the enforcing policy never seen);
#  - the regex x)|(a{1001} is refused like a{1001} (before: accepted, "^(x)|(a{1001})$");
#  - a plain-http introspection URL to a host that is not loopback: a warning from --check and
#    in the log at start (before: silent).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --client-id svc-a --scope read

# refused PATH... : the agent must refuse to start and --check must fail, naming the problem.
refused() {
	local args=() p out
	for p in "$@"; do args+=(--policies "$p"); done
	if out=$("$AGENT" --check "${args[@]}" 2>&1); then fail "--check accepted $*: $out"; fi
	case $out in *"empty policy set switches protection off"*) ;; *) fail "--check $*: $out" ;; esac
	if out=$(timeout 3 "$AGENT" --listen "127.0.0.1:$(free_port)" --threads 1 "${args[@]}" 2>&1); then
		fail "the agent started with $*"
	fi
	case $out in *"allowEmptyPolicySet: true"*) ;; *) fail "start with $*: $out" ;; esac
	"$AGENT" --check --allow-empty-policies "${args[@]}" >/dev/null 2>&1 ||
		fail "--allow-empty-policies did not accept $*"
}
mkdir -p "$T/empty" "$T/readme-only"
: >"$T/zero.yaml"
echo "not a policy" >"$T/readme-only/README"
refused "$T/empty"
refused "$T/zero.yaml"
refused "$T/readme-only"
if out=$("$AGENT" --check 2>&1); then fail "--check accepted no policy path: $out"; fi
case $out in *"no policy path is configured"*) ;; *) fail "no path: $out" ;; esac

# The regex bypass, and the cleartext warning.
rx() { # rx REGEX: a policy selecting paths by REGEX
	cat <<-EOP
		apiVersion: oauth2-spoa/v1
		kind: ExtAuthPolicy
		metadata: {name: rx}
		spec:
		  applyToRoutes:
		  - match: {path: {regex: '$1'}}
		  config: {glooAuth: {configs: [{oauth2: {accessTokenValidation: {introspectionUrl: '$IDP/i'}}}]}}
	EOP
}
for re in 'a{1001}' 'x)|(a{1001}'; do
	rx "$re" >"$T/rx.yaml"
	if out=$("$AGENT" --check --policies "$T/rx.yaml" 2>&1); then fail "--check accepted regex $re"; fi
	case $out in *"rx.yaml:6:"*"a repetition count is too large"* | *"rx.yaml:6:"*"closes no group"*) ;;
	*) fail "regex $re: $out" ;; esac
done
write_policy "$T/remote.yaml" remote remote "http://idp.example.com/introspect"
out=$("$AGENT" --check --policies "$T/remote.yaml" 2>&1) || fail "--check refused a cleartext URL: $out"
case $out in *"warning: introspection URL http://idp.example.com/introspect is plain http"*"in clear"*) ;;
*) fail "--check gave no cleartext warning: $out" ;; esac
write_policy "$T/local.yaml" local local "$IDP/introspect"
out=$("$AGENT" --check --policies "$T/local.yaml" 2>&1) || fail "--check: $out"
case $out in *warning*) fail "a loopback URL got a warning: $out" ;; esac
start_agent --policies "$T/remote.yaml"
grep -q 'warn introspection URL http://idp.example.com/introspect is plain http' "$AGENT_LOG" ||
	fail "no cleartext warning at start: $(head -n 5 "$AGENT_LOG")"
stop_agent

# The served set: *.yml files only.
mkdir -p "$T/policies"
POLICY_NS=ps write_policy "$T/policies/ratings.yml" ratings ratings "$IDP/introspect" "cacheTimeout: 10m"
POLICY_NS=ps write_policy "$T/policies/reviews.yml" reviews reviews "$IDP/introspect" "cacheTimeout: 0"
for i in $(seq -w 0 32); do
	if [ "$i" -lt 32 ]; then mode=shadow; else mode=enforce; fi
	POLICY_NS=many POLICY_MODE=$mode write_policy "$T/one.yaml" "p$i" details "$IDP/introspect"
	cat "$T/one.yaml" && echo ---
done >"$T/policies/many.yml"
METRICS_PORT=$(free_port)
printf 'policies: [policies]\nmetrics: 127.0.0.1:%s\n' "$METRICS_PORT" >"$T/agent.yaml"
start_agent -c "$T/agent.yaml"
grep -q '35 policies loaded' "$AGENT_LOG" || fail "the *.yml files were not loaded: $(head -n 3 "$AGENT_LOG")"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
printf '/details   route=details\n' >>"$T/cfg/routes.map"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

calls() { curl -s "$IDP/__count?path=/introspect"; }
TOKEN=shared-$RANDOM$RANDOM
curl -s -o /dev/null -X POST "$IDP/__reset"
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"
expect_status 200 /ratings/2 -H "Authorization: Bearer $TOKEN"
[ "$(calls)" = 1 ] || fail "cacheTimeout 10m: want 1 introspection, got $(calls)"
expect_status 200 /reviews/1 -H "Authorization: Bearer $TOKEN"
[ "$(calls)" = 2 ] || fail "cacheTimeout 0 answered from the other policy's cache entry ($(calls) calls)"
expect_status 200 /reviews/2 -H "Authorization: Bearer $TOKEN"
[ "$(calls)" = 3 ] || fail "cacheTimeout 0: a second request was cached ($(calls) calls)"
expect_status 200 /ratings/3 -H "Authorization: Bearer $TOKEN"
[ "$(calls)" = 3 ] || fail "cacheTimeout 10m: the entry was lost ($(calls) calls)"

expect_status 403 /details/1
expect_status 403 /details/1 -H "Authorization: Bearer $TOKEN"
log_settle
grep -q 'reason=too_many_policies status=500 .*route=details' "$AGENT_LOG" ||
	fail "no too_many_policies decision: $(grep 'route=details' "$AGENT_LOG" | tail -n 2)"
curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
	grep -q '^oauth2_spoa_decisions_total{policy="",reason="too_many_policies",mode="enforce"} 2$' ||
	fail "too_many_policies not counted"

# SIGHUP with an emptied directory: rejected, the running set keeps enforcing.
hup_wait() { # hup_wait PATTERN: SIGHUP, then wait for one more log line matching PATTERN
	local before deadline=$((SECONDS + 10))
	before=$(grep -c "$1" "$AGENT_LOG" || true)
	kill -HUP "$AGENT_PID"
	until [ "$(grep -c "$1" "$AGENT_LOG" || true)" -gt "$before" ]; do
		alive "$AGENT_PID" || fail "agent died on reload"
		[ $SECONDS -lt $deadline ] || fail "no '$1' line after SIGHUP: $(tail -n 3 "$AGENT_LOG")"
		sleep 0.05
	done
}
mkdir -p "$T/old"
mv "$T/policies"/*.yml "$T/old/"
hup_wait 'reload rejected'
grep -q 'reload rejected, the running configuration keeps serving: .*policies: no \*.yaml or \*.yml policy file: an empty policy set' "$AGENT_LOG" ||
	fail "reload rejection message: $(grep 'reload rejected' "$AGENT_LOG" | tail -n 1)"
expect_status 403 /ratings/1
expect_status 200 /ratings/1 -H "Authorization: Bearer $TOKEN"
: >"$T/policies/ratings.yaml"
hup_wait 'reload rejected'
grep 'reload rejected' "$AGENT_LOG" | tail -n 1 | grep -q 'ratings.yaml: holds no policy' ||
	fail "zero-byte file reload: $(grep 'reload rejected' "$AGENT_LOG" | tail -n 1)"
expect_status 403 /ratings/1
printf 'allowEmptyPolicySet: true\n' >>"$T/agent.yaml"
hup_wait 'reloaded: 0 policies'
expect_status 200 /ratings/1 # intended: nothing is protected any more
stop_agent
log "policy set guards passed"

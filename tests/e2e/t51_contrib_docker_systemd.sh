#!/usr/bin/env bash
# The static checks of contrib/docker (t53_docker runs the image and the compose demo on a real
# engine) and what can be checked of contrib/systemd without systemd as PID 1:
#   docker: the compose file validates with both networking files (config -q); the Dockerfile's package lists
#     match contrib/tools/install-deps.sh and the agent's NEEDED libraries; it runs as a non-root
#     user with a HEALTHCHECK (hadolint too when installed); the compose policy is the shipped one
#     with Hydra's compose address; then the compose services' own scripts run here on 127.0.0.1
#     with Debian's HAProxy: the hydra-init job's command against a real Hydra, upstream.cfg,
#     haproxy-start.sh on the shipped haproxy/ files, the HEALTHCHECK command against the agent,
#     and walkthrough.sh (client already there: 409 accepted) against that stack.
#   systemd: systemd-analyze verify, the hardening keys, and the unit's ExecStartPre and
#     ExecStart command lines run as written (paths moved to the test's files).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

D=$E2E_ROOT/contrib/docker
S=$E2E_ROOT/contrib/systemd/oauth2-spoa.service
for f in Dockerfile docker-compose.yml docker-compose.override.yml docker-compose.host.yml walkthrough.sh haproxy-start.sh upstream.cfg policies/ratings-hydra.yaml; do
	[ -f "$D/$f" ] || fail "contrib/docker/$f is missing"
done
[ -f "$S" ] || fail "contrib/systemd/oauth2-spoa.service is missing"

# ------------------------------------------------------------------ compose file
# both networking variants: the override (bridge, read by `docker compose up` in contrib/docker)
# and docker-compose.host.yml (run for real by t53_docker)
if command -v docker-compose >/dev/null; then
	dc=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
	dc=(docker compose)
else
	fail "neither docker-compose nor 'docker compose' is installed (contrib/tools/install-deps.sh test)"
fi
out=$(cd "$D" && "${dc[@]}" config -q 2>&1) || fail "compose config (with the override): $out"
out=$(cd "$D" && "${dc[@]}" -f docker-compose.yml -f docker-compose.host.yml config -q 2>&1) || fail "compose config (host): $out"
services=$(cd "$D" && "${dc[@]}" config --services | sort | tr '\n' ' ')
bridge_ports=$(cd "$D" && "${dc[@]}" config | grep -cE '^ +- (127\.0\.0\.1:)?[0-9]+:[0-9]+|published:' || true)
[ "$bridge_ports" -ge 3 ] || fail "the bridge override publishes $bridge_ports ports, want 3"
[ "$services" = "haproxy hydra hydra-init oauth2-spoa upstream " ] || fail "compose services: '$services'"
grep -qF 'image: ${HYDRA_IMAGE:-oryd/hydra:v2.3.0}' "$D/docker-compose.yml" || fail "compose: Hydra is not oryd/hydra:v2.3.0"
grep -q 'DSN: memory$' "$D/docker-compose.yml" || fail "compose: Hydra is not DSN=memory"
grep -q 'image: ${HAPROXY_IMAGE:-haproxy:\(2\.[89]\|3\.\)' "$D/docker-compose.yml" || fail "compose: HAProxy image is not 2.8+"
if grep -E '^\s+- "[0-9]+:' "$D"/docker-compose*.yml; then fail "compose publishes a port on every address"; fi
if grep -E '^\s+ports:' "$D/docker-compose.yml"; then fail "ports belong in the override (host networking cannot have them)"; fi
log "compose file valid: $services"

# ------------------------------------------------------------------ Dockerfile
pkgs_of() { # GROUP: the package list of contrib/tools/install-deps.sh
	sed -n "s/^$1_PKGS=(\(.*\))\$/\1/p" "$E2E_ROOT/contrib/tools/install-deps.sh" | tr ' ' '\n' | sort -u | tr '\n' ' '
}
# the packages named in RUN apt-get install lines of stage N (0 = build, 1 = runtime)
docker_pkgs() {
	python3 - "$D/Dockerfile" "$1" <<-'EOF'
		import re, sys
		text = open(sys.argv[1]).read().replace("\\\n", " ")
		stages = re.split(r"(?m)^FROM ", text)[1:]
		m = re.search(r"apt-get install -y --no-install-recommends ([^&]*)", stages[int(sys.argv[2])])
		print(" ".join(sorted(set(m.group(1).split()))) + " ")
	EOF
}
[ "$(docker_pkgs 0)" = "$(pkgs_of BUILD)" ] ||
	fail "Dockerfile build stage installs '$(docker_pkgs 0)', install-deps.sh build is '$(pkgs_of BUILD)'"
runtime=$(docker_pkgs 1)
for lib in $(readelf -d "$AGENT" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
	case $lib in libc.so* | libm.so* | libpthread.so* | libdl.so* | ld-linux* | libasan* | libubsan* | libgcc_s*) continue ;; esac
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	[ -n "$path" ] || fail "cannot find $lib"
	pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1 | head -n1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$path" | cut -d: -f1 | head -n1)
	case " $runtime" in *" $pkg "*) ;; *) fail "the agent needs $lib ($pkg), not installed by the Dockerfile's runtime stage ($runtime)" ;; esac
	case " $(pkgs_of RUNTIME)" in *" $pkg "*) ;; *) fail "install-deps.sh runtime lacks $pkg ($lib)" ;; esac
done
grep -qE '^USER [1-9][0-9]*:[1-9][0-9]*$' "$D/Dockerfile" || fail "Dockerfile: no numeric non-root USER"
grep -q '^HEALTHCHECK ' "$D/Dockerfile" || fail "Dockerfile: no HEALTHCHECK"
[ "$(grep -c '^FROM ' "$D/Dockerfile")" = 2 ] || fail "Dockerfile: not a two-stage build"
grep -q 'rm -rf /var/lib/apt/lists' "$D/Dockerfile" || fail "Dockerfile: apt lists left in a layer"
if command -v hadolint >/dev/null; then
	out=$(hadolint "$D/Dockerfile" 2>&1) || fail "hadolint: $out"
	log "hadolint: clean"
else
	log "hadolint not installed: the Dockerfile lint did not run (the checks above did)"
fi
log "Dockerfile: packages match install-deps.sh and the agent's libraries; non-root; HEALTHCHECK"

# ------------------------------------------------------------------ the compose policy
"$AGENT" --policies "$D/policies" --check >"$T/check.out" 2>&1 || fail "--check on contrib/docker/policies: $(cat "$T/check.out")"
diff <(grep -v '^#' "$D/policies/ratings-hydra.yaml" | sed 's#http://hydra:4445/admin/oauth2/introspect#URL#') \
	<(sed 's#http://127.0.0.1:4445/oauth2/introspect#URL#' "$E2E_ROOT/policies/ratings-hydra.yaml") >"$T/pol.diff" ||
	fail "contrib/docker/policies/ratings-hydra.yaml drifted from policies/ratings-hydra.yaml: $(cat "$T/pol.diff")"

# ------------------------------------------------------------------ the compose services' scripts, here
start_hydra
sed "s#http://hydra:4445/#$HYDRA_ADMIN/#" "$D/policies/ratings-hydra.yaml" >"$T/ratings-hydra.yaml"
start_agent --policies "$T/ratings-hydra.yaml"

# the HEALTHCHECK command, as the image runs it (port moved)
hc=$(python3 -c '
import json, re, sys
t = open(sys.argv[1]).read().replace("\\\n", " ")
print("\n".join(json.loads(re.search(r"^HEALTHCHECK .*?CMD (\[.*\])", t, re.M).group(1))))' "$D/Dockerfile")
mapfile -t hc_argv <<<"$hc"
HEALTH_PORT=$AGENT_PORT "${hc_argv[@]}" || fail "HEALTHCHECK command failed against a running agent: ${hc_argv[*]}"
dead=$(free_port)
if HEALTH_PORT=$dead "${hc_argv[@]}" 2>/dev/null; then fail "HEALTHCHECK command succeeds with nothing listening"; fi
grep -q '^ENV HEALTH_PORT=12345$' "$D/Dockerfile" || fail "Dockerfile: HEALTH_PORT does not default to 12345"
log "HEALTHCHECK: healthy with the agent, unhealthy without"

# the hydra-init job's command
python3 - "$D/docker-compose.yml" >"$T/hydra-init.sh" <<-'EOF'
	import sys, yaml
	c = yaml.safe_load(open(sys.argv[1]))["services"]["hydra-init"]["command"][0]
	print(c.replace("$$", "$"))
EOF
out=$(HYDRA_ADMIN_URL=$HYDRA_ADMIN timeout 70 sh "$T/hydra-init.sh" 2>&1) || fail "hydra-init command: $out"
[ "$out" = "hydra-init: client demo-client: HTTP 201" ] || fail "hydra-init said: $out"
out=$(HYDRA_ADMIN_URL=$HYDRA_ADMIN timeout 70 sh "$T/hydra-init.sh" 2>&1) || fail "hydra-init command (2nd run): $out"
[ "$out" = "hydra-init: client demo-client: HTTP 409" ] || fail "hydra-init 2nd run said: $out"

# the upstream service's config, on Debian's HAProxy
UP_PORT=$(free_port)
UPSTREAM_BIND=127.0.0.1:$UP_PORT start_bg upstream /usr/sbin/haproxy -db -f "$D/upstream.cfg"
wait_port "$UP_PORT"
# the haproxy service's entrypoint, on the shipped files
FRONT_PORT=$(free_port)
LOCAL_UP=$(free_port)
hapenv=(SRC="$E2E_ROOT/haproxy" OUT="$T/hap" HAPROXY=/usr/sbin/haproxy HAPROXY_BIND="127.0.0.1:$FRONT_PORT"
	UPSTREAM_ADDR="127.0.0.1:$UP_PORT" AGENT_ADDR="127.0.0.1:$AGENT_PORT" LOCAL_UPSTREAM_BIND="127.0.0.1:$LOCAL_UP")
out=$(env "${hapenv[@]}" sh "$D/haproxy-start.sh" --check 2>&1) || fail "haproxy-start.sh --check: $out"
diff <(sed -e "s#$T/hap/#/etc/haproxy/#g" -e "s#127.0.0.1:$FRONT_PORT\$#127.0.0.1:8080#" \
	-e "s#127.0.0.1:$UP_PORT\$#127.0.0.1:8081#" -e "s#127.0.0.1:$LOCAL_UP\$#127.0.0.1:8081#" \
	-e "s#server agent1 127.0.0.1:$AGENT_PORT #server agent1 unix@/run/oauth2-spoa/agent.sock #" "$T/hap/haproxy.cfg") "$E2E_ROOT/haproxy/haproxy.cfg" >"$T/hap.diff" ||
	fail "haproxy-start.sh changed more than the addresses and paths: $(cat "$T/hap.diff")"
start_bg haproxy-compose env "${hapenv[@]}" sh "$D/haproxy-start.sh"
wait_port "$FRONT_PORT"
deadline=$((SECONDS + 20))
until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$FRONT_PORT/details/1")" = 200 ]; do
	[ $SECONDS -lt $deadline ] || fail "HAProxy (haproxy-start.sh) never answered 200 for /details/1: $(tail -n 5 "$T/haproxy-compose.log")"
	sleep 0.2
done

# walkthrough.sh against it (the client exists: step 1 gets 409)
out=$(HYDRA_PUBLIC_URL=$HYDRA_PUBLIC HYDRA_ADMIN_URL=$HYDRA_ADMIN APP_URL=http://127.0.0.1:$FRONT_PORT \
	WALKTHROUGH_ENV=$T/env timeout 60 bash "$D/walkthrough.sh" 2>&1) || fail "walkthrough.sh failed:
$out"
printf '%s\n' "$out" >"$T/walkthrough.out"
grep -q 'expect 201 (or 409), got 409  ok' <<<"$out" || fail "walkthrough step 1: $(grep -m1 expect <<<"$out")"
[ "$(grep -c '  ok$' <<<"$out")" = 7 ] || fail "walkthrough: want 7 ok checks: $out"
grep -q '^walkthrough: all 7 steps got the expected status$' <<<"$out" || fail "walkthrough: no final line"
grep -q "^upstream: GET /ratings/1 sub=demo-client" "$T/walkthrough.out" ||
	grep -q "  > upstream: GET /ratings/1 sub=demo-client client_id=demo-client scope=read write" "$T/walkthrough.out" ||
	fail "walkthrough: the upstream did not see the identity"
# and with a wrong expectation it fails (exit 1, FAILED): the script does check
out=$(HYDRA_PUBLIC_URL=$HYDRA_PUBLIC HYDRA_ADMIN_URL=$HYDRA_ADMIN APP_URL=http://127.0.0.1:$FRONT_PORT \
	CLIENT_MAY_EXIST=0 timeout 60 bash "$D/walkthrough.sh" 2>&1) && fail "walkthrough.sh passed with CLIENT_MAY_EXIST=0 and an existing client"
grep -q 'expect 201, got 409  FAILED' <<<"$out" || fail "walkthrough.sh: no FAILED line: $out"
log "compose scripts: hydra-init, upstream.cfg, haproxy-start.sh, walkthrough.sh all ran against the local stack"

# ------------------------------------------------------------------ systemd
command -v systemd-analyze >/dev/null || fail "systemd-analyze is not installed (package systemd)"
mkdir -p "$T/systemd"
sed "s#/usr/local/bin/oauth2-spoa#$AGENT#g" "$S" >"$T/systemd/oauth2-spoa.service"
out=$(systemd-analyze verify "$T/systemd/oauth2-spoa.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
# shellcheck disable=SC2016 # literal $MAINPID
for k in 'DynamicUser=yes' 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' 'CapabilityBoundingSet=$' \
	'Restart=on-failure' 'LogRateLimitIntervalSec=0$' 'ExecStartPre=/usr/local/bin/oauth2-spoa .*--check' 'ExecReload=/bin/kill -HUP \$MAINPID'; do
	grep -q "^$k" "$S" || fail "oauth2-spoa.service: no line matching ^$k"
done
exposure=$(systemd-analyze security --offline=yes "$T/systemd/oauth2-spoa.service" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }' || fail "systemd-analyze security: exposure ${exposure:-?} > 2.0"
# ExecStartPre and ExecStart as written, with the test's policy dir and port
mkdir -p "$T/etc-policies"
cp "$T/ratings-hydra.yaml" "$T/etc-policies/"
SYSD_PORT=$(free_port)
# shellcheck disable=SC2016 # literal $OAUTH2_SPOA_OPTS
unit_cmd() { # KEY: the command line of KEY= with paths and port moved, $OAUTH2_SPOA_OPTS empty
	sed -n "s/^$1=//p" "$T/systemd/oauth2-spoa.service" |
		sed -e "s#/etc/oauth2-spoa/policies#$T/etc-policies#g" -e "s#127.0.0.1:12345#127.0.0.1:$SYSD_PORT#" \
			-e "s#unix:/run/oauth2-spoa/#unix:$T/run-unit/#" -e 's# \$OAUTH2_SPOA_OPTS##'
}
grep -qx 'RuntimeDirectory=oauth2-spoa' "$S" || fail "oauth2-spoa.service: no RuntimeDirectory=oauth2-spoa for its socket"
mkdir -p "$T/run-unit" # the RuntimeDirectory=, moved
read -r -a pre <<<"$(unit_cmd ExecStartPre)"
"${pre[@]}" >"$T/pre.out" 2>&1 || fail "ExecStartPre failed: ${pre[*]}: $(cat "$T/pre.out")"
read -r -a main <<<"$(unit_cmd ExecStart)"
start_bg systemd-agent "${main[@]}"
wait_port "$SYSD_PORT"
[ -S "$T/run-unit/agent.sock" ] || fail "ExecStart: no unix socket at the unit's /run/oauth2-spoa/agent.sock"
[ "$(stat -c %a "$T/run-unit/agent.sock")" = 666 ] || fail "ExecStart: socket mode $(stat -c %a "$T/run-unit/agent.sock"), the unit says 0666"
stop_bg "$BG_PID"
log "systemd unit: verify clean, exposure $exposure, ExecStartPre/ExecStart command lines work"

# ExecStart once more, confined as the unit confines it: its SystemCallFilter= lines (the
# groups expanded by systemd-analyze, in order: an allow-list, then what "~" takes away) and
# its CPUSchedulingPolicy= (chrt). Any call off the list kills the agent (SIGSYS), stricter than
# the unit's SystemCallErrorNumber=EPERM, so that no refused call can hide behind a warning.
syscall_names() { # NAME|@GROUP...: the system calls, groups expanded
	local i
	for i in "$@"; do
		case $i in
		# shellcheck disable=SC2046 # one name per word
		@*) syscall_names $(systemd-analyze syscall-filter "$i" | sed -e 1d -e '/^[[:space:]]*#/d') ;;
		*) echo "$i" ;;
		esac
	done
}
: >"$T/allow"
while read -r line; do
	# shellcheck disable=SC2086 # the line's words
	case $line in
	"~"*) syscall_names ${line#"~"} | sort -u | comm -23 "$T/allow" - >"$T/allow.new" ;;
	*) { cat "$T/allow" && syscall_names $line; } | sort -u >"$T/allow.new" ;;
	esac
	mv "$T/allow.new" "$T/allow"
done < <(sed -n 's/^SystemCallFilter=//p' "$S")
[ "$(wc -l <"$T/allow")" -gt 200 ] || fail "the unit's system-call allow-list has only $(wc -l <"$T/allow") names"
! grep -qx sched_setscheduler "$T/allow" || fail "the unit's filter allows sched_setscheduler (@resources)"
grep -qx 'CPUSchedulingPolicy=batch' "$S" || fail "oauth2-spoa.service: no CPUSchedulingPolicy=batch"
[ -x "$TOOLS/seccomp_exec" ] || fail "$TOOLS/seccomp_exec is missing (make e2e builds it; libseccomp-dev)"
UNIT_AGENT=$AGENT
if [ "${E2E_PASS:-}" = asan ]; then # LeakSanitizer's exit-time tracer (ptrace) is not a system service's call
	UNIT_AGENT=$E2E_ROOT/build/oauth2-spoa
	[ -x "$UNIT_AGENT" ] || fail "the sanitizer pass runs the confined agent from the plain build, and $UNIT_AGENT is missing"
fi
main[0]=$UNIT_AGENT
start_bg confined-agent chrt -b 0 "$TOOLS/seccomp_exec" "$T/allow" -- "${main[@]}"
CONFINED_PID=$BG_PID CONFINED_LOG=$T/confined-agent.log
wait_sock "$T/run-unit/agent.sock" "$CONFINED_PID"
wait_port "$SYSD_PORT"
classes=$(for t in /proc/"$CONFINED_PID"/task/*; do awk '{print $41}' "$t/stat"; done | sort -u | tr '\n' ' ')
[ "$classes" = "3 " ] || fail "confined agent: thread classes '$classes', want SCHED_BATCH (3) only"
! grep -q 'cpuScheduling' "$CONFINED_LOG" || fail "confined agent: $(grep cpuScheduling "$CONFINED_LOG")"
# a whole decision through the shipped haproxy/ files, over the unit's unix socket as the
# shipped server line names it (the path moved): no token 403, a Hydra token 200
STATUS_PORT=$(free_port)
export STATUS_PORT
AGENT_SOCK=$T/run-unit/agent.sock haproxy_cfg_dir "$T/hap-unit"
start_haproxy 2.6 "$T/hap-unit"
tok=$(hydra_token demo-client demo-secret "read")
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" "http://127.0.0.1:$FRONT_PORT/ratings/1"; }
[ "$(code)" = 403 ] || fail "confined agent: no token did not get 403"
[ "$(code -H "Authorization: Bearer $tok")" = 200 ] || fail "confined agent: a Hydra token did not get 200"
kill -HUP "$CONFINED_PID"
wait_log "$CONFINED_LOG" 'reloaded: '
[ "$(code -H "Authorization: Bearer $tok")" = 200 ] || fail "confined agent: a Hydra token did not get 200 after SIGHUP"
kill -TERM "$CONFINED_PID"
rc=0
wait "$CONFINED_PID" || rc=$?
[ "$rc" = 0 ] || fail "confined agent: exit status $rc after SIGTERM (159 = SIGSYS, a call off the unit's list): $(tail -n 3 "$CONFINED_LOG")"
log "systemd unit: under its system-call filter ($(wc -l <"$T/allow") calls) and CPUSchedulingPolicy=batch the agent runs batch, decides (403/200), reloads and stops with 0"

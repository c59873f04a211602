# shellcheck shell=bash
# Helpers for the reliability tests (t4x_*.sh), sourced after lib.sh and spoa.sh:
#     . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/spoa.sh"; . "$(dirname "$0")/rel.sh"
# E2E_PASS is "asan" in the sanitizer pass of `make test` (the Makefile sets it), else empty.

E2E_PASS=${E2E_PASS:-}

# rfc6750_cfg OUTDIR [EXTRA_CFG_FILE]: haproxy_cfg_dir, then the shipped deny rule replaced by the
# commented RFC 6750 alternative of haproxy.cfg, so each outcome has its own status: 401 (missing,
# malformed or inactive token), 403 (insufficient_scope), 503 (introspection_error, or the agent
# could not answer: set-on-error). Also "maxconn 8000" in global for the load tests.
rfc6750_cfg() {
	local out=$1 n
	haproxy_cfg_dir "$@"
	n=$(grep -c '^    #   http-request ' "$out/haproxy.cfg" || true)
	[ "$n" = 5 ] || fail "rfc6750_cfg: want the 5 commented alternative rules in haproxy.cfg, found $n"
	grep -q '^    http-request deny deny_status 403 unless { var(txn.oauth2.allowed) -m bool }$' "$out/haproxy.cfg" ||
		fail "rfc6750_cfg: the shipped deny rule is not where expected"
	sed -i -e '/^    http-request deny deny_status 403 unless { var(txn.oauth2.allowed) -m bool }$/d' \
		-e 's/^    #   http-request /    http-request /' \
		-e 's/^global$/global\n    maxconn 8000/' "$out/haproxy.cfg"
}

# start_fault_idp [ARGS...]: run tests/tools/fault_idp.py on a free port; sets IDP_PORT, IDP, IDP_PID.
start_fault_idp() {
	exec 3< <(exec python3 "$E2E_ROOT/tests/tools/fault_idp.py" --port 0 --quiet "$@")
	IDP_PID=$!
	_LIB_PIDS+=("$IDP_PID")
	read -r -t 10 IDP_PORT <&3 || fail "fault_idp.py did not print its port"
	exec 3<&-
	IDP=http://127.0.0.1:$IDP_PORT
	wait_http "$IDP/__health"
	export IDP_PORT IDP IDP_PID
}

# write_policy FILE NAME ROUTE URL [EXTRA YAML LINE under accessTokenValidation...]
write_policy() {
	local file=$1 name=$2 route=$3 url=$4 l
	shift 4
	{
		cat <<-EOP
			apiVersion: oauth2-spoa/v1
			kind: ExtAuthPolicy
			metadata: {name: $name, namespace: rel}
			spec:
			  applyToRoutes:
			  - route: {labels: {route: $route}}
			  config:
			    glooAuth:
			      configs:
			      - oauth2:
			          accessTokenValidation:
			            introspectionUrl: $url
		EOP
		for l in "$@"; do printf '            %s\n' "$l"; done
	} >"$file"
}

# rss_kb PID: the resident set size of PID in kB (fails when PID is gone).
rss_kb() {
	awk '/^VmRSS:/ {print $2; f=1} END {exit !f}' "/proc/$1/status" 2>/dev/null || fail "rss_kb: pid $1 is gone"
}

# since SECS_START: seconds elapsed since a `date +%s.%N` value, 3 decimals.
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f", e - s }'; }

# fp TOKEN: the short SHA-256 prefix used to name a token in test logs.
fp() { printf '%s' "$1" | sha256sum | cut -c1-12; }

log_lines() { wc -l <"$AGENT_LOG"; }
# decisions_since N: the agent's decision lines after line N of its log.
decisions_since() { tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep ' decision ' || true; }

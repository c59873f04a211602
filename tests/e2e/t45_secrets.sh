#!/usr/bin/env bash
# Pins that no secret reaches a log line, an error string or a metric. The agent runs with
# --log-level debug (one line per decision) behind real HAProxy 2.6, with two policies whose
# introspection endpoints (fault_idp.py --require-basic) demand client credentials: one secret from
# clientSecretFile (client_secret_basic), one from clientSecretEnv (client_secret_post). Requests
# carry known, random tokens: good ones (200 on both routes, so the secrets were really used),
# inactive ones, malformed ones (bad bytes, too long, two tokens), Basic credentials, a token the
# IdP fails on, and a wrong client secret (IdP answers 401). Then every log (agent, HAProxy), the
# agent's /metrics (when the binary has --metrics) and the error text of --check on broken secret
# files must hold none of: the tokens, the client secrets, the Authorization values, the Basic
# credentials and their base64; a token appears only as its 8-hex-digit fingerprint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"
. "$(dirname "$0")/rel.sh"

rnd() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }
S_FILE=sfile$(rnd)
S_ENV=senv$(rnd)
S_WRONG=swrong$(rnd)
start_fault_idp --sub alice --client-id svc-a --scope "read write" --require-basic "rs-file:$S_FILE"
IDP1=$IDP
start_fault_idp --sub bob --client-id svc-b --scope "read" --require-basic "rs-env:$S_ENV"
IDP2=$IDP

mkdir -p "$T/policies" "$T/secrets"
printf '%s\n' "$S_FILE" >"$T/secrets/file"
printf '%s\n' "$S_WRONG" >"$T/secrets/wrong"
chmod 600 "$T/secrets/"*
export E2E_SECRET_ENV=$S_ENV
# intro NAME ROUTE URL CLIENT_ID SECRET_LINE [METHOD]
intro() {
	POLICY_NS=sec write_policy_client "$T/policies/$1.yaml" "$1" "$2" "$3" "$4" "${6:-client_secret_basic}" "$5"
}
intro ratings ratings "$IDP1/introspect" rs-file "clientSecretFile: $T/secrets/file"
intro reviews reviews "$IDP2/introspect" rs-env "clientSecretEnv: E2E_SECRET_ENV" client_secret_post
intro wrong wrong "$IDP1/introspect" rs-file "clientSecretFile: $T/secrets/wrong"

METRICS=()
if "$AGENT" --help 2>&1 | grep -q -- '--metrics'; then
	MPORT=$(free_port)
	METRICS=(--metrics "127.0.0.1:$MPORT")
fi
start_agent --policies "$T/policies" --log-level debug "${METRICS[@]}"
STATUS_PORT=$(free_port)
export STATUS_PORT
haproxy_cfg_dir "$T/cfg"
printf '/wrong  route=wrong\n' >>"$T/cfg/routes.map"
start_haproxy 2.6 "$T/cfg"
wait_agent_up

GOOD1=g1$(rnd)
GOOD2=g2$(rnd)
INACTIVE=mode.inactive.$(rnd)
FAILING=mode.status.500.$(rnd)
BADBYTE=bad$(rnd)
LONG=long$(python3 -c 'import secrets; print(secrets.token_hex(8200))') # > maxTokenLength 16384
WRONGTOK=w$(rnd)
BASIC_CRED="user$(rnd):pass$(rnd)"
BASIC_B64=$(printf '%s' "$BASIC_CRED" | base64 -w0)
expect_status 200 /ratings/1 -H "Authorization: Bearer $GOOD1"
expect_status 200 /ratings/1 -H "Authorization: Bearer $GOOD1"
expect_status 200 /reviews/1 -H "Authorization: Bearer $GOOD2"
expect_status 403 /ratings/1 -H "Authorization: Bearer $INACTIVE"
expect_status 403 /ratings/1 -H "Authorization: Bearer $FAILING"
expect_status 403 /ratings/1 -H "Authorization: Bearer $BADBYTE!"
expect_status 403 /ratings/1 -H "Authorization: Bearer $LONG"
expect_status 403 /ratings/1 -H "Authorization: Bearer $GOOD1 $GOOD2"
expect_status 403 /ratings/1 -H "Authorization: Basic $BASIC_B64"
expect_status 403 /wrong/1 -H "Authorization: Bearer $WRONGTOK"
expect_status 400 /ratings/1 -H "Authorization: Bearer $GOOD1" -H "Authorization: Bearer $GOOD2"

# The decisions name tokens by fingerprint only.
grep -q " reason=ok .*token=[0-9a-f]\{8\} " "$AGENT_LOG" || fail "no decision line with a token fingerprint"
grep -q " policy=sec/wrong reason=introspection_error " "$AGENT_LOG" || fail "the wrong secret did not give introspection_error"

# Error strings: --check on broken secret files and a missing env variable.
printf '%s\n%s\n' "$S_FILE" "$S_ENV" >"$T/secrets/two-lines"
mkdir -p "$T/bad"
intro bad1 r "$IDP1/introspect" rs-file "clientSecretFile: $T/secrets/two-lines"
mv "$T/policies/bad1.yaml" "$T/bad/"
"$AGENT" --check --policies "$T/bad/bad1.yaml" >"$T/check.log" 2>&1 && fail "--check accepted a two-line secret file"
intro bad2 r "$IDP1/introspect" rs-file "clientSecretEnv: E2E_SECRET_ENV_UNSET"
mv "$T/policies/bad2.yaml" "$T/bad/"
"$AGENT" --check --policies "$T/bad/bad2.yaml" >>"$T/check.log" 2>&1 && fail "--check accepted an unset variable"
log "--check said: $(tr '\n' ' ' <"$T/check.log" | cut -c1-300)"

log_settle
files=("$AGENT_LOG" "$HAPROXY_LOG" "$T/check.log")
if [ ${#METRICS[@]} -gt 0 ]; then
	curl -fsS --max-time 5 "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt" || fail "GET /metrics failed"
	grep -q . "$T/metrics.txt" || fail "/metrics is empty"
	files+=("$T/metrics.txt")
fi
stop_agent
n=0
for f in "${files[@]}"; do
	for s in "$GOOD1" "$GOOD2" "$INACTIVE" "$FAILING" "$BADBYTE" "$LONG" "$WRONGTOK" "$S_FILE" "$S_ENV" "$S_WRONG" \
		"$BASIC_CRED" "$BASIC_B64" "${BASIC_CRED%%:*}" "${BASIC_CRED#*:}" \
		"$(printf 'rs-file:%s' "$S_FILE" | base64 -w0)" "$(printf 'rs-file:%s' "$S_WRONG" | base64 -w0)"; do
		n=$((n + 1))
		if grep -qF -- "$s" "$f"; then
			fail "a secret (sha256 $(fp "$s")) appears in $(basename "$f"): $(grep -F -- "$s" "$f" | head -c 300 | sed "s/$s/<SECRET>/g")"
		fi
	done
done
log "$n secret/file checks passed over ${#files[@]} files ($(wc -l <"$AGENT_LOG") agent log lines)"

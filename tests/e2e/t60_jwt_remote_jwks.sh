#!/usr/bin/env bash
# Pins remoteJwks (accessTokenValidation.jwt.remoteJwks) behind real HAProxy 3.2, with the agent
# fetching key sets on its main thread:
#   ratings: Hydra v2.3.0 issuing JWT access tokens, its public /.well-known/jwks.json as the URL
#     (refreshInterval 1h, so only an unknown kid refetches):
#     a Hydra token is allowed (cache=local, then cache=hit);
#     a key rotated through Hydra's admin API (POST /admin/keys/hydra.jwt.access-token, new kid):
#     the new-kid token is denied invalid_token once (a refetch is asked for, nothing cached), then
#     allowed after the refetch; the old key's token still allowed (Hydra still publishes it);
#     Hydra STOPPED, an unknown-kid refetch fails (counted): a token never seen before is still
#     allowed with the last good set;
#     a tampered payload, alg none, HS256 keyed with the JWKS text -> 401 invalid_token.
#   reviews: tests/tools/fault_idp.py as the JWKS server (keys from tests/tools/jwt_mint):
#     down at start -> 503 jwks_unavailable (counted, logged), allowed once it serves the set;
#     expired -> inactive_token, wrong iss -> issuer_mismatch, wrong aud -> audience_mismatch;
#     slow beyond the fetch timeout, garbage, a 10 MB JWKS: each refetch fails (counted, bounded),
#     the last good set keeps serving, an unseen kid stays denied, every answer within 1 s;
#     the server rotates to a new key: the new-kid token is allowed after the refetch, the old key's
#     tokens (cached ones included) are denied from then on.
#   reloads with the JWKS server stopped: a URL still named keeps its last good set; a URL no
#     longer named is retired (no more fetches, gone from /metrics);
#   /metrics: oauth2_spoa_jwks_{fetches_total,keys,last_success_age_seconds,refetch_asks_total}.
# e2e-timeout: 420
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

MINT=$TOOLS/jwt_mint
[ -x "$MINT" ] || fail "jwt_mint not built ($MINT)"
mkdir -p "$T/keys" "$T/keys2"
"$MINT" init "$T/keys"
"$MINT" init "$T/keys2"
sed 's/"r1"/"r2"/; s/"e1"/"e2"/; s/"d1"/"d2"/' "$T/keys2/jwks.json" >"$T/jwks2.json"
cp "$T/keys/jwks.json" "$T/served.json"
ISS=https://idp.test/

start_hydra STRATEGIES_ACCESS_TOKEN=jwt
hydra_create_client svc svc-secret "read write" "api other"
tok1=$(hydra_token svc svc-secret "read" "api")
[ "$(tr -cd . <<<"$tok1")" = .. ] || fail "Hydra did not issue a JWT: ${tok1:0:12}..."
HYDRA_JWKS=$HYDRA_PUBLIC/.well-known/jwks.json
# Hydra makes its ID-token key pair on the first JWKS request (seconds): not the agent's job.
curl -fsS --max-time 60 -o /dev/null "$HYDRA_JWKS" || fail "no JWKS from Hydra"
REV_PORT=$(free_port)
REV_JWKS=http://127.0.0.1:$REV_PORT/keys.json

{
	_policy_head hydra-remote ratings
	printf '            jwt:\n'
	printf '              issuer: %s\n' "$HYDRA_ISSUER"
	printf '              typ: jwt\n'
	printf '              algorithms: [RS256]\n'
	printf '              remoteJwks: {url: "%s", refreshInterval: 1h}\n' "$HYDRA_JWKS"
	printf '            audiences: [api]\n'
	printf '            requiredScopes: [read]\n'
	echo ---
	_policy_head fault-remote reviews
	printf '            jwt:\n'
	printf '              issuer: %s\n' "$ISS"
	printf '              remoteJwks: {url: "%s", refreshInterval: 1h}\n' "$REV_JWKS"
	printf '            audiences: [api]\n'
} >"$T/policies.yaml"
METRICS_PORT=$(free_port)
start_agent --policies "$T/policies.yaml" --log-level info --introspection-timeout 1000 \
	--metrics "127.0.0.1:$METRICS_PORT"
STATUS_PORT=$(free_port)
export STATUS_PORT
rfc6750_cfg "$T/cfg"
start_haproxy 3.2 "$T/cfg"
wait_agent_up

hdrs() { bearer_answer "$1" "$2"; } # hdrs PATH TOKEN
want() { want_answer "$@"; }
last_decision() { grep decision "$AGENT_LOG" | tail -n1; }
decided() { # decided REASON CACHE: the newest decision line says both
	local deadline=$((SECONDS + 5))
	until last_decision | grep -q "reason=$1 "; do
		[ $SECONDS -lt $deadline ] || fail "want reason=$1, last: $(last_decision)"
		sleep 0.05
	done
	last_decision | grep -q "cache=$2 " || fail "want cache=$2: $(last_decision)"
}
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics" >"$T/metrics" || fail "scrape failed"; }
metric() { # metric NAME{LABELS}: its value (0 when absent)
	scrape
	awk -v k="$1" '$1 == k { v = $2 } END { print v + 0 }' "$T/metrics"
}
wait_metric() { # wait_metric WHAT NAME{LABELS} MIN [SECONDS=20]: until the value reaches MIN
	local deadline=$((SECONDS + ${4:-20}))
	until [ "$(metric "$2")" -ge "$3" ] 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || fail "$1: $2 never reached $3: $(grep jwks "$T/metrics")"
		sleep 0.2
	done
}
fetched() { printf 'oauth2_spoa_jwks_fetches_total{url="%s",result="%s"}' "$1" "$2"; }
keys() { printf 'oauth2_spoa_jwks_keys{url="%s"}' "$1"; }
timed() { # timed WHAT PATH TOKEN: bearer_answer within 1 s
	local t0=$EPOCHREALTIME
	hdrs "$2" "$3"
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a < 1.0) }' ||
		fail "$1: the answer took more than 1 s"
}

# ------------------------------------------------------------------ Hydra (ratings)
wait_metric "Hydra's JWKS" "$(keys "$HYDRA_JWKS")" 1
hdrs /ratings/1 "$tok1"
want "Hydra JWT" 200
grep -q "sub=svc client_id=svc scope=read$" "$T/body" || fail "upstream saw: $(cat "$T/body")"
decided ok local
hdrs /ratings/1 "$tok1"
want "Hydra JWT again" 200
decided ok hit
grep -q "jwks $HYDRA_JWKS: [0-9]* keys loaded" "$AGENT_LOG" || fail "no 'keys loaded' line"
log "a Hydra JWT is allowed with the fetched JWKS (local, then a cache hit)"

code=$(curl -s -o "$T/newkey" -w '%{http_code}' --max-time 10 -X POST -H 'Content-Type: application/json' \
	-d '{"alg":"RS256","kid":"t60-rotated","use":"sig"}' "$HYDRA_ADMIN/admin/keys/hydra.jwt.access-token")
[ "$code" = 201 ] || [ "$code" = 200 ] || fail "Hydra key rotation: HTTP $code $(head -c 200 "$T/newkey")"
tok_new=$(hydra_token svc svc-secret "read" "api")
python3 -c 'import base64, json, sys
h = sys.argv[1].split(".")[0]
sys.exit(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4))).get("kid") != "t60-rotated")' "$tok_new" ||
	fail "Hydra did not sign with the rotated key"
asks=$(metric "oauth2_spoa_jwks_refetch_asks_total{url=\"$HYDRA_JWKS\"}")
hdrs /ratings/1 "$tok_new"
want "new kid before the refetch" 401 'error="invalid_token"'
decided invalid_token local
[ "$(metric "oauth2_spoa_jwks_refetch_asks_total{url=\"$HYDRA_JWKS\"}")" -gt "$asks" ] ||
	fail "the unknown kid asked for no refetch"
deadline=$((SECONDS + 20))
until hdrs /ratings/1 "$tok_new"; head -n1 "$T/h.txt" | grep -q " 200"; do
	[ $SECONDS -lt $deadline ] || fail "the rotated key's token is still refused: $(last_decision)"
	sleep 0.5
done
hdrs /ratings/1 "$tok1"
want "the old key's token after the rotation" 200
log "Hydra key rotation: the new kid is refused once, refetched, then allowed; the old key still works"

tok2=$(hydra_token svc svc-secret "read write" "api")
jwks_text=$(curl -fsS --max-time 5 "$HYDRA_JWKS") || fail "no JWKS from Hydra"
stop_bg "$HYDRA_PID"
curl -s --max-time 2 -o /dev/null "$HYDRA_PUBLIC/health/ready" && fail "Hydra still answers"
failed=$(metric "$(fetched "$HYDRA_JWKS" failed)")
hdrs /ratings/1 "$(python3 - "$tok1" <<-'EOF'
	import base64, json, sys
	h, p, s = sys.argv[1].split(".")
	d = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
	d["kid"] = "t60-never-published"
	print(base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode() + "." + p + "." + s)
EOF
)"
want "a kid Hydra never published" 401 'error="invalid_token"'
wait_metric "the refetch with Hydra down" "$(fetched "$HYDRA_JWKS" failed)" $((failed + 1))
hdrs /ratings/1 "$tok2"
want "a new token with Hydra stopped and its JWKS failing" 200
decided ok local
log "Hydra stopped, its refetch failed: a token never seen before is allowed with the last good set"

forge() { # forge KIND TOKEN: tamper (scp widened), none, hs256 (HMAC keyed with the JWKS text)
	python3 - "$1" "$2" "$jwks_text" <<-'EOF'
		import base64, hashlib, hmac, json, sys
		kind, tok, jwks = sys.argv[1:4]
		d = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
		e = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
		h, p, s = tok.split(".")
		hdr, pl = json.loads(d(h)), json.loads(d(p))
		pl["scp"] = ["read", "write", "admin"]
		if kind == "tamper":
		    print(h + "." + e(json.dumps(pl).encode()) + "." + s)
		elif kind == "none":
		    hdr["alg"] = "none"
		    print(e(json.dumps(hdr).encode()) + "." + e(json.dumps(pl).encode()) + ".")
		else:
		    hdr["alg"] = "HS256"
		    si = e(json.dumps(hdr).encode()) + "." + e(json.dumps(pl).encode())
		    print(si + "." + e(hmac.new(jwks.encode(), si.encode(), hashlib.sha256).digest()))
	EOF
}
for kind in tamper none hs256; do
	hdrs /ratings/1 "$(forge "$kind" "$tok_new")"
	want "forged ($kind)" 401 'error="invalid_token"'
	decided invalid_token local
done
log "tampered, alg none and HS256 with the public key are refused"

# ------------------------------------------------------------------ fault_idp (reviews)
now=$(date +%s)
claims() { # claims [SED]: a payload for the reviews policy
	printf '{"iss":"%s","sub":"bob","aud":"api","scope":"read","iat":%d,"exp":%d}' \
		"$ISS" "$now" $((now + 600)) | sed "${1:-}"
}
mint() { "$MINT" sign "$@"; } # mint DIR KEY ALG HEADER PAYLOAD
H1='{"alg":"RS256","kid":"r1","typ":"at+jwt"}'
H2='{"alg":"RS256","kid":"r2","typ":"at+jwt"}'
r1=$(mint "$T/keys" rsa RS256 "$H1" "$(claims)")
timed "JWKS down at start" /reviews/1 "$r1"
want "JWKS down at start" 503
decided jwks_unavailable local
grep -q "jwks $REV_JWKS: no key set yet" "$AGENT_LOG" || fail "no 'no key set yet' hint logged"
[ "$(metric "oauth2_spoa_decisions_total{policy=\"rel/fault-remote\",reason=\"jwks_unavailable\",mode=\"enforce\"}")" -ge 1 ] ||
	fail "jwks_unavailable not counted: $(grep decisions "$T/metrics")"
[ "$(metric "$(keys "$REV_JWKS")")" = 0 ] || fail "keys for a URL never fetched"
grep -q "^oauth2_spoa_jwks_last_success_age_seconds{url=\"$REV_JWKS\"} -1$" "$T/metrics" ||
	fail "last success age of a URL never fetched: $(grep last_success "$T/metrics")"
log "JWKS endpoint down at start: 503 jwks_unavailable, counted and logged"

start_fault_idp --port "$REV_PORT" --mode jwks --jwks "$T/served.json"
deadline=$((SECONDS + 30))
until hdrs /reviews/1 "$r1"; head -n1 "$T/h.txt" | grep -q " 200"; do
	[ $SECONDS -lt $deadline ] || fail "still refused once the JWKS is served: $(last_decision)"
	sleep 0.5
done
grep -q "^oauth2_spoa_jwks_last_success_age_seconds{url=\"$REV_JWKS\"} [0-9]" <(scrape; cat "$T/metrics") ||
	fail "no last success age: $(grep last_success "$T/metrics")"
hdrs /reviews/1 "$(mint "$T/keys" rsa RS256 "$H1" "$(claims "s/\"exp\":[0-9]*/\"exp\":$((now - 120))/")")"
want "expired" 401 'error="invalid_token"'
decided inactive_token local
hdrs /reviews/1 "$(mint "$T/keys" rsa RS256 "$H1" "$(claims 's#idp.test#evil.test#')")"
want "wrong iss" 403
decided issuer_mismatch local
hdrs /reviews/1 "$(mint "$T/keys" rsa RS256 "$H1" "$(claims 's#"aud":"api"#"aud":"other"#')")"
want "wrong aud" 403
decided audience_mismatch local
log "once served: allowed; expired, wrong iss and wrong aud refused"

# A failing refetch (asked for by an unseen kid, rate-limited to one per 10 s): each leaves the
# last good set in place, and no answer waits for it.
unseen=$(mint "$T/keys2" rsa RS256 "$H2" "$(claims)")
for mode in slow:3000 html jwks-huge; do
	failed=$(metric "$(fetched "$REV_JWKS" failed)")
	curl -fsS --max-time 5 -o /dev/null -d "$mode" "$IDP/__mode" || fail "fault_idp /__mode $mode"
	timed "$mode: unseen kid" /reviews/1 "$unseen"
	want "$mode: unseen kid" 401 'error="invalid_token"'
	wait_metric "$mode refetch" "$(fetched "$REV_JWKS" failed)" $((failed + 1)) 25
	timed "$mode: known key" /reviews/1 "$(mint "$T/keys" rsa RS256 "$H1" "$(claims 's/"bob"/"carol"/')")"
	want "$mode: known key, last good set" 200
	timed "$mode: unseen kid again" /reviews/1 "$unseen"
	want "$mode: unseen kid again" 401 'error="invalid_token"'
	[ "$(metric "$(keys "$REV_JWKS")")" = 3 ] || fail "$mode: the last good set is gone"
done
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status")
[ "$rss" -lt 300000 ] || fail "agent RSS ${rss} kB after the 10 MB JWKS"
grep -q "jwks $REV_JWKS: fetch failed (timeout" "$AGENT_LOG" || fail "the slow fetch is not logged as a timeout"
grep -q "jwks $REV_JWKS: fetch failed (response too big" "$AGENT_LOG" || fail "the 10 MB JWKS is not refused as too big"
log "slow, garbage and 10 MB JWKS answers: refetch failed and counted, last good set kept, unseen kid denied, answers < 1 s"

# Rotation at the server: only r2 from now on.
hdrs /reviews/1 "$r1"
want "r1 before the rotation (cached)" 200
cp "$T/jwks2.json" "$T/served.json.tmp" && mv "$T/served.json.tmp" "$T/served.json"
curl -fsS --max-time 5 -o /dev/null -d jwks "$IDP/__mode" || fail "fault_idp /__mode jwks"
deadline=$((SECONDS + 25))
until hdrs /reviews/1 "$unseen"; head -n1 "$T/h.txt" | grep -q " 200"; do
	[ $SECONDS -lt $deadline ] || fail "the rotated key's token is still refused: $(last_decision)"
	sleep 0.5
done
hdrs /reviews/1 "$r1"
want "r1 (cached before) after its key left" 401 'error="invalid_token"'
hdrs /reviews/1 "$(mint "$T/keys" rsa RS256 "$H1" "$(claims 's/"bob"/"dave"/')")"
want "a new r1 token after its key left" 401 'error="invalid_token"'
log "server-side rotation: the new kid allowed after the refetch, the old key's tokens denied (cached ones too)"

# Reloads (SIGHUP) with the JWKS server stopped: a URL still named keeps its last good set; a URL
# no longer named stops being fetched and leaves /metrics.
stop_bg "$IDP_PID"
reload() {
	local before deadline=$((SECONDS + 10))
	before=$(grep -c 'reloaded: ' "$AGENT_LOG" || true)
	kill -HUP "$AGENT_PID"
	until [ "$(grep -c 'reloaded: ' "$AGENT_LOG" || true)" -gt "$before" ]; do
		[ $SECONDS -lt $deadline ] || fail "no reload: $(tail -n 3 "$AGENT_LOG")"
		sleep 0.05
	done
}
sed -i 's/requiredScopes: \[read\]/requiredScopes: [read, write]/' "$T/policies.yaml"
reload
hdrs /reviews/1 "$(mint "$T/keys2" rsa RS256 "$H2" "$(claims 's/"bob"/"erin"/')")"
want "after a reload, JWKS server down" 200
decided ok local
hdrs /ratings/1 "$tok1"
want "ratings after the reload: requiredScopes [read, write]" 403
awk '/^---$/ { exit } { print }' "$T/policies.yaml" >"$T/p.tmp"
mv "$T/p.tmp" "$T/policies.yaml"
grep -q "$REV_JWKS" "$T/policies.yaml" && fail "the reviews policy is still there"
reload
grep -q "jwks $REV_JWKS: no policy names it any more; fetching stopped" "$AGENT_LOG" ||
	fail "the dropped URL is still fetched: $(tail -n 3 "$AGENT_LOG")"
scrape
grep -q "$REV_JWKS" "$T/metrics" && fail "the dropped URL is still in /metrics"
grep -q "^oauth2_spoa_jwks_keys{url=\"$HYDRA_JWKS\"} [1-9]" "$T/metrics" ||
	fail "the kept URL lost its keys: $(grep jwks_keys "$T/metrics")"
log "reloads: a URL still named keeps its last good set (server down); a dropped URL is retired"

stop_bg "$HAPROXY_PID"
stop_agent
log "remoteJwks passed"

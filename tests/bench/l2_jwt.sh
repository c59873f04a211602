# shellcheck shell=bash
# tests/bench/l2_jwt.sh - the parts l2 and jwt of tests/bench/run.sh (sourced by it; not in its
# default BENCH_PARTS): uses its helpers (row, kv, MED, load, sb, policy, agent_on_core, idp_calls).

# ---------------------------------------------------------------- 5. L2 cache in Redis
# l2_agent NAME ARGS...: one more agent (1 thread, CPU_A, log level warn) on the policy
# $T/l2.yaml; sets L2_PID and L2_PORT.
l2_agent() {
	local name=$1
	shift
	L2_PORT=$(free_port)
	start_bg "$name" "$AGENT" --listen "127.0.0.1:$L2_PORT" --threads 1 --policies "$T/l2.yaml" --log-level warn "$@"
	L2_PID=$BG_PID
	taskset -acp "$CPU_A" "$L2_PID" >/dev/null
	wait_port "$L2_PORT"
}

redis_gets() { redis-cli -p "$REDIS_PORT" info commandstats | sed -nE 's/^cmdstat_get:calls=([0-9]+),.*/\1/p' | tr -d '\r'; }

# l2_latency: agent A fills Redis with L2_TOKENS tokens; B has a local cache of 64 entries (one
# shard, exact LRU) and cycles through all of them, so each decision is a local miss and an L2
# hit; C has the default cache, warmed from Redis, so each decision is a local hit. ROUNDS
# alternating pairs of 1 connection, 1 in flight; medians of what B adds to C's p50 and p99.
l2_latency() {
	local tok=bench-l2-$RANDOM$RANDOM a b c bp cp ob oc r d50="" d99="" b50="" c50="" b99="" c99="" c0 g0 n=0
	l2_agent l2a --redis "127.0.0.1:$REDIS_PORT"
	a=$L2_PID
	load "$SB" -p "$L2_PORT" -c 4 -w 20 --once --tokens "$L2_TOKENS" --token "$tok" --label l2fill >/dev/null
	c0=$(idp_calls)
	l2_agent l2b --redis "127.0.0.1:$REDIS_PORT" --cache-entries 64
	b=$L2_PID bp=$L2_PORT
	l2_agent l2c --redis "127.0.0.1:$REDIS_PORT"
	c=$L2_PID cp=$L2_PORT
	load "$SB" -p "$cp" -c 4 -w 20 --once --tokens "$L2_TOKENS" --token "$tok" --label l2warm >/dev/null
	row "== L2: $L2_TOKENS tokens in redis-server, 1 conn x 1 in flight, 1 agent thread" "per s  p50/p99 us"
	g0=$(redis_gets)
	for ((r = 1; r <= ROUNDS; r++)); do
		ob=$(load "$SB" -p "$bp" --agent-pid "$b" -c 1 -w 1 -d "$SECS" --tokens "$L2_TOKENS" --token "$tok" --label l2hit)
		oc=$(load "$SB" -p "$cp" --agent-pid "$c" -c 1 -w 1 -d "$SECS" --tokens "$L2_TOKENS" --token "$tok" --label localhit)
		[ "$(kv allowed "$ob")" = 1.000 ] && [ "$(kv allowed "$oc")" = 1.000 ] || fail "l2: not every decision allowed: $ob / $oc"
		row "l2 round $r L2 hit (local miss)" "$(kv per_s "$ob")  $(kv p50_us "$ob")/$(kv p99_us "$ob")"
		row "l2 round $r local hit" "$(kv per_s "$oc")  $(kv p50_us "$oc")/$(kv p99_us "$oc")"
		n=$((n + $(kv decisions "$ob")))
		b50+=" $(kv p50_us "$ob")" c50+=" $(kv p50_us "$oc")" b99+=" $(kv p99_us "$ob")" c99+=" $(kv p99_us "$oc")"
		d50+=" $(awk -v a="$(kv p50_us "$ob")" -v b="$(kv p50_us "$oc")" 'BEGIN {printf "%.1f", a - b}')"
		d99+=" $(awk -v a="$(kv p99_us "$ob")" -v b="$(kv p99_us "$oc")" 'BEGIN {printf "%.1f", a - b}')"
	done
	# What makes the rows honest: B's decisions were Redis GETs, nobody asked the IdP.
	row "l2 Redis GETs (B's ramp too) / B decisions; IdP calls" "$(($(redis_gets) - g0)) / $n; $(($(idp_calls) - c0))"
	row "l2 p50: L2 hit / local hit" "median $(awk "$MED" <<<"$b50") / $(awk "$MED" <<<"$c50") us"
	row "l2 p99: L2 hit / local hit" "median $(awk "$MED" <<<"$b99") / $(awk "$MED" <<<"$c99") us"
	row "l2 an L2 hit adds to p50" "median $(awk "$MED" <<<"$d50") us of:$d50"
	row "l2 an L2 hit adds to p99" "median $(awk "$MED" <<<"$d99") us of:$d99"
	stop_bg "$a"
	stop_bg "$b"
	stop_bg "$c"
}

# l2_fleet: the same L2_TOKENS tokens sent once to each of 3 agents, in turn, with one shared
# Redis and without: introspections per token, counted at the fault IdP.
l2_fleet() {
	local mode tok c0 pids i r
	row "== L2: introspections per token, 3 agents, each token once on each agent" "calls  per token"
	for mode in redis none; do
		tok=bench-fleet-$mode-$RANDOM$RANDOM pids=""
		c0=$(idp_calls)
		for i in 1 2 3; do
			if [ $mode = redis ]; then
				l2_agent "fleet$i" --redis "127.0.0.1:$REDIS_PORT"
			else
				l2_agent "fleet$i"
			fi
			pids+=" $L2_PID"
			load "$SB" -p "$L2_PORT" -c 4 -w 20 --once --tokens "$L2_TOKENS" --token "$tok" --label fleet >/dev/null
		done
		r=$(($(idp_calls) - c0))
		row "l2 3 agents, $L2_TOKENS tokens, $([ $mode = redis ] && echo "one Redis" || echo "no Redis")" "$r  $(awk -v c="$r" -v n="$L2_TOKENS" 'BEGIN {printf "%.2f", c / n}')"
		for i in $pids; do stop_bg "$i"; done
	done
}

part_l2() {
	log "l2: redis-server + agents (CPU $CPU_A), $L2_TOKENS tokens, ${SECS}s x $ROUNDS rounds"
	command -v redis-server >/dev/null || bash "$E2E_ROOT/contrib/tools/install-deps.sh" redis-server redis-tools ||
		fail "redis-server is not installed and could not be installed"
	start_fault_idp
	start_redis bench-redis
	policy "$T/l2.yaml" "$IDP/introspect"
	l2_latency
	l2_fleet
	stop_bg "$REDIS_PID"
	stop_bg "$IDP_PID"
}

# ---------------------------------------------------------------- 6. local JWT
# jwt_hits: ROUNDS alternating engine hit runs (CONNS x WINDOW, SECS) of an introspection
# policy (route ratings) and a jwt localJwks policy (route jwt, an ES256 token from jwt_mint):
# once verified, a JWT is a cache hit like an introspected token; medians of both. The opaque
# token has the JWT's length, so both NOTIFY frames are the same size.
jwt_hits() {
	local mint=$1 now tok itok oi oj r ri="" rj="" ci="" cj=""
	mkdir -p "$T/keys" "$T/jwtpol"
	"$mint" init "$T/keys" >/dev/null
	policy "$T/jwtpol/intro.yaml" "$IDP/introspect"
	{
		_policy_head jwt jwt
		printf '            jwt:\n              issuer: https://idp.bench/\n'
		printf "              localJwks: {inlineString: '%s'}\n" "$(cat "$T/keys/jwks.json")"
	} >"$T/jwtpol/jwt.yaml"
	now=$(date +%s)
	tok=$("$mint" sign "$T/keys" ec ES256 '{"alg":"ES256","kid":"e1","typ":"at+jwt"}' \
		"{\"iss\":\"https://idp.bench/\",\"sub\":\"alice\",\"aud\":\"api\",\"scope\":\"read write\",\"client_id\":\"c\",\"iat\":$now,\"exp\":$((now + 3600))}")
	itok=$(printf 'bench-jwt-opaque-%0400d' 0)
	itok=${itok:0:${#tok}}
	agent_on_core --threads 1 --policies "$T/jwtpol" --log-level warn
	row "== jwt vs introspection: engine cache hit, $CONNS conns x $WINDOW, 1 agent thread" "decisions/s  p50/p99 us  agent CPU us/decision"
	for ((r = 1; r <= ROUNDS; r++)); do
		oi=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --warm --token "$itok" --label intro)
		oj=$(sb -c "$CONNS" -w "$WINDOW" -d "$SECS" --warm --route route=jwt --path /jwt/1 --token "$tok" --label jwt)
		[ "$(kv allowed "$oi")" = 1.000 ] && [ "$(kv allowed "$oj")" = 1.000 ] || fail "jwt: not every decision allowed: $oi / $oj"
		row "jwt round $r introspection policy hit (${#itok} B)" "$(kv per_s "$oi")  $(kv p50_us "$oi")/$(kv p99_us "$oi")  $(kv agent_cpu_us "$oi")"
		row "jwt round $r jwt policy hit (ES256, ${#tok} B)" "$(kv per_s "$oj")  $(kv p50_us "$oj")/$(kv p99_us "$oj")  $(kv agent_cpu_us "$oj")"
		ri+=" $(kv per_s "$oi")" rj+=" $(kv per_s "$oj")" ci+=" $(kv agent_cpu_us "$oi")" cj+=" $(kv agent_cpu_us "$oj")"
	done
	row "jwt hit decisions/s: introspection / jwt" "median $(awk "$MED" <<<"$ri") / $(awk "$MED" <<<"$rj")"
	row "jwt hit agent CPU us: introspection / jwt" "median $(awk "$MED" <<<"$ci") / $(awk "$MED" <<<"$cj")"
	stop_agent
}

# jwt_libcrypto_floor: the signature check alone, as libcrypto does it with its contexts kept
# (`openssl speed`, same core, right after jwt_bench): what no JWT code on this machine can go
# under. -mr prints "+F2:i:bits:sign/s:verify/s" (RSA), "+F4:..." (ECDSA), "+F6:i:bits:name:..."
# (EdDSA).
jwt_libcrypto_floor() {
	local out
	out=$(taskset -c "$CPU_A" openssl speed -seconds 2 -mr rsa2048 ecdsap256 ed25519 2>/dev/null) ||
		fail "jwt: openssl speed failed"
	row "== jwt: libcrypto's verify alone (openssl speed, same core)" "us per verify"
	awk -F: '/^\+F2:/ { printf "rsa2048 %.1f\n", 1e6 / $5 }
		/^\+F4:/ { printf "p256 %.1f\n", 1e6 / $5 }
		/^\+F6:/ { printf "ed25519 %.1f\n", 1e6 / $6 }' <<<"$out" >"$T/openssl_speed.out"
	[ "$(wc -l <"$T/openssl_speed.out")" = 3 ] || fail "jwt: unexpected openssl speed output: $out"
	while read -r alg us; do
		row "libcrypto verify $alg" "$us"
	done <"$T/openssl_speed.out"
}

part_jwt() {
	local alg med min mint=${TOOLS:-}/jwt_mint
	[ -x "$BENCH/jwt_bench" ] || fail "jwt: $BENCH/jwt_bench is not built"
	[ -x "$mint" ] || fail "jwt: TOOLS must name the dir of jwt_mint (make bench sets it)"
	log "jwt: jwt_bench ($JWT_ITERS x 5 rounds per algorithm, CPU $CPU_A), then engine hits"
	row "== jwt: one uncached verification (jwt_verify), one thread" "median us  min us"
	taskset -c "$CPU_A" "$BENCH/jwt_bench" "$JWT_ITERS" >"$T/jwt_bench.out" || fail "jwt: jwt_bench failed"
	while read -r alg med min; do
		row "jwt verify $alg" "$med  $min"
	done < <(tail -n +2 "$T/jwt_bench.out")
	jwt_libcrypto_floor
	start_fault_idp
	jwt_hits "$mint"
	stop_bg "$IDP_PID"
}

#!/usr/bin/env bash
# Pins issue 11 item 1, canonical paths, on HAProxy 2.6, 3.0, 3.2 and 3.4 with the shipped
# haproxy/ files and policies/ratings-hydra.yaml (its introspection URL pointed at a stand-in
# IdP), in front of tests/tools/norm_upstream.py, an application that decodes, merges and resolves
# paths the way common servers do:
#   - shipped: every non-canonical form of /ratings/1 ("//", dot segments, escaped letters, dots,
#     '/' and '\', raw '\', ';', %00, %25XX, absolute form) is refused with 400, and no token-less
#     request reaches /ratings; /ratings/1?x=%20y with a token and /details/1 without one work;
#   - agent alone (the shipped acl/deny lines removed): the same forms are denied by the agent,
#     reason path_not_canonical, and on 300 random paths the agent refuses exactly what the
#     shipped rules refuse;
#   - the commented normalize-uri alternative (uncommented as shipped): no token-less request
#     reaches /ratings either, and normalisable forms reach the application rewritten.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

start_fault_idp --sub alice --scope read
sed "s#http://127.0.0.1:4445/oauth2/introspect#$IDP/introspect#" "$E2E_ROOT/policies/ratings-hydra.yaml" \
	>"$T/ratings-hydra.yaml"
grep -q "$IDP/introspect" "$T/ratings-hydra.yaml" || fail "ratings-hydra.yaml: introspectionUrl not found"
start_agent --policies "$T/ratings-hydra.yaml"

exec 4< <(exec python3 "$E2E_ROOT/tests/tools/norm_upstream.py" --port 0)
NORM_PID=$!
_LIB_PIDS+=("$NORM_PID")
read -r -t 10 NORM_PORT <&4 || fail "norm_upstream.py did not print its port"
exec 4<&-
wait_http "http://127.0.0.1:$NORM_PORT/__health"

# Each line: a request target (Python bytes literal body: "\\" is one backslash).
cat >"$T/attacks.txt" <<'EOF'
//ratings/1
/./ratings/1
/x/../ratings/1
/%72atings/1
/%2Fratings/1
/\\ratings/1
/%2fratings/1
/%5Cratings/1
/%5cratings/1
/%2e/ratings/1
/%2E%2E/ratings/1
/x/%2e%2e/ratings/1
/x/.%2E/ratings/1
/.//ratings/1
/;x/ratings/1
/x/..;/ratings/1
/%3Bx/ratings/1
/x%2F..%2Fratings/1
/..%5Cratings/1
/%00/../ratings/1
/details/../ratings/1
/reviews/../ratings/1
/%252Fratings/1
/ratings/1/.
/ratings%2F1
/ratings/%2e%2e/ratings/1
abs://ratings/1
abs:/x/../ratings/1
EOF
cat >"$T/public.txt" <<'EOF'
/details/1
/details/1?x=%20y
/details/a%20b
/details/caf%C3%A9
/details/1/
/details/.well-known
/details/a..b
/details/~user
/details/a:b@c!$&'()*+,=
abs:/details/1
EOF
cat >"$T/protected.txt" <<'EOF'
/ratings/1?x=%20y
/ratings/1?q=/../x//y%2F\\
/ratings/1
/ratings/a%20b
abs:/ratings/1
EOF
# Random paths from pieces around every rule, the same for every version.
python3 - "$T/random.txt" <<'EOF'
import random, sys
r = random.Random(11)
ok = ["/", "a", "ratings", ".", "..", "%20", "%3A", "%25", "%C3%A9", ":", "@", "!", "'", "~", "-", "_",
      "$", "&", "(", "*", "+", ",", "="]
bad = ["/", ".", "..", "%2e", "%2E", "%2F", "%2f", "%41", "%61", "%7E", "%3B", "%2541", "%5C", "%00",
       "%1F", "%7F", "%c3", ";", "\\\\", "%", "%4", "%G0", "<", "|", "{"]
with open(sys.argv[1], "w") as f:
    for _ in range(300):
        n = r.randint(1, 6)
        bits = [r.choice(ok) if r.random() < 0.85 else r.choice(bad) for _ in range(n)]
        f.write("/" + "".join(bits) + "\n")
EOF

# cfg VARIANT DIR: the shipped files (app -> norm_upstream, the agent's reason in a response
# header) as shipped, with HAProxy's canonical-path rules removed (agent), or with the commented
# normalize-uri alternative uncommented (normalize).
cfg() {
	local variant=$1 dir=$2 n
	haproxy_cfg_dir "$dir"
	sed -i -e "s#server app1 127.0.0.1:$UP_PORT#server app1 127.0.0.1:$NORM_PORT#" \
		-e 's#^    default_backend app$#&\n    http-after-response set-header x-oauth2-reason "%[var(txn.oauth2.reason)]"#' \
		"$dir/haproxy.cfg"
	grep -q "server app1 127.0.0.1:$NORM_PORT" "$dir/haproxy.cfg" || fail "cfg: app server not found"
	case $variant in
	agent)
		n=$(grep -c 'path_\(non\)\?canonical' "$dir/haproxy.cfg" || true)
		[ "$n" = 7 ] || fail "cfg: want 6 acl lines and 1 deny line of canonical paths, found $n"
		sed -i '/path_\(non\)\?canonical/d' "$dir/haproxy.cfg"
		;;
	normalize)
		n=$(grep -c '^    ## ' "$dir/haproxy.cfg" || true)
		[ "$n" = 6 ] || fail "cfg: want the 6 commented normalize-uri lines, found $n"
		sed -i 's/^    ## /    /' "$dir/haproxy.cfg"
		;;
	esac
}

# probe FILE [path_probe.py ARGS]: "status<TAB>reason<TAB>target" lines into $T/out
probe() {
	local f=$1
	shift
	python3 "$E2E_ROOT/tests/tools/path_probe.py" "$FRONT_PORT" "$f" --show x-oauth2-reason "$@" >"$T/out" ||
		fail "path_probe.py failed"
	[ "$(wc -l <"$T/out")" = "$(grep -vc '^$' "$f")" ] || fail "path_probe.py: an answer is missing"
}

# all_status WANT WHAT: every line of $T/out has status WANT (a regex)
all_status() {
	local bad
	bad=$(awk -F'\t' -v w="^($1)\$" '$1 !~ w' "$T/out")
	[ -z "$bad" ] || fail "$2: want status $1, got:
$bad"
}

GOOD="Authorization: Bearer good-token"
for ver in 2.6 3.0 3.2 3.4; do
	for variant in shipped agent normalize; do
		log "HAProxy $ver, $variant"
		STATUS_PORT=$(free_port)
		export STATUS_PORT
		cfg "$variant" "$T/cfg-$ver-$variant"
		start_haproxy "$ver" "$T/cfg-$ver-$variant"
		wait_agent_up

		probe "$T/attacks.txt"
		cp "$T/out" "$T/attacks-$ver-$variant.out"
		case $variant in
		shipped) all_status 400 "$ver shipped, no token" ;;
		agent)
			all_status 403 "$ver agent alone, no token"
			bad=$(awk -F'\t' '$2 != "path_not_canonical"' "$T/out")
			[ -z "$bad" ] || fail "$ver agent alone: want reason path_not_canonical, got:
$bad"
			;;
		normalize) all_status '400|403' "$ver normalize-uri, no token" ;;
		esac
		probe "$T/public.txt"
		all_status 200 "$ver $variant: public paths, no token"
		probe "$T/protected.txt"
		all_status 403 "$ver $variant: protected paths, no token"
		probe "$T/protected.txt" --header "$GOOD"
		all_status 200 "$ver $variant: protected paths, good token"
		if [ "$variant" = normalize ]; then
			probe "$T/attacks.txt" --header "$GOOD"
			grep -q $'^200\t.*\t//ratings/1$' "$T/out" || fail "$ver normalize-uri: //ratings/1 with a token: $(cat "$T/out")"
		fi
		if [ "$variant" != normalize ]; then
			probe "$T/random.txt"
			cp "$T/out" "$T/random-$ver-$variant.out"
		fi
		stop_bg "$HAPROXY_PID"
	done
	# The agent refuses exactly what the shipped rules refuse (HAProxy's own parser may refuse
	# a path first: 400 in both).
	paste "$T/random-$ver-shipped.out" "$T/random-$ver-agent.out" | awk -F'\t' '
		{ s = ($1 == 400); a = ($5 == "path_not_canonical" || $4 == 400); if (s != a) print }' >"$T/disagree"
	[ ! -s "$T/disagree" ] || fail "$ver: shipped rules (columns 1-3) and agent (4-6) disagree on:
$(head -n 20 "$T/disagree")"
	n400=$(grep -c $'^400\t' "$T/random-$ver-shipped.out" || true)
	log "$ver: random paths refused by both: $n400 of 300"
	[ "$n400" -gt 30 ] && [ "$n400" -lt 290 ] || fail "$ver: $n400 of 300 random paths refused: the corpus tests nothing"
done

# Whatever the form, the application never served /ratings to a request without the identity.
curl -fsS --max-time 5 "http://127.0.0.1:$NORM_PORT/__log" >"$T/upstream.log" || fail "GET /__log failed"
leaks=$(grep -E -- '-> /ratings(/[^ ]*)? [a-z-]+ sub=$' "$T/upstream.log" || true)
[ -z "$leaks" ] || fail "token-less requests reached /ratings:
$leaks"
# ... and never had anything to normalise: it served the path the agent checked.
changed=$(grep -E -- ' normalised sub=' "$T/upstream.log" || true)
[ -z "$changed" ] || fail "the application normalised paths the agent saw otherwise:
$changed"
grep -qE -- '^/ratings/1\?x=%20y -> /ratings/1 as-sent sub=alice$' "$T/upstream.log" ||
	fail "/ratings/1?x=%20y with a token never reached the application"
log_settle
n=$(grep -c 'reason=path_not_canonical' "$AGENT_LOG" || true)
[ "$n" -ge 100 ] || fail "only $n path_not_canonical decisions logged"
stop_agent
log "canonical paths: every form refused or protected on every version"

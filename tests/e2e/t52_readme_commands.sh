#!/usr/bin/env bash
# shellcheck disable=SC2016 # the strings looked for in the tests are literal
# Every command in a ```sh block of README.md is run here, or is run by a named test or by CI, so
# the README cannot drift. Commands that write to the system run with their destinations moved
# under $T/root; commands that cannot run on a test machine (no bridge network, systemd not PID 1)
# are listed with the test that checks their files instead. A command this table does not know
# FAILS the test: add it to `check_cmd` below, with how it is verified.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/spoa.sh"

README=$E2E_ROOT/README.md
ROOTFS=$T/root
mkdir -p "$ROOTFS/etc/systemd/system"

# the commands: lines of ```sh blocks, continuations joined, comments and blanks dropped
python3 - "$README" >"$T/commands" <<-'EOF'
	import re, sys
	cmds, block, inside = [], "", False
	for line in open(sys.argv[1]):
	    line = line.rstrip("\n")
	    if not inside:
	        inside = line.strip() == "```sh"
	        continue
	    if line.strip() == "```":
	        inside = False
	        continue
	    block += line
	    if block.endswith("\\"):
	        block = block[:-1] + " "
	        continue
	    c = re.sub(r"\s+#.*$", "", block).strip()
	    block = ""
	    if c and not c.startswith("#"):
	        cmds.append(re.sub(r"\s+", " ", c))
	print("\n".join(cmds))
EOF
[ -s "$T/commands" ] || fail "no sh blocks found in README.md"

rooted() { # CMD: absolute system paths moved under $ROOTFS
	sed -E "s#(^| )/(usr|etc)/#\1$ROOTFS/\2/#g" <<<"$1"
}

run() { # CMD...: run in the repository root, fail with its output
	(cd "$E2E_ROOT" && timeout 120 bash -c "$1") >"$T/out" 2>&1 || fail "README command failed: $1
$(tail -n 20 "$T/out")"
}

has() { grep -qF -- "$2" "$E2E_ROOT/$1" || fail "$1 no longer contains '$2' (README command: $3)"; }

n_run=0 n_other=0
while IFS= read -r cmd; do
	how=""
	case $cmd in
	"make demo" | "make demo DEMO_HTTP_PORT="[0-9]* | "make demo-stop")
		has tests/e2e/t50_make_demo.sh 'demo "${vars[@]}"' "$cmd"
		has tests/e2e/t50_make_demo.sh 'demo-stop "DEMO_DIR=$DEMO_DIR"' "$cmd"
		how="run by t50_make_demo (ports moved with DEMO_* variables)"
		;;
	"make test" | ".ci/run")
		has .ci/run 'make test' "$cmd"
		has tests/e2e/t56_quickstart_clone.sh 'test PREREQS_ONLY=1' "$cmd"
		run "make -n test >/dev/null"
		how="run by CI (.ci/run -> make test); its first phase by t56_quickstart_clone in a clean copy"
		;;
	"make install")
		run "make --no-print-directory B=$(dirname "$AGENT") DESTDIR=$ROOTFS install"
		has tests/e2e/t55_make_install.sh 'mk uninstall' "$cmd"
		how="run with DESTDIR=\$T/root (install and uninstall: t55_make_install)"
		;;
	"make unit" | "make e2e" | "make asan" | "make bench" | "make fuzz FUZZ_SECONDS="[0-9]*)
		run "make -n ${cmd#make } >/dev/null"
		case $cmd in "make bench" | "make fuzz"*) how="target checked with make -n (not run by CI)" ;; *) how="run by make test; target checked with make -n" ;; esac
		;;
	"make")
		run "make --no-print-directory"
		how="run"
		;;
	"contrib/tools/install-deps.sh "*)
		run "bash contrib/tools/install-deps.sh --check ${cmd#contrib/tools/install-deps.sh }"
		how="run with --check (every package is installed here)"
		;;
	"build/oauth2-spoa "*)
		run "$AGENT ${cmd#build/oauth2-spoa }"
		how="run (with \$AGENT)"
		;;
	"install "* | "/usr/local/bin/oauth2-spoa "*)
		run "$(rooted "$cmd")"
		how="run with / moved to \$T/root"
		;;
	"systemctl "*)
		has tests/e2e/t51_contrib_docker_systemd.sh 'systemd-analyze verify' "$cmd"
		how="NOT RUN (systemd is not PID 1 here); the unit is checked by t51_contrib_docker_systemd"
		;;
	"docker build "*)
		has tests/e2e/t53_docker.sh 'docker build --network host -f contrib/docker/Dockerfile' "$cmd"
		how="run by t53_docker (with --network host)"
		;;
	"docker compose -f contrib/docker/docker-compose.yml -f contrib/docker/docker-compose.override.yml "*)
		has tests/e2e/t51_contrib_docker_systemd.sh 'config -q' "$cmd"
		how="NOT RUN (no bridge networking here); validated by t51, the same file with the host override run by t53"
		;;
	"docker-compose -f contrib/docker/docker-compose.yml -f contrib/docker/docker-compose.host.yml "*)
		has tests/e2e/t53_docker.sh 'compose=(docker-compose -f "$D/docker-compose.yml" -f "$D/docker-compose.host.yml")' "$cmd"
		has tests/e2e/t53_docker.sh "\"\${compose[@]}\" ${cmd##*docker-compose.host.yml }" "$cmd"
		how="run by t53_docker (ports moved with DEMO_* variables)"
		;;
	"contrib/docker/debian-base.sh")
		has tests/e2e/t53_docker.sh 'bash "$D/debian-base.sh"' "$cmd"
		how="run by t53_docker when the engine has no debian:bookworm-slim"
		;;
	'eval "$(contrib/docker/local-images.sh)"')
		has tests/e2e/t53_docker.sh 'bash "$D/local-images.sh" >"$T/images.env"' "$cmd"
		how="run by t53_docker (its output sourced)"
		;;
	"contrib/docker/walkthrough.sh")
		has tests/e2e/t51_contrib_docker_systemd.sh 'bash "$D/walkthrough.sh"' "$cmd"
		has tests/e2e/t53_docker.sh 'bash "$D/walkthrough.sh"' "$cmd"
		how="run by t53_docker through the containers, by t51_contrib_docker_systemd and by make demo"
		;;
	*) fail "README command not covered by any test: '$cmd' (add it to check_cmd in $(basename "$0"))" ;;
	esac
	case $how in "run"*) n_run=$((n_run + 1)) ;; *) n_other=$((n_other + 1)) ;; esac
	printf '%-75s %s\n' "$cmd" "$how" >>"$T/report"
done <"$T/commands"

# the installed tree the README describes
[ -x "$ROOTFS/usr/local/bin/oauth2-spoa" ] || fail "README install: no $ROOTFS/usr/local/bin/oauth2-spoa"
for f in etc/oauth2-spoa/policies/ratings-hydra.yaml etc/haproxy/haproxy.cfg etc/haproxy/oauth2-spoa.conf \
	etc/haproxy/routes.map usr/local/lib/systemd/system/oauth2-spoa.service usr/local/share/man/man8/oauth2-spoa.8; do
	[ -f "$ROOTFS/$f" ] || fail "README install: no /$f"
done
/usr/sbin/haproxy -c -f "$ROOTFS/etc/haproxy/haproxy.cfg" >/dev/null 2>&1 ||
	{ sed "s#/etc/haproxy/#$ROOTFS/etc/haproxy/#g" "$ROOTFS/etc/haproxy/haproxy.cfg" >"$T/h.cfg" &&
		/usr/sbin/haproxy -c -f "$T/h.cfg" >"$T/out" 2>&1; } || fail "installed haproxy.cfg: $(cat "$T/out")"
sed -n 's/^ExecStartPre=//p' "$ROOTFS/usr/local/lib/systemd/system/oauth2-spoa.service" | grep -q '^/usr/local/bin/oauth2-spoa --policies /etc/oauth2-spoa/policies --check$' ||
	fail "the unit's ExecStartPre does not match the installed layout"

cat "$T/report" >&2
log "README: $n_run commands run here, $n_other run elsewhere or checked statically"

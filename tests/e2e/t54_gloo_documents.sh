#!/usr/bin/env bash
# t54: pins Gloo's ExtAuthPolicy as its docs print it (spec.config.server) and as
# `kubectl get -o yaml` exports it (metadata.uid, resourceVersion, managedFields, status, ...):
# `--check` accepts both fixtures of tests/fixtures/gloo, `--log-level debug` names every ignored
# field with its file:line:col, and a field that would change enforcement (spec.config.disable:
# true, customAuth) is still refused by name. The loader itself is unit-tested (test_policy_gloo).
. "$(dirname "$0")/lib.sh"

F=$E2E_ROOT/tests/fixtures/gloo
for doc in published exported; do
	out=$("$AGENT" --check --policies "$F/$doc.yaml" 2>&1) || fail "--check $doc.yaml: $out"
	[ "$out" = "ok: 1 policies from 1 paths" ] || fail "--check $doc.yaml said: $out"
done
out=$("$AGENT" --check --log-level debug --policies "$F/published.yaml" 2>&1)
grep -q "debug $F/published.yaml:15:5: spec.config.server ignored" <<<"$out" || fail "no debug line for server: $out"
out=$("$AGENT" --check --log-level debug --policies "$F/exported.yaml" 2>&1)
for k in status metadata.creationTimestamp metadata.finalizers metadata.generation metadata.managedFields \
	metadata.resourceVersion metadata.uid metadata.labels metadata.annotations spec.config.server; do
	[ "$(grep -c "debug $F/exported.yaml:[0-9]*:[0-9]*: $k ignored" <<<"$out")" = 1 ] ||
		fail "want one debug line for $k: $out"
done
# at the default level, nothing is said about them
out=$("$AGENT" --check --policies "$F/exported.yaml" 2>&1)
if grep -q ignored <<<"$out"; then fail "ignored fields logged at info: $out"; fi

sed 's/^    server:$/    disable: true\n    server:/' "$F/published.yaml" >"$T/disabled.yaml"
out=$("$AGENT" --check --policies "$T/disabled.yaml" 2>&1) && fail "--check accepted disable: true"
grep -q "^$T/disabled.yaml:15:14: spec.config.disable: true is not supported" <<<"$out" || fail "disable: $out"
sed 's/^    server:$/    customAuth: {}\n    server:/' "$F/exported.yaml" >"$T/custom.yaml"
out=$("$AGENT" --check --policies "$T/custom.yaml" 2>&1) && fail "--check accepted customAuth"
grep -q "\"customAuth\" is not supported" <<<"$out" || fail "customAuth: $out"
log "Gloo documents: published and exported load; ignored fields named at debug; disable/customAuth refused"

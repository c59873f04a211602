#!/bin/sh
# haproxy-start.sh - entrypoint of the "haproxy" service of docker-compose.yml: runs the shipped
# haproxy/ files (mounted read-only at $SRC) with the addresses of the compose network:
#   bind 127.0.0.1:8080          -> $HAPROXY_BIND      (default :8080, every interface)
#   server app1 127.0.0.1:8081   -> $UPSTREAM_ADDR     (default upstream:8081)
#   server agent1 unix@/run/oauth2-spoa/agent.sock -> $AGENT_ADDR (default oauth2-spoa:12345:
#                                   the agent is another container, reached over TCP)
#   bind 127.0.0.1:8081          -> $LOCAL_UPSTREAM_BIND (default unchanged: the shipped echo
#                                   frontend, unused here, stays on the container's loopback)
#   /etc/haproxy/                -> $OUT/              (where the rendered files go)
# Everything else is haproxy/haproxy.cfg, oauth2-spoa.conf and routes.map unchanged.
# With --check it only renders and runs `haproxy -c`. POSIX sh: the image has no bash.
set -eu
SRC=${SRC:-/usr/local/etc/oauth2-spoa/haproxy}
OUT=${OUT:-/tmp/haproxy}
HAPROXY=${HAPROXY:-haproxy}
HAPROXY_BIND=${HAPROXY_BIND:-:8080}
UPSTREAM_ADDR=${UPSTREAM_ADDR:-upstream:8081}
AGENT_ADDR=${AGENT_ADDR:-oauth2-spoa:12345}
LOCAL_UPSTREAM_BIND=${LOCAL_UPSTREAM_BIND:-127.0.0.1:8081}

mkdir -p "$OUT"
cp "$SRC/oauth2-spoa.conf" "$SRC/routes.map" "$OUT/"
sed -e "s#bind 127.0.0.1:8080\$#bind $HAPROXY_BIND#" \
    -e "s#server app1 127.0.0.1:8081\$#server app1 $UPSTREAM_ADDR#" \
    -e "s#bind 127.0.0.1:8081\$#bind $LOCAL_UPSTREAM_BIND#" \
    -e "s#server agent1 unix@/run/oauth2-spoa/agent.sock #server agent1 $AGENT_ADDR #" \
    -e "s#/etc/haproxy/#$OUT/#g" \
    "$SRC/haproxy.cfg" >"$OUT/haproxy.cfg"
for want in "bind $HAPROXY_BIND" "server app1 $UPSTREAM_ADDR" "server agent1 $AGENT_ADDR " "$OUT/routes.map"; do
    grep -qF "$want" "$OUT/haproxy.cfg" || { echo "haproxy-start.sh: '$want' not found after rewriting $SRC/haproxy.cfg" >&2; exit 1; }
done
"$HAPROXY" -c -f "$OUT/haproxy.cfg"
[ "${1:-}" != --check ] || exit 0
exec "$HAPROXY" -W -db -f "$OUT/haproxy.cfg"

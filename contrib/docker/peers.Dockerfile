# Local stand-ins for the compose demo's peer images, for Docker engines that cannot pull from a
# registry (contrib/docker/local-images.sh builds them; the compose file's HYDRA_IMAGE,
# HAPROXY_IMAGE and CURL_IMAGE then name them). Made only of Debian packages and the Ory Hydra
# binary that tests/tools/prepare.sh builds from its Go module, and used the way the compose file
# uses the official images (same entrypoints, same config path).
ARG DEBIAN=debian:bookworm-slim

# HAProxy (Debian 12's 2.6) and curl: the haproxy, upstream and hydra-init services.
FROM ${DEBIAN} AS haproxy
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends haproxy curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER 65534:65534
CMD ["haproxy", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]

# Ory Hydra: the build context holds the binary only (local-images.sh makes it).
FROM ${DEBIAN} AS hydra
COPY hydra /usr/local/bin/hydra
USER 65534:65534
ENTRYPOINT ["hydra"]
CMD ["serve", "all", "--dev", "--sqa-opt-out"]

# syntax=docker/dockerfile:1
# tlsaudit in a container image: the exporter (`tlsaudit serve`) for the Kubernetes DaemonSet
# (docs/monitoring/kubernetes-daemonset.yaml), or any one-off command. See docs/deploy.md.
#
#   docker build -t tlsaudit:0.1.0 .
#   docker run --rm tlsaudit:0.1.0 --version
#
# Two stages: the Rust toolchain builds the release binary; the runtime is Debian slim (the
# same Debian release as the builder, for glibc) with that binary only, run as a numeric
# non-root user (65532) so that Kubernetes' runAsNonRoot can check it.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
# aws-lc-sys (the TLS library's crypto) builds C code: a C compiler is in the image; cmake
# is its fallback builder.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied out
# of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tlsaudit \
    && install -D -m 0755 target/release/tlsaudit /out/tlsaudit

FROM debian:${DEBIAN_RELEASE}-slim
LABEL org.opencontainers.image.title="tlsaudit" \
      org.opencontainers.image.description="Audit mutual-TLS clusters (TiDB, etcd) by real handshakes; Prometheus exporter" \
      org.opencontainers.image.source="https://github.com/tlsaudit/tlsaudit" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/tlsaudit /usr/local/bin/tlsaudit
# Fewer glibc malloc arenas: less resident memory (docs/performance.md).
ENV MALLOC_ARENA_MAX=2
# Numeric, so that `runAsNonRoot: true` can verify it without a passwd entry.
USER 65532:65532
EXPOSE 9819
ENTRYPOINT ["/usr/local/bin/tlsaudit"]
# `serve` listens on loopback unless told otherwise: in a container, give
# `serve --listen 0.0.0.0:9819 --allow-remote --config ...`.
CMD ["--help"]

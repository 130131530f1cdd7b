# syntax=docker/dockerfile:1
# Chat server image. Build: docker build -t chat-server .   (or: docker compose up --build)

# Pinned: the builder carries the version of rust-toolchain.toml (so rustup finds the
# toolchain installed), the runtime a Debian point release; bump them with it.
FROM rust:1.95.0-bookworm AS builder
WORKDIR /src
# libpq is compiled from source into the binary (pq-sys "bundled") and linked to the
# system's OpenSSL for TLS to PostgreSQL: libssl-dev and pkg-config, which the rust
# image already has (docs/architecture.md says why).
COPY . .
# Cache mounts keep the registry and compiled dependencies between builds (BuildKit);
# the binary is copied out because the cached target dir is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p chat-server \
    && install -m 0755 target/release/chat-server /usr/local/bin/chat-server

FROM debian:12.11-slim AS runtime
# Unpinned on purpose: ca-certificates should track the distro's current roots (for
# `sslrootcert=system` and rediss://), and libssl3 (the OpenSSL libpq uses) its
# security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
# Unprivileged runtime user with a fixed UID (no login, no home).
RUN groupadd --system --gid 10001 chat \
    && useradd --system --uid 10001 --gid chat --no-create-home --shell /usr/sbin/nologin chat
COPY --from=builder /usr/local/bin/chat-server /usr/local/bin/chat-server
# Numeric so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
ENV CHAT_BIND=0.0.0.0:8080
EXPOSE 8080
# Ready = the database answers (GET /readyz on CHAT_BIND); the image has no curl.
# The check gives /readyz 4 s (it may wait 2 s for a database connection).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["chat-server", "healthcheck"]
ENTRYPOINT ["chat-server"]
CMD ["serve"]

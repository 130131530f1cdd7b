# syntax=docker/dockerfile:1
# Chat server image. Build: docker build -t chat-server .   (or: docker compose up --build)

FROM rust:1-bookworm AS builder
WORKDIR /src
# libpq is compiled from source into the binary (pq-sys "bundled_without_openssl"),
# which only needs the C toolchain rust:1-bookworm already has.
COPY . .
# Cache mounts keep the registry and compiled dependencies between builds (BuildKit);
# the binary is copied out because the cached target dir is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p chat-server \
    && install -m 0755 target/release/chat-server /usr/local/bin/chat-server

FROM debian:bookworm-slim AS runtime
# ca-certificates unpinned on purpose: it should track the distro's current roots.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# Unprivileged runtime user with a fixed UID (no login, no home).
RUN groupadd --system --gid 10001 chat \
    && useradd --system --uid 10001 --gid chat --no-create-home --shell /usr/sbin/nologin chat
COPY --from=builder /usr/local/bin/chat-server /usr/local/bin/chat-server
# Numeric so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
ENV CHAT_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["chat-server"]
CMD ["serve"]

# sec0-gateway container image.
#   docker build -t sec0-gateway .
# Build stage: the release binary (dependencies cached in their own layer). Runtime stage:
# Debian slim with CA certificates only, the binary, the default config/ and rules/, a
# non-root user, and a HEALTHCHECK that needs no curl (`sec0-gateway probe`).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sec0-gateway \
    && install -m 0755 target/release/sec0-gateway /usr/local/bin/sec0-gateway

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sec0 \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin sec0 \
    && mkdir -p /var/lib/sec0-gateway/audit \
    && chown -R 10001:10001 /var/lib/sec0-gateway
COPY --from=build /usr/local/bin/sec0-gateway /usr/local/bin/sec0-gateway
COPY config /etc/sec0-gateway/config
COPY rules /etc/sec0-gateway/rules
WORKDIR /etc/sec0-gateway
USER 10001:10001
# 8080: proxy; 9090: admin (health, readiness, metrics, review API, review console /console).
EXPOSE 8080 9090
# Listen on all interfaces inside the container (the file's defaults are loopback).
ENV SEC0_GATEWAY__LISTEN=0.0.0.0:8080 \
    SEC0_GATEWAY__ADMIN__LISTEN=0.0.0.0:9090
HEALTHCHECK --interval=10s --timeout=4s --start-period=5s --retries=3 \
    CMD ["sec0-gateway", "probe", "http://127.0.0.1:9090/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["sec0-gateway", "--log-format", "json"]
CMD ["run", "-c", "/etc/sec0-gateway/config/gateway.yaml"]

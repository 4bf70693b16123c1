# sec0-gateway container image: build stage plus a small non-root runtime.
# (The production-grade image with health checks and its CI validation arrive with the
# deployment issue; this one serves docker-compose.yml.)
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sec0-gateway

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home sec0
COPY --from=build /src/target/release/sec0-gateway /usr/local/bin/sec0-gateway
COPY config /etc/sec0-gateway/config
COPY rules /etc/sec0-gateway/rules
WORKDIR /etc/sec0-gateway
USER 10001
EXPOSE 8080 9090
ENTRYPOINT ["sec0-gateway", "--log-format", "json"]
CMD ["run", "-c", "/etc/sec0-gateway/config/gateway.yaml"]

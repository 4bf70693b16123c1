#!/usr/bin/env bash
# What sharing state through Redis costs a rate-limited call: the same MCP tools/call load
# through two gateways whose rules put every call under a (never exhausted) rate limit, one
# with `store.backend: memory`, one with `store.backend: redis` (a Redis round trip per call
# for the shared token bucket), in alternating rounds; then medians and the ratio.
#
# Needs: nginx, wrk, redis-server (Debian: nginx-light wrk redis-server), python3.
# Usage: benches/shared_state.sh [ROUNDS] [DURATION] [CONNECTIONS]   (defaults: 3 10s 64)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} DURATION=${2:-10s} CONNS=${3:-64} THREADS=${WRK_THREADS:-2}
UP=18101 MEM=18102 MEM_ADMIN=18103 RED=18104 RED_ADMIN=18105 REDIS=18106
for tool in nginx wrk redis-server python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "benches/shared_state.sh: $tool not found" >&2; exit 1; }
done
RUN=benches/.run-shared
rm -rf "$RUN" && mkdir -p "$RUN/logs"
. benches/lib.sh
write_upstream_conf "$RUN" "$UP"
cat > "$RUN/rules.yaml" <<'YAML'
version: 1
default_decision: allow
rules: []
limits:
  - { id: every-call, when: { method: tools/call }, per: caller, rate: 1000000000, burst: 1000000000 }
YAML
for mode in memory redis; do
  port=$MEM admin=$MEM_ADMIN store="{ backend: memory }"
  if [ $mode = redis ]; then
    port=$RED admin=$RED_ADMIN store="{ backend: redis, redis: { url: \"redis://127.0.0.1:$REDIS/\" } }"
  fi
  cat > "$RUN/$mode.yaml" <<YAML
listen: 127.0.0.1:$port
admin: { listen: 127.0.0.1:$admin }
policy: { rules: $PWD/$RUN/rules.yaml }
store: $store
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML
done
cat > "$RUN/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
LUA
cargo build --release --quiet
cleanup() {
  [ -f "$RUN/upstream.pid" ] && kill "$(cat "$RUN/upstream.pid")" 2>/dev/null || true
  for p in ${PIDS:-}; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
nginx -c "$PWD/$RUN/upstream.conf" -p "$PWD/$RUN" 2>/dev/null
redis-server --bind 127.0.0.1 --port $REDIS --save "" --appendonly no >"$RUN/logs/redis.log" 2>&1 &
PIDS="$!"
sleep 0.3
./target/release/sec0-gateway --log-level warn run -c "$RUN/memory.yaml" 2>"$RUN/logs/memory.err" &
PIDS="$PIDS $!"
./target/release/sec0-gateway --log-level warn run -c "$RUN/redis.yaml" 2>"$RUN/logs/redis.err" &
PIDS="$PIDS $!"
for port in $UP $MEM $RED; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
run_rounds "$RUN" "$ROUNDS" memory:$MEM redis:$RED
summarize "$RUN" "$ROUNDS" memory - memory redis

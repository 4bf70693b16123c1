#!/usr/bin/env bash
# What keeping runs in Redis costs a call whose rules read its run: the same MCP tools/call
# load (run ids continued by the caller, 1,000 runs) through gateways whose rules read the
# run on every call (`when.run`), with `store.backend: memory` and `store.backend: redis`,
# in alternating rounds; then medians, p99 and the ratio to memory. Two rule sets:
#   read        the call's rules read the run (one Redis round trip per call: HGETALL+PTTL);
#   read+write  they also label the run (a second round trip, the write script, when the
#               run lacks what the call adds or was last written over a second ago).
# The issue's target: redis ≥ 0.8x memory in req/s.
# With BEFORE=path/to/an/older/sec0-gateway, two more targets run that binary with the Redis
# store (before-redis-read, before-redis-read+write), in the same rounds: before/after of a
# change measured in one run. With GATEWAY=path/to/sec0-gateway that binary is measured
# instead of building this tree's.
#
# Needs: nginx, wrk, redis-server (Debian: nginx-light wrk redis-server), python3.
# Usage: benches/shared_runs.sh [ROUNDS] [DURATION] [CONNECTIONS]   (defaults: 3 10s 64)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3} DURATION=${2:-10s} CONNS=${3:-64} THREADS=${WRK_THREADS:-2}
UP=18201 REDIS=18202 BASE=18210
for tool in nginx wrk redis-server python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "benches/shared_runs.sh: $tool not found" >&2; exit 1; }
done
RUN=benches/.run-runs
rm -rf "$RUN" && mkdir -p "$RUN/logs"
. benches/lib.sh
write_upstream_conf "$RUN" "$UP"
# Every benchmark call (`add`) is under a rule reading the run; the label never appears, so
# every call is allowed and forwarded.
cat > "$RUN/read.yaml" <<'YAML'
version: 1
default_decision: allow
rules:
  - { id: flow, when: { tool: add, run: { labels: private_data } }, decision: deny, reason: private_data_out }
YAML
cat > "$RUN/read+write.yaml" <<'YAML'
version: 1
default_decision: allow
rules:
  - { id: flow, when: { tool: add, run: { labels: private_data } }, decision: deny, reason: private_data_out }
  - { id: seen, when: { tool: add }, decision: allow, reason: seen, label: added }
YAML
TARGETS="" NAMES="" n=0
STORES="memory redis"
[ -n "${BEFORE:-}" ] && STORES="$STORES before-redis"
for rules in read read+write; do
  for store in $STORES; do
    port=$((BASE + 2 * n)) admin=$((BASE + 2 * n + 1)) n=$((n + 1))
    cfg="{ backend: memory }"
    [ $store != memory ] && cfg="{ backend: redis, redis: { url: \"redis://127.0.0.1:$REDIS/\" } }"
    cat > "$RUN/$store-$rules.gw.yaml" <<YAML
listen: 127.0.0.1:$port
admin: { listen: 127.0.0.1:$admin }
policy: { rules: $PWD/$RUN/$rules.yaml }
context: { trusted_networks: [127.0.0.0/8] }
store: $cfg
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML
    TARGETS="$TARGETS $store-$rules:$port" NAMES="$NAMES $store-$rules"
  done
done
cat > "$RUN/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
request = function()
  wrk.headers["x-sec0-run-id"] = "run-" .. math.random(1000)
  return wrk.format()
end
LUA
GATEWAY=${GATEWAY:-}
[ -n "$GATEWAY" ] || { cargo build --release --quiet && GATEWAY=./target/release/sec0-gateway; }
cleanup() {
  [ -f "$RUN/upstream.pid" ] && kill "$(cat "$RUN/upstream.pid")" 2>/dev/null || true
  for p in ${PIDS:-}; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
nginx -c "$PWD/$RUN/upstream.conf" -p "$PWD/$RUN" 2>/dev/null
redis-server --bind 127.0.0.1 --port $REDIS --save "" --appendonly no >"$RUN/logs/redis.log" 2>&1 &
PIDS="$!"
sleep 0.3
for name in $NAMES; do
  bin=$GATEWAY
  case $name in before-*) bin=$BEFORE ;; esac
  "$bin" --log-level warn run -c "$RUN/$name.gw.yaml" 2>"$RUN/logs/$name.err" &
  PIDS="$PIDS $!"
done
for target in $TARGETS; do
  port=${target##*:}
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
# shellcheck disable=SC2086 # word splitting of the target lists is intended
run_rounds "$RUN" "$ROUNDS" $TARGETS
# shellcheck disable=SC2086
summarize "$RUN" "$ROUNDS" memory-read memory-read+write $NAMES
# The Redis round trips the gateways made (read, write), to check the design's count.
for name in $NAMES; do
  case $name in *redis-*) ;; *) continue ;; esac
  port=$(grep -o 'admin: { listen: 127.0.0.1:[0-9]*' "$RUN/$name.gw.yaml" | grep -o '[0-9]*$')
  echo "$name: $(curl -s "http://127.0.0.1:$port/metrics" | grep '^sec0_gateway_run_store_round_trip_seconds_count' | tr '\n' ' ')" >&2
done

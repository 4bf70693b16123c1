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
. benches/upstream.sh
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
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(uname -m); wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds" >&2
for r in $(seq "$ROUNDS"); do
  for target in memory:$MEM redis:$RED; do
    name=${target%%:*} port=${target##*:}
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$RUN/post.lua" "http://127.0.0.1:$port/mcp" > "$RUN/$name.$r.txt"
    echo "  round $r $name: $(grep 'Requests/sec' "$RUN/$name.$r.txt")" >&2
  done
done
python3 - "$RUN" "$ROUNDS" <<'PY'
import re, statistics, sys
run, rounds = sys.argv[1], int(sys.argv[2])
def ms(s):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
res = {}
for name in ("memory", "redis"):
    rps, p50, p99, errs = [], [], [], 0
    for r in range(1, rounds + 1):
        t = open(f"{run}/{name}.{r}.txt").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)))
        p50.append(ms(re.search(r"\s50%\s+(\S+)", t).group(1)))
        p99.append(ms(re.search(r"\s99%\s+(\S+)", t).group(1)))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        errs += int(m.group(1)) if m else 0
    res[name] = (statistics.median(rps), statistics.median(p50), statistics.median(p99), errs)
m = res["memory"]
print("| store | req/s (median) | p50 ms | p99 ms | non-2xx | req/s vs memory | p99 vs memory |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, (rps, p50, p99, errs) in res.items():
    print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errs} | {rps / m[0]:.2f}x | {p99 / m[2]:.2f}x |")
PY

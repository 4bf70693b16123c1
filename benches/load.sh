#!/usr/bin/env bash
# Whole-proxy load benchmark: the same MCP tools/call POST load against
#   (a) the upstream directly, (b) nginx as a plain keep-alive reverse proxy,
#   (c) sec0-gateway (release build), (d) the same with 100 rules, (e) with the guard
#   scanning requests and responses,
# in alternating rounds with identical wrk settings, then a table of medians and ratios.
#
# Needs: nginx and wrk (Debian packages `nginx-light` or `nginx`, and `wrk`), python3.
# Usage: benches/load.sh [ROUNDS] [DURATION] [CONNECTIONS]   (defaults: 3 10s 64)
# BASELINE_BIN=/path/to/an/older/sec0-gateway adds that binary as `baseline` (plain) and
# `baseline+guard` in the same rounds: before/after figures measured in one run.
# Everything binds to 127.0.0.1; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
DURATION=${2:-10s}
CONNS=${3:-64}
THREADS=${WRK_THREADS:-2}
UP=18001 NGX=18002 GW=18003 GW_ADMIN=18004 GWR=18005 GWR_ADMIN=18006 GWG=18007 GWG_ADMIN=18008 GWA=18009 GWA_ADMIN=18010
GWB=18011 GWB_ADMIN=18012 GWBG=18013 GWBG_ADMIN=18014
BASELINE_BIN=${BASELINE_BIN:-}

for tool in nginx wrk python3 openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "benches/load.sh: $tool not found (apt-get install nginx-light wrk)" >&2; exit 1; }
done

RUN=benches/.run
rm -rf "$RUN" && mkdir -p "$RUN/logs"
# (1) the fast upstream: nginx answering a fixed tools/call result, one worker.
. benches/lib.sh
write_upstream_conf "$RUN" "$UP"

# (2) nginx as a plain reverse proxy with an upstream keep-alive pool (what ops would deploy).
cat > "$RUN/proxy.conf" <<NGINX
worker_processes auto;
daemon on; pid $PWD/$RUN/proxy.pid; error_log $PWD/$RUN/logs/proxy.err warn;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $PWD/$RUN/pbody; proxy_temp_path $PWD/$RUN/pproxy;
  fastcgi_temp_path $PWD/$RUN/pfcgi; uwsgi_temp_path $PWD/$RUN/puwsgi; scgi_temp_path $PWD/$RUN/pscgi;
  keepalive_requests 1000000;
  upstream tools { server 127.0.0.1:$UP; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX;
    location /mcp {
      proxy_pass http://tools;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    }
  }
}
NGINX

# (3) sec0-gateway in front of the same upstream.
cat > "$RUN/gateway.yaml" <<YAML
listen: 127.0.0.1:$GW
admin: { listen: 127.0.0.1:$GW_ADMIN }
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML

# (4) the same gateway with 100 rules (none matching the benchmark call, so every decision
#     evaluates the general rules and the tool index and ends in the default).
python3 - "$RUN/rules.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("version: 1\ndefault_decision: allow\nrules:\n")
    for i in range(100):
        if i % 4 == 0:
            f.write(f"  - {{ id: glob-{i}, when: {{ tool: 'danger_{i}_*' }}, decision: deny, reason: r{i} }}\n")
        elif i % 4 == 1:
            f.write(f"  - {{ id: arg-{i}, when: {{ tool: add, args: [ {{ path: '$.a', gt: {1000 + i} }} ] }}, decision: escalate, reason: r{i} }}\n")
        else:
            f.write(f"  - {{ id: exact-{i}, when: {{ tool: tool_{i} }}, decision: deny, reason: r{i} }}\n")
PY
cat > "$RUN/gateway-rules.yaml" <<YAML
listen: 127.0.0.1:$GWR
admin: { listen: 127.0.0.1:$GWR_ADMIN }
policy: { rules: $PWD/$RUN/rules.yaml }
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML

# (5) the gateway with the guard on both directions: findings in arguments are checked (secrets
#     deny, personal data redacted) and every result is scanned (personal data and secrets
#     redacted), so each call pays for a request scan, a whole-answer read and a response scan.
cat > "$RUN/guard-rules.yaml" <<'YAML'
version: 1
rules:
  - { id: no-secrets, when: { method: tools/call, findings: { detectors: secrets } }, decision: deny, reason: secret }
  - { id: mask-pii-in, when: { method: tools/call, findings: { detectors: pii } }, decision: redact, reason: pii }
  - { id: mask-out, when: { findings: { detectors: [pii, secrets], direction: response } }, decision: redact, reason: sensitive }
YAML
cat > "$RUN/gateway-guard.yaml" <<YAML
listen: 127.0.0.1:$GWG
admin: { listen: 127.0.0.1:$GWG_ADMIN }
policy: { rules: $PWD/$RUN/guard-rules.yaml }
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML

# (6) the gateway with 100 rules and the audit trail: one chained record per decision to a
#     file (signed checkpoint every 1,000 records, fsync per batch).
openssl genpkey -algorithm ed25519 -out "$RUN/audit.pem" 2>/dev/null
cat > "$RUN/gateway-audit.yaml" <<YAML
listen: 127.0.0.1:$GWA
admin: { listen: 127.0.0.1:$GWA_ADMIN }
policy: { rules: $PWD/$RUN/rules.yaml }
audit: { file: { dir: $PWD/$RUN/audit }, signing_key: $PWD/$RUN/audit.pem }
upstreams:
  tools: { url: "http://127.0.0.1:$UP" }
routes:
  - { name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }
YAML

cat > "$RUN/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Mcp-Session-Id"] = "3f2a9c1e5b7d4e0f8a6b2c4d1e3f5a7b"
LUA

cargo build --release --quiet
cleanup() {
  for p in upstream proxy; do [ -f "$RUN/$p.pid" ] && kill "$(cat "$RUN/$p.pid")" 2>/dev/null || true; done
  [ -n "${GW_PID:-}" ] && kill "$GW_PID" 2>/dev/null || true
  [ -n "${GWR_PID:-}" ] && kill "$GWR_PID" 2>/dev/null || true
  [ -n "${GWG_PID:-}" ] && kill "$GWG_PID" 2>/dev/null || true
  [ -n "${GWA_PID:-}" ] && kill "$GWA_PID" 2>/dev/null || true
  [ -n "${GWB_PID:-}" ] && kill "$GWB_PID" 2>/dev/null || true
  [ -n "${GWBG_PID:-}" ] && kill "$GWBG_PID" 2>/dev/null || true
}
trap cleanup EXIT
nginx -c "$PWD/$RUN/upstream.conf" -p "$PWD/$RUN" 2>/dev/null
nginx -c "$PWD/$RUN/proxy.conf" -p "$PWD/$RUN" 2>/dev/null
./target/release/sec0-gateway --log-level warn run -c "$RUN/gateway.yaml" 2>"$RUN/logs/gateway.err" &
GW_PID=$!
./target/release/sec0-gateway --log-level warn run -c "$RUN/gateway-rules.yaml" 2>"$RUN/logs/gateway-rules.err" &
GWR_PID=$!
./target/release/sec0-gateway --log-level warn run -c "$RUN/gateway-guard.yaml" 2>"$RUN/logs/gateway-guard.err" &
GWG_PID=$!
./target/release/sec0-gateway --log-level warn run -c "$RUN/gateway-audit.yaml" 2>"$RUN/logs/gateway-audit.err" &
GWA_PID=$!
TARGETS="direct:$UP nginx:$NGX gateway:$GW gateway+100rules:$GWR gateway+guard:$GWG gateway+100rules+audit:$GWA"
NAMES="nginx gateway direct nginx gateway gateway+100rules gateway+guard gateway+100rules+audit"
PORTS="$UP $NGX $GW $GWR $GWG $GWA"
if [ -n "$BASELINE_BIN" ]; then
  sed -e "s/127.0.0.1:$GW\$/127.0.0.1:$GWB/" -e "s/127.0.0.1:$GW_ADMIN/127.0.0.1:$GWB_ADMIN/" "$RUN/gateway.yaml" > "$RUN/baseline.yaml"
  sed -e "s/127.0.0.1:$GWG\$/127.0.0.1:$GWBG/" -e "s/127.0.0.1:$GWG_ADMIN/127.0.0.1:$GWBG_ADMIN/" "$RUN/gateway-guard.yaml" > "$RUN/baseline-guard.yaml"
  "$BASELINE_BIN" --log-level warn run -c "$RUN/baseline.yaml" 2>"$RUN/logs/baseline.err" &
  GWB_PID=$!
  "$BASELINE_BIN" --log-level warn run -c "$RUN/baseline-guard.yaml" 2>"$RUN/logs/baseline-guard.err" &
  GWBG_PID=$!
  TARGETS="$TARGETS baseline:$GWB baseline+guard:$GWBG"
  NAMES="$NAMES baseline baseline+guard"
  PORTS="$PORTS $GWB $GWBG"
fi
for port in $PORTS; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
for port in $PORTS; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}' "http://127.0.0.1:$port/mcp")
  [ "$code" = 200 ] || { echo "target on port $port answered $code" >&2; exit 1; }
done

# shellcheck disable=SC2086 # word splitting of the target lists is intended
run_rounds "$RUN" "$ROUNDS" $TARGETS
# shellcheck disable=SC2086
summarize "$RUN" "$ROUNDS" $NAMES

# Sourced by the load scripts (benches/load.sh, benches/shared_state.sh, benches/shared_runs.sh).
#
# write_upstream_conf RUN PORT: the fast upstream every target proxies to — nginx answering
# a fixed MCP tools/call result, one worker, keep-alive — as $RUN/upstream.conf (pid file
# $RUN/upstream.pid).
write_upstream_conf() {
  local run=$1 port=$2
  local result='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"42"}],"isError":false}}'
  cat > "$run/upstream.conf" <<NGINX
worker_processes 1;
daemon on; pid $PWD/$run/upstream.pid; error_log $PWD/$run/logs/upstream.err warn;
events { worker_connections 4096; }
http {
  access_log off; client_body_temp_path $PWD/$run/ubody; proxy_temp_path $PWD/$run/uproxy;
  fastcgi_temp_path $PWD/$run/ufcgi; uwsgi_temp_path $PWD/$run/uuwsgi; scgi_temp_path $PWD/$run/uscgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location /mcp { default_type application/json; return 200 '$result'; }
  }
}
NGINX
}

# run_rounds RUN ROUNDS NAME:PORT…: the same wrk load against each target in turn, ROUNDS
# times (alternating, so drift hits every target alike); results in $RUN/NAME.ROUND.txt.
# Uses THREADS, CONNS, DURATION and $RUN/post.lua.
run_rounds() {
  local run=$1 rounds=$2
  shift 2
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(uname -m); wrk -t$THREADS -c$CONNS -d$DURATION, $rounds rounds" >&2
  for r in $(seq "$rounds"); do
    for target in "$@"; do
      local name=${target%%:*} port=${target##*:}
      wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$run/post.lua" "http://127.0.0.1:$port/mcp" > "$run/$name.$r.txt"
      echo "  round $r $name: $(grep 'Requests/sec' "$run/$name.$r.txt")" >&2
    done
  done
}

# summarize RUN ROUNDS BASE [SECOND] NAME…: a Markdown table of medians per target, with
# req/s and p99 as ratios to BASE and (when SECOND is not "-") req/s as a ratio to SECOND.
summarize() {
  python3 - "$@" <<'PY'
import re, statistics, sys
run, rounds, base, second, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
def ms(s):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
res = {}
for name in names:
    rps, p50, p99, errs = [], [], [], 0
    for r in range(1, rounds + 1):
        t = open(f"{run}/{name}.{r}.txt").read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)))
        p50.append(ms(re.search(r"\s50%\s+(\S+)", t).group(1)))
        p99.append(ms(re.search(r"\s99%\s+(\S+)", t).group(1)))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        errs += int(m.group(1)) if m else 0
    res[name] = (statistics.median(rps), statistics.median(p50), statistics.median(p99), errs)
b = res[base]
extra = second != "-"
head = f"| target | req/s (median) | p50 ms | p99 ms | non-2xx | req/s vs {base} | p99 vs {base} |"
print(head + (f" req/s vs {second} |" if extra else ""))
print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if extra else ""))
for name, (rps, p50, p99, errs) in res.items():
    row = f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errs} | {rps / b[0]:.2f}x | {p99 / b[2]:.2f}x |"
    print(row + (f" {rps / res[second][0]:.2f}x |" if extra else ""))
PY
}

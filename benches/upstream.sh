# Sourced by the load scripts: the fast upstream every target proxies to — nginx answering
# a fixed MCP tools/call result, one worker, keep-alive.
# write_upstream_conf RUN PORT: writes $RUN/upstream.conf (pid file $RUN/upstream.pid).
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

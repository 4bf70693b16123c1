#!/usr/bin/env python3
"""Soak test (issue 21): the gateway under steady mixed load for DURATION while faults are
injected on a schedule; at the end, nothing it decided may be missing from its audit trail.

Run through `benches/soak.sh DURATION` (it checks the tools and picks the binary). Standard
library only. Everything binds to 127.0.0.1 on free ports; every process started here is
stopped on exit. The report (Markdown) goes to stdout and to RUN/report.md; the exit status
is 1 when a check fails.

What runs:
- two gateway replicas sharing one `redis-server` (`store.backend: redis`, `fail_closed`),
  each with its own audit files (on a small tmpfs of their own) and both to one collector;
  replica b serves TLS. Rules that allow, deny (by tool and by a secret the guard finds),
  redact (personal data in arguments and in results) and escalate (`wire_money`, held for a
  reviewer); policy reloads from the rules file; signed checkpoints, small files so chains
  rotate;
- nginx as the fast upstream (fixed tools/call result; master_process off, so one process
  to kill), and this script as the SSE upstream (progress events, then a result with an
  e-mail address; slow on demand) and as the collector (gzip NDJSON appended to a file);
- two wrk processes (one per replica, b over https) with a Lua script mixing allowed,
  denied, secret-denied and redacted calls, throttled per connection, each answer's status
  and decision id written down; SSE clients (half on each replica), a third of their streams
  cut after the first event; an escalating client per replica and a scripted reviewer
  answering through either replica's admin API (benches/soak_faults.py).

Faults, in rotation every FAULT_EVERY seconds: upstream killed (SIGKILL) and restarted, SSE
upstream slow (past the route's response timeout), rules reloaded (file poll, SIGHUP or
POST /v1/reload in turn), client aborts (bodies cut, streams closed before their head),
oversize and malformed requests, collector killed and restarted, Redis killed and restarted,
the audit disk filled and freed, replica b's TLS certificate replaced.

Checks, per replica: `audit verify` passes; every decision the metrics counted has a decision
record; every decision id a client saw is in the files; every record in the files reached
the collector (after dedupe by record_id); no record failed; the gateway exits 0 without a
panic; RSS after warm-up stays within RSS_BOUND times its warm-up value; open fds at the end
are within FD_SLACK of their warm-up count. And: every escalated call's answer matches the
reviewer's (approved → forwarded, rejected → 4032, unanswered → 4031); while Redis was away
escalated calls got 4030 `review_store_unavailable` and ordinary ones passed, and no
ordinary call was refused for Redis at any time; the new certificate served new connections
within the reload interval (plus a second) without a restart.
"""

import argparse
import gzip
import http.client
import http.server
import json
import os
import re
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak_faults import Faults, conn  # noqa: E402

RESULT = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"42"}],"isError":false}}'
EMAIL = "dana.smith@acme-corp.io"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def parse_duration(s):
    m = re.fullmatch(r"(\d+)(s|m|h)?", s)
    if not m:
        raise SystemExit(f"soak: bad duration {s!r} (e.g. 120s, 20m)")
    return int(m.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


# ---------------------------------------------------------------- helper servers (child modes)

class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass


def serve_upstream(port, slow_flag):
    """The SSE upstream: POST answers a stream of progress notifications and then a result
    holding an e-mail address (redacted on the way back); slow (1.5 s before its head) while
    the flag file exists."""

    class H(Quiet):
        protocol_version = "HTTP/1.0"  # close-delimited streams: a fresh connection per call

        def do_POST(self):
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n)
            try:
                rid = json.loads(body).get("id", 1)
            except ValueError:
                rid = 1
            if os.path.exists(slow_flag):
                time.sleep(1.5)
            try:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                for i in range(4):
                    note = {"jsonrpc": "2.0", "method": "notifications/progress",
                            "params": {"progressToken": 1, "progress": i, "total": 4}}
                    self.wfile.write(f"event: message\ndata: {json.dumps(note)}\n\n".encode())
                    self.wfile.flush()
                    time.sleep(0.05)
                res = {"jsonrpc": "2.0", "id": rid, "result": {"content": [
                    {"type": "text", "text": f"report sent, contact {EMAIL} for details"}],
                    "isError": False}}
                self.wfile.write(f"event: message\ndata: {json.dumps(res)}\n\n".encode())
            except OSError:
                pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def serve_collector(port, out):
    """The collector: every POSTed batch (gzip NDJSON) appended to `out`, then 200."""
    lock = threading.Lock()

    class H(Quiet):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n)
            if (self.headers.get("content-encoding") or "").lower() == "gzip":
                body = gzip.decompress(body)
            with lock, open(out, "ab") as f:
                f.write(body if body.endswith(b"\n") or not body else body + b"\n")
                f.flush()
                os.fsync(f.fileno())
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


# ---------------------------------------------------------------- the soak itself

RULES_HEAD = """version: 1
default_decision: allow
rules:
  - { id: no-shell, when: { method: tools/call, tool: "shell_*" }, decision: deny, reason: shell_forbidden }
  - { id: no-secrets, when: { method: tools/call, findings: { detectors: secrets } }, decision: deny, reason: secret }
  - { id: mask-pii-in, when: { method: tools/call, findings: { detectors: pii } }, decision: redact, reason: pii }
  - { id: review-wires, when: { method: tools/call, tool: wire_money }, decision: escalate, reason: money_moves }
  - { id: mask-out, when: { findings: { detectors: [pii, secrets], direction: response } }, decision: redact, reason: sensitive }
"""

WRK_LUA = r"""
-- Mixed tools/call load: allowed, denied by tool, denied by the guard (a secret), redacted
-- (an e-mail address); throttled per connection; every answer's status and decision id
-- written to RUN/wrk-<thread>.ids.
local bodies = {
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}}}',
  '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"shell_exec","arguments":{"cmd":"ls"}}}',
  '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"notes","arguments":{"text":"token ghp_R7aK2mQ9xW4vL1pZ8nB3cT6yH0sJ5dF2gE9u for the deploy"}}}',
  '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"send","arguments":{"to":"dana.smith@acme-corp.io","body":"hi"}}}',
}
local order = {1, 1, 1, 2, 1, 4, 1, 1, 3, 1}
local headers = {
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/json, text/event-stream",
  ["Mcp-Session-Id"] = "3f2a9c1e5b7d4e0f8a6b2c4d1e3f5a7b",
}
local threads = {}
local n = 0
function setup(thread)
  n = n + 1
  thread:set("tid", n)
  table.insert(threads, thread)
end
local counter = 0
local out = nil
function init(args)
  out = io.open(os.getenv("SOAK_RUN") .. "/wrk-" .. os.getenv("SOAK_TAG") .. "-" .. tid .. ".ids", "w")
  out:setvbuf("line") -- wrk never closes a thread's state: nothing may wait in a buffer
  counter = tid
end
function request()
  counter = counter + 1
  return wrk.format("POST", "/mcp", headers, bodies[order[(counter % #order) + 1]])
end
function delay()
  return tonumber(os.getenv("SOAK_DELAY_MS"))
end
function response(status, hdrs, body)
  out:write(status, " ", hdrs["x-sec0-decision-id"] or hdrs["X-Sec0-Decision-Id"] or "-", "\n")
end
function done(summary, latency, requests)
  io.write(string.format("wrk: requests %d, connect errors %d, read errors %d, timeouts %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.timeout))
end
"""


class Soak(Faults):
    def __init__(self, a):
        self.a = a
        self.run = Path(a.run).resolve()
        self.bin = str(Path(a.bin).resolve())
        self.procs = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.faults = {}
        self.fault_log = []
        self.client = {"sse_complete": 0, "sse_aborted": 0, "sse_status": {}, "fault_status": {}}
        self.reloads = 0
        self.script = str(Path(__file__).resolve())
        self.reps = [{"name": n, "tls": n == "b", "client_ids": set(), "samples": []} for n in ("a", "b")]
        self.esc_n, self.esc_calls, self.answers, self.review = 0, [], {}, {}
        self.outages = []
        self.redis = {"probes": {}, "bad": [], "resync_s": []}
        self.disk = {"fills": 0, "held_s": {}}
        self.tls = {"n": 0, "latency": [], "same_pid": True}
        self.skipped = []
        self.auditfs, self.auditfs_ok = None, False

    # -- processes
    def spawn(self, name, args, **kw):
        log = open(self.run / "logs" / f"{name}.log", "ab")
        p = subprocess.Popen(args, stdout=kw.pop("stdout", log), stderr=log, **kw)
        self.procs[name] = p
        return p

    def stop_all(self):
        for name, p in list(self.procs.items()):
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.umount_auditfs()

    def start_nginx(self):
        self.spawn("upstream", ["nginx", "-c", str(self.run / "upstream.conf"), "-p", str(self.run)])

    def start_sse_upstream(self):
        self.spawn("sse-upstream", [sys.executable, self.script, "--upstream",
                                    str(self.ports["sse"]), str(self.run / "slow")])

    def start_collector(self):
        self.spawn("collector", [sys.executable, self.script, "--collector",
                                 str(self.ports["collector"]), str(self.run / "collected.ndjson")])

    def note(self, what):
        t = time.monotonic() - self.t0
        self.fault_log.append((round(t), what))
        self.faults[what] = self.faults.get(what, 0) + 1

    # -- setup
    def setup(self):
        (self.run / "logs").mkdir(parents=True)
        self.ports = {k: free_port() for k in ("up", "sse", "collector", "redis")}
        for rep in self.reps:
            rep["gw"], rep["admin"] = free_port(), free_port()
        p = self.ports
        run = self.run
        for d in ("ubody", "uproxy", "ufcgi", "uuwsgi", "uscgi"):
            (run / d).mkdir()
        (run / "upstream.conf").write_text(f"""worker_processes 1; master_process off;
daemon off; pid {run}/upstream.pid; error_log {run}/logs/upstream.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off; client_body_temp_path {run}/ubody; proxy_temp_path {run}/uproxy;
  fastcgi_temp_path {run}/ufcgi; uwsgi_temp_path {run}/uuwsgi; scgi_temp_path {run}/uscgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{p['up']};
    location /mcp {{ default_type application/json; return 200 '{RESULT}'; }}
  }}
}}
""")
        self.rules_version = 0
        self.write_rules()
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(run / "audit.pem")],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", str(run / "audit.pem"), "-pubout", "-out",
                        str(run / "audit.pub")], check=True, capture_output=True)
        key, cert, self.tls["first"] = self.new_cert("gen0")
        os.replace(key, run / "tls" / "key.pem")
        os.replace(cert, run / "tls" / "cert.pem")
        self.mount_auditfs()
        for rep in self.reps:
            n = rep["name"]
            tls = (f"tls: {{ cert: {run}/tls/cert.pem, key: {run}/tls/key.pem, reload_interval: {self.a.tls_reload}s }}\n"
                   if rep["tls"] else "")
            (run / f"gateway-{n}.yaml").write_text(f"""listen: 127.0.0.1:{rep['gw']}
admin: {{ listen: 127.0.0.1:{rep['admin']} }}
{tls}limits: {{ drain_timeout: 10s }}
context: {{ max_runs: {self.a.max_runs} }}
policy: {{ rules: {run}/rules.yaml, reload_interval: 2s }}
store: {{ backend: redis, on_unavailable: fail_closed, redis: {{ url: "redis://127.0.0.1:{p['redis']}/", timeout: 300ms }} }}
escalation: {{ hold_timeout: {self.a.hold}s, flow: hold }}
learn: {{ enabled: false }}
audit:
  file: {{ dir: {run}/auditfs/{n} }}
  http: {{ url: "http://127.0.0.1:{p['collector']}/audit", spool_dir: {run}/spool-{n}, retry_max: 2s, shutdown_timeout: 30s }}
  signing_key: {run}/audit.pem
  max_file_size: {self.a.audit_file_size}
upstreams:
  tools: {{ url: "http://127.0.0.1:{p['up']}", connect_timeout: 1s }}
  streams: {{ url: "http://127.0.0.1:{p['sse']}", response_header_timeout: 1s, connect_timeout: 1s }}
routes:
  - {{ name: tools, path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool, max_request_body: 64KiB }}
  - {{ name: streams, path_prefix: /sse, upstream: streams, protocol: mcp, boundary: agent_to_tool }}
""")
        (run / "post.lua").write_text(WRK_LUA)

    def write_rules(self):
        self.rules_version += 1
        v = self.rules_version
        tmp = self.run / "rules.yaml.tmp"
        tmp.write_text(RULES_HEAD + f"  - {{ id: reload-{v}, when: {{ tool: \"reloaded_{v}\" }}, "
                                    f"decision: deny, reason: reload_{v} }}\n")
        os.replace(tmp, self.run / "rules.yaml")

    # -- gateway access
    def metrics(self, rep):
        c = http.client.HTTPConnection("127.0.0.1", rep["admin"], timeout=10)
        try:
            c.request("GET", "/metrics")
            text = c.getresponse().read().decode()
        finally:
            c.close()
        out = {"decisions": {}, "requests": 0, "status": {}, "audit_failed": 0, "in_flight": 0,
               "reload_ok": 0, "reload_error": 0, "audit": {}, "upstream_errors": {}, "escalations": {},
               "tls_reloads": {}, "redis_errors": 0, "synced": None, "queue": 0}
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            m = re.match(r"([a-z0-9_]+)(\{[^}]*\})?\s+(\S+)$", line)
            if not m:
                continue
            name, labels, val = m.group(1), dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")), float(m.group(3))
            if name == "sec0_gateway_decisions_total":
                k = f"{labels['decision']}/{labels['reason']}"
                out["decisions"][k] = out["decisions"].get(k, 0) + val
            elif name == "sec0_gateway_requests_total":
                out["requests"] += val
                out["status"][labels["status"]] = out["status"].get(labels["status"], 0) + val
            elif name == "sec0_gateway_audit_records_total":
                out["audit"][f"{labels['sink']}/{labels['result']}"] = val
                if labels["result"] == "failed":
                    out["audit_failed"] += val
            elif name == "sec0_gateway_in_flight_requests":
                out["in_flight"] = val
            elif name == "sec0_gateway_policy_reload_total":
                out[f"reload_{labels['result']}"] = val
            elif name == "sec0_gateway_upstream_errors_total":
                k = f"{labels['route']}/{labels['kind']}"
                out["upstream_errors"][k] = out["upstream_errors"].get(k, 0) + val
            elif name == "sec0_gateway_escalations_total":
                out["escalations"][labels.get("state", "?")] = val
            elif name == "sec0_gateway_tls_reloads_total":
                out["tls_reloads"][labels.get("result", "?")] = val
            elif name == "sec0_gateway_shared_state_errors_total":
                out["redis_errors"] += val
            elif name == "sec0_gateway_shared_state_synced":
                out["synced"] = val
            elif name == "sec0_gateway_audit_queue_depth":
                out["queue"] = val
        return out

    def sample(self):
        for rep in self.reps:
            pid = self.procs[f"gateway-{rep['name']}"].pid
            rss = 0
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            m = self.metrics(rep)
            rep["samples"].append({"t": round(time.monotonic() - self.t0, 1), "rss_kib": rss, "fds": fds,
                                   "decisions": sum(m["decisions"].values()), "requests": m["requests"]})

    # -- load
    def sse_client(self, k):
        rep = self.reps[k % len(self.reps)]
        n = 0
        body_tpl = '{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"report","arguments":{{"q":"status"}}}}}}'
        while not self.stop.is_set():
            n += 1
            abort = n % 3 == 0
            c = conn(rep)
            try:
                c.request("POST", "/sse", body_tpl.format(n), {
                    "content-type": "application/json", "accept": "application/json, text/event-stream"})
                r = c.getresponse()
                did = r.getheader("x-sec0-decision-id")
                with self.lock:
                    key = f"{rep['name']}:{r.status}"
                    self.client["sse_status"][key] = self.client["sse_status"].get(key, 0) + 1
                    if did:
                        rep["client_ids"].add(did)
                if abort and r.status == 200:
                    r.fp.readline()  # the first event's first line: the stream is under way
                    if c.sock is not None:
                        c.sock.shutdown(socket.SHUT_RDWR)
                    with self.lock:
                        self.client["sse_aborted"] += 1
                else:
                    r.read()
                    with self.lock:
                        self.client["sse_complete"] += 1
            except Exception:  # refused, reset, timed out: counted, and the client goes on
                with self.lock:
                    key = f"{rep['name']}:error"
                    self.client["sse_status"][key] = self.client["sse_status"].get(key, 0) + 1
            finally:
                c.close()
            time.sleep(0.05)

    # -- faults
    def raw(self, data, read=True):
        """Send raw bytes to the proxy listener; the answer's status (or 'cut')."""
        s = socket.create_connection(("127.0.0.1", self.reps[0]["gw"]), timeout=10)
        try:
            s.sendall(data)
            if not read:
                return "cut"
            head = s.recv(64)
            m = re.match(rb"HTTP/1\.1 (\d+)", head)
            return int(m.group(1)) if m else "none"
        except OSError:
            return "error"
        finally:
            s.close()

    def count_status(self, kind, st):
        with self.lock:
            k = f"{kind}:{st}"
            self.client["fault_status"][k] = self.client["fault_status"].get(k, 0) + 1

    def post(self, path, body, ctype="application/json"):
        b = body if isinstance(body, bytes) else body.encode()
        return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(b)}\r\nConnection: close\r\n\r\n").encode() + b

    def fault_upstream_kill(self):
        self.note("upstream killed (SIGKILL) and restarted after 3 s")
        p = self.procs["upstream"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.stop.wait(3)
        self.start_nginx()
        wait_port(self.ports["up"], 10)

    def fault_slow(self):
        self.note("SSE upstream slow for 5 s (1.5 s to its head, route timeout 1 s)")
        flag = self.run / "slow"
        flag.write_text("1")
        self.stop.wait(5)
        flag.unlink()

    def fault_reload(self):
        how = ["file poll", "SIGHUP", "POST /v1/reload"][self.reloads % 3]
        self.reloads += 1
        self.note(f"rules reloaded ({how})")
        self.write_rules()
        for rep in self.reps:
            if how == "SIGHUP":
                self.procs[f"gateway-{rep['name']}"].send_signal(signal.SIGHUP)
            elif how == "POST /v1/reload":
                c = http.client.HTTPConnection("127.0.0.1", rep["admin"], timeout=10)
                c.request("POST", "/v1/reload")
                st = c.getresponse().status
                c.close()
                self.count_status("reload", st)

    def fault_client_aborts(self):
        self.note("client aborts (10 bodies cut mid-way, 10 streams closed before their head)")
        call = b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"add","arguments":{"a":1}}}'
        for _ in range(10):
            head = (f"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(call)}\r\n\r\n").encode()
            self.count_status("body cut", self.raw(head + call[:20], read=False))
        for _ in range(10):
            self.count_status("stream closed early", self.raw(self.post("/sse", call), read=False))

    def fault_bad_requests(self):
        self.note("oversize and malformed requests (5 each of 4 kinds)")
        for _ in range(5):
            big = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"s":"' + "x" * 100_000 + '"}}}'
            self.count_status("oversize", self.raw(self.post("/mcp", big)))
            self.count_status("malformed", self.raw(self.post("/mcp", '{"jsonrpc":"2.0","id":1,"method":')))
            self.count_status("duplicate key", self.raw(self.post(
                "/mcp", '{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/call","params":{"name":"add"}}')))
            self.count_status("wrong content type", self.raw(self.post("/mcp", "a=1", "text/plain")))

    def fault_collector_kill(self):
        self.note("collector killed (SIGKILL) and restarted after 5 s")
        p = self.procs["collector"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.stop.wait(5)
        self.start_collector()

    def faults_loop(self):
        order = [self.fault_upstream_kill, self.fault_redis_kill, self.fault_slow, self.fault_reload,
                 self.fault_disk_full, self.fault_client_aborts, self.fault_cert_rotate,
                 self.fault_bad_requests, self.fault_collector_kill]
        i = 0
        while not self.stop.wait(self.a.fault_every):
            try:
                order[i % len(order)]()
            except Exception as e:  # a fault that cannot be injected is reported, not fatal
                self.note(f"fault failed: {type(e).__name__}: {e}")
            i += 1

    def sampler(self):
        while not self.stop.wait(self.a.sample_every):
            try:
                self.sample()
            except Exception as e:
                self.note(f"sample failed: {type(e).__name__}")

    # -- main
    def go(self):
        a = self.a
        self.setup()
        self.start_nginx()
        self.start_sse_upstream()
        self.start_collector()
        self.start_redis()
        for rep in self.reps:
            n = rep["name"]
            self.spawn(f"gateway-{n}", [self.bin, "--log-format", "json", "--log-level", "warn", "run", "-c",
                                        str(self.run / f"gateway-{n}.yaml")], stdout=subprocess.DEVNULL)
        ports = [self.ports[k] for k in ("up", "sse", "collector", "redis")]
        ports += [rep[k] for rep in self.reps for k in ("gw", "admin")]
        for port in ports:
            if not wait_port(port, 60):
                raise SystemExit(f"soak: nothing listens on port {port}")
        end = time.monotonic() + 30
        while time.monotonic() < end and not all(self.synced(r) for r in self.reps):
            time.sleep(0.2)
        self.t0 = time.monotonic()
        self.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.sample()
        wrks = []
        for k, rep in enumerate(self.reps):
            env = dict(os.environ, SOAK_RUN=str(self.run), SOAK_DELAY_MS=str(a.delay_ms), SOAK_TAG=rep["name"])
            out = open(self.run / f"wrk-{rep['name']}.txt", "w")
            scheme = "https" if rep["tls"] else "http"
            conns = a.conns // 2 + (a.conns % 2 if k == 0 else 0)
            wrks.append(self.spawn(f"wrk-{rep['name']}", [
                "wrk", f"-t{max(1, a.threads // 2)}", f"-c{conns}", f"-d{a.duration}s", "--timeout", "10s",
                "--latency", "-s", str(self.run / "post.lua"), f"{scheme}://127.0.0.1:{rep['gw']}/mcp"],
                stdout=out, env=env))
        threads = [threading.Thread(target=self.sse_client, args=(k,), daemon=True) for k in range(a.sse_clients)]
        threads += [threading.Thread(target=self.escalation_client, args=(rep,), daemon=True) for rep in self.reps]
        threads += [threading.Thread(target=t, daemon=True)
                    for t in (self.faults_loop, self.sampler, self.reviewer, self.shipper)]
        for t in threads:
            t.start()
        for w in wrks:
            w.wait()
        self.stop.set()
        for t in threads:
            t.join(60)
        self.load_seconds = round(time.monotonic() - self.t0)
        for rep in self.reps:
            p = self.procs[f"gateway-{rep['name']}"]
            if p.poll() is not None:
                print(f"soak: FAIL: gateway {rep['name']} exited during the run ({p.returncode}); "
                      f"see {self.run}/logs/gateway-{rep['name']}.log", file=sys.stderr)
                return 1
        # Quiet: the last streams end, then the final sample and counters.
        for _ in range(100):
            if all(self.metrics(r)["in_flight"] == 0 for r in self.reps):
                break
            time.sleep(0.2)
        time.sleep(2)
        self.sample()
        for rep in self.reps:
            rep["final"] = self.metrics(rep)
            self.procs[f"gateway-{rep['name']}"].send_signal(signal.SIGTERM)
        for rep in self.reps:
            gw = self.procs[f"gateway-{rep['name']}"]
            try:
                rep["exit"] = gw.wait(90)
            except subprocess.TimeoutExpired:
                rep["exit"] = "did not exit in 90 s"
                gw.kill()
        self.ship_closed_files(everything=True)
        self.umount_auditfs()
        return self.check()

    # -- end
    def check_replica(self, rep, collected, fails, L):
        run, n = self.run, rep["name"]
        final = rep["final"]
        files = sorted((run / "audit" / n).glob("*.ndjson"))
        verify = subprocess.run([self.bin, "audit", "verify", "--key", f"audit={run / 'audit.pub'}", *map(str, files)],
                                capture_output=True, text=True)
        decision_ids, record_ids, kinds = set(), set(), {}
        for f in files:
            for line in open(f):
                r = json.loads(line)
                k = r.get("kind")
                if k == "decision":
                    key = f"decision {r.get('direction')} {r.get('decision')}"
                    decision_ids.add(r.get("decision_id"))
                    if r.get("tool") != "wire_money" and r.get("reason") in (
                            "review_store_unavailable", "run_store_unavailable", "rate_limited"):
                        self.refused_for_redis += 1
                elif k == "error":
                    key = f"error {r.get('reason')}"
                elif k == "escalation":
                    key = f"escalation {(r.get('escalation') or {}).get('state')}"
                else:
                    key = k
                kinds[key] = kinds.get(key, 0) + 1
                record_ids.add(r["record_id"])
        n_decision_records = sum(v for k, v in kinds.items() if k.startswith("decision "))
        wrk_status, wrk_ids, wrk_answers = {}, set(), 0
        for f in run.glob(f"wrk-{n}-*.ids"):
            for line in open(f):
                st, did = line.split()
                wrk_answers += 1
                wrk_status[st] = wrk_status.get(st, 0) + 1
                if did != "-":
                    wrk_ids.add(did)
        seen_ids = wrk_ids | rep["client_ids"]
        missing_ids = seen_ids - decision_ids
        metric_decisions = sum(final["decisions"].values())
        not_collected = record_ids - collected
        self.all_records |= record_ids
        log = (run / "logs" / f"gateway-{n}.log").read_text(errors="replace")
        panics = log.count("panicked")
        levels, errors = {}, []
        for line in log.splitlines():
            try:
                j = json.loads(line)
                msg = j.get("message") or j.get("fields", {}).get("message", "?")
                key = f"{j.get('level')}: {msg}"
                if j.get("level") == "ERROR":
                    errors.append(line)
                if msg == "audit records written after the sink failed":
                    waited = j.get("waited_ms", j.get("fields", {}).get("waited_ms"))
                    self.disk["held_s"].setdefault(n, []).append(round(int(waited or 0) / 1000, 1))
            except ValueError:
                key = line[:100]
            levels[key] = levels.get(key, 0) + 1
        # Error lines the faults explain: the audit disk full, Redis away, a TLS pair read
        # half-replaced. Any other error-level line fails the run.
        explained = [x for x in errors if re.search(
            r"audit records could not be written; they are kept|redis|shared|store|tls|certificate", x, re.I)]
        unexplained = len(errors) - len(explained)
        samples = rep["samples"]
        rss = [s["rss_kib"] for s in samples]
        fds = [s["fds"] for s in samples]
        after = [s for s in samples if s["t"] >= self.a.warmup]
        base = after[0] if after else samples[0]
        rss_after = [s["rss_kib"] for s in after] or rss
        fd_end = samples[-1]["fds"]
        under = [s["rss_kib"] for s in after[:-1]] or rss_after
        win = max(1, int(60 / self.a.sample_every))
        rss_first, rss_last = statistics.median(under[:win]), statistics.median(under[-win:])
        lost = len(missing_ids) + abs(int(metric_decisions) - n_decision_records) + len(not_collected) + int(final["audit_failed"])
        self.lost += lost
        pre = f"replica {n}: "
        if verify.returncode != 0:
            fails.append(pre + f"audit verify failed: {verify.stdout.strip()[-300:]} {verify.stderr.strip()[-300:]}")
        if missing_ids:
            fails.append(pre + f"{len(missing_ids)} decision ids seen by clients have no record")
        if metric_decisions != n_decision_records:
            fails.append(pre + f"metrics counted {metric_decisions:.0f} decisions, the files hold {n_decision_records}")
        if final["audit_failed"]:
            fails.append(pre + f"{final['audit_failed']:.0f} audit records failed")
        if not_collected:
            fails.append(pre + f"{len(not_collected)} records in the files never reached the collector")
        if rep["exit"] != 0:
            fails.append(pre + f"gateway exit: {rep['exit']}")
        if panics:
            fails.append(pre + f"{panics} panics in the gateway's log")
        if unexplained:
            fails.append(pre + f"{unexplained} error-level lines in the gateway's log no fault explains")
        if max(rss_after) > self.a.rss_bound * base["rss_kib"]:
            fails.append(pre + f"RSS grew to {max(rss_after)} KiB, more than {self.a.rss_bound}x {base['rss_kib']} KiB at warm-up")
        if fd_end > base["fds"] + self.a.fd_slack:
            fails.append(pre + f"open fds {fd_end} at the end, warm-up {base['fds']} (+{self.a.fd_slack} allowed)")
        if not seen_ids:
            fails.append(pre + "no client saw a decision id: the load did not run")

        def mmm(xs):
            return f"{min(xs):,} / {statistics.median(xs):,.0f} / {max(xs):,}"

        ok = [re.search(r"OK \((\d+) records, (\d+) checkpoints\)", x) for x in verify.stdout.splitlines()]
        if verify.returncode == 0 and ok and all(ok):
            said = (f"OK: {len(ok)} files, {sum(int(m.group(1)) for m in ok):,} records, "
                    f"{sum(int(m.group(2)) for m in ok):,} signed checkpoints")
        else:
            said = " ".join((verify.stdout + verify.stderr).split())[:400]
        L.append(f"\n**Replica {n}** ({'TLS' if rep['tls'] else 'plain HTTP'}):\n")
        L.append("| what | count |\n|---|---:|")
        L.append(f"| calls answered to wrk (status: count) | {wrk_answers:,} ({', '.join(f'{k}: {v:,}' for k, v in sorted(wrk_status.items()))}) |")
        L.append(f"| requests the gateway answered (`requests_total`) | {final['requests']:,.0f} ({', '.join(f'{k}: {v:,.0f}' for k, v in sorted(final['status'].items()))}) |")
        L.append(f"| decisions (metrics, by decision/reason) | {', '.join(f'{k}: {v:,.0f}' for k, v in sorted(final['decisions'].items()))} |")
        L.append(f"| decisions (metrics, all) / decision records in the files | {metric_decisions:,.0f} / {n_decision_records:,} |")
        L.append(f"| records in the files by kind | {', '.join(f'{k}: {v:,}' for k, v in sorted(kinds.items()))} |")
        L.append(f"| decision ids seen by clients / without a record | {len(seen_ids):,} / {len(missing_ids)} |")
        L.append(f"| file records missing at the collector | {len(not_collected)} |")
        L.append(f"| audit records failed (metric) | {final['audit_failed']:.0f} |")
        L.append(f"| **records lost** | **{lost}** |")
        L.append(f"| `audit verify` | {said} |")
        L.append(f"| escalations (metric, by state) | {', '.join(f'{k}: {v:,.0f}' for k, v in sorted(final['escalations'].items())) or 'none'} |")
        L.append(f"| shared-state (Redis) errors counted / following Redis at the end | {final['redis_errors']:,.0f} / {'yes' if final['synced'] == 1 else 'NO'} |")
        if rep["tls"]:
            L.append(f"| TLS reloads (metric) | {', '.join(f'{k}: {v:,.0f}' for k, v in sorted(final['tls_reloads'].items())) or 'none'} |")
        L.append(f"| upstream errors | {', '.join(f'{k}: {v:,.0f}' for k, v in sorted(final['upstream_errors'].items())) or 'none'} |")
        L.append(f"| gateway exit after SIGTERM | {rep['exit']} |")
        L.append(f"| RSS KiB min / median / max (after warm-up) | {mmm(rss)} ({mmm(rss_after)}; warm-up {base['rss_kib']:,}; "
                 f"first minute's median under load {rss_first:,.0f} → last minute's {rss_last:,.0f}, "
                 f"{(rss_last - rss_first) / rss_first * 100:+.1f}%) |")
        L.append(f"| open fds min / median / max (warm-up, end) | {mmm(fds)} ({base['fds']}, {fd_end}) |")
        L.append(f"| error-level log lines (explained by faults / not) | {len(explained)} / {unexplained} |")
        L.append("")
        L.append("Log lines by level and message: " + ("; ".join(f"{k} ×{v}" for k, v in sorted(levels.items(), key=lambda kv: -kv[1])[:10]) or "none"))
        step = max(1, round(60 / self.a.sample_every))
        picked = samples[::step]
        if picked[-1] is not samples[-1]:
            picked.append(samples[-1])
        L.append("\n| t (s) | RSS KiB | open fds | decisions so far |\n|---:|---:|---:|---:|")
        for s in picked:
            L.append(f"| {s['t']:.0f} | {s['rss_kib']:,} | {s['fds']} | {s['decisions']:,.0f} |")

    def check(self):
        run = self.run
        collected, collected_lines = set(), 0
        cpath = run / "collected.ndjson"
        if cpath.exists():
            for line in open(cpath, "rb"):
                if line.strip():
                    collected_lines += 1
                    collected.add(json.loads(line)["record_id"])
        fails, L = [], []
        self.refused_for_redis, self.lost, self.all_records = 0, 0, set()
        a = self.a
        L.append(f"Soak run {self.started}, {self.load_seconds} s of load, {os.cpu_count()} cores, binary {a.bin}; "
                 f"two replicas sharing one Redis (b over TLS); per replica wrk -t{max(1, a.threads // 2)} "
                 f"-c{a.conns // 2} with {a.delay_ms} ms between a connection's calls; {a.sse_clients} SSE clients, "
                 f"an escalating client per replica (hold {a.hold} s) and a scripted reviewer; a fault every {a.fault_every:g} s.")
        for s in self.skipped:
            L.append(f"\n**{s}**")
        for rep in self.reps:
            self.check_replica(rep, collected, fails, L)
        if collected - self.all_records:
            fails.append(f"{len(collected - self.all_records)} records at the collector are not in the files")
        esc_table, esc_fails = self.check_escalations()
        fails += esc_fails[:10] + ([f"… and {len(esc_fails) - 10} more escalation mismatches"] if len(esc_fails) > 10 else [])
        if not any(k.startswith("approved") for k in esc_table) or not any(k.startswith("rejected") for k in esc_table):
            fails.append("no escalation was both approved and rejected: the reviewer did not work")
        fails += [f"Redis outage: {b}" for b in self.redis["bad"]]
        if self.refused_for_redis:
            fails.append(f"{self.refused_for_redis} ordinary calls were refused for the shared store")
        lat = self.tls["latency"]
        if any(x is None or x > a.tls_reload + 1.0 for x in lat):
            fails.append(f"certificate rotation: new connections got the new certificate after {lat} s "
                         f"(reload interval {a.tls_reload} s)")
        if self.auditfs_ok and self.disk["fills"] and len(self.disk["held_s"]) < len(self.reps):
            fails.append("the audit disk was filled but a replica never reported holding records (was it full?)")
        if not self.tls["same_pid"]:
            fails.append("certificate rotation: replica b restarted or died")
        L.append("\n**Across replicas**\n")
        L.append("| what | count |\n|---|---:|")
        L.append(f"| SSE calls (complete / cut by the client mid-stream) | {self.client['sse_complete']:,} / {self.client['sse_aborted']:,} (replica:status: {', '.join(f'{k}: {v:,}' for k, v in sorted(self.client['sse_status'].items()))}) |")
        L.append(f"| records at the collector (lines / distinct) / not in the files | {collected_lines:,} / {len(collected):,} / {len(collected - self.all_records)} |")
        L.append(f"| escalated calls by the clients | {len(self.esc_calls):,} |")
        for k, v in sorted(esc_table.items()):
            L.append(f"| escalated calls: {k} | {v:,} |")
        for k, v in sorted(self.review.items()):
            L.append(f"| reviewer: {k} | {v:,} |")
        for k, v in sorted(self.redis["probes"].items()):
            L.append(f"| probe: {k} | {v} |")
        L.append(f"| ordinary calls refused for the shared store (records) | {self.refused_for_redis} |")
        L.append(f"| seconds until both replicas followed Redis again after its restart | {', '.join(map(str, self.redis['resync_s'])) or '-'} |")
        L.append(f"| audit disk fills / seconds the file writer held its records until they could be written | {self.disk['fills']} / {'; '.join(f'{k}: ' + ', '.join(map(str, v)) for k, v in sorted(self.disk['held_s'].items())) or '-'} |")
        L.append(f"| certificate rotations / seconds until new connections got the new certificate | {len(lat)} / {', '.join('never' if x is None else f'{x:.1f}' for x in lat) or '-'} |")
        L.append(f"| **records lost (both replicas)** | **{self.lost}** |")
        L.append("\n| fault | injected |\n|---|---:|")
        for k, v in sorted(self.faults.items()):
            L.append(f"| {k} | {v} |")
        for rep in self.reps:
            f = rep["final"]
            L.append(f"| policy reloads counted by replica {rep['name']} (ok / error) | {f['reload_ok']:.0f} / {f['reload_error']:.0f} |")
        for k, v in sorted(self.client["fault_status"].items()):
            L.append(f"| answers to fault requests `{k}` | {v} |")
        L.append("")
        L.append("Result: " + ("PASS" if not fails else "FAIL\n- " + "\n- ".join(fails)))
        report = "\n".join(L) + "\n"
        (run / "report.md").write_text(report)
        (run / "samples.json").write_text(json.dumps({
            "samples": {r["name"]: r["samples"] for r in self.reps}, "faults": self.fault_log,
            "escalations": self.esc_calls, "outages": self.outages}, indent=1))
        print(report)
        return 0 if not fails else 1


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--upstream":
        return serve_upstream(int(sys.argv[2]), sys.argv[3])
    if len(sys.argv) > 1 and sys.argv[1] == "--collector":
        return serve_collector(int(sys.argv[2]), sys.argv[3])
    ap = argparse.ArgumentParser(description="soak test (issue 21); see benches/README.md")
    ap.add_argument("duration", nargs="?", default="20m")
    ap.add_argument("--bin", default="target/release/sec0-gateway")
    ap.add_argument("--run", default="benches/.run-soak")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--delay-ms", type=int, default=20, help="pause between a wrk connection's calls")
    ap.add_argument("--sse-clients", type=int, default=2)
    ap.add_argument("--fault-every", type=float, default=None, help="seconds (default: duration/80, 5..15)")
    ap.add_argument("--sample-every", type=float, default=None, help="seconds (default: 10, or 5 under 5 minutes)")
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default: a quarter, at most 60)")
    ap.add_argument("--rss-bound", type=float, default=2.0)
    ap.add_argument("--fd-slack", type=int, default=32)
    ap.add_argument("--audit-file-size", default="16MiB")
    ap.add_argument("--auditfs-mib", type=int, default=96, help="size of the audit files' tmpfs")
    ap.add_argument("--hold", type=int, default=5, help="escalation.hold_timeout, seconds")
    ap.add_argument("--tls-reload", type=int, default=2, help="tls.reload_interval, seconds")
    ap.add_argument("--max-runs", type=int, default=5000,
                    help="context.max_runs: small, so the bounded run store is full by the end of warm-up")
    a = ap.parse_args()
    a.duration = parse_duration(a.duration)
    if a.duration > 4 * 3600:
        raise SystemExit("soak: at most 4 hours")
    if a.fault_every is None:
        a.fault_every = min(15.0, max(5.0, a.duration / 80))
    if a.sample_every is None:
        a.sample_every = 10.0 if a.duration >= 300 else 5.0
    if a.warmup is None:
        a.warmup = min(60.0, a.duration / 4)
    run = Path(a.run)
    if run.exists():
        subprocess.run(["rm", "-rf", str(run)], check=True)
    soak = Soak(a)

    def on_signal(sig, _frame):
        soak.stop_all()
        sys.exit(130)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        return soak.go()
    finally:
        soak.stop_all()


if __name__ == "__main__":
    sys.exit(main())

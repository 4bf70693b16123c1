"""Soak test helpers (issue 21): the shared Redis, escalations and their scripted reviewer,
the audit disk filled and freed, and certificate rotation. Used by benches/soak.py (the
`Soak` class mixes `Faults` in); standard library only.

- Redis: one `redis-server` (no persistence) both replicas share (`store.backend: redis`,
  `on_unavailable: fail_closed`); a fault kills it (SIGKILL) and restarts it 5 s later on the
  same port, probing both replicas while it is away (ordinary calls must pass, escalated ones
  must get 4030 `review_store_unavailable`), and notes when both follow Redis again.
- Escalations: a client per replica calls `wire_money` (a rule escalates it, flow `hold`)
  with `verdict` approve, reject, approve, expire in turn; a reviewer polls
  `GET /v1/escalations?state=pending` on one replica and answers through the other's admin
  API every other time, so the answer crosses replicas through Redis.
- Audit disk: the replicas' audit directories on a tmpfs of their own (skipped loudly when
  it cannot be mounted); a fault fills it with a filler file and frees it 6 s later; closed
  chain files are moved off it as a log shipper would, so it stays small.
- TLS: replica b serves TLS; a fault replaces its certificate and key with a new pair and
  times how long until a new connection gets the new certificate.
"""

import errno
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

WIRE = ('{{"jsonrpc":"2.0","id":{n},"method":"tools/call","params":{{"name":"wire_money",'
        '"arguments":{{"amount":{n},"verdict":"{v}"}}}}}}')
ADD = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}'
VERDICTS = ["approve", "reject", "approve", "expire"]
TLS_CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
TLS_CTX.check_hostname = False
TLS_CTX.verify_mode = ssl.CERT_NONE


def conn(rep, admin=False, timeout=15):
    if admin:
        return http.client.HTTPConnection("127.0.0.1", rep["admin"], timeout=timeout)
    if rep["tls"]:
        return http.client.HTTPSConnection("127.0.0.1", rep["gw"], timeout=timeout, context=TLS_CTX)
    return http.client.HTTPConnection("127.0.0.1", rep["gw"], timeout=timeout)


def call(rep, path, body, timeout=15):
    """POST a JSON-RPC body to a replica's proxy: (HTTP status, parsed body or None, decision id)."""
    c = conn(rep, timeout=timeout)
    try:
        c.request("POST", path, body, {"content-type": "application/json",
                                       "accept": "application/json, text/event-stream"})
        r = c.getresponse()
        raw = r.read()
        try:
            j = json.loads(raw)
        except ValueError:
            j = None
        return r.status, j, r.getheader("x-sec0-decision-id")
    finally:
        c.close()


def admin(rep, method, path, body=None, timeout=10):
    c = conn(rep, admin=True, timeout=timeout)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"content-type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, None
    finally:
        c.close()


def outcome(status, j):
    """What a tools/call answer says: allowed, a gateway code, an upstream error, or other."""
    if status == 200 and isinstance(j, dict) and "result" in j:
        return "allowed"
    if isinstance(j, dict) and isinstance(j.get("error"), dict):
        e = j["error"]
        data = e.get("data") or {}
        if e.get("code") == 4030 and data.get("review") == "review_store_unavailable":
            return "4030 review_store_unavailable"
        return f"{e.get('code')} {data.get('reason', '')}".strip()
    return f"http {status}"


def peer_fingerprint(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with TLS_CTX.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


class Faults:
    """Mixed into `Soak`: needs self.run, self.reps, self.ports, self.stop, self.lock,
    self.note, self.spawn, self.procs, self.t0."""

    # ------------------------------------------------------------ Redis
    def start_redis(self):
        rdir = self.run / "redis"
        rdir.mkdir(exist_ok=True)
        self.spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(self.ports["redis"]),
                             "--save", "", "--appendonly", "no", "--dir", str(rdir)], stdout=subprocess.DEVNULL)

    def synced(self, rep):
        try:
            return self.metrics(rep).get("synced") == 1
        except OSError:
            return False

    def fault_redis_kill(self):
        t_kill = time.monotonic() - self.t0
        self.note("Redis killed (SIGKILL), restarted after 5 s")
        p = self.procs["redis"]
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.stop.wait(1.0)  # the replicas notice (each Redis operation waits at most 300 ms)
        for rep in self.reps:
            for _ in range(3):
                self.probe(rep, "ordinary", ADD)
            self.esc_n += 1
            self.probe(rep, "escalated", WIRE.format(n=self.esc_n, v="approve"))
        self.stop.wait(4.0)
        self.start_redis()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        end = time.monotonic() + 30
        while time.monotonic() < end and not all(self.synced(r) for r in self.reps):
            time.sleep(0.2)
        t_back = time.monotonic() - self.t0
        with self.lock:
            self.outages.append((t_kill, t_back))
            self.redis["resync_s"].append(round(t_back - t_kill - 5.0, 1))

    def probe(self, rep, kind, body):
        """A call while Redis is away: ordinary calls must pass, escalated ones get 4030."""
        try:
            st, j, _ = call(rep, "/mcp", body, timeout=10)
            o = outcome(st, j)
        except Exception as e:
            o = f"client error {type(e).__name__}"
        want = "allowed" if kind == "ordinary" else "4030 review_store_unavailable"
        # nginx may be down at the same time (a 502 is not Redis's doing)
        ok = o == want or (kind == "ordinary" and o.startswith("-32603"))
        with self.lock:
            k = f"{kind} call on {rep['name']} while Redis was down: {o}"
            self.redis["probes"][k] = self.redis["probes"].get(k, 0) + 1
            if not ok:
                self.redis["bad"].append(k)

    # ------------------------------------------------------------ escalations
    def escalation_client(self, rep):
        i = 0
        while not self.stop.is_set():
            v = VERDICTS[i % len(VERDICTS)]
            i += 1
            with self.lock:
                self.esc_n += 1
                n = self.esc_n
            t1 = time.monotonic() - self.t0
            try:
                st, j, did = call(rep, "/mcp", WIRE.format(n=n, v=v), timeout=self.a.hold + 15)
                o = outcome(st, j)
                if isinstance(j, dict) and isinstance(j.get("error"), dict):
                    did = (j["error"].get("data") or {}).get("escalation_id") or did
            except Exception as e:
                o, did = f"client error {type(e).__name__}", None
            t2 = time.monotonic() - self.t0
            with self.lock:
                self.esc_calls.append({"rep": rep["name"], "verdict": v, "t1": t1, "t2": t2,
                                       "outcome": o, "id": did})
                if did:
                    rep["client_ids"].add(did)
            self.stop.wait(0.1)

    def reviewer(self):
        i = 0
        seen = set()
        while not self.stop.wait(0.25):
            i += 1
            src = self.reps[i % len(self.reps)]
            try:
                st, j = admin(src, "GET", "/v1/escalations?state=pending")
            except OSError:
                continue
            if st != 200:
                self.count_review(f"list answered {st}")
                continue
            for e in (j or {}).get("escalations", []):
                eid = e.get("id")
                if not eid or eid in seen:
                    continue
                args = e.get("arguments")
                if args is None:
                    try:
                        _, one = admin(src, "GET", f"/v1/escalations/{eid}")
                        args = (one or {}).get("arguments")
                    except OSError:
                        continue
                verdict = (args or {}).get("verdict")
                if verdict not in ("approve", "reject"):
                    seen.add(eid)  # left to expire
                    continue
                # every other answer through the other replica's admin API
                dst = self.reps[(i + len(seen)) % len(self.reps)]
                try:
                    st, _ = admin(dst, "POST", f"/v1/escalations/{eid}/{verdict}",
                                  {"reviewer": "soak-bot", "comment": f"scripted {verdict}"})
                except OSError as ex:
                    st = type(ex).__name__
                seen.add(eid)
                cross = dst is not src
                with self.lock:
                    self.answers[eid] = (verdict, st)
                self.count_review(f"{verdict} answered {st}" + (" (through the other replica)" if cross else ""))

    def count_review(self, k):
        with self.lock:
            self.review[k] = self.review.get(k, 0) + 1

    def in_outage(self, t1, t2, grace=1.0):
        return any(t1 <= b + grace and t2 >= a - grace for a, b in self.outages)

    def check_escalations(self):
        """(table of outcomes, list of failures)."""
        table, fails = {}, []
        for c in self.esc_calls:
            v, o = c["verdict"], c["outcome"]
            ans = self.answers.get(c["id"])
            during = self.in_outage(c["t1"], c["t2"])
            if o.startswith("-32603") and c["id"] is None:
                # forwarded, and nginx was down: the answer names no decision to match
                good, what = v == "approve", "approve: forwarded while the upstream was down"
            elif o == "allowed" or o.startswith("-32603"):  # forwarded (nginx may be down)
                good = ans is not None and ans[0] == "approve" and ans[1] == 200
                what = "approved → forwarded" if good else "FORWARDED WITHOUT AN APPROVAL"
            elif o.startswith("4032"):
                good = ans is not None and ans[0] == "reject" and ans[1] == 200
                what = "rejected → 4032" if good else "4032 WITHOUT A REJECTION"
            elif o.startswith("4031"):
                good = ans is None or ans[1] != 200 or during
                what = ("expired → 4031" if v == "expire" else
                        f"{v}: expired before an answer → 4031" if ans is None or ans[1] != 200 else
                        f"{v} answered, Redis away → 4031") if good else f"{v.upper()} ANSWERED 200 BUT EXPIRED"
            elif o == "4030 review_store_unavailable":
                good = during
                what = "Redis away → 4030 review_store_unavailable" if good else "4030 REVIEW STORE UNAVAILABLE WHILE REDIS WAS UP"
            else:
                good = during and v == "approve"
                what = f"{v}: {o}"
            if o == "allowed" and during and ans is None:
                good = False
            k = f"{what}" + (" (call overlapped a Redis outage)" if during and good else "")
            table[k] = table.get(k, 0) + 1
            if not good:
                fails.append(f"escalated call ({v}, {c['rep']}) answered {o}, reviewer's answer {ans}")
        return table, fails

    # ------------------------------------------------------------ audit disk
    def mount_auditfs(self):
        d = self.run / "auditfs"
        d.mkdir()
        self.auditfs = None
        if os.geteuid() != 0:
            why = "not root, cannot mount a tmpfs"
        else:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.a.auditfs_mib}m", "tmpfs", str(d)],
                               capture_output=True, text=True)
            why = None if r.returncode == 0 else f"mount failed: {(r.stderr or r.stdout).strip()}"
        if why:
            self.skipped.append(f"fault skipped: audit disk filled and freed ({why}); audit files on the run directory's disk")
            print(f"soak: {self.skipped[-1]}", flush=True)
        else:
            self.auditfs = d
        self.auditfs_ok = self.auditfs is not None
        for rep in self.reps:
            (d / rep["name"]).mkdir()
            (self.run / "audit" / rep["name"]).mkdir(parents=True)

    def umount_auditfs(self):
        if self.auditfs is not None:
            subprocess.run(["umount", str(self.auditfs)], capture_output=True)
            if os.path.ismount(self.auditfs):
                subprocess.run(["umount", "-l", str(self.auditfs)], capture_output=True)
            self.auditfs = None

    def ship_closed_files(self, everything=False):
        """Move chain files the gateway has finished (all but its newest) off the audit disk."""
        for rep in self.reps:
            files = sorted((self.run / "auditfs" / rep["name"]).glob("*.ndjson"))
            for f in files if everything else files[:-1]:
                shutil.move(str(f), str(self.run / "audit" / rep["name"] / f.name))

    def shipper(self):
        while not self.stop.wait(2):
            try:
                self.ship_closed_files()
            except OSError as e:
                self.note(f"shipping audit files failed: {e}")

    def fault_disk_full(self):
        if self.auditfs is None:
            self.note("fault skipped: audit disk filled and freed (no tmpfs)")
            return
        self.note("audit disk filled (ENOSPC) for 6 s, then freed")
        filler = self.auditfs / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (1 << 20, 1 << 16, 1 << 12, 1):  # every last byte
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
            self.stop.wait(6)
        finally:
            os.close(fd)
            filler.unlink()
        with self.lock:
            self.disk["fills"] += 1

    # ------------------------------------------------------------ TLS
    def new_cert(self, tag):
        """A fresh self-signed pair in RUN/tls/{tag}-*.pem; its SHA-256 DER fingerprint."""
        d = self.run / "tls"
        d.mkdir(exist_ok=True)
        key, cert = d / f"{tag}-key.pem", d / f"{tag}-cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", f"/CN=soak-{tag}", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        der = ssl.PEM_cert_to_DER_cert(cert.read_text())
        return key, cert, hashlib.sha256(der).hexdigest()

    def fault_cert_rotate(self):
        rep = next(r for r in self.reps if r["tls"])
        self.tls["n"] += 1
        key, cert, fp = self.new_cert(f"gen{self.tls['n']}")
        self.note("TLS certificate and key replaced (replica b)")
        pid = self.procs[f"gateway-{rep['name']}"].pid
        os.replace(key, self.run / "tls" / "key.pem")
        os.replace(cert, self.run / "tls" / "cert.pem")
        t = time.monotonic()
        seen = None
        while time.monotonic() - t < self.a.tls_reload * 3 + 5 and not self.stop.is_set():
            try:
                if peer_fingerprint(rep["gw"]) == fp:
                    seen = time.monotonic() - t
                    break
            except OSError:
                pass
            time.sleep(0.2)
        if seen is None and self.stop.is_set():
            return  # the run ended first
        with self.lock:
            self.tls["latency"].append(seen)
            self.tls["same_pid"] &= self.procs[f"gateway-{rep['name']}"].pid == pid \
                and self.procs[f"gateway-{rep['name']}"].poll() is None

//! Shared helpers for the integration tests: real sockets on 127.0.0.1 only.
//!
//! - [`gateway`] starts the gateway in-process from a YAML snippet (listeners on port 0).
//! - [`Upstream`] is a small hyper server running a test-supplied handler (an upstream
//!   with a behaviour we need to control: slow SSE, silence, byte counting).
//! - [`GatewayProcess`] runs the real binary as a child process (signals, memory).
#![allow(dead_code)]

pub mod guard_score;
pub mod peers;
pub mod runs;

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sec0_gateway::forward::body::{BoxError, ProxyBody};
use sec0_gateway::{Gateway, RunningGateway};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Start the gateway in-process. `rest` is YAML for everything but the listeners.
pub async fn gateway(rest: &str) -> RunningGateway {
    let yaml = format!("listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\n{rest}");
    let cfg = sec0_gateway::config::load_from_str(&yaml, "<test>", Some(HashMap::new()))
        .unwrap_or_else(|e| panic!("test config invalid: {e}"));
    Gateway::start(cfg).await.expect("gateway starts")
}

/// Start the gateway in-process with `rules` (YAML text) as its policy; `rest` is YAML for
/// everything but the listeners and `policy`. The rules file lives as long as the returned
/// handle (reloads read it).
pub async fn gateway_with_rules(
    rules: &str,
    rest: &str,
) -> (RunningGateway, tempfile::NamedTempFile) {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("tempfile");
    std::io::Write::write_all(&mut file, rules.as_bytes()).expect("write rules");
    let gw = gateway(&format!("policy: {{ rules: {:?} }}\n{rest}", file.path())).await;
    (gw, file)
}

/// A test upstream server.
pub struct Upstream {
    pub addr: SocketAddr,
    /// TCP connections accepted so far.
    pub accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    stop: watch::Sender<bool>,
}

impl Upstream {
    /// Serve `handler` on 127.0.0.1:0 (HTTP/1.1 and h2c).
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, mut stop_rx) = watch::channel(false);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = stop_rx.changed() => break,
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                let h = handler.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let fut = h(req);
                        async move { Ok::<_, Infallible>(fut.await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            accepted,
            stop,
        }
    }

    /// An upstream that counts the requests reaching it (the count is returned) and answers
    /// each with `respond(body)` after reading the whole body.
    pub async fn counting<F>(respond: F) -> (Self, std::sync::Arc<std::sync::atomic::AtomicUsize>)
    where
        F: Fn(Bytes) -> Response<ProxyBody> + Clone + Send + Sync + 'static,
    {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let up = Self::start(move |req| {
            let h = h.clone();
            let respond = respond.clone();
            async move {
                h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = req
                    .into_body()
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                respond(body)
            }
        })
        .await;
        (up, hits)
    }

    /// An upstream that answers every request with a JSON description of what it received
    /// (`tag`, method, path, query, headers, body).
    pub async fn echo(tag: &'static str) -> Self {
        Self::start(move |req| echo_handler(tag, req)).await
    }

    /// [`Upstream::echo`] that also counts the requests reaching it.
    #[allow(dead_code)] // not every test target uses it
    pub async fn echo_counting(
        tag: &'static str,
    ) -> (Self, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let h = hits.clone();
        let up = Self::start(move |req| {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            echo_handler(tag, req)
        })
        .await;
        (up, hits)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn echo_handler(tag: &'static str, req: Request<Incoming>) -> Response<ProxyBody> {
    let (parts, body) = req.into_parts();
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in &parts.headers {
        headers
            .entry(k.as_str().to_string())
            .or_default()
            .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    let bytes = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let v = json!({
        "tag": tag,
        "method": parts.method.as_str(),
        "version": format!("{:?}", parts.version),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&bytes),
    });
    let mut resp = Response::new(full(v.to_string()));
    resp.headers_mut()
        .insert("content-type", "application/json".parse().expect("hv"));
    // Hop-by-hop headers on the way back, which the gateway must remove.
    resp.headers_mut().insert(
        "connection",
        "keep-alive, x-upstream-hop".parse().expect("hv"),
    );
    resp.headers_mut()
        .insert("x-upstream-hop", "secret".parse().expect("hv"));
    resp.headers_mut()
        .insert("keep-alive", "timeout=5".parse().expect("hv"));
    resp
}

pub fn full(s: impl Into<Bytes>) -> ProxyBody {
    Full::new(s.into()).map_err(|n| match n {}).boxed_unsync()
}

pub fn empty() -> ProxyBody {
    Empty::new().map_err(|n| match n {}).boxed_unsync()
}

pub fn client() -> Client<HttpConnector, ProxyBody> {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub fn h2c_client() -> Client<HttpConnector, ProxyBody> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new())
}

/// A collected response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Send a request to `addr` and collect the whole answer.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(match body {
            Some(s) => full(s.to_string()),
            None => empty(),
        })
        .expect("request");
    collect(client().request(req).await.expect("response")).await
}

pub async fn collect(resp: Response<Incoming>) -> Answer {
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// POST a JSON-RPC message to `addr` + `path`.
pub async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Answer {
    send(
        addr,
        Method::POST,
        path,
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        Some(body),
    )
    .await
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// Fetch the gateway's Prometheus text.
pub async fn metrics(gw: &RunningGateway) -> String {
    let a = send(gw.admin_addr, Method::GET, "/metrics", &[], None).await;
    String::from_utf8_lossy(&a.body).into_owned()
}

/// The count of `sec0_gateway_decisions_total` for one label set on route `route`.
pub fn decisions(
    text: &str,
    boundary: &str,
    decision: &str,
    mode: &str,
    reason: &str,
    route: &str,
) -> Option<f64> {
    metric_value(
        text,
        &format!(
            "sec0_gateway_decisions_total{{boundary=\"{boundary}\",decision=\"{decision}\",mode=\"{mode}\",reason=\"{reason}\",route=\"{route}\"}}"
        ),
    )
}

/// The value of a metric line that starts with `prefix` (labels included), if present.
pub fn metric_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The gateway binary running as a child process.
pub struct GatewayProcess {
    pub child: Child,
    /// The child's stdout (only audit records go there, with `audit.stdout`).
    pub stdout: Option<std::process::ChildStdout>,
    pub proxy_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// Every stderr line (JSON logs), as read so far.
    pub logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _config: tempfile::NamedTempFile,
}

impl GatewayProcess {
    /// Run `sec0-gateway run` with `rest` as config (listeners on port 0); waits until it
    /// logs its bound addresses.
    pub fn start(rest: &str) -> Self {
        Self::start_config(&format!(
            "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\n{rest}"
        ))
    }

    /// Run `sec0-gateway run` with the whole config `yaml` (its listeners on port 0).
    pub fn start_config(yaml: &str) -> Self {
        let mut file = tempfile::NamedTempFile::new().expect("tempfile");
        std::io::Write::write_all(&mut file, yaml.as_bytes()).expect("write config");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
            .args(["--log-format", "json", "run", "-c"])
            .arg(file.path())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gateway");
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut early = Vec::new();
        let (proxy_addr, admin_addr) = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("gateway exited before listening: {early:#?}"))
                .expect("read stderr");
            early.push(line.clone());
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["message"] == "sec0-gateway listening" {
                let p = v["proxy_addr"]
                    .as_str()
                    .expect("proxy_addr")
                    .parse()
                    .expect("addr");
                let a = v["admin_addr"]
                    .as_str()
                    .expect("admin_addr")
                    .parse()
                    .expect("addr");
                break (p, a);
            }
        };
        // Keep draining stderr so the child never blocks on a full pipe (kept for tests
        // that read what was logged).
        let logs = std::sync::Arc::new(std::sync::Mutex::new(early));
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                if let Ok(mut k) = kept.lock() {
                    k.push(line);
                }
            }
        });
        Self {
            child,
            stdout,
            proxy_addr,
            admin_addr,
            logs,
            _config: file,
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Wait for exit up to `limit`; returns the exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Peak resident memory (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("proc status");
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A body stream fed by the test through a channel.
pub fn channel_body() -> (
    tokio::sync::mpsc::Sender<Result<hyper::body::Frame<Bytes>, BoxError>>,
    ProxyBody,
) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    (
        tx,
        http_body_util::StreamBody::new(Box::pin(stream)).boxed_unsync(),
    )
}

pub fn sse_event(data: &str) -> Result<hyper::body::Frame<Bytes>, BoxError> {
    Ok(hyper::body::Frame::data(Bytes::from(format!(
        "event: message\ndata: {data}\n\n"
    ))))
}

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Await `f`, failing the test (instead of hanging it) after [`TIMEOUT`].
pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The test-only Ed25519 key pair in `integration/data/` (made with
/// `openssl genpkey -algorithm ed25519`; it signs nothing real).
pub fn test_key(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("integration/data")
        .join(name)
}

/// The audit files in `dir`, in name order (which is time order).
#[allow(dead_code)] // not every test target reads audit files
pub fn audit_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("audit dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// Every audit record in the files of `dir` (NDJSON), file by file in name order.
#[allow(dead_code)] // not every test target reads audit files
pub fn audit_records(dir: &std::path::Path) -> Vec<Value> {
    audit_files(dir)
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("json record"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The escalations pending on the gateway whose admin listener is `admin`.
pub async fn pending_escalations(admin: SocketAddr) -> Vec<Value> {
    let a = send(
        admin,
        Method::GET,
        "/v1/escalations?state=pending",
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    a.json()["escalations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Wait until exactly one escalation is pending at `admin` and return it.
pub async fn one_pending(admin: SocketAddr) -> Value {
    within("an escalation to be pending", async {
        loop {
            let p = pending_escalations(admin).await;
            if p.len() == 1 {
                return p[0].clone();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Answer escalation `id` at `admin` with `verb` (`approve` or `reject`) and `body`.
pub async fn answer_escalation(admin: SocketAddr, id: &str, verb: &str, body: &str) -> Answer {
    send(
        admin,
        Method::POST,
        &format!("/v1/escalations/{id}/{verb}"),
        &[("content-type", "application/json")],
        Some(body),
    )
    .await
}

/// One escalation as the admin API at `admin` shows it.
pub async fn escalation(admin: SocketAddr, id: &str) -> Answer {
    send(
        admin,
        Method::GET,
        &format!("/v1/escalations/{id}"),
        &[],
        None,
    )
    .await
}

/// POST the JSON-RPC `body` to `/mcp` at `addr`, naming deferred approval `id`
/// (`x-sec0-approval`).
pub async fn post_with_approval(addr: SocketAddr, id: &str, body: &str) -> Answer {
    let h = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("x-sec0-approval", id),
    ];
    send(addr, Method::POST, "/mcp", &h, Some(body)).await
}

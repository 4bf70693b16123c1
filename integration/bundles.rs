//! Signed policy bundles from one place (`policy.source`): a plain static file server
//! (Python's `http.server`, which sends no `ETag`: every poll downloads) serves them to two
//! gateway processes; a new signed bundle is taken by both; a bundle signed by another key,
//! one whose rules do not compile and an older one are refused while the old policy keeps
//! serving, with the metric and the log saying why; a restart with the source down serves
//! the cached bundle, and with no cache either the gateway does not start. `ETag` /
//! `If-None-Match` is checked with a small hyper server of our own that sends ETags.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{GatewayProcess, Upstream, post_json, send, within};
use http::{Method, StatusCode};

fn deny(tool: &str) -> String {
    format!(
        "version: 1\nrules:\n  - {{ id: no-{tool}, when: {{ tool: {tool} }}, decision: deny, reason: {tool}_off }}\n"
    )
}

fn call(tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
    )
}

async fn denied(addr: SocketAddr, tool: &str) -> bool {
    let r = post_json(addr, "/mcp", &call(tool)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["error"]["code"] == 4030
}

async fn metrics_of(admin: SocketAddr) -> String {
    String::from_utf8_lossy(&send(admin, Method::GET, "/metrics", &[], None).await.body)
        .into_owned()
}

async fn failures(admin: SocketAddr, reason: &str) -> f64 {
    common::metric_value(
        &metrics_of(admin).await,
        &format!("sec0_gateway_policy_bundle_fetch_failures_total{{reason=\"{reason}\"}}"),
    )
    .unwrap_or(0.0)
}

async fn bundle_version(admin: SocketAddr) -> f64 {
    common::metric_value(
        &metrics_of(admin).await,
        "sec0_gateway_policy_bundle_version ",
    )
    .unwrap_or(-1.0)
}

/// Run the gateway binary with `args`; (exit success, stdout + stderr).
fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run sec0-gateway");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A rules directory holding `rules` as `00-rules.yaml`.
fn rules_dir(root: &Path, name: &str, rules: &str) -> PathBuf {
    let d = root.join(name);
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::write(d.join("00-rules.yaml"), rules).expect("write");
    d
}

/// Put `bytes` where the server serves the bundle, atomically (no half file is served).
fn publish(dir: &Path, bytes: &[u8]) {
    let tmp = dir.join(".policy.tmp");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, dir.join("policy.tar.gz")).expect("rename");
}

/// `python3 -m http.server` on a free loopback port, stopped when dropped.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &Path, port: u16) -> Option<Self> {
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            common::peers::missing(
                "the policy bundle replica test",
                "python3 is not installed (its http.server is the plain static server)",
            );
            return None;
        };
        let server = Self { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/policy.tar.gz", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(url: &str, public_key: &Path, cache: &Path, up: &Upstream) -> String {
    format!(
        "policy: {{ source: \"{url}\", trusted_keys: [{public_key:?}], cache_dir: {cache:?}, poll_interval: 200ms, fetch_timeout: 2s }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    )
}

/// Wait until `ok` holds on every admin address.
async fn on_all(what: &str, admins: &[SocketAddr], ok: impl AsyncFn(SocketAddr) -> bool) {
    within(what, async {
        loop {
            let mut all = true;
            for a in admins {
                all &= ok(*a).await;
            }
            if all {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

fn logged(gw: &GatewayProcess, needle: &[&str]) -> bool {
    gw.logs
        .lock()
        .map(|l| l.iter().any(|line| needle.iter().all(|n| line.contains(n))))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_take_signed_bundles_from_a_static_server_and_refuse_bad_ones() {
    let tmp = tempfile::tempdir().expect("dir");
    let root = tmp.path();
    let served = root.join("served");
    std::fs::create_dir_all(&served).expect("dir");
    let port = common::closed_port();

    // Keys and the first bundle, made with the CLI.
    let key = root.join("signing.pem");
    let (ok, out) = cli(&["bundle", "keygen", s(&key)]);
    assert!(ok, "{out}");
    let public = root.join("signing.pub.pem");
    assert!(public.exists(), "{out}");
    let other_key = root.join("other.pem");
    assert!(cli(&["bundle", "keygen", s(&other_key)]).0);
    let build = |dir: &Path, key: &Path, version: &str, out: &Path| {
        cli(&[
            "bundle",
            "build",
            s(dir),
            "--key",
            s(key),
            "--version",
            version,
            "-o",
            s(out),
        ])
    };
    let v1 = root.join("v1.tar.gz");
    let (ok, out) = build(&rules_dir(root, "r1", &deny("alpha")), &key, "1", &v1);
    assert!(ok, "{out}");
    assert!(out.contains("bundle version 1"), "{out}");
    publish(&served, &std::fs::read(&v1).expect("read"));
    let Some(server) = StaticServer::start(&served, port) else {
        return;
    };

    let up = Upstream::echo("u").await;
    let cache_a = root.join("cache-a");
    let cache_b = root.join("cache-b");
    let gw_a = GatewayProcess::start(&config(&server.url(), &public, &cache_a, &up));
    let gw_b = GatewayProcess::start(&config(&server.url(), &public, &cache_b, &up));
    let admins = [gw_a.admin_addr, gw_b.admin_addr];
    for gw in [&gw_a, &gw_b] {
        assert!(denied(gw.proxy_addr, "alpha").await);
        assert!(!denied(gw.proxy_addr, "beta").await);
        assert_eq!(bundle_version(gw.admin_addr).await, 1.0);
    }

    // A new signed bundle reaches both replicas.
    let v2 = root.join("v2.tar.gz");
    assert!(build(&rules_dir(root, "r2", &deny("beta")), &key, "2", &v2).0);
    publish(&served, &std::fs::read(&v2).expect("read"));
    on_all("both replicas to take version 2", &admins, async |a| {
        bundle_version(a).await == 2.0
    })
    .await;
    for gw in [&gw_a, &gw_b] {
        assert!(denied(gw.proxy_addr, "beta").await, "new policy");
        assert!(!denied(gw.proxy_addr, "alpha").await, "old rule gone");
        let ready = send(gw.admin_addr, Method::GET, "/readyz", &[], None).await;
        let text = String::from_utf8_lossy(&ready.body).into_owned();
        assert!(text.contains("policy bundle: version 2"), "{text}");
        assert!(text.contains("from source"), "{text}");
        assert!(!text.contains("last fetch: none"), "{text}");
        let m = metrics_of(gw.admin_addr).await;
        assert!(
            common::metric_value(
                &m,
                "sec0_gateway_policy_bundle_last_fetch_timestamp_seconds"
            )
            .is_some_and(|t| t > 1.0e9),
            "{m}"
        );
    }

    // Signed by a key the gateways do not trust: refused, version 2 keeps serving.
    let v3 = root.join("v3.tar.gz");
    assert!(build(&rules_dir(root, "r3", &deny("gamma")), &other_key, "3", &v3).0);
    publish(&served, &std::fs::read(&v3).expect("read"));
    on_all(
        "both replicas to refuse the stranger's bundle",
        &admins,
        async |a| failures(a, "bad_signature").await >= 1.0,
    )
    .await;
    // `check` says the same about the file.
    let (ok, out) = cli(&["check", "--bundle", s(&v3), "--trusted-key", s(&public)]);
    assert!(!ok && out.contains("bad_signature"), "{out}");
    let (ok, out) = cli(&["check", "--bundle", s(&v2), "--trusted-key", s(&public)]);
    assert!(ok && out.contains("OK (bundle version 2"), "{out}");

    // Signed, but a rule does not compile: the CLI refuses to build it; a bundle made
    // anyway (library) is refused by the gateways.
    let broken_rules =
        "version: 1\nrules:\n  - { id: x, when: { tool: \"[\" }, decision: deny, reason: r }\n";
    let broken_dir = rules_dir(root, "r4", broken_rules);
    let (ok, out) = build(&broken_dir, &key, "4", &root.join("never.tar.gz"));
    assert!(!ok && out.contains("00-rules.yaml:3"), "{out}");
    let signing = sec0_gateway::policy::bundle::keys::signing_key_from_pem_file(&key).expect("key");
    let v4 = sec0_gateway::policy::bundle::build::build(
        &[("00-rules.yaml".into(), broken_rules.as_bytes().to_vec())],
        4,
        "2026-07-30T10:00:00Z",
        &signing,
    )
    .expect("build");
    publish(&served, &v4);
    on_all(
        "both replicas to refuse the broken rules",
        &admins,
        async |a| failures(a, "bad_rules").await >= 1.0,
    )
    .await;

    // An older version, properly signed: refused too.
    publish(&served, &std::fs::read(&v1).expect("read"));
    on_all(
        "both replicas to refuse the older bundle",
        &admins,
        async |a| failures(a, "old_version").await >= 1.0,
    )
    .await;

    for gw in [&gw_a, &gw_b] {
        assert!(
            denied(gw.proxy_addr, "beta").await,
            "version 2 still serving"
        );
        assert!(!denied(gw.proxy_addr, "gamma").await);
        assert_eq!(bundle_version(gw.admin_addr).await, 2.0);
        for reason in ["bad_signature", "bad_rules", "old_version"] {
            assert!(
                logged(
                    gw,
                    &["policy bundle refused", &format!("\"reason\":\"{reason}\"")]
                ),
                "{reason} not logged"
            );
        }
        // The log names keys by fingerprint only.
        let private = std::fs::read_to_string(&key).expect("key");
        let body = private.lines().nth(1).expect("key body");
        assert!(!logged(gw, &[body]));
    }
    let status = send(gw_a.admin_addr, Method::GET, "/v1/status", &[], None).await;
    let st = status.json();
    assert_eq!(st["policy"]["bundle"]["serving"]["version"], 2, "{st}");
    assert_eq!(
        st["policy"]["bundle"]["last_attempt"]["result"], "refused",
        "{st}"
    );

    // Restart with the source down: the cached version 2 serves.
    drop(server);
    drop(gw_a);
    let gw_a = GatewayProcess::start(&config(
        &format!("http://127.0.0.1:{port}/policy.tar.gz"),
        &public,
        &cache_a,
        &up,
    ));
    assert!(
        denied(gw_a.proxy_addr, "beta").await,
        "cached policy serves"
    );
    assert!(!denied(gw_a.proxy_addr, "alpha").await);
    assert_eq!(bundle_version(gw_a.admin_addr).await, 2.0);
    assert!(failures(gw_a.admin_addr, "unreachable").await >= 1.0);
    let ready = send(gw_a.admin_addr, Method::GET, "/readyz", &[], None).await;
    let text = String::from_utf8_lossy(&ready.body).into_owned();
    assert!(
        text.contains("version 2") && text.contains("from cache"),
        "{text}"
    );
    assert!(logged(&gw_a, &["serving the cached bundle"]));

    // Source down and nothing cached: no start (fail closed), with the reason.
    let cfg = root.join("cold.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\n{}",
            config(
                &format!("http://127.0.0.1:{port}/policy.tar.gz"),
                &public,
                &root.join("cold"),
                &up
            )
        ),
    )
    .expect("write");
    let (ok, out) = cli(&["--log-format", "json", "run", "-c", s(&cfg)]);
    assert!(!ok, "{out}");
    assert!(out.contains("refusing to start without rules"), "{out}");
}

/// A bundle server that sends an `ETag` and answers a matching `If-None-Match` with 304,
/// counting both kinds of answer.
struct EtagServer {
    up: Upstream,
    bundle: Arc<std::sync::Mutex<(String, Vec<u8>)>>,
    full: Arc<AtomicUsize>,
    not_modified: Arc<AtomicUsize>,
}

impl EtagServer {
    async fn start(etag: &str, bytes: Vec<u8>) -> Self {
        let bundle = Arc::new(std::sync::Mutex::new((etag.to_string(), bytes)));
        let full = Arc::new(AtomicUsize::new(0));
        let not_modified = Arc::new(AtomicUsize::new(0));
        let (b, f, n) = (bundle.clone(), full.clone(), not_modified.clone());
        let up = Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
            let (b, f, n) = (b.clone(), f.clone(), n.clone());
            async move {
                let (etag, bytes) = b.lock().expect("lock").clone();
                let sent = req
                    .headers()
                    .get("if-none-match")
                    .and_then(|v| v.to_str().ok());
                let mut resp = if sent == Some(etag.as_str()) {
                    n.fetch_add(1, Ordering::SeqCst);
                    let mut r = http::Response::new(common::empty());
                    *r.status_mut() = StatusCode::NOT_MODIFIED;
                    r
                } else {
                    f.fetch_add(1, Ordering::SeqCst);
                    http::Response::new(common::full(bytes))
                };
                resp.headers_mut()
                    .insert("etag", etag.parse().expect("etag"));
                resp
            }
        })
        .await;
        Self {
            up,
            bundle,
            full,
            not_modified,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_bundle_costs_a_304_and_reload_asks_the_source() {
    let tmp = tempfile::tempdir().expect("dir");
    let (private, public) = sec0_gateway::policy::bundle::keys::generate().expect("keygen");
    let key_file = tmp.path().join("k.pem");
    std::fs::write(&key_file, private).expect("write");
    let signing =
        sec0_gateway::policy::bundle::keys::signing_key_from_pem_file(&key_file).expect("key");
    let make = |tool: &str, version: u64| {
        sec0_gateway::policy::bundle::build::build(
            &[("00.yaml".into(), deny(tool).into_bytes())],
            version,
            "2026-07-30T10:00:00Z",
            &signing,
        )
        .expect("build")
    };
    let server = EtagServer::start("\"v1\"", make("alpha", 1)).await;
    let up = Upstream::echo("u").await;
    // The public key inline (no file).
    let gw = common::gateway(&format!(
        "policy: {{ source: \"{}/b.tar.gz\", trusted_keys: [{:?}], cache_dir: {:?}, poll_interval: 100ms }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        server.up.url(),
        public,
        tmp.path().join("cache"),
        up.url()
    ))
    .await;
    assert!(denied(gw.proxy_addr, "alpha").await);
    within("a few polls answered 304", async {
        while server.not_modified.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        server.full.load(Ordering::SeqCst),
        1,
        "only the first GET downloads"
    );

    // `POST /v1/reload` asks the source at once: unchanged, then a new bundle.
    let r = send(gw.admin_addr, Method::POST, "/v1/reload", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["changed"], false, "{}", r.json());
    *server.bundle.lock().expect("lock") = ("\"v2\"".into(), make("beta", 2));
    let r = send(gw.admin_addr, Method::POST, "/v1/reload", &[], None).await;
    // The timer may have taken it a moment earlier: then this reload finds it unchanged.
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    assert_eq!(r.json()["bundle_version"], 2, "{}", r.json());
    assert!(denied(gw.proxy_addr, "beta").await);
    assert!(!denied(gw.proxy_addr, "alpha").await);
    within("polls of version 2 answered 304", async {
        let before = server.not_modified.load(Ordering::SeqCst);
        while server.not_modified.load(Ordering::SeqCst) < before + 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(server.full.load(Ordering::SeqCst), 2);

    // A refused bundle behind the reload endpoint: 422 with the reason.
    *server.bundle.lock().expect("lock") = ("\"v3\"".into(), make("gamma", 1));
    let r = send(gw.admin_addr, Method::POST, "/v1/reload", &[], None).await;
    // (A refused bundle is never "unchanged": the timer meeting it first changes nothing.)
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
    assert_eq!(r.json()["error"]["refused"], "old_version", "{}", r.json());
    within("the older bundle to be counted", async {
        while failures(gw.admin_addr, "old_version").await < 1.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(denied(gw.proxy_addr, "beta").await);
}

/// With `poll_interval: 0s` the source is asked only at start and on demand: SIGHUP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_asks_the_source_when_polling_is_off() {
    let tmp = tempfile::tempdir().expect("dir");
    let root = tmp.path();
    let served = root.join("served");
    std::fs::create_dir_all(&served).expect("dir");
    let key = root.join("k.pem");
    assert!(cli(&["bundle", "keygen", s(&key)]).0);
    let public = root.join("k.pub.pem");
    let bundle = |tool: &str, version: &str| {
        let out = root.join(format!("{version}.tar.gz"));
        let dir = rules_dir(root, &format!("r{version}"), &deny(tool));
        let (ok, text) = cli(&[
            "bundle",
            "build",
            s(&dir),
            "--key",
            s(&key),
            "--version",
            version,
            "-o",
            s(&out),
        ]);
        assert!(ok, "{text}");
        std::fs::read(out).expect("read")
    };
    publish(&served, &bundle("alpha", "1"));
    let Some(server) = StaticServer::start(&served, common::closed_port()) else {
        return;
    };
    let up = Upstream::echo("u").await;
    let cfg = config(&server.url(), &public, &root.join("cache"), &up)
        .replace("poll_interval: 200ms", "poll_interval: 0s");
    let gw = GatewayProcess::start(&cfg);
    assert!(denied(gw.proxy_addr, "alpha").await);
    publish(&served, &bundle("beta", "2"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bundle_version(gw.admin_addr).await, 1.0, "no polling");
    gw.signal("HUP");
    within("SIGHUP to fetch version 2", async {
        while bundle_version(gw.admin_addr).await != 2.0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(denied(gw.proxy_addr, "beta").await);
    assert!(logged(&gw, &["SIGHUP: asking the policy bundle source"]));
}

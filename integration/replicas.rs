//! Several replicas sharing state through a real Redis server (Debian's `redis-server`,
//! started here on a free loopback port): a call held on replica B is released by an
//! approval on replica A's admin API; answers teach precedents on every replica; a deferred
//! approval is used once across replicas; rate limits count calls on all of them. And what
//! happens when Redis cannot be reached: `fail_closed` denies escalations with a clear
//! reason (never a hang), `local` falls back to the replica's memory.
//!
//! The gateways are the real binary, two processes. Without `redis-server` on the PATH the
//! tests are skipped loudly (and fail under CI, which installs it).

use crate::common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{GatewayProcess, Upstream};
use http::Method;
use serde_json::json;

const RULES: &str = "version: 1\nrules:\n  \
    - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves }\n  \
    - { id: later-wires, when: { tool: wire_later }, decision: escalate, reason: money_moves, flow: defer }\n\
    limits:\n  - { id: few-pings, when: { tool: ping }, per: caller, rate: 0.01, burst: 3 }\n";

/// A Redis server of our own, stopped when dropped (also used by `runs_shared`).
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Start `redis-server` on a free port; `None` (after saying so loudly) when it is not
    /// installed and this is not CI.
    pub(crate) fn start() -> Option<Self> {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            common::peers::missing(
                "the replica tests",
                "redis-server is not installed (Debian package `redis-server`, which .ci/run installs)",
            );
            return None;
        }
        Some(Self::start_on(common::closed_port()))
    }

    /// Start `redis-server` on `port`.
    pub(crate) fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let me = Self {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return me;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not listen on {port}");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A replica: the gateway binary with the test rules, in front of `up`, storing shared
/// state at `redis_url`.
fn replica(
    up: &Upstream,
    redis_url: &str,
    on_unavailable: &str,
    rules: &tempfile::NamedTempFile,
) -> GatewayProcess {
    replica_with(
        up,
        redis_url,
        on_unavailable,
        rules,
        "spot_checks: { rate: 0, young_rate: 0, deny_rate: 0 }",
    )
}

/// A replica whose learning samples spot checks as `spot` says.
fn replica_with(
    up: &Upstream,
    redis_url: &str,
    on_unavailable: &str,
    rules: &tempfile::NamedTempFile,
    spot: &str,
) -> GatewayProcess {
    GatewayProcess::start(&format!(
        "policy: {{ rules: {:?} }}\n\
         store: {{ backend: redis, on_unavailable: {on_unavailable}, redis: {{ url: \"{redis_url}\", timeout: 300ms }} }}\n\
         escalation: {{ hold_timeout: 20s }}\n\
         learn: {{ auto_allow_after: 2, confidence: {{ exact: 0.3 }}, strict_confidence: {{ exact: 0.3 }}, {spot} }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        rules.path(),
        up.url(),
    ))
}

fn rules_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("tempfile");
    std::io::Write::write_all(&mut f, RULES.as_bytes()).expect("write rules");
    f
}

fn call(id: u32, tool: &str, amount: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"amount": amount}}}).to_string()
}

async fn metrics(admin: SocketAddr) -> String {
    let a = common::send(admin, Method::GET, "/metrics", &[], None).await;
    String::from_utf8_lossy(&a.body).into_owned()
}

/// Wait until the replica follows the shared store's events.
async fn synced(gw: &GatewayProcess) {
    common::within("the replica to follow the shared store", async {
        while !metrics(gw.admin_addr)
            .await
            .contains("sec0_gateway_shared_state_synced 1")
        {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
}

/// Wait until `admin` lists exactly one pending escalation and return its id.
async fn one_pending(admin: SocketAddr) -> String {
    common::one_pending(admin).await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn answer(admin: SocketAddr, id: &str, verb: &str) -> common::Answer {
    common::answer_escalation(admin, id, verb, r#"{"reviewer":"ops"}"#).await
}

/// Send a call to `on`, and answer its escalation on `admin` with `verb`; what the held
/// call finally got.
async fn held_on_answered_at(
    on: SocketAddr,
    admin: SocketAddr,
    body: String,
    verb: &str,
) -> common::Answer {
    let held = tokio::spawn(async move { common::post_json(on, "/mcp", &body).await });
    let id = one_pending(admin).await;
    assert_eq!(answer(admin, &id, verb).await.status, 200);
    common::within("the held call to be answered", held)
        .await
        .expect("held call")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_escalations_answers_precedents_and_approvals() {
    let Some(redis) = Redis::start() else { return };
    let (up, forwarded) = Upstream::echo_counting("u").await;
    let rules = rules_file();
    let a = replica(&up, &redis.url(), "fail_closed", &rules);
    let b = replica(&up, &redis.url(), "fail_closed", &rules);
    synced(&a).await;
    synced(&b).await;

    // Held on B, approved through A: B forwards it.
    let got = held_on_answered_at(
        b.proxy_addr,
        a.admin_addr,
        call(1, "wire_money", 5000),
        "approve",
    )
    .await;
    assert_eq!(got.json()["tag"], "u", "forwarded: {}", got.json());
    assert_eq!(forwarded.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Held on A, rejected through B: 4032, never forwarded.
    let got = held_on_answered_at(
        a.proxy_addr,
        b.admin_addr,
        call(2, "wire_money", 5100),
        "reject",
    )
    .await;
    assert_eq!(got.json()["error"]["code"], 4032, "{}", got.json());
    assert_eq!(forwarded.load(std::sync::atomic::Ordering::SeqCst), 1);

    // An escalation is answered once, whichever replica is asked second.
    let held = tokio::spawn({
        let addr = b.proxy_addr;
        async move { common::post_json(addr, "/mcp", &call(3, "wire_money", 90_000)).await }
    });
    let id = one_pending(a.admin_addr).await;
    common::within("B to list it too", async {
        while common::pending_escalations(b.admin_addr).await.len() != 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(answer(b.admin_addr, &id, "reject").await.status, 200);
    assert_eq!(
        answer(a.admin_addr, &id, "approve").await.status,
        409,
        "already answered on the other replica"
    );
    let got = held.await.expect("held");
    assert_eq!(got.json()["error"]["code"], 4032);

    // Precedents: two approvals of one shape, answered on either side, make an auto-allow
    // on both replicas (the other shape above was rejected: no precedent for it).
    for (n, on, at) in [
        (10, a.proxy_addr, b.admin_addr),
        (11, b.proxy_addr, a.admin_addr),
    ] {
        let got = held_on_answered_at(on, at, call(n, "wire_money", 700), "approve").await;
        assert_eq!(got.json()["tag"], "u");
    }
    for gw in [&a, &b] {
        // The answer reached this replica (learning is announced as it happens).
        common::within("the precedent to reach every replica", async {
            loop {
                let list = common::send(gw.admin_addr, Method::GET, "/v1/precedents", &[], None)
                    .await
                    .json();
                if list["precedents"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["verdict"] == "allow"))
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        let got = common::post_json(gw.proxy_addr, "/mcp", &call(12, "wire_money", 800)).await;
        assert_eq!(got.json()["tag"], "u", "auto-allowed: {}", got.json());
        assert_eq!(got.json()["headers"]["x-sec0-decision"][0], "allow");
    }

    // A deferred call on A, approved on B, goes through once: on B, and not again on A.
    let first = common::post_json(a.proxy_addr, "/mcp", &call(20, "wire_later", 1))
        .await
        .json();
    assert_eq!(first["error"]["code"], 4031, "{first}");
    let id = first["error"]["data"]["escalation_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(answer(b.admin_addr, &id, "approve").await.status, 200);
    let with_approval = |addr: SocketAddr, n: u32| {
        let id = id.clone();
        async move { common::post_with_approval(addr, &id, &call(n, "wire_later", 1)).await }
    };
    let used = common::within("the approval to reach B", async {
        loop {
            let got = with_approval(b.proxy_addr, 21).await;
            if got.json()["tag"] == "u" {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(used.json()["headers"]["x-sec0-decision"][0], "allow");
    // Give A time to hear of the approval, then: used already, escalated again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = with_approval(a.proxy_addr, 22).await;
    assert_eq!(
        again.json()["error"]["code"],
        4031,
        "used once: {}",
        again.json()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precedent_levels_evidence_and_spot_checks_are_shared() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    // Every decision a precedent makes is spot-checked here.
    let every = "spot_checks: { rate: 1.0, young_rate: 1.0, deny_rate: 0 }";
    let a = replica_with(&up, &redis.url(), "fail_closed", &rules, every);
    let b = replica_with(&up, &redis.url(), "fail_closed", &rules, every);
    synced(&a).await;
    synced(&b).await;
    for (n, on, at) in [
        (1, a.proxy_addr, b.admin_addr),
        (2, b.proxy_addr, a.admin_addr),
    ] {
        let got = held_on_answered_at(on, at, call(n, "wire_money", 700), "approve").await;
        assert_eq!(got.json()["tag"], "u");
    }
    // Both replicas list the precedent the two answers made: level, features, evidence.
    let mut ids = Vec::new();
    for gw in [&a, &b] {
        let p = common::within("the precedent on every replica", async {
            loop {
                let list = common::send(gw.admin_addr, Method::GET, "/v1/precedents", &[], None)
                    .await
                    .json();
                let found = list["precedents"].as_array().and_then(|ps| {
                    ps.iter()
                        .find(|p| p["verdict"] == "allow" && p["approvals"] == 2)
                        .cloned()
                });
                if let Some(p) = found {
                    return p;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
        assert_eq!(p["level"], "exact", "{p}");
        assert!(
            p["fingerprint"]
                .as_str()
                .is_some_and(|f| f.contains("amount=money 5e2") && f.contains("tool wire_money")),
            "{p}"
        );
        ids.push(p["id"].as_str().expect("id").to_string());
    }
    assert_eq!(ids[0], ids[1], "the same precedent on both replicas");
    // A call of that shape (an amount no higher than approved) on A is held as a spot check
    // of the precedent; rejected
    // through B, the precedent no longer allows anything, on either replica.
    let held = tokio::spawn({
        let addr = a.proxy_addr;
        async move { common::post_json(addr, "/mcp", &call(3, "wire_money", 650)).await }
    });
    let e = common::one_pending(b.admin_addr).await;
    assert_eq!(e["reason"], "spot_check", "{e}");
    assert_eq!(e["spot_check"]["precedent"], ids[0].as_str(), "{e}");
    let id = e["id"].as_str().expect("id");
    assert_eq!(answer(b.admin_addr, id, "reject").await.status, 200);
    let got = common::within("the held call", held).await.expect("held");
    assert_eq!(got.json()["error"]["code"], 4032, "{}", got.json());
    for gw in [&a, &b] {
        common::within("the revocation to reach every replica", async {
            loop {
                let list = common::send(gw.admin_addr, Method::GET, "/v1/precedents", &[], None)
                    .await
                    .json();
                let still = list["precedents"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["id"] == ids[0].as_str() && p["verdict"] == "allow")
                });
                if !still {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_count_calls_on_every_replica() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    let a = replica(&up, &redis.url(), "fail_closed", &rules);
    let b = replica(&up, &redis.url(), "fail_closed", &rules);
    synced(&a).await;
    synced(&b).await;
    // A burst of three for the (anonymous) caller, across both replicas.
    let mut refused = Vec::new();
    for (n, gw) in [&a, &b, &a, &b].into_iter().enumerate() {
        let got = common::post_json(gw.proxy_addr, "/mcp", &call(n as u32, "ping", 0)).await;
        refused.push(
            got.json()["error"]["data"]["reason"]
                .as_str()
                .map(str::to_owned),
        );
    }
    assert_eq!(
        refused,
        vec![None, None, None, Some("rate_limited".to_string())],
        "the fourth call is over the shared burst"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_closed_or_falls_back_to_memory() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    let closed = replica(&up, &redis.url(), "fail_closed", &rules);
    let local = replica(&up, &redis.url(), "local", &rules);
    synced(&closed).await;
    synced(&local).await;
    redis.stop();

    // fail_closed: the escalation becomes a denial with a clear reason, at once.
    let got = common::within(
        "a denial, not a hang",
        common::post_json(closed.proxy_addr, "/mcp", &call(1, "wire_money", 5000)),
    )
    .await;
    let err = &got.json()["error"];
    assert_eq!(err["code"], 4030, "{}", got.json());
    assert_eq!(err["data"]["review"], "review_store_unavailable");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("review store is unavailable")),
        "{err}"
    );
    // ...and rate-limited calls are refused rather than counted nowhere.
    let got = common::post_json(closed.proxy_addr, "/mcp", &call(2, "ping", 0)).await;
    assert_eq!(
        got.json()["error"]["data"]["reason"],
        "rate_limited",
        "{}",
        got.json()
    );
    assert_eq!(
        got.json()["error"]["data"]["rules"],
        json!(["shared_state_unavailable"])
    );
    let m = metrics(closed.admin_addr).await;
    assert!(
        common::metric_value(&m, "sec0_gateway_shared_state_errors_total{op=\"open\"}")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert!(m.contains("sec0_gateway_shared_state_synced 0"), "{m}");
    // Revoking a precedent needs the shared store under fail_closed; locally it is this
    // replica's business (there is none to revoke here).
    let revoke = |admin| async move {
        common::send(
            admin,
            Method::DELETE,
            "/v1/precedents/precedent-00112233aabbccdd",
            &[],
            None,
        )
        .await
        .status
    };
    assert_eq!(revoke(closed.admin_addr).await, 503);
    assert_eq!(revoke(local.admin_addr).await, 404);

    // local: the replica carries on alone; its own reviewers answer its own calls.
    let got = held_on_answered_at(
        local.proxy_addr,
        local.admin_addr,
        call(3, "wire_money", 5000),
        "approve",
    )
    .await;
    assert_eq!(got.json()["tag"], "u", "{}", got.json());
    let got = common::post_json(local.proxy_addr, "/mcp", &call(4, "ping", 0)).await;
    assert!(
        got.json()["error"].is_null(),
        "local bucket: {}",
        got.json()
    );

    // Redis back (same port, empty): both replicas follow it again, and escalations are
    // shared again.
    let port = redis.port;
    drop(redis);
    let _redis = Redis::start_on(port);
    synced(&closed).await;
    synced(&local).await;
    let got = held_on_answered_at(
        closed.proxy_addr,
        local.admin_addr,
        call(5, "wire_money", 5000),
        "approve",
    )
    .await;
    assert_eq!(got.json()["tag"], "u", "{}", got.json());
}

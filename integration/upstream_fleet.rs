//! Upstreams with several endpoints, against real upstream processes (the official MCP
//! Python SDK's FastMCP, three of them) and in-process ones: an endpoint killed mid-load
//! loses no call that was safe to retry, is ejected and comes back after its restart; an
//! MCP session stays on the endpoint that created it; the circuit breaker opens under a
//! slow upstream (503 with a JSON-RPC error) and closes again; an endpoint failing its
//! health check gets no calls until it passes again.

use crate::common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::peers::{Server, python, start_python_server};
use common::{Answer, Upstream, gateway, metrics, send};
use http::{Method, Response, StatusCode};
use sec0_gateway::RunningGateway;

/// The value of the line of metric `name` that mentions every one of `labels`.
fn metric(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .find(|l| labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Poll the gateway's metrics until `check` holds (or fail after `limit`).
async fn metrics_until(
    gw: &RunningGateway,
    what: &str,
    limit: Duration,
    check: impl Fn(&str) -> bool,
) {
    let start = Instant::now();
    loop {
        let text = metrics(gw).await;
        if check(&text) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{what}: not within {limit:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// POST an MCP message to the gateway's `/mcp`, in session `session` if given.
async fn mcp(addr: SocketAddr, session: Option<&str>, body: &str) -> Answer {
    let mut h = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    if let Some(s) = session {
        h.push(("mcp-session-id", s));
    }
    send(addr, Method::POST, "/mcp", &h, Some(body)).await
}

/// [`mcp`] under load: `None` when the answer's head came and its body was then cut (an
/// endpoint killed mid-answer: the client already has the head, nobody can retry that).
async fn mcp_under_load(addr: SocketAddr, body: &str) -> Option<Answer> {
    use http_body_util::BodyExt;
    let req = http::Request::post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(common::full(body.to_string()))
        .expect("request");
    let resp = common::client()
        .request(req)
        .await
        .expect("the gateway answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.ok()?.to_bytes();
    Some(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

fn whoami(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"whoami","arguments":{{}}}}}}"#
    )
}

/// The port a `whoami` answer names, when the call succeeded.
fn served_by(a: &Answer) -> Option<String> {
    if a.status != StatusCode::OK {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).ok()?;
    if v["result"]["isError"] == true {
        return None;
    }
    v["result"]["content"][0]["text"]
        .as_str()
        .map(str::to_owned)
}

async fn endpoint(py: &std::path::Path, port: u16, mode: &str) -> Server {
    start_python_server(py, "fleet_server.py", &[&port.to_string(), mode], port).await
}

#[derive(Default)]
struct Tally {
    list_ok: usize,
    list_failed: usize,
    /// Answers whose body was cut after their head (in flight at the kill).
    cut: usize,
    call_ok: usize,
    call_failed: usize,
    /// Ports that served a `whoami` since the set was last cleared.
    seen: HashSet<String>,
    failures: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_endpoint_loses_no_safe_call_is_ejected_and_comes_back() {
    let Some(py) = python("upstream_fleet::a_killed_endpoint…") else {
        return;
    };
    let ports = [
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
    ];
    let (a, b, c) = tokio::join!(
        endpoint(&py, ports[0], "stateless"),
        endpoint(&py, ports[1], "stateless"),
        endpoint(&py, ports[2], "stateless"),
    );
    let mut servers = [Some(a), Some(b), Some(c)];
    let eps: Vec<String> = ports
        .iter()
        .map(|p| format!("'http://127.0.0.1:{p}'"))
        .collect();
    let gw = gateway(&format!(
        "upstreams:\n  tools:\n    endpoints: [{}]\n    connect_timeout: 1s\n    \
         outlier: {{ consecutive_connect_failures: 2, consecutive_5xx: 0, base_ejection_time: 1s, max_ejection_time: 2s, max_ejection_percent: 34 }}\n    \
         retry: {{ methods: [tools/list], budget: {{ percent: 100, min_per_second: 1000 }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }}\n",
        eps.join(", ")
    ))
    .await;
    let addr = gw.proxy_addr;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let ids = Arc::new(AtomicUsize::new(1));
    const TASKS: usize = 4;
    let load: Vec<_> = (0..TASKS)
        .map(|_| {
            let (tally, stop, ids) = (tally.clone(), stop.clone(), ids.clone());
            tokio::spawn(async move {
                // Bounded: at most a minute of calls, whatever happens.
                let end = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                    let id = ids.fetch_add(1, Ordering::SeqCst) as u64;
                    if id % 2 == 0 {
                        let body =
                            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#);
                        let Some(r) = mcp_under_load(addr, &body).await else {
                            tally.lock().expect("tally").cut += 1;
                            continue;
                        };
                        let ok = r.status == StatusCode::OK
                            && serde_json::from_slice::<serde_json::Value>(&r.body)
                                .is_ok_and(|v| v["result"]["tools"].is_array());
                        let mut t = tally.lock().expect("tally");
                        if ok {
                            t.list_ok += 1;
                        } else {
                            t.list_failed += 1;
                            t.failures.push(format!(
                                "tools/list {}: {}",
                                r.status,
                                String::from_utf8_lossy(&r.body)
                            ));
                        }
                    } else {
                        let Some(r) = mcp_under_load(addr, &whoami(id)).await else {
                            tally.lock().expect("tally").cut += 1;
                            continue;
                        };
                        let mut t = tally.lock().expect("tally");
                        match served_by(&r) {
                            Some(port) => {
                                t.call_ok += 1;
                                t.seen.insert(port);
                            }
                            None => {
                                t.call_failed += 1;
                                t.failures.push(format!(
                                    "tools/call {}: {}",
                                    r.status,
                                    String::from_utf8_lossy(&r.body)
                                ));
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let seen_all = |t: &Tally| ports.iter().all(|p| t.seen.contains(&p.to_string()));
    let wait_for = |what: &'static str, cond: Box<dyn Fn(&Tally) -> bool + Send>| {
        let tally = tally.clone();
        async move {
            let start = Instant::now();
            while !cond(&tally.lock().expect("tally")) {
                assert!(start.elapsed() < Duration::from_secs(20), "{what}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let all = ports;
    wait_for(
        "every endpoint serves calls",
        Box::new(move |t| all.iter().all(|p| t.seen.contains(&p.to_string()))),
    )
    .await;
    assert!(seen_all(&tally.lock().expect("tally")));

    // Kill the second endpoint mid-load.
    let victim = format!("127.0.0.1:{}", ports[1]);
    drop(servers[1].take());
    let gone = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", ports[1])).is_ok() {
        assert!(
            gone.elapsed() < Duration::from_secs(10),
            "endpoint did not die"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ep = format!("endpoint=\"{victim}\"");
    metrics_until(
        &gw,
        "the killed endpoint is ejected",
        Duration::from_secs(10),
        |m| {
            metric(m, "sec0_gateway_upstream_endpoint_ejected", &[&ep]) == 1.0
                && metric(m, "sec0_gateway_upstream_endpoint_ejections_total", &[&ep]) >= 1.0
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let m = metrics(&gw).await;
    assert!(
        metric(
            &m,
            "sec0_gateway_upstream_endpoint_failures_total",
            &[&ep, "kind=\"connect\""]
        ) >= 2.0,
        "{m}"
    );
    assert!(
        metric(&m, "sec0_gateway_upstream_endpoint_retries_total", &[&ep]) >= 1.0,
        "calls that failed to connect were sent elsewhere: {m}"
    );

    // Restart it on the same port: it comes back once its ejection is over.
    tally.lock().expect("tally").seen.clear();
    servers[1] = Some(endpoint(&py, ports[1], "stateless").await);
    let back = ports[1].to_string();
    wait_for(
        "the restarted endpoint serves calls again",
        Box::new(move |t| t.seen.contains(&back)),
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.expect("load task");
    }
    metrics_until(&gw, "the ejection is over", Duration::from_secs(5), |m| {
        metric(m, "sec0_gateway_upstream_endpoint_ejected", &[&ep]) == 0.0
    })
    .await;

    let t = tally.lock().expect("tally");
    eprintln!(
        "fleet load: tools/list {} ok, {} failed; tools/call {} ok, {} failed; {} cut mid-answer",
        t.list_ok, t.list_failed, t.call_ok, t.call_failed, t.cut
    );
    assert!(t.list_ok > 20 && t.call_ok > 20, "load ran");
    // Every tools/list the gateway answered succeeded: a failed connect, a broken exchange
    // or a 5xx before the answer's head was retried on another endpoint.
    assert_eq!(
        t.list_failed, 0,
        "idempotent calls are never lost: {:?}",
        t.failures
    );
    // A tools/call is retried only when its connect failed; one already sent to the
    // endpoint when it died is lost (at most one per load task and worker connection).
    assert!(
        t.cut <= TASKS,
        "only answers in flight at the kill can be cut after their head: {}",
        t.cut
    );
    assert!(
        t.call_failed <= 2 * TASKS,
        "only calls in flight at the kill may fail: {:?}",
        t.failures
    );
}

#[tokio::test]
async fn an_mcp_session_stays_on_the_endpoint_that_created_it() {
    let Some(py) = python("upstream_fleet::an_mcp_session_stays…") else {
        return;
    };
    let ports = [
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
    ];
    let (_a, _b, _c) = tokio::join!(
        endpoint(&py, ports[0], "stateful"),
        endpoint(&py, ports[1], "stateful"),
        endpoint(&py, ports[2], "stateful"),
    );
    let eps: Vec<String> = ports
        .iter()
        .map(|p| format!("'http://127.0.0.1:{p}'"))
        .collect();
    let cfg = |balance: &str| {
        format!(
            "upstreams:\n  tools: {{ endpoints: [{}], balance: {balance} }}\n\
             routes:\n  - {{ path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }}\n",
            eps.join(", ")
        )
    };
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fleet-test","version":"1"}}}"#;
    let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let open = |addr| async move {
        let r = mcp(addr, None, init).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        r.headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("a session id")
            .to_string()
    };

    let gw = gateway(&cfg("session")).await;
    let mut homes = Vec::new();
    for _ in 0..2 {
        let sid = open(gw.proxy_addr).await;
        let n = mcp(gw.proxy_addr, Some(&sid), initialized).await;
        assert_eq!(n.status, StatusCode::ACCEPTED);
        let mut served = HashSet::new();
        for id in 1..=9 {
            let r = mcp(gw.proxy_addr, Some(&sid), &whoami(id)).await;
            let port = served_by(&r).unwrap_or_else(|| {
                panic!(
                    "call in session failed: {} {}",
                    r.status,
                    String::from_utf8_lossy(&r.body)
                )
            });
            served.insert(port);
        }
        assert_eq!(served.len(), 1, "one session, one endpoint: {served:?}");
        homes.extend(served);
    }
    assert_ne!(
        homes[0], homes[1],
        "new sessions are spread over the endpoints"
    );

    // The same calls balanced round robin land on endpoints that never saw the session.
    let rr = gateway(&cfg("round_robin")).await;
    let sid = open(rr.proxy_addr).await;
    let failed = {
        let mut n = 0;
        for id in 1..=6 {
            if served_by(&mcp(rr.proxy_addr, Some(&sid), &whoami(id)).await).is_none() {
                n += 1;
            }
        }
        n
    };
    assert!(
        failed >= 2,
        "without affinity the session is lost on other endpoints: {failed}"
    );
}

/// Answer every JSON-RPC call after `delay`.
async fn slow(delay: Duration) -> Upstream {
    Upstream::start(move |_req| async move {
        tokio::time::sleep(delay).await;
        let mut r = Response::new(common::full(r#"{"jsonrpc":"2.0","id":7,"result":{}}"#));
        r.headers_mut()
            .insert("content-type", "application/json".parse().expect("value"));
        r
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_opens_under_a_slow_upstream_and_closes_again() {
    let up = slow(Duration::from_millis(1500)).await;
    let gw = gateway(&format!(
        "upstreams:\n  slow: {{ url: '{}', circuit_breaker: {{ max_requests: 2 }} }}\n\
         routes:\n  - {{ upstream: slow, protocol: jsonrpc, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let addr = gw.proxy_addr;
    let ping = r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#;
    let first: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { common::post_json(addr, "/", ping).await }))
        .collect();
    let open = "limit=\"requests\"";
    metrics_until(&gw, "the circuit opens", Duration::from_secs(5), |m| {
        metric(m, "sec0_gateway_upstream_circuit_open", &[open]) == 1.0
    })
    .await;
    for _ in 0..4 {
        let r = common::post_json(addr, "/", ping).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            r.headers.get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let v = r.json();
        assert_eq!(v["id"], 7, "{v}");
        assert_eq!(v["error"]["code"], -32603, "{v}");
        assert_eq!(v["error"]["data"]["reason"], "circuit_open", "{v}");
    }
    for t in first {
        assert_eq!(
            t.await.expect("task").status,
            StatusCode::OK,
            "calls under the limit pass"
        );
    }
    let m = metrics(&gw).await;
    assert_eq!(
        metric(&m, "sec0_gateway_upstream_circuit_open", &[open]),
        0.0,
        "closed: {m}"
    );
    assert_eq!(
        metric(
            &m,
            "sec0_gateway_upstream_circuit_rejections_total",
            &[open]
        ),
        4.0
    );
    let r = common::post_json(addr, "/", ping).await;
    assert_eq!(r.status, StatusCode::OK, "closed again");
}

#[tokio::test]
async fn an_endpoint_failing_its_health_check_gets_no_calls() {
    let sick = Arc::new(AtomicBool::new(true));
    let answer = |name: &'static str, sick: Option<Arc<AtomicBool>>| {
        move |req: http::Request<hyper::body::Incoming>| {
            let sick = sick.clone();
            async move {
                let ill = sick.is_some_and(|s| s.load(Ordering::SeqCst));
                let mut r = Response::new(common::full(name));
                if req.uri().path() == "/health" && ill {
                    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                }
                r
            }
        }
    };
    let a = Upstream::start(answer("a", None)).await;
    let b = Upstream::start(answer("b", Some(sick.clone()))).await;
    let gw = gateway(&format!(
        "upstreams:\n  u:\n    endpoints: ['{}', '{}']\n    \
         health_check: {{ path: /health, interval: 100ms, timeout: 1s, healthy_threshold: 1, unhealthy_threshold: 1 }}\n\
         routes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n",
        a.url(),
        b.url()
    ))
    .await;
    let ep_b = format!("endpoint=\"{}\"", b.addr);
    metrics_until(&gw, "b is found unhealthy", Duration::from_secs(5), |m| {
        m.contains("sec0_gateway_upstream_endpoint_healthy")
            && metric(m, "sec0_gateway_upstream_endpoint_healthy", &[&ep_b]) == 0.0
    })
    .await;
    for i in 0..10 {
        let r = send(gw.proxy_addr, Method::GET, &format!("/x{i}"), &[], None).await;
        assert_eq!(&r.body[..], b"a", "only the healthy endpoint is called");
    }
    sick.store(false, Ordering::SeqCst);
    let start = Instant::now();
    loop {
        let r = send(gw.proxy_addr, Method::GET, "/y", &[], None).await;
        if &r.body[..] == b"b" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "b never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn only_idempotent_methods_are_retried_after_they_reached_an_endpoint() {
    // One endpoint answers 503 to everything, the other 200; each counts what it got.
    let answer = |status: StatusCode| {
        move |_body: bytes::Bytes| {
            let mut r = Response::new(common::full(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
            *r.status_mut() = status;
            r.headers_mut()
                .insert("content-type", "application/json".parse().expect("value"));
            r
        }
    };
    let (bad, bad_hits) = Upstream::counting(answer(StatusCode::SERVICE_UNAVAILABLE)).await;
    let (good, good_hits) = Upstream::counting(answer(StatusCode::OK)).await;
    let cfg = |budget: &str| {
        format!(
            "upstreams:\n  u:\n    endpoints: ['{}', '{}']\n    outlier: {{ consecutive_5xx: 0 }}\n    \
             retry: {{ methods: [tools/list], budget: {budget} }}\n\
             routes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            bad.url(),
            good.url()
        )
    };
    let gw = gateway(&cfg("{ percent: 100, min_per_second: 100 }")).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let call =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}"#;
    for _ in 0..6 {
        let r = common::post_json(gw.proxy_addr, "/", list).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "tools/list is retried on the other endpoint"
        );
    }
    let before = bad_hits.load(Ordering::SeqCst) + good_hits.load(Ordering::SeqCst);
    let mut refused = 0;
    for _ in 0..6 {
        let r = common::post_json(gw.proxy_addr, "/", call).await;
        if r.status == StatusCode::SERVICE_UNAVAILABLE {
            refused += 1;
        }
    }
    let after = bad_hits.load(Ordering::SeqCst) + good_hits.load(Ordering::SeqCst);
    assert_eq!(after - before, 6, "a tools/call is never sent twice");
    assert_eq!(
        refused, 3,
        "round robin: half reached the failing endpoint, answered as it was"
    );
    let m = metrics(&gw).await;
    let ep = format!("endpoint=\"{}\"", bad.addr);
    // Every tools/list that met the failing endpoint first was retried (which ones did
    // depends on the endpoints' order); no tools/call was.
    assert!(
        metric(&m, "sec0_gateway_upstream_endpoint_retries_total", &[&ep]) >= 3.0,
        "{m}"
    );

    // Without a budget nothing is retried.
    let gw = gateway(&cfg("{ percent: 0, min_per_second: 0 }")).await;
    let failed = {
        let mut n = 0;
        for _ in 0..6 {
            if common::post_json(gw.proxy_addr, "/", list).await.status != StatusCode::OK {
                n += 1;
            }
        }
        n
    };
    assert_eq!(failed, 3, "a spent budget retries nothing");
    let m = metrics(&gw).await;
    assert_eq!(
        metric(
            &m,
            "sec0_gateway_upstream_retry_budget_exhausted_total",
            &["upstream=\"u\""]
        ),
        3.0,
        "{m}"
    );
}

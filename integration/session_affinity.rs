//! MCP session affinity across gateway replicas without shared state: two gateway
//! processes with the same affinity key in front of three stateful FastMCP endpoints (the
//! official MCP Python SDK). A session opened through replica A keeps working through
//! replica B, every call on the endpoint that created it; a tampered, forged or unsealed id
//! is answered 404 by the gateway and nothing is forwarded; DELETE reaches the session's
//! endpoint; a replica whose config no longer lists the session's endpoint answers 404 (the
//! client starts a new session), while sessions on the endpoints it still lists keep
//! working there — the endpoint is named by a hash of its URL, not its place in the list.

use crate::common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use common::peers::{Server, python, start_python_server};
use common::{Answer, GatewayProcess, send};
use http::{Method, StatusCode};
use sec0_gateway::forward::affinity::{SessionSeal, endpoint_key};

/// The replicas' shared key (a test value; real ones come from a Secret).
const KEY: &str = "test-affinity-key-shared-by-every-replica-0123456789";

async fn endpoint(py: &Path, port: u16) -> Server {
    start_python_server(
        py,
        "fleet_server.py",
        &[&port.to_string(), "stateful"],
        port,
    )
    .await
}

/// A gateway process balancing `ports` by session, sealed with the key in `key_file`.
fn replica(ports: &[u16], key_file: &Path) -> GatewayProcess {
    let eps: Vec<String> = ports
        .iter()
        .map(|p| format!("'http://127.0.0.1:{p}'"))
        .collect();
    GatewayProcess::start(&format!(
        "upstreams:\n  tools:\n    endpoints: [{}]\n    balance: session\n    \
         sessions: {{ affinity_key_file: '{}' }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }}\n",
        eps.join(", "),
        key_file.display()
    ))
}

/// Send an MCP request (`method`, `body`) to `addr`'s `/mcp` in session `session`.
async fn mcp(
    addr: SocketAddr,
    method: Method,
    session: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut h = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    if let Some(s) = session {
        h.push(("mcp-session-id", s));
    }
    send(addr, method, "/mcp", &h, body).await
}

fn whoami(id: u64) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"whoami","arguments":{{}}}}}}"#
    )
}

/// The port that served a `whoami`, or a panic saying what came instead.
fn served_by(a: &Answer) -> String {
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
    match v["result"]["content"][0]["text"].as_str() {
        Some(p) if a.status == StatusCode::OK => p.to_string(),
        _ => panic!(
            "call in session failed: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        ),
    }
}

/// Open a session through `addr`: its (sealed) id.
async fn open(addr: SocketAddr) -> String {
    let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"affinity-test","version":"1"}}}"#;
    let r = mcp(addr, Method::POST, None, Some(init)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let sid = r
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .expect("a session id")
        .to_string();
    let n = mcp(
        addr,
        Method::POST,
        Some(&sid),
        Some(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
    )
    .await;
    assert_eq!(
        n.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&n.body)
    );
    sid
}

/// Calls `gw` has sent to any endpoint so far.
async fn sent_upstream(gw: &GatewayProcess) -> f64 {
    let m = send(gw.admin_addr, Method::GET, "/metrics", &[], None).await;
    String::from_utf8_lossy(&m.body)
        .lines()
        .filter(|l| l.starts_with("sec0_gateway_upstream_endpoint_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The gateway's own "unknown session" answer: 404, a JSON-RPC error with its reason.
fn assert_unknown_session(a: &Answer, what: &str) {
    assert_eq!(
        a.status,
        StatusCode::NOT_FOUND,
        "{what}: {}",
        String::from_utf8_lossy(&a.body)
    );
    let v: serde_json::Value = serde_json::from_slice(&a.body).expect("a JSON body");
    assert_eq!(v["jsonrpc"], "2.0", "{what}: {v}");
    assert_eq!(v["error"]["code"], -32600, "{what}: {v}");
    assert_eq!(
        v["error"]["data"]["reason"], "unknown_session",
        "{what}: answered by the gateway, not an upstream: {v}"
    );
}

#[tokio::test]
async fn a_session_holds_across_replicas_and_forged_ids_go_nowhere() {
    let Some(py) = python("session_affinity::a_session_holds_across_replicas…") else {
        return;
    };
    let ports = [
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
    ];
    let (_a, _b, _c) = tokio::join!(
        endpoint(&py, ports[0]),
        endpoint(&py, ports[1]),
        endpoint(&py, ports[2]),
    );
    let dir = tempfile::tempdir().expect("dir");
    let key_file = dir.path().join("session-key");
    std::fs::write(&key_file, format!("{KEY}\n")).expect("key file");
    let a = replica(&ports, &key_file);
    let b = replica(&ports, &key_file);

    // Three sessions opened through A, each used through B and A in turn: every call
    // lands on the endpoint that created the session.
    let mut homes = Vec::new();
    let mut sids = Vec::new();
    for _ in 0..3 {
        let sid = open(a.proxy_addr).await;
        assert!(
            sid.starts_with("s1.") && sid.bytes().all(|c| (0x21..=0x7e).contains(&c)),
            "{sid}"
        );
        let mut served = HashSet::new();
        for id in 1..=6 {
            let via = if id % 2 == 0 { &a } else { &b };
            served.insert(served_by(
                &mcp(via.proxy_addr, Method::POST, Some(&sid), Some(&whoami(id))).await,
            ));
        }
        assert_eq!(
            served.len(),
            1,
            "one session, one endpoint, whichever replica: {served:?}"
        );
        homes.extend(served);
        sids.push(sid);
    }
    let distinct: HashSet<_> = homes.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "new sessions take turns over the endpoints: {homes:?}"
    );

    // Tampered, forged and unsealed ids: 404 from the gateway, nothing sent upstream.
    let parts: Vec<&str> = sids[0].splitn(4, '.').collect();
    let other = sids
        .iter()
        .zip(&homes)
        .find(|(_, h)| **h != homes[0])
        .map(|(s, _)| s.split('.').nth(1).expect("endpoint part"))
        .expect("a session elsewhere");
    let moved = format!("s1.{other}.{}.{}", parts[2], parts[3]);
    let mut flipped = sids[0].clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'a' { b'b' } else { b'a' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let home: u16 = homes[0].parse().expect("port");
    let forged = SessionSeal::new("tools", b"not-the-replicas-key-but-long-enough-0123")
        .seal(
            &endpoint_key(
                &http::uri::Scheme::HTTP,
                &format!("127.0.0.1:{home}").parse().expect("authority"),
            ),
            parts[3],
        )
        .expect("seal");
    let before = sent_upstream(&b).await;
    for (what, sid) in [
        ("another endpoint's key", moved.as_str()),
        ("a changed upstream id", flipped.as_str()),
        ("sealed with another key", forged.as_str()),
        ("the upstream's own id, unsealed", parts[3]),
    ] {
        let r = mcp(b.proxy_addr, Method::POST, Some(sid), Some(&whoami(99))).await;
        assert_unknown_session(&r, what);
        let d = mcp(b.proxy_addr, Method::DELETE, Some(sid), None).await;
        assert_unknown_session(&d, what);
    }
    assert_eq!(sent_upstream(&b).await, before, "nothing was forwarded");
    assert_eq!(
        served_by(&mcp(b.proxy_addr, Method::POST, Some(&sids[0]), Some(&whoami(7))).await),
        homes[0],
        "the real session still works"
    );

    // DELETE through B reaches the session's endpoint: the session is over everywhere.
    let d = mcp(b.proxy_addr, Method::DELETE, Some(&sids[0]), None).await;
    assert_eq!(
        d.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&d.body)
    );
    let gone = mcp(a.proxy_addr, Method::POST, Some(&sids[0]), Some(&whoami(8))).await;
    assert_eq!(
        gone.status,
        StatusCode::NOT_FOUND,
        "the endpoint ended it: {}",
        String::from_utf8_lossy(&gone.body)
    );

    // A replica whose config lists the endpoints in another order and without the second
    // session's endpoint: that session is unknown there (404, nothing sent); the third, on
    // an endpoint it still lists, keeps working on it.
    let (s2, s3) = (&sids[1], &sids[2]);
    let (h2, h3) = (&homes[1], &homes[2]);
    assert_ne!(h2, h3);
    let mut rest: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| p.to_string() != *h2)
        .collect();
    rest.reverse();
    let c = replica(&rest, &key_file);
    let r = mcp(c.proxy_addr, Method::POST, Some(s2), Some(&whoami(9))).await;
    assert_unknown_session(&r, "an endpoint no longer configured");
    assert_eq!(sent_upstream(&c).await, 0.0, "nothing was forwarded");
    assert_eq!(
        served_by(&mcp(c.proxy_addr, Method::POST, Some(s3), Some(&whoami(10))).await),
        *h3
    );

    for gw in [&a, &b, &c] {
        let logs = gw.logs.lock().expect("logs").join("\n");
        assert!(!logs.contains(KEY), "the key is never logged");
    }
}

#[tokio::test]
async fn a_gateway_whose_affinity_key_cannot_be_read_does_not_start() {
    let yaml = "listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nupstreams:\n  tools:\n    \
        endpoints: ['http://127.0.0.1:1', 'http://127.0.0.1:2']\n    balance: session\n    \
        sessions: { affinity_key_env: SEC0_TEST_UNSET_AFFINITY_KEY }\n\
        routes:\n  - { path_prefix: /mcp, upstream: tools, protocol: mcp, boundary: agent_to_tool }\n";
    let cfg = sec0_gateway::config::load_from_str(yaml, "<test>", Some(Default::default()))
        .expect("the config itself is valid: the key is read at start");
    match sec0_gateway::Gateway::start(cfg).await {
        Ok(_) => panic!("started without its session affinity key"),
        Err(e) => assert!(
            e.to_string()
                .contains("SEC0_TEST_UNSET_AFFINITY_KEY is not set"),
            "{e}"
        ),
    }
}

//! Socket-free tests of the phases: a proxy built from a config, calls built in memory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{Request, StatusCode, header};

use super::ProxyState;
use super::read::ReadBody;
use super::state::{Admitted, CallState, Unadmitted};
use crate::error::{GatewayError, RequestError};
use crate::forward::headers::Downstream;
use crate::metrics::Metrics;
use crate::policy::tests::RULES;
use crate::policy::{DecisionKind, Mode, Policy};
use crate::protocol::ProtocolError;
use crate::protocol::jsonrpc::parse_envelope;

/// A proxy with an anonymous MCP route at `/mcp` and a bearer-only one at `/strict`;
/// `rules`: the policy, if any.
async fn proxy(dir: &tempfile::TempDir, rules: Option<&str>) -> ProxyState {
    let secret = dir.path().join("hs256");
    std::fs::write(&secret, "a-test-secret-of-enough-length-for-hs256").expect("secret");
    let yaml = format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0 }}\n\
         identity: {{ jwt: {{ hs256_secret_file: {secret:?}, issuer: iss, audience: [aud] }} }}\n\
         upstreams: {{ u: {{ url: 'http://127.0.0.1:9' }} }}\n\
         routes:\n\
         \x20 - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
         \x20 - {{ name: strict, path_prefix: /strict, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [jwt], anonymous: false }} }}\n"
    );
    let cfg = crate::config::load_from_str(&yaml, "<test>", Some(Default::default()))
        .unwrap_or_else(|e| panic!("test config invalid: {e}"));
    let metrics = Metrics::new();
    let policy = rules.map(|r| {
        let p = Policy::from_sources(
            &[(PathBuf::from("rules/t.yaml"), r.to_owned())],
            Mode::Enforce,
        )
        .unwrap_or_else(|e| panic!("test rules invalid: {e}"));
        Arc::new(ArcSwap::from_pointee(p))
    });
    let identifier = Arc::new(
        crate::identify::Identifier::new(&cfg.identity, &cfg.routes)
            .await
            .expect("identifier"),
    );
    let store = Arc::new(crate::shared::Store::new(&cfg.store, &metrics).expect("store"));
    let reviews = Arc::new(crate::review::ReviewStore::new(store));
    let precedents = Arc::new(crate::review::learn::Precedents::new(
        crate::review::learn::LearnConfig::from(&cfg.learn),
    ));
    ProxyState::new(&cfg, metrics, policy, None, identifier, reviews, precedents)
        .expect("proxy builds")
}

fn downstream() -> Downstream {
    let peer: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    Downstream::new(peer, "http", false)
}

fn request(path: &str) -> Request<()> {
    Request::post(path)
        .header(header::HOST, "gw.test")
        .header(header::CONTENT_TYPE, "application/json")
        .body(())
        .expect("request")
}

/// A call to `path` arriving at `p`, and what the admit phase makes of it.
async fn admit(
    p: &ProxyState,
    path: &str,
) -> (Request<()>, CallState, Result<Admitted, Unadmitted>) {
    let mut req = request(path);
    let mut call = CallState::arrive(p, &req);
    let admitted = p.admit(&mut call, &mut req, &downstream()).await;
    (req, call, admitted)
}

#[tokio::test]
async fn admit_refuses_ambiguous_paths_and_unrouted_calls_before_any_route() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = proxy(&dir, None).await;
    for (path, want) in [
        ("/mcp/../strict", "ambiguous"),
        ("/mcp/%2e%2e/strict", "ambiguous"),
        ("/elsewhere", "no route"),
    ] {
        let (_, call, Err(refused)) = admit(&p, path).await else {
            panic!("{path} admitted");
        };
        assert!(refused.route.is_none(), "{path}: no route is named");
        match (&refused.err, want) {
            (GatewayError::Request(RequestError::AmbiguousPath), "ambiguous") => {}
            (GatewayError::Request(RequestError::NoRoute), "no route") => {}
            (e, _) => panic!("{path}: unexpected refusal {e}"),
        }
        let resp = p.finish_unadmitted(call, refused).await;
        assert!(resp.status().is_client_error(), "{path}: {}", resp.status());
    }
}

#[tokio::test]
async fn a_call_without_the_routes_credentials_gets_401_with_the_bearer_challenge() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = proxy(&dir, None).await;
    let (_, call, Err(refused)) = admit(&p, "/strict/x").await else {
        panic!("admitted without a token");
    };
    assert_eq!(refused.route.as_ref().map(|r| &*r.name), Some("strict"));
    assert!(matches!(
        refused.err,
        GatewayError::Request(RequestError::Unauthenticated(_))
    ));
    let resp = p.finish_unadmitted(call, refused).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"sec0-gateway\"")
    );
}

#[tokio::test]
async fn an_admitted_call_has_its_route_caller_and_a_fresh_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = proxy(&dir, None).await;
    let (_, _, Ok(a)) = admit(&p, "/mcp").await else {
        panic!("refused");
    };
    assert_eq!(&*a.route.name, "tools");
    assert_eq!(&*a.who.caller, "anonymous");
    assert!(!a.ctx.run_id.is_empty() && !a.ctx.run_continued);
}

#[tokio::test]
async fn each_message_of_a_batch_is_decided_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = proxy(&dir, Some(RULES)).await;
    let (req, mut call, Ok(a)) = admit(&p, "/mcp").await else {
        panic!("refused");
    };
    let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shell_exec","arguments":{"cmd":"ls"}}},
                  {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"a"}}},
                  {"jsonrpc":"2.0","method":"notifications/initialized"}]"#;
    call.buffered = Some(bytes::Bytes::from_static(body));
    let envelope = parse_envelope(body, 16).expect("envelope");
    let (head, ()) = req.into_parts();
    let decided = p
        .decide(&mut call, &a, &head, &ReadBody::JsonRpc(envelope))
        .await
        .expect("decided");
    let kinds: Vec<DecisionKind> = decided.decisions.iter().map(|d| d.decision).collect();
    assert_eq!(
        kinds,
        [DecisionKind::Deny, DecisionKind::Allow, DecisionKind::Allow]
    );
    assert_eq!(decided.answers, [None, None, None], "nothing escalated");
    assert!(decided.retry_after.is_none() && decided.to_redact.is_empty());
}

#[tokio::test]
async fn a_tools_call_without_a_name_is_a_protocol_error_and_no_policy_decides_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#;
    for rules in [Some(RULES), None] {
        let p = proxy(&dir, rules).await;
        let (req, mut call, Ok(a)) = admit(&p, "/mcp").await else {
            panic!("refused");
        };
        call.buffered = Some(bytes::Bytes::from_static(body));
        let envelope = parse_envelope(body, 16).expect("envelope");
        let (head, ()) = req.into_parts();
        let decided = p
            .decide(&mut call, &a, &head, &ReadBody::JsonRpc(envelope))
            .await;
        match (rules, decided) {
            (Some(_), Err(GatewayError::Protocol(ProtocolError::Mcp(m)))) => {
                assert!(m.contains("params.name"), "{m}");
            }
            (None, Ok(d)) => assert!(d.decisions.is_empty(), "no policy, no decisions"),
            (r, other) => panic!(
                "policy {}: {:?}",
                r.is_some(),
                other
                    .map(|d| d.decisions.len())
                    .err()
                    .map(|e| e.to_string())
            ),
        }
    }
}

#[tokio::test]
async fn the_call_future_is_boxed_because_it_is_large() {
    // The size of one call's future, read from its type (no call is made): every phase's
    // state lives in it, so the server boxes it once instead of letting hyper move it
    // (`start_proxy`). This fails if it ever becomes small enough not to need that.
    fn size_of_output<F, Fut>(_: &F) -> usize
    where
        F: Fn(Request<hyper::body::Incoming>, Arc<Downstream>) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }
    let dir = tempfile::tempdir().expect("tmp");
    let p = Arc::new(proxy(&dir, Some(RULES)).await);
    let size = size_of_output(&|r, d| p.clone().handle(r, d));
    println!("one call's future: {size} bytes");
    assert!(size > 1024, "{size} bytes");
}

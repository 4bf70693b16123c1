//! End to end with a real OAuth flow: the official Python MCP client's OAuth support
//! (`mcp.client.auth.OAuthClientProvider`, driven headless by `oauth_client.py`) starts
//! without a token, is answered 401 with `resource_metadata`, fetches the protected-resource
//! metadata through the gateway, discovers the authorization server (`oauth_as.py`: the
//! official SDK's authorization-server handlers issuing JWTs), registers, authorises with
//! `resource=<the gateway's public URL>` and calls tools through the gateway:
//!
//! - pass-through: the upstream (`oauth_server.py resource-server`, the SDK's own bearer
//!   middleware and metadata) is the resource server; the gateway rewrites its URLs to the
//!   public one, and the client's token reaches it;
//! - the gateway as resource server: the upstream (`oauth_server.py plain`) only ever sees the
//!   gateway's own credential, a tool needing more scope makes the client authorise again
//!   (step-up), scopes decide rules, a token for another audience is refused;
//! - the gateway as resource server in front of an upstream that is a resource server of its
//!   own: the gateway gets its token from the authorization server by the client-credentials
//!   grant (`resource=<the upstream's URL>`), caches it across calls, and the upstream's own
//!   bearer middleware verifies it; a wrong client secret means no call reaches the upstream.
//!
//! The official TypeScript SDK's OAuth client (`integration/node/oauth_client.mjs`, headless:
//! its provider follows the authorization URL in code, then `finishAuth`) runs the same two.
//!
//! Peers in `.venv` and `integration/node` (`integration/run`); without them the tests say
//! SKIPPED (under CI, fail).

use crate::common;

use std::collections::HashMap;
use std::path::Path;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::process::Command;

/// The gateway on `port` with `rest` (routes, upstreams, policy).
async fn gateway_on(port: u16, rest: &str) -> sec0_gateway::RunningGateway {
    let yaml = format!("listen: 127.0.0.1:{port}\nadmin: {{ listen: 127.0.0.1:0 }}\n{rest}");
    let cfg = sec0_gateway::config::load_from_str(&yaml, "<test>", Some(HashMap::new()))
        .unwrap_or_else(|e| panic!("test config invalid: {e}"));
    sec0_gateway::Gateway::start(cfg)
        .await
        .expect("gateway starts")
}

/// The official TypeScript SDK's OAuth client (`integration/node/oauth_client.mjs`, headless)
/// against `url`, or `None` (after reporting it missing) without Node or the SDK.
async fn ts_oauth_client(url: &str) -> Option<Value> {
    let sdk = common::peers::root()
        .join("integration/node/node_modules/@modelcontextprotocol/sdk/package.json");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !sdk.exists() {
        common::peers::missing(
            "e2e_python_mcp_oauth (TypeScript client)",
            "node or @modelcontextprotocol/sdk is not installed (run integration/run)",
        );
        return None;
    }
    let mut cmd = Command::new("node");
    cmd.arg(common::peers::root().join("integration/node/oauth_client.mjs"))
        .arg(url);
    Some(common::peers::run_client(cmd).await)
}

async fn oauth_client(py: &Path, url: &str) -> Value {
    let mut cmd = Command::new(py);
    cmd.arg(common::peers::python_script("oauth_client.py"))
        .arg(url);
    common::peers::run_client(cmd).await
}

/// GET `path` on the test authorization server: its JSON answer.
async fn as_get(as_port: u16, path: &str) -> Value {
    common::send(
        std::net::SocketAddr::from(([127, 0, 0, 1], as_port)),
        Method::GET,
        path,
        &[],
        None,
    )
    .await
    .json()
}

/// POST one JSON-RPC message to the gateway's `/mcp` with `authorization`.
async fn post_mcp(addr: std::net::SocketAddr, authorization: &str, body: &str) -> common::Answer {
    common::send(
        addr,
        Method::POST,
        "/mcp",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("authorization", authorization),
        ],
        Some(body),
    )
    .await
}

/// Start the test authorization server; its issuer URL.
async fn authorization_server(py: &Path) -> (common::peers::Server, u16, String) {
    let port = common::closed_port();
    let server =
        common::peers::start_python_server(py, "oauth_as.py", &[&port.to_string()], port).await;
    (server, port, format!("http://127.0.0.1:{port}/"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_logs_in_through_a_pass_through_route() {
    let Some(py) = common::peers::python("e2e_python_mcp_oauth") else {
        return;
    };
    let (_as, _, issuer) = authorization_server(&py).await;
    let gw_port = common::closed_port();
    let public = format!("http://127.0.0.1:{gw_port}/mcp");
    let up_port = common::closed_port();
    let _up = common::peers::start_python_server(
        &py,
        "oauth_server.py",
        &[&up_port.to_string(), "resource-server", &issuer, &public],
        up_port,
    )
    .await;
    let gw = gateway_on(
        gw_port,
        &format!(
            "upstreams: {{ mcp: {{ url: \"http://127.0.0.1:{up_port}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: mcp, protocol: mcp, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: {public:?} }} }}\n"
        ),
    )
    .await;

    // What the client will see first: the upstream's 401, pointing at the gateway.
    let first = common::post_json(
        gw.proxy_addr,
        "/mcp",
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    )
    .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let challenge = first.headers["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"http://127.0.0.1:{gw_port}/.well-known/oauth-protected-resource/mcp\""
        )),
        "{challenge}"
    );
    let prm = common::send(
        gw.proxy_addr,
        Method::GET,
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        None,
    )
    .await;
    assert_eq!(
        prm.json()["resource"],
        public.as_str(),
        "rewritten to the public URL"
    );

    let v = oauth_client(&py, &public).await;
    assert_eq!(
        v["tools"],
        json!(["add", "authorizations", "write_note"]),
        "{v}"
    );
    assert_eq!(v["add"], "42");
    assert_eq!(v["note"], "noted: hello");
    let auths = v["authorizations"].as_array().expect("list");
    assert_eq!(auths.len(), 1, "{v}");
    assert_eq!(
        auths[0]["resource"],
        public.as_str(),
        "RFC 8707: a token for the gateway's URL"
    );
    assert_eq!(auths[0]["endpoint"], format!("{issuer}authorize"));
    assert_eq!(
        v["upstream_saw"],
        json!(["Bearer <client token>"]),
        "pass-through: the upstream checks the client's own token"
    );

    // The TypeScript SDK's OAuth client, the same way.
    if let Some(t) = ts_oauth_client(&public).await {
        assert_eq!(t["add"], "42", "{t}");
        assert_eq!(t["note"], "noted: hello", "{t}");
        assert_eq!(t["authorizations"].as_array().map(Vec::len), Some(1), "{t}");
        assert_eq!(t["authorizations"][0]["resource"], public.as_str(), "{t}");
        assert!(
            t["upstream_saw"]
                .as_array()
                .is_some_and(|s| s.contains(&json!("Bearer <client token>"))),
            "{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_logs_in_with_the_gateway_as_resource_server() {
    let Some(py) = common::peers::python("e2e_python_mcp_oauth") else {
        return;
    };
    let (_as, as_port, issuer) = authorization_server(&py).await;
    let gw_port = common::closed_port();
    let public = format!("http://127.0.0.1:{gw_port}/mcp");
    let up_port = common::closed_port();
    let _up = common::peers::start_python_server(
        &py,
        "oauth_server.py",
        &[&up_port.to_string(), "plain"],
        up_port,
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let cred = dir.path().join("upstream-token");
    std::fs::write(&cred, "gateway-upstream-secret").expect("credential");
    // Scopes in rules: once a token holds notes:write, `add` is refused (a rule on scopes).
    let rules = "version: 1\nrules:\n  - id: writers-do-not-add\n    when: { tool: add, claims: { scope: \"notes:write\" } }\n    decision: deny\n    reason: writers_do_not_add\n";
    let (gw, _rules) = {
        let mut file = tempfile::Builder::new()
            .suffix(".yaml")
            .tempfile()
            .expect("tmp");
        std::io::Write::write_all(&mut file, rules.as_bytes()).expect("rules");
        let gw = gateway_on(
            gw_port,
            &format!(
                "policy: {{ rules: {:?} }}\nupstreams: {{ mcp: {{ url: \"http://127.0.0.1:{up_port}\" }} }}\nroutes:\n  - name: tools\n    path_prefix: /mcp\n    upstream: mcp\n    protocol: mcp\n    boundary: agent_to_tool\n    oauth:\n      mode: resource_server\n      public_url: {public:?}\n      authorization_servers: [{issuer:?}]\n      jwks_url: \"http://127.0.0.1:{as_port}/jwks\"\n      scopes_required: [\"mcp:tools\"]\n      tool_scopes: [ {{ tool: write_note, scopes: [\"notes:write\"] }} ]\n      upstream_credential: {{ bearer_file: {cred:?} }}\n",
                file.path()
            ),
        )
        .await;
        (gw, file)
    };

    let v = oauth_client(&py, &public).await;
    assert_eq!(
        v["tools"],
        json!(["add", "authorizations", "write_note"]),
        "{v}"
    );
    assert_eq!(v["add"], "42");
    // Step-up: write_note needed notes:write; the client authorised again and retried.
    assert_eq!(v["note"], "noted: hello", "{v}");
    let auths = v["authorizations"].as_array().expect("list");
    assert_eq!(auths.len(), 2, "one login, one step-up: {v}");
    assert_eq!(auths[0]["scope"], "mcp:tools");
    assert_eq!(auths[1]["scope"], "mcp:tools notes:write");
    for a in auths {
        assert_eq!(a["resource"], public.as_str(), "{v}");
    }
    assert_eq!(v["client_tokens"], 2);
    // The upstream never saw a client token: only the gateway's own credential.
    assert_eq!(
        v["upstream_saw"],
        json!(["Bearer gateway-upstream-secret"]),
        "{v}"
    );
    // The stepped-up token's scopes reach the rules.
    assert_eq!(v["add_again"]["raised"], true, "{v}");
    assert_eq!(
        v["add_again"]["data"]["rules"],
        json!(["writers-do-not-add"]),
        "{v}"
    );

    // The TypeScript SDK's OAuth client: login, step-up, the gateway's credential upstream.
    if let Some(t) = ts_oauth_client(&public).await {
        assert_eq!(t["add"], "42", "{t}");
        assert_eq!(t["note"], "noted: hello", "{t}");
        let auths = t["authorizations"].as_array().expect("list");
        assert_eq!(auths.len(), 2, "one login, one step-up: {t}");
        assert_eq!(auths[1]["scope"], "mcp:tools notes:write", "{t}");
        assert_eq!(auths[1]["resource"], public.as_str(), "{t}");
        assert_eq!(
            t["upstream_saw"],
            json!(["Bearer gateway-upstream-secret"]),
            "{t}"
        );
    }

    // A token the same authorization server issued for another resource is refused.
    let minted = as_get(as_port, "/mint?aud=http://127.0.0.1:9/mcp&scope=mcp:tools").await;
    let other = minted["access_token"].as_str().expect("token");
    let bearer = format!("Bearer {other}");
    let a = post_mcp(
        gw.proxy_addr,
        &bearer,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let challenge = a.headers["www-authenticate"].to_str().expect("ascii");
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    // The same token for the right audience passes: the refusal was the audience.
    let minted = as_get(as_port, &format!("/mint?aud={public}&scope=mcp:tools")).await;
    let right = format!("Bearer {}", minted["access_token"].as_str().expect("token"));
    let ok = post_mcp(gw.proxy_addr, &right, r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_reaches_a_protected_upstream_with_a_client_credentials_token() {
    let Some(py) = common::peers::python("e2e_python_mcp_oauth") else {
        return;
    };
    let as_port = common::closed_port();
    let _as = common::peers::start_python_server(
        &py,
        "oauth_as.py",
        &[&as_port.to_string(), "cc-secret-0123456789"],
        as_port,
    )
    .await;
    let issuer = format!("http://127.0.0.1:{as_port}/");
    let gw_port = common::closed_port();
    let public = format!("http://127.0.0.1:{gw_port}/mcp");
    let up_port = common::closed_port();
    let upstream_url = format!("http://127.0.0.1:{up_port}/mcp");
    // The upstream checks tokens itself: issued by the AS for *its own* URL.
    let _up = common::peers::start_python_server(
        &py,
        "oauth_server.py",
        &[
            &up_port.to_string(),
            "resource-server",
            &issuer,
            &upstream_url,
        ],
        up_port,
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let route = |secret_file: &Path| {
        format!(
            "upstreams: {{ mcp: {{ url: \"http://127.0.0.1:{up_port}\" }} }}\nroutes:\n  - name: tools\n    path_prefix: /mcp\n    upstream: mcp\n    protocol: mcp\n    boundary: agent_to_tool\n    oauth:\n      mode: resource_server\n      public_url: {public:?}\n      authorization_servers: [{issuer:?}]\n      jwks_url: \"http://127.0.0.1:{as_port}/jwks\"\n      scopes_required: [\"mcp:tools\"]\n      upstream_credential:\n        client_credentials:\n          token_url: \"http://127.0.0.1:{as_port}/cc-token\"\n          client_id: sec0-gateway\n          client_secret_file: {secret_file:?}\n          scope: \"mcp:tools\"\n          resource: {upstream_url:?}\n"
        )
    };
    let good = dir.path().join("cc-secret");
    std::fs::write(&good, "cc-secret-0123456789\n").expect("secret");
    let gw = gateway_on(gw_port, &route(&good)).await;

    let v = oauth_client(&py, &public).await;
    assert_eq!(v["add"], "42", "{v}");
    // The upstream saw one token, the gateway's own, whatever the client's were.
    let saw = v["upstream_saw"].as_array().expect("list");
    assert_eq!(saw.len(), 1, "{v}");
    let token = saw[0]
        .as_str()
        .expect("header")
        .strip_prefix("Bearer ")
        .expect("bearer");
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .expect("base64"),
    )
    .expect("claims");
    assert_eq!(claims["sub"], "sec0-gateway", "{claims}");
    assert_eq!(claims["aud"], upstream_url.as_str(), "{claims}");
    assert_eq!(claims["scope"], "mcp:tools", "{claims}");
    // One token for every call of the session (initialize, list, calls): cached.
    let issued = as_get(as_port, "/cc-log").await;
    assert_eq!(issued.as_array().map(Vec::len), Some(1), "{issued}");
    assert_eq!(issued[0]["resource"], upstream_url.as_str());
    drop(gw);

    // A wrong client secret: no token, so the call is refused here and never forwarded.
    let bad = dir.path().join("bad-secret");
    std::fs::write(&bad, "not-the-secret").expect("secret");
    let gw_port2 = common::closed_port();
    let public2 = format!("http://127.0.0.1:{gw_port2}/mcp");
    let gw2 = gateway_on(gw_port2, &route(&bad).replace(&public, &public2)).await;
    let minted = as_get(as_port, &format!("/mint?aud={public2}&scope=mcp:tools")).await;
    let bearer = format!("Bearer {}", minted["access_token"].as_str().expect("token"));
    let a = post_mcp(gw2.proxy_addr, &bearer, r#"{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#).await;
    assert_eq!(a.status, StatusCode::BAD_GATEWAY, "{:?}", a.body);
    let body = a.json();
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(
        body["error"]["data"]["reason"], "upstream_credential_unavailable",
        "{body}"
    );
    assert!(!body.to_string().contains("not-the-secret"), "{body}");
    let issued = as_get(as_port, "/cc-log").await;
    assert_eq!(
        issued.as_array().map(Vec::len),
        Some(1),
        "no token for a wrong secret: {issued}"
    );
}

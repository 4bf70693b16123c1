//! MCP authorization through the gateway (`routes[].oauth`), against a scripted upstream:
//! pass-through (the upstream's metadata and challenges reach the client with the gateway's
//! public URL in them, the caller's token reaches the upstream, authorization-server
//! endpoints are forwarded when configured) and the gateway as resource server (metadata
//! served, 401/403 challenges, audience, issuer, expiry and scopes checked, the upstream
//! given the gateway's credential and never the caller's token). The real OAuth flow with
//! the official SDK is in `e2e_python_mcp_oauth.rs`.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{Upstream, send};
use http::{Method, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const PUBLIC: &str = "https://gw.example.test/mcp";
const METADATA: &str = "https://gw.example.test/.well-known/oauth-protected-resource/mcp";
const ISSUER: &str = "https://as.example.test/";

fn init() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}).to_string()
}

fn tool_call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": {}}}).to_string()
}

fn json_rpc_headers(token: Option<&str>) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("content-type", "application/json".to_string()),
        ("accept", "application/json, text/event-stream".to_string()),
    ];
    if let Some(t) = token {
        h.push(("authorization", format!("Bearer {t}")));
    }
    h
}

async fn post(addr: std::net::SocketAddr, body: &str, token: Option<&str>) -> common::Answer {
    let h = json_rpc_headers(token);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    send(addr, Method::POST, "/mcp", &h, Some(body)).await
}

fn challenge(a: &common::Answer) -> String {
    a.headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// An upstream that is an MCP resource server at `/mcp`, with its own URLs in its answers,
/// and its own authorization-server endpoints; it keeps every `Authorization` it gets.
async fn resource_server_upstream(seen: Arc<Mutex<Vec<String>>>) -> Upstream {
    Upstream::start(move |req| {
        let seen = seen.clone();
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(a) = &auth {
                seen.lock().expect("lock").push(a.clone());
            }
            let path = req.uri().path().to_string();
            let json = |status: u16, v: Value| {
                Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(common::full(v.to_string()))
                    .expect("response")
            };
            match path.as_str() {
                "/.well-known/oauth-protected-resource/mcp" => json(
                    200,
                    json!({"resource": "http://10.9.9.9:8000/mcp", "authorization_servers": [ISSUER]}),
                ),
                "/.well-known/oauth-authorization-server" => {
                    json(200, json!({"issuer": "https://gw.example.test/"}))
                }
                "/token" => json(200, json!({"access_token": "t", "path": path, "auth": auth})),
                "/mcp" if auth.is_none() => Response::builder()
                    .status(401)
                    .header(
                        "www-authenticate",
                        "Bearer resource_metadata=\"http://10.9.9.9:8000/.well-known/oauth-protected-resource/mcp\", scope=\"mcp\"",
                    )
                    .body(common::empty())
                    .expect("response"),
                _ => json(200, json!({"jsonrpc": "2.0", "id": 1, "result": {"auth": auth}})),
            }
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_shows_the_upstreams_discovery_at_the_public_url() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let up = resource_server_upstream(seen.clone()).await;
    let gw = common::gateway(&format!(
        "upstreams: {{ mcp: {{ url: {:?} }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: mcp, protocol: mcp, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: {PUBLIC:?}, authorization_server_paths: true }} }}\n",
        up.url()
    ))
    .await;
    let addr = gw.proxy_addr;

    // No token: the upstream's 401, its challenge naming the gateway's metadata URL.
    let a = post(addr, &init(), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&a),
        format!("Bearer resource_metadata=\"{METADATA}\", scope=\"mcp\"")
    );
    // The metadata, fetched through the gateway, names the public resource.
    let m = send(
        addr,
        Method::GET,
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::OK);
    assert_eq!(m.json()["resource"], PUBLIC);
    assert_eq!(m.json()["authorization_servers"][0], ISSUER);
    // The root form finds the only OAuth route too.
    let root = send(
        addr,
        Method::GET,
        "/.well-known/oauth-protected-resource",
        &[],
        None,
    )
    .await;
    assert_eq!(root.status, StatusCode::OK, "{root:?}");
    // The metadata is read, not written.
    let w = send(
        addr,
        Method::POST,
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        Some("{}"),
    )
    .await;
    assert_eq!(w.status, StatusCode::METHOD_NOT_ALLOWED);
    // Authorization-server endpoints of the 2025-03-26 era are forwarded as they are.
    let asm = send(
        addr,
        Method::GET,
        "/.well-known/oauth-authorization-server",
        &[],
        None,
    )
    .await;
    assert_eq!(asm.json()["issuer"], "https://gw.example.test/");
    let t = send(
        addr,
        Method::POST,
        "/token",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", "Basic Y2xpZW50OnNlY3JldA=="),
        ],
        Some("grant_type=authorization_code&code=c"),
    )
    .await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(
        t.json()["auth"],
        "Basic Y2xpZW50OnNlY3JldA==",
        "client authentication passes"
    );
    // With a token: forwarded untouched (the upstream is the resource server).
    let a = post(addr, &init(), Some("opaque-client-token")).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["result"]["auth"], "Bearer opaque-client-token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_without_authorization_server_paths_routes_them_as_usual() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let up = resource_server_upstream(seen).await;
    let gw = common::gateway(&format!(
        "upstreams: {{ mcp: {{ url: {:?} }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: mcp, protocol: mcp, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: {PUBLIC:?} }} }}\n",
        up.url()
    ))
    .await;
    let t = send(gw.proxy_addr, Method::POST, "/token", &[], Some("x")).await;
    assert_eq!(t.status, StatusCode::NOT_FOUND, "no route takes /token");
    let other = send(
        gw.proxy_addr,
        Method::GET,
        "/.well-known/oauth-protected-resource/elsewhere",
        &[],
        None,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "metadata of no route");
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

/// An ES256 signing key and the JWKS publishing it (kid `k1`).
fn signing_key() -> (EncodingKey, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
    let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("es key");
    let mut jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk"),
    )
    .expect("json");
    jwk["kid"] = json!("k1");
    (key, json!({"keys": [jwk]}))
}

fn token(key: &EncodingKey, claims: Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("k1".into());
    jsonwebtoken::encode(&h, &claims, key).expect("token")
}

fn claims(aud: &str, scope: &str) -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": aud, "scope": scope, "exp": now() + 600, "iat": now()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_as_resource_server_checks_tokens_and_never_forwards_them() {
    let dir = tempfile::tempdir().expect("dir");
    let (key, jwks) = signing_key();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).expect("jwks");
    let cred = dir.path().join("upstream-token");
    std::fs::write(&cred, "gateway-own-credential\n").expect("credential");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  - id: admins-only-purge\n    when: { tool: purge }\n    unless: { claims: { scope: \"admin:*\" } }\n    decision: deny\n    reason: purge_needs_admin\n",
    )
    .expect("rules");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let up = resource_server_upstream(seen.clone()).await;
    let gw = common::gateway(&format!(
        "upstreams: {{ mcp: {{ url: {:?} }} }}\npolicy: {{ rules: {rules:?} }}\nroutes:\n  - name: tools\n    path_prefix: /mcp\n    upstream: mcp\n    protocol: mcp\n    boundary: agent_to_tool\n    oauth:\n      mode: resource_server\n      public_url: {PUBLIC:?}\n      authorization_servers: [{ISSUER:?}]\n      jwks_file: {jwks_file:?}\n      leeway: 0s\n      scopes_supported: [mcp]\n      scopes_required: [mcp]\n      tool_scopes: [ {{ tool: \"write_*\", scopes: [notes:write] }} ]\n      upstream_credential: {{ bearer_file: {cred:?} }}\n",
        up.url()
    ))
    .await;
    let addr = gw.proxy_addr;

    // The metadata, served by the gateway.
    let m = send(
        addr,
        Method::GET,
        "/.well-known/oauth-protected-resource/mcp",
        &[],
        None,
    )
    .await;
    assert_eq!(m.status, StatusCode::OK);
    let m = m.json();
    assert_eq!(m["resource"], PUBLIC);
    assert_eq!(m["authorization_servers"], json!([ISSUER]));
    assert_eq!(m["scopes_supported"], json!(["mcp", "notes:write"]));

    // No token: 401 with where to find the metadata and which scope to ask for.
    let a = post(addr, &init(), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&a),
        format!("Bearer resource_metadata=\"{METADATA}\", scope=\"mcp\"")
    );
    assert_eq!(a.json()["error"]["code"], 4010, "{:?}", a.json());

    // A token for another resource, another issuer, expired, or not a JWT: 401 invalid_token.
    let other_audience = token(&key, claims("https://other.example.test/mcp", "mcp"));
    let mut wrong_issuer = claims(PUBLIC, "mcp");
    wrong_issuer["iss"] = json!("https://evil.example.test/");
    let mut expired = claims(PUBLIC, "mcp");
    expired["exp"] = json!(now() - 60);
    for bad in [
        other_audience,
        token(&key, wrong_issuer),
        token(&key, expired),
        "not-a-jwt".to_string(),
    ] {
        let a = post(addr, &init(), Some(&bad)).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge(&a).starts_with("Bearer error=\"invalid_token\", resource_metadata="),
            "{}",
            challenge(&a)
        );
        assert!(
            !String::from_utf8_lossy(&a.body).contains(&bad),
            "the token is not echoed"
        );
    }

    // A token without the route's scope: 403 insufficient_scope.
    let a = post(addr, &init(), Some(&token(&key, claims(PUBLIC, "other")))).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&a),
        format!(
            "Bearer error=\"insufficient_scope\", resource_metadata=\"{METADATA}\", scope=\"other mcp\""
        )
    );

    // A good token: the upstream gets the gateway's credential instead.
    let good = token(&key, claims(PUBLIC, "mcp"));
    let a = post(addr, &init(), Some(&good)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["result"]["auth"], "Bearer gateway-own-credential");

    // A tool needing more scope: step-up.
    let a = post(addr, &tool_call("write_note"), Some(&good)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&a),
        format!(
            "Bearer error=\"insufficient_scope\", resource_metadata=\"{METADATA}\", scope=\"mcp notes:write\""
        )
    );
    assert_eq!(a.json()["error"]["code"], 4033);
    assert_eq!(a.json()["error"]["data"]["reason"], "insufficient_scope");
    let wider = token(&key, claims(PUBLIC, "mcp notes:write"));
    let a = post(addr, &tool_call("write_note"), Some(&wider)).await;
    assert_eq!(a.status, StatusCode::OK);

    // Scopes in rules: `purge` is denied unless the token holds an admin scope.
    let a = post(addr, &tool_call("purge"), Some(&good)).await;
    assert_eq!(
        a.json()["error"]["data"]["rules"],
        json!(["admins-only-purge"]),
        "{:?}",
        a.json()
    );
    let admin = token(&key, claims(PUBLIC, "mcp admin:purge"));
    let a = post(addr, &tool_call("purge"), Some(&admin)).await;
    assert!(a.json()["result"].is_object(), "{:?}", a.json());

    // The upstream's own challenges do not reach the client (no flow with its server).
    let seen = seen.lock().expect("lock").clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|s| s == "Bearer gateway-own-credential"),
        "the upstream only ever saw the gateway's credential: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_with_the_gateway_verifying_keeps_the_token_for_the_upstream() {
    let dir = tempfile::tempdir().expect("dir");
    let (key, jwks) = signing_key();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).expect("jwks");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let up = resource_server_upstream(seen).await;
    let gw = common::gateway(&format!(
        "identity:\n  jwt: {{ jwks_file: {jwks_file:?}, issuer: {ISSUER:?}, audience: [{PUBLIC:?}] }}\nupstreams: {{ mcp: {{ url: {:?} }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: mcp, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [jwt], anonymous: false }}, oauth: {{ mode: pass_through, public_url: {PUBLIC:?} }} }}\n",
        up.url()
    ))
    .await;
    // The gateway refuses first, pointing at the (passed-through) metadata.
    let a = post(gw.proxy_addr, &init(), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&a),
        format!("Bearer resource_metadata=\"{METADATA}\"")
    );
    let good = token(&key, claims(PUBLIC, "mcp"));
    let a = post(gw.proxy_addr, &init(), Some(&good)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.json()["result"]["auth"],
        format!("Bearer {good}"),
        "verified, and still the upstream's to check"
    );
}

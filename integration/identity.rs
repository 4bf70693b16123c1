//! Who is calling, verified: TLS termination with optional and required client certificates
//! (accepted, refused, a foreign CA), certificate hot reload under traffic, the caller named
//! by a client certificate, bearer JWTs (ES256, EdDSA, RS256, HS256; expired, wrong audience,
//! wrong issuer, unknown kid, rotated key, `alg: none`, algorithm confusion) and API keys, each
//! deciding `when.caller` rules; routes that refuse anonymous callers answer 401 and never
//! reach the upstream; verified credentials are not passed on.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use common::{Upstream, full};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sec0_gateway::devcerts::{DEV_CLIENT_ID, write_dev_certs};
use sec0_gateway::forward::body::ProxyBody;
use sec0_gateway::pem::{certs_from, key_from};
use serde_json::{Value, json};
use sha2::Digest;

type TlsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, ProxyBody>;

/// A client trusting `ca`, presenting `client` (certificate, key) if given.
fn tls_client(ca: &Path, client: Option<(&Path, &Path)>) -> TlsClient {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs_from(ca).expect("ca") {
        roots.add(c).expect("root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(certs_from(cert).expect("cert"), key_from(key).expect("key"))
            .expect("client cert"),
        None => builder.with_no_client_auth(),
    };
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

fn call(id: u32, tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {}}})
        .to_string()
}

/// POST a `tools/call` over `client`; the status and the JSON body (`Value::Null` if none).
async fn post(
    client: &TlsClient,
    url: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, Value, http::HeaderMap), String> {
    let mut b = Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = client
        .request(b.body(full(body.to_string())).expect("request"))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((
        parts.status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        parts.headers,
    ))
}

/// Whether a request was not served: an error, or (TLS 1.3 lets a client finish its side of
/// a handshake the server then refuses) no answer within 5 s.
async fn refused<T>(req: impl std::future::Future<Output = Result<T, String>>) -> bool {
    !matches!(
        tokio::time::timeout(Duration::from_secs(5), req).await,
        Ok(Ok(_))
    )
}

/// An MCP-ish upstream answering every call with a result that echoes the headers it saw,
/// and the count of requests that reached it.
async fn tool_server() -> (Upstream, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let up = Upstream::start(move |req: Request<hyper::body::Incoming>| {
        h.fetch_add(1, Ordering::SeqCst);
        async move {
            let headers: serde_json::Map<String, Value> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or(""))))
                .collect();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let answer = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"headers": headers}});
            let mut resp = http::Response::new(full(answer.to_string()));
            resp.headers_mut()
                .insert("content-type", "application/json".parse().expect("hv"));
            resp
        }
    })
    .await;
    (up, hits)
}

/// A rule that names the caller back: calling `whoami` as `who` is denied with reason
/// `it_is_<n>`, so the refusal shows which caller the gateway saw.
fn whoami_rules(callers: &[&str]) -> String {
    let mut s = "version: 1\nrules:\n".to_string();
    for (n, c) in callers.iter().enumerate() {
        s.push_str(&format!(
            "  - {{ id: who-{n}, when: {{ tool: whoami, caller: {c:?} }}, decision: deny, reason: it_is_{n} }}\n"
        ));
    }
    s
}

fn reason(v: &Value) -> Option<&str> {
    v.pointer("/error/data/reason").and_then(Value::as_str)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_name_the_caller_and_strict_routes_refuse_the_rest() {
    let dir = tempfile::tempdir().expect("dir");
    write_dev_certs(dir.path(), DEV_CLIENT_ID).expect("certs");
    let p = |n: &str| dir.path().join(n);
    let (up, hits) = tool_server().await;
    let (gw, _rules) = common::gateway_with_rules(
        &whoami_rules(&[DEV_CLIENT_ID, "anonymous"]),
        &format!(
            "tls: {{ cert: {:?}, key: {:?}, client_ca: {:?}, client_auth: optional }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n\
             \x20 - {{ name: open, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
             \x20 - {{ name: strict, path_prefix: /strict, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [mtls], anonymous: false }} }}\n",
            p("server.pem"),
            p("server-key.pem"),
            p("ca.pem"),
            up.url()
        ),
    )
    .await;
    let base = format!("https://localhost:{}", gw.proxy_addr.port());
    let with_cert = tls_client(&p("ca.pem"), Some((&p("client.pem"), &p("client-key.pem"))));
    let without = tls_client(&p("ca.pem"), None);

    let (s, v, _) = post(&with_cert, &format!("{base}/mcp"), &call(1, "whoami"), &[])
        .await
        .expect("mtls call");
    assert_eq!(
        (s, reason(&v)),
        (StatusCode::OK, Some("it_is_0")),
        "the certificate's URI SAN is the caller: {v}"
    );
    let (s, v, _) = post(&without, &format!("{base}/mcp"), &call(2, "whoami"), &[])
        .await
        .expect("anonymous call");
    assert_eq!(
        (s, reason(&v)),
        (StatusCode::OK, Some("it_is_1")),
        "no certificate: anonymous: {v}"
    );

    let (s, _, _) = post(&with_cert, &format!("{base}/strict"), &call(3, "echo"), &[])
        .await
        .expect("strict with cert");
    assert_eq!(s, StatusCode::OK);
    let before = hits.load(Ordering::SeqCst);
    let (s, v, _) = post(&without, &format!("{base}/strict"), &call(4, "echo"), &[])
        .await
        .expect("strict without cert");
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["error"]["code"], 4010);
    assert_eq!(v["error"]["data"]["reason"], "unauthenticated");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "a refused caller never reaches the upstream"
    );
    // Plain HTTP to the TLS port is not served.
    let plain = common::client()
        .request(
            Request::post(format!("http://{}/mcp", gw.proxy_addr))
                .header("content-type", "application/json")
                .body(full(call(5, "echo")))
                .expect("request"),
        )
        .await;
    assert!(plain.is_err(), "plain HTTP on a TLS listener fails");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_auth_refuses_the_handshake_without_a_trusted_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    let other = tempfile::tempdir().expect("other");
    write_dev_certs(dir.path(), DEV_CLIENT_ID).expect("certs");
    write_dev_certs(other.path(), "spiffe://elsewhere/agent/x").expect("foreign certs");
    let p = |n: &str| dir.path().join(n);
    let (up, _hits) = tool_server().await;
    let gw = common::gateway(&format!(
        "tls: {{ cert: {:?}, key: {:?}, client_ca: {:?}, client_auth: required }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        p("server.pem"),
        p("server-key.pem"),
        p("ca.pem"),
        up.url()
    ))
    .await;
    let url = format!("https://localhost:{}/mcp", gw.proxy_addr.port());
    let none = tls_client(&p("ca.pem"), None);
    assert!(
        refused(post(&none, &url, &call(1, "t"), &[])).await,
        "no certificate: no connection"
    );
    let foreign = tls_client(
        &p("ca.pem"),
        Some((
            &other.path().join("client.pem"),
            &other.path().join("client-key.pem"),
        )),
    );
    assert!(
        refused(post(&foreign, &url, &call(2, "t"), &[])).await,
        "a certificate from another CA: no connection"
    );
    let good = tls_client(&p("ca.pem"), Some((&p("client.pem"), &p("client-key.pem"))));
    let (s, _, _) = post(&good, &url, &call(3, "t"), &[])
        .await
        .expect("trusted certificate");
    assert_eq!(s, StatusCode::OK);
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(&m, "sec0_gateway_tls_handshake_failures_total")
            .is_some_and(|v| v >= 2.0),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_certificate_is_picked_up_under_traffic_without_dropping_connections() {
    let first = tempfile::tempdir().expect("first");
    let second = tempfile::tempdir().expect("second");
    let live = tempfile::tempdir().expect("live");
    write_dev_certs(first.path(), DEV_CLIENT_ID).expect("certs");
    write_dev_certs(second.path(), DEV_CLIENT_ID).expect("certs");
    let copy = |from: &Path, name: &str| {
        // Write to a temporary name and rename: a reader never sees half a file.
        let tmp = live.path().join(format!(".{name}.tmp"));
        std::fs::copy(from.join(name), &tmp).expect("copy");
        std::fs::rename(&tmp, live.path().join(name)).expect("rename");
    };
    copy(first.path(), "server.pem");
    copy(first.path(), "server-key.pem");
    let (up, _hits) = tool_server().await;
    let gw = common::gateway(&format!(
        "tls: {{ cert: {:?}, key: {:?}, reload_interval: 100ms }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        live.path().join("server.pem"),
        live.path().join("server-key.pem"),
        up.url()
    ))
    .await;
    let url = format!("https://localhost:{}/mcp", gw.proxy_addr.port());
    // Traffic on a kept-alive connection that trusts only the first CA.
    let old = tls_client(&first.path().join("ca.pem"), None);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let traffic = {
        let (old, url, stop, ok, failed) = (
            old.clone(),
            url.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                match post(&old, &url, &call(i, "t"), &[]).await {
                    Ok((StatusCode::OK, _, _)) => ok.fetch_add(1, Ordering::SeqCst),
                    _ => failed.fetch_add(1, Ordering::SeqCst),
                };
            }
        })
    };
    // Progress, not time: the machines are shared and slow at times.
    let flowing = |at_least: usize| {
        let (ok, failed) = (ok.clone(), failed.clone());
        common::within("traffic on the open connection", async move {
            while ok.load(Ordering::SeqCst) < at_least {
                assert_eq!(failed.load(Ordering::SeqCst), 0, "a request failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    flowing(5).await;
    copy(second.path(), "server-key.pem");
    copy(second.path(), "server.pem");
    let fresh = tls_client(&second.path().join("ca.pem"), None);
    common::within("the new certificate to be served", async {
        loop {
            if post(&fresh, &url, &call(0, "t"), &[]).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The connection opened before the reload keeps carrying requests after it.
    flowing(ok.load(Ordering::SeqCst) + 5).await;
    stop.store(true, Ordering::SeqCst);
    traffic.await.expect("traffic");
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "no request on the open connection failed across the reload"
    );
    // A new connection now gets the new certificate: trusting only the old CA fails.
    let newcomer = tls_client(&first.path().join("ca.pem"), None);
    assert!(post(&newcomer, &url, &call(9, "t"), &[]).await.is_err());
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(&m, "sec0_gateway_tls_reloads_total{result=\"ok\"}")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
}

// ---- bearer tokens and API keys -------------------------------------------------------

const ISSUER: &str = "https://id.example.test";
const AUDIENCE: &str = "sec0-gateway";
const HS_SECRET: &str = "an-hs256-secret-of-at-least-32-bytes!!";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Signing keys of every accepted kind, and the JWKS that publishes the public halves.
struct Keys {
    es: EncodingKey,
    ed: EncodingKey,
    rs: EncodingKey,
    jwks: Value,
}

fn keys() -> Keys {
    let es_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
    let es = EncodingKey::from_ec_pem(es_pair.serialize_pem().as_bytes()).expect("es key");
    let ed_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    let ed = EncodingKey::from_ed_pem(ed_pair.serialize_pem().as_bytes()).expect("ed key");
    let rs_pem = std::fs::read(common::test_key("jwt-rs256-test.pem")).expect("rsa test key");
    let rs = EncodingKey::from_rsa_pem(&rs_pem).expect("rs key");
    let mut es_jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&es, Algorithm::ES256).expect("jwk"),
    )
    .expect("json");
    es_jwk["kid"] = json!("es-1");
    let mut rs_jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&rs, Algorithm::RS256).expect("jwk"),
    )
    .expect("json");
    rs_jwk["kid"] = json!("rs-1");
    let ed_jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(ed_pair.public_key_raw()), "kid": "ed-1", "alg": "EdDSA"});
    Keys {
        es,
        ed,
        rs,
        jwks: json!({"keys": [es_jwk, rs_jwk, ed_jwk]}),
    }
}

fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&h, &claims, key).expect("token")
}

fn claims(sub: &str) -> Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "iat": now()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_and_api_keys_name_the_caller_or_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let k = keys();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, k.jwks.to_string()).expect("jwks");
    let secret = dir.path().join("hs256");
    std::fs::write(&secret, HS_SECRET).expect("secret");
    let api_keys = dir.path().join("api-keys");
    std::fs::write(
        &api_keys,
        format!(
            "# test keys\n{} billing-agent\n",
            hex::encode(sha2::Sha256::digest(b"key-for-billing"))
        ),
    )
    .expect("api keys");
    let (up, hits) = tool_server().await;
    let (gw, _rules) = common::gateway_with_rules(
        &(whoami_rules(&["alice", "bob", "carol", "dave", "billing-agent", "erin"])
            + "  - { id: admins-only, when: { tool: admin_tool }, unless: { claims: { roles: admin } }, decision: deny, reason: not_admin }\n"),
        &format!(
            "identity:\n  jwt: {{ jwks_file: {jwks:?}, hs256_secret_file: {secret:?}, issuer: {ISSUER:?}, audience: [{AUDIENCE:?}], leeway: 5s, claims: [roles] }}\n  api_keys: {{ file: {api_keys:?} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [jwt, api_key], anonymous: false }} }}\n",
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let with = |hdrs: Vec<(String, String)>, tool: &'static str| async move {
        let h: Vec<(&str, &str)> = hdrs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut all = vec![
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        all.extend(h);
        common::send(addr, Method::POST, "/mcp", &all, Some(&call(1, tool))).await
    };
    let bearer = |t: String| vec![("authorization".to_string(), format!("Bearer {t}"))];

    // Every accepted algorithm names its caller.
    for (alg, kid, key, sub, want) in [
        (Algorithm::ES256, Some("es-1"), &k.es, "alice", "it_is_0"),
        (Algorithm::EdDSA, Some("ed-1"), &k.ed, "bob", "it_is_1"),
        (Algorithm::RS256, Some("rs-1"), &k.rs, "carol", "it_is_2"),
    ] {
        let a = with(bearer(token(alg, kid, key, claims(sub))), "whoami").await;
        assert_eq!(
            (a.status, reason(&a.json())),
            (StatusCode::OK, Some(want)),
            "{alg:?}: {}",
            a.json()
        );
    }
    let hs = EncodingKey::from_secret(HS_SECRET.as_bytes());
    let a = with(
        bearer(token(Algorithm::HS256, None, &hs, claims("dave"))),
        "whoami",
    )
    .await;
    assert_eq!(reason(&a.json()), Some("it_is_3"), "HS256");
    let a = with(
        vec![("x-api-key".into(), "key-for-billing".into())],
        "whoami",
    )
    .await;
    assert_eq!(reason(&a.json()), Some("it_is_4"), "API key");

    // Claims reach rules: only a token with the admin role may call admin_tool.
    let mut admin = claims("alice");
    admin["roles"] = json!(["reader", "admin"]);
    let a = with(
        bearer(token(Algorithm::ES256, Some("es-1"), &k.es, admin)),
        "admin_tool",
    )
    .await;
    assert_eq!(reason(&a.json()), None, "admin role: allowed: {}", a.json());
    let a = with(
        bearer(token(Algorithm::ES256, Some("es-1"), &k.es, claims("bob"))),
        "admin_tool",
    )
    .await;
    assert_eq!(reason(&a.json()), Some("not_admin"));
    let a = with(
        vec![("x-api-key".into(), "key-for-billing".into())],
        "admin_tool",
    )
    .await;
    assert_eq!(reason(&a.json()), Some("not_admin"), "no claims: no admin");

    // Verified credentials are not passed on.
    let a = with(
        bearer(token(
            Algorithm::ES256,
            Some("es-1"),
            &k.es,
            claims("alice"),
        )),
        "echo",
    )
    .await;
    let seen = &a.json()["result"]["headers"];
    assert!(
        seen.get("authorization").is_none(),
        "bearer token not forwarded: {seen}"
    );
    let a = with(vec![("x-api-key".into(), "key-for-billing".into())], "echo").await;
    assert!(
        a.json()["result"]["headers"].get("x-api-key").is_none(),
        "API key not forwarded"
    );

    // Refusals: 401, a Bearer challenge, the upstream never reached.
    let mut expired = claims("alice");
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = claims("alice");
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims("alice");
    wrong_iss["iss"] = json!("https://evil.example");
    let mut no_exp = claims("alice");
    no_exp.as_object_mut().expect("obj").remove("exp");
    let none_alg = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims("alice").to_string().as_bytes())
    );
    // Algorithm confusion: HS256 "signed" with a published public key.
    let es_public = serde_json::to_vec(&k.jwks["keys"][0]).expect("json");
    let confused = token(
        Algorithm::HS256,
        Some("es-1"),
        &EncodingKey::from_secret(&es_public),
        claims("alice"),
    );
    let cases: Vec<(&str, Vec<(String, String)>)> = vec![
        (
            "expired",
            bearer(token(Algorithm::ES256, Some("es-1"), &k.es, expired)),
        ),
        (
            "wrong audience",
            bearer(token(Algorithm::ES256, Some("es-1"), &k.es, wrong_aud)),
        ),
        (
            "wrong issuer",
            bearer(token(Algorithm::ES256, Some("es-1"), &k.es, wrong_iss)),
        ),
        (
            "no exp",
            bearer(token(Algorithm::ES256, Some("es-1"), &k.es, no_exp)),
        ),
        (
            "unknown kid",
            bearer(token(
                Algorithm::ES256,
                Some("es-9"),
                &k.es,
                claims("alice"),
            )),
        ),
        (
            "signed by another key",
            bearer(token(
                Algorithm::ES256,
                Some("rs-1"),
                &k.es,
                claims("alice"),
            )),
        ),
        ("alg none", bearer(none_alg)),
        ("algorithm confusion", bearer(confused)),
        ("garbage", bearer("not.a.token".into())),
        (
            "unknown API key",
            vec![("x-api-key".into(), "guess".into())],
        ),
        ("nothing", vec![]),
    ];
    let before = hits.load(Ordering::SeqCst);
    for (what, hdrs) in cases {
        let a = with(hdrs, "whoami").await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(
            a.json()["error"]["data"]["reason"],
            "unauthenticated",
            "{what}"
        );
        assert!(
            a.headers
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().is_ok_and(|s| s.starts_with("Bearer"))),
            "{what}: a Bearer challenge"
        );
        assert!(
            !String::from_utf8_lossy(&a.body).contains("eyJ"),
            "{what}: the token is never echoed"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "refused callers never reach the upstream"
    );

    // Key rotation: a new key published under a new kid is picked up on first use.
    let new_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
    let new_key = EncodingKey::from_ec_pem(new_pair.serialize_pem().as_bytes()).expect("key");
    let mut jwk = serde_json::to_value(
        jsonwebtoken::jwk::Jwk::from_encoding_key(&new_key, Algorithm::ES256).expect("jwk"),
    )
    .expect("json");
    jwk["kid"] = json!("es-2");
    let mut rotated = k.jwks.clone();
    rotated["keys"].as_array_mut().expect("keys").push(jwk);
    std::fs::write(&jwks, rotated.to_string()).expect("rotate");
    tokio::time::sleep(Duration::from_millis(1100)).await; // the file refetch gap
    let a = with(
        bearer(token(
            Algorithm::ES256,
            Some("es-2"),
            &new_key,
            claims("erin"),
        )),
        "whoami",
    )
    .await;
    assert_eq!(
        reason(&a.json()),
        Some("it_is_5"),
        "rotated key accepted: {}",
        a.json()
    );
}

#[test]
fn certs_dev_writes_a_working_set_and_never_overwrites() {
    let dir = tempfile::tempdir().expect("dir");
    let out: PathBuf = dir.path().join("certs");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
            .args(["certs", "dev", "--out"])
            .arg(&out)
            .output()
            .expect("run")
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for f in [
        "ca.pem",
        "server.pem",
        "server-key.pem",
        "client.pem",
        "client-key.pem",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("client-key.pem"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "keys are private to their owner");
    }
    let second = run();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("exists"));
}

/// An HTTPS upstream (dev certificates) that requires a client certificate from `ca`, and
/// answers every request with the caller it saw.
async fn tls_upstream(dir: &Path) -> std::net::SocketAddr {
    let cfg = sec0_gateway::config::TlsConfig {
        cert: dir.join("server.pem"),
        key: dir.join("server-key.pem"),
        client_ca: Some(dir.join("ca.pem")),
        client_auth: sec0_gateway::config::ClientAuth::Required,
        reload_interval: Duration::from_secs(60),
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(
        sec0_gateway::server::tls::server_config(&cfg).expect("upstream tls"),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(sec0_gateway::identify::mtls::caller_of)
                    .unwrap_or_default();
                let svc = hyper::service::service_fn(move |_req| {
                    let peer = peer.clone();
                    async move {
                        let body =
                            json!({"jsonrpc": "2.0", "id": 1, "result": {"upstream_saw": peer}});
                        let mut resp = http::Response::new(full(body.to_string()));
                        resp.headers_mut()
                            .insert("content-type", "application/json".parse().expect("hv"));
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_verifies_the_server_and_presents_a_client_certificate() {
    let dir = tempfile::tempdir().expect("dir");
    write_dev_certs(dir.path(), "spiffe://sec0.dev/gateway").expect("certs");
    let p = |n: &str| dir.path().join(n);
    let up = tls_upstream(dir.path()).await;
    let gw = common::gateway(&format!(
        "upstreams:\n\
         \x20 good: {{ url: \"https://localhost:{port}\", tls: {{ ca: {ca:?}, client_cert: {cc:?}, client_key: {ck:?} }} }}\n\
         \x20 by-ip: {{ url: \"https://127.0.0.1:{port}\", tls: {{ ca: {ca:?}, client_cert: {cc:?}, client_key: {ck:?}, server_name: localhost }} }}\n\
         \x20 no-client-cert: {{ url: \"https://localhost:{port}\", tls: {{ ca: {ca:?} }} }}\n\
         \x20 system-roots: {{ url: \"https://localhost:{port}\" }}\n\
         routes:\n\
         \x20 - {{ path_prefix: /good, upstream: good, protocol: mcp, boundary: tool_to_api }}\n\
         \x20 - {{ path_prefix: /by-ip, upstream: by-ip, protocol: mcp, boundary: tool_to_api }}\n\
         \x20 - {{ path_prefix: /no-cert, upstream: no-client-cert, protocol: mcp, boundary: tool_to_api }}\n\
         \x20 - {{ path_prefix: /untrusted, upstream: system-roots, protocol: mcp, boundary: tool_to_api }}\n",
        port = up.port(),
        ca = p("ca.pem"),
        cc = p("client.pem"),
        ck = p("client-key.pem"),
    ))
    .await;
    let body = call(1, "t");
    let post = |path: &'static str| {
        let body = body.clone();
        async move {
            common::send(
                gw.proxy_addr,
                Method::POST,
                path,
                &[
                    ("content-type", "application/json"),
                    ("accept", "application/json"),
                ],
                Some(&body),
            )
            .await
        }
    };
    let ok = post("/good").await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&ok.body)
    );
    assert_eq!(
        ok.json()["result"]["upstream_saw"],
        "spiffe://sec0.dev/gateway",
        "the gateway's client certificate"
    );
    assert_eq!(
        post("/by-ip").await.status,
        StatusCode::OK,
        "server_name sets SNI and the name checked"
    );
    assert_eq!(
        post("/no-cert").await.status,
        StatusCode::BAD_GATEWAY,
        "the upstream wants a client certificate"
    );
    assert_eq!(
        post("/untrusted").await.status,
        StatusCode::BAD_GATEWAY,
        "a private CA is not in the system roots"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_from_a_url_and_refused_callers_in_the_audit_trail() {
    let dir = tempfile::tempdir().expect("dir");
    let k = keys();
    let jwks = k.jwks.to_string();
    let idp = Upstream::start(move |_req: Request<hyper::body::Incoming>| {
        let jwks = jwks.clone();
        async move {
            let mut resp = http::Response::new(full(jwks));
            resp.headers_mut()
                .insert("content-type", "application/json".parse().expect("hv"));
            resp
        }
    })
    .await;
    let (up, _hits) = tool_server().await;
    let audit_dir = dir.path().join("audit");
    let (gw, _rules) = common::gateway_with_rules(
        &whoami_rules(&["alice"]),
        &format!(
            "identity: {{ jwt: {{ jwks_url: \"{}/.well-known/jwks.json\", issuer: {ISSUER:?}, audience: [{AUDIENCE:?}] }} }}\n\
             audit: {{ file: {{ dir: {audit_dir:?} }} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ name: strict, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [jwt], anonymous: false }} }}\n",
            idp.url(),
            up.url()
        ),
    )
    .await;
    let send = |auth: Option<String>| {
        let addr = gw.proxy_addr;
        async move {
            let mut h = vec![("content-type".to_string(), "application/json".to_string())];
            if let Some(a) = auth {
                h.push(("authorization".into(), a));
            }
            let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            common::send(addr, Method::POST, "/mcp", &h, Some(&call(1, "whoami"))).await
        }
    };
    let t = token(Algorithm::EdDSA, Some("ed-1"), &k.ed, claims("alice"));
    let a = send(Some(format!("Bearer {t}"))).await;
    assert_eq!(
        reason(&a.json()),
        Some("it_is_0"),
        "keys fetched from the JWKS URL: {}",
        a.json()
    );
    assert_eq!(send(None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send(Some("Bearer nonsense".into())).await.status,
        StatusCode::UNAUTHORIZED
    );
    gw.shutdown().await;
    let records = common::audit_records(&audit_dir);
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r["reason"] == "unauthenticated")
        .collect();
    assert_eq!(refused.len(), 2, "every refused caller leaves a record");
    assert!(
        refused
            .iter()
            .all(|r| r["kind"] == "error" && r["http_status"] == 401 && r["jsonrpc_code"] == 4010)
    );
    assert!(
        !serde_json::to_string(&records)
            .expect("json")
            .contains("nonsense"),
        "no presented credential in the trail"
    );
}

//! What the gateway understands per protocol, through the real proxy: A2A calls of both
//! generations (target agent, message text, v0.3/v1.0 method names), plain HTTP calls
//! (method, host, path, query, JSON body), MCP calls of the stateless 2026-07-28 era
//! (mirrored headers checked against the body), and compressed bodies (refused, or decoded
//! under a cap when configured).

use crate::common;

use std::io::Write;

use bytes::Bytes;
use common::{Upstream, send};
use http::{Method, Request, StatusCode};
use serde_json::json;

const RULES: &str = r#"
version: 1
rules:
  - id: wires-need-review
    when:
      protocol: a2a
      agent: payments
      method: message/send
      text: [ { contains: "wire transfer" } ]
    decision: deny
    reason: wire_by_message
  - id: no-task-cancel
    when: { protocol: a2a, method: CancelTask }
    decision: deny
    reason: no_cancel
  - id: egress-allowlist
    when: { protocol: http, boundary: tool_to_api }
    unless: { host: [ "api.example.test", "localhost", "127.0.0.1" ] }
    decision: deny
    reason: unknown_host
  - id: no-key-in-query
    when: { protocol: http, query: "*api_key=*" }
    decision: deny
    reason: key_in_query
  - id: big-refunds
    when:
      protocol: http
      method: POST
      path: /api/refunds
      args: [ { path: "$.amount", gt: 500 } ]
    decision: deny
    reason: refund_too_large
  - id: no-shell
    when: { protocol: mcp, tool: shell_exec }
    decision: deny
    reason: shell_forbidden
"#;

async fn setup(
    extra: &str,
) -> (
    sec0_gateway::RunningGateway,
    Upstream,
    tempfile::NamedTempFile,
) {
    let up = Upstream::echo("up").await;
    let (gw, rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "{extra}upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: pay, path_prefix: /a2a/pay, upstream: u, protocol: a2a, boundary: agent_to_agent, agent: payments }}\n  - {{ name: search, path_prefix: /a2a/search, upstream: u, protocol: a2a, boundary: agent_to_agent }}\n  - {{ name: api, path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    (gw, up, rules)
}

fn a2a(method: &str, id: u32, text: &str) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":method,"params":{"message":{"role":"user","messageId":format!("m{id}"),"parts":[{"kind":"text","text":text}]}}}).to_string()
}

fn forwarded(a: &common::Answer) -> bool {
    a.status == StatusCode::OK && a.json()["tag"] == "up"
}

#[tokio::test]
async fn a2a_rules_see_agent_text_and_both_method_generations() {
    let (gw, _up, _r) = setup("").await;
    let post = |path: &'static str, body: String| {
        let addr = gw.proxy_addr;
        async move { common::post_json(addr, path, &body).await }
    };
    let wire = "Please make a WIRE TRANSFER of 20k to acct 7";
    for method in ["message/send", "SendMessage"] {
        let r = post("/a2a/pay", a2a(method, 1, wire)).await;
        let v = r.json();
        assert_eq!(v["error"]["code"], 4030, "{method}: {v}");
        assert_eq!(v["error"]["data"]["reason"], "wire_by_message");
        assert_eq!(v["id"], 1);
    }
    // Another agent, or harmless text: forwarded.
    assert!(forwarded(
        &post("/a2a/search", a2a("message/send", 2, wire)).await
    ));
    assert!(forwarded(
        &post("/a2a/pay", a2a("SendMessage", 3, "what is my balance?")).await
    ));
    // v1.0 parts have no `kind`; the text is found all the same.
    let v10 = json!({"jsonrpc":"2.0","id":4,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","messageId":"m4","parts":[{"text":"a wire transfer, please"}]}}}).to_string();
    assert_eq!(post("/a2a/pay", v10).await.json()["error"]["code"], 4030);
    // A rule naming the v1.0 method holds for the v0.3 name.
    let cancel =
        json!({"jsonrpc":"2.0","id":5,"method":"tasks/cancel","params":{"id":"t1"}}).to_string();
    assert_eq!(
        post("/a2a/search", cancel).await.json()["error"]["data"]["reason"],
        "no_cancel"
    );
    let m = common::metrics(&gw).await;
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_agent",
            "deny",
            "enforce",
            "wire_by_message",
            "pay"
        ),
        Some(3.0),
        "{m}"
    );
}

#[tokio::test]
async fn http_rules_see_host_query_and_json_body() {
    let (gw, _up, _r) = setup("").await;
    let addr = gw.proxy_addr;
    let json_ct = [("content-type", "application/json")];
    // Host allowlist (the test client sends Host: 127.0.0.1:port).
    assert!(forwarded(
        &send(addr, Method::GET, "/api/x", &[], None).await
    ));
    let r = send(addr, Method::GET, "/api/x", &[("host", "evil.test")], None).await;
    // The route takes any host; the allowlist rule refuses the unknown one.
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["reason"], "unknown_host");
    let r = send(addr, Method::GET, "/api/x?q=1&api_key=abc", &[], None).await;
    assert_eq!(r.json()["error"]["reason"], "key_in_query");
    // JSON body conditions.
    let r = send(
        addr,
        Method::POST,
        "/api/refunds",
        &json_ct,
        Some(r#"{"amount": 900}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["reason"], "refund_too_large");
    let r = send(
        addr,
        Method::POST,
        "/api/refunds",
        &json_ct,
        Some(r#"{"amount": 20}"#),
    )
    .await;
    assert!(forwarded(&r));
    assert_eq!(
        r.json()["body"],
        r#"{"amount": 20}"#,
        "forwarded byte for byte"
    );
    // Ambiguous bodies are refused, never forwarded.
    for (what, body) in [
        ("duplicate key", r#"{"amount": 20, "amount": 900}"#),
        ("invalid JSON", r#"{"amount": "#),
    ] {
        let r = send(addr, Method::POST, "/api/refunds", &json_ct, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        assert!(r.json()["error"]["reason"].is_string(), "{what}");
    }
    // Not declared as JSON: the body streams on unread (no JSON condition can hold).
    let r = send(
        addr,
        Method::POST,
        "/api/upload",
        &[("content-type", "application/octet-stream")],
        Some("raw bytes"),
    )
    .await;
    assert!(forwarded(&r));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("gzip")
}

async fn post_gzip(gw: &sec0_gateway::RunningGateway, path: &str, body: Vec<u8>) -> common::Answer {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}{path}", gw.proxy_addr))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(common::full(Bytes::from(body)))
        .expect("request");
    common::collect(common::client().request(req).await.expect("response")).await
}

#[tokio::test]
async fn compressed_bodies_are_refused_by_default_and_decoded_under_a_cap_when_asked() {
    let shell = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"shell_exec","arguments":{}}}"#;
    let echo = br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;

    let (gw, _up, _r) = setup("").await;
    let r = post_gzip(&gw, "/mcp", gzip(echo)).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        r.json()["error"]["data"]["reason"],
        "compressed_body_refused"
    );
    drop(gw);

    let (gw, _up, _r) =
        setup("limits: { compressed_requests: decode, max_request_body: 64KiB }\n").await;
    // The decoded call is what is decided: a denied tool stays denied.
    let r = post_gzip(&gw, "/mcp", gzip(shell)).await;
    assert_eq!(r.json()["error"]["code"], 4030);
    // An allowed one reaches the upstream decoded, with headers that describe it.
    let r = post_gzip(&gw, "/mcp", gzip(echo)).await;
    let v = r.json();
    assert_eq!(v["body"], std::str::from_utf8(echo).expect("utf8"));
    assert!(v["headers"].get("content-encoding").is_none(), "{v}");
    assert_eq!(v["headers"]["content-length"][0], echo.len().to_string());
    // A decompression bomb (16 MiB of spaces inside the JSON) stops at the cap.
    let mut bomb = Vec::from(&echo[..echo.len() - 1]);
    bomb.extend(std::iter::repeat_n(b' ', 16 << 20));
    bomb.push(b'}');
    let packed = gzip(&bomb);
    assert!(
        packed.len() < 64 << 10,
        "the bomb itself fits the body limit"
    );
    let r = post_gzip(&gw, "/mcp", packed).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"]["data"]["reason"], "body_too_large");
    // Garbage that claims to be gzip.
    let r = post_gzip(&gw, "/mcp", b"not gzip at all".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["data"]["reason"], "undecodable_body");
    // Plain HTTP routes with body rules decode the same way.
    let r = post_gzip(&gw, "/api/refunds", gzip(br#"{"amount": 9000}"#)).await;
    assert_eq!(r.json()["error"]["reason"], "refund_too_large");
}

fn modern_call(tool: &str) -> String {
    json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":tool,"arguments":{},"_meta":{
        "io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{}}}}).to_string()
}

#[tokio::test]
async fn stateless_era_mirrored_headers_must_agree_with_the_body() {
    let (gw, _up, _r) = setup("").await;
    let addr = gw.proxy_addr;
    let with = |name: &'static str, version: &'static str| {
        vec![
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", version),
            ("mcp-method", "tools/call"),
            ("mcp-name", name),
        ]
    };
    // Agreeing headers: decided on the body, forwarded with the headers untouched.
    let r = send(
        addr,
        Method::POST,
        "/mcp",
        &with("echo", "2026-07-28"),
        Some(&modern_call("echo")),
    )
    .await;
    let v = r.json();
    assert_eq!(v["headers"]["mcp-name"][0], "echo", "{v}");
    let r = send(
        addr,
        Method::POST,
        "/mcp",
        &with("shell_exec", "2026-07-28"),
        Some(&modern_call("shell_exec")),
    )
    .await;
    assert_eq!(r.json()["error"]["code"], 4030);
    // A header that names a harmless tool while the body calls the denied one: refused as
    // the upstream would (400, -32020), never forwarded.
    for (what, headers) in [
        ("name", with("echo", "2026-07-28")),
        ("base64 name", with("=?base64?ZWNobw==?=", "2026-07-28")),
        ("version", with("shell_exec", "2025-11-25")),
    ] {
        let r = send(
            addr,
            Method::POST,
            "/mcp",
            &headers,
            Some(&modern_call("shell_exec")),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}");
        let v = r.json();
        assert_eq!(v["error"]["code"], -32020, "{what}: {v}");
        assert_eq!(v["error"]["data"]["reason"], "header_mismatch");
        assert_eq!(v["id"], 9);
    }
}

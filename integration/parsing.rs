//! Strict parsing on JSON-RPC routes: bodies that could be read two ways, or that the
//! gateway cannot inspect, are refused with a JSON-RPC error and never forwarded. Valid
//! messages of every kind (request, notification, response, batch) pass unchanged.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Upstream, gateway, send};
use http::{Method, Response, StatusCode};

async fn counting_echo() -> (Upstream, Arc<AtomicUsize>) {
    Upstream::counting(|body| Response::new(common::full(body))).await
}

async fn setup() -> (Upstream, Arc<AtomicUsize>, sec0_gateway::RunningGateway) {
    let (up, hits) = counting_echo().await;
    let gw = gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n  - {{ path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ))
    .await;
    (up, hits, gw)
}

async fn post(
    gw: &sec0_gateway::RunningGateway,
    headers: &[(&str, &str)],
    body: &[u8],
) -> common::Answer {
    let req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr));
    let req = headers.iter().fold(req, |r, (k, v)| r.header(*k, *v));
    let req = req.body(common::full(body.to_vec())).expect("request");
    common::collect(common::client().request(req).await.expect("response")).await
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// One refusal case: name, request headers, body, expected status, `reason`, JSON-RPC code.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    StatusCode,
    &'static str,
    i64,
);

#[tokio::test]
async fn ambiguous_or_uninspectable_bodies_are_refused_and_never_forwarded() {
    let (_up, hits, gw) = setup().await;
    let cases: Vec<Case> = vec![
        ("duplicate method", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"shell"}}"#.to_vec(), StatusCode::BAD_REQUEST, "duplicate_key", -32600),
        ("duplicate tool name", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"shell"}}"#.to_vec(), StatusCode::BAD_REQUEST, "duplicate_key", -32600),
        ("escaped duplicate key", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","\u006eame":"shell"}}"#.to_vec(), StatusCode::BAD_REQUEST, "duplicate_key", -32600),
        ("duplicate in batch element", vec![JSON], br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"a","method":"b"}]"#.to_vec(), StatusCode::BAD_REQUEST, "duplicate_key", -32600),
        ("invalid UTF-8", vec![JSON], b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"sh\xffell\"}}".to_vec(), StatusCode::BAD_REQUEST, "parse_error", -32700),
        ("lone surrogate", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800shell"}}"#.to_vec(), StatusCode::BAD_REQUEST, "parse_error", -32700),
        ("byte-order mark", vec![JSON], b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}".to_vec(), StatusCode::BAD_REQUEST, "parse_error", -32700),
        ("trailing second message", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"tools/call"}"#.to_vec(), StatusCode::BAD_REQUEST, "parse_error", -32700),
        ("not JSON", vec![JSON], b"method=tools/call&name=shell".to_vec(), StatusCode::BAD_REQUEST, "parse_error", -32700),
        ("absurd nesting", vec![JSON], format!(r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"a":{}1{}}}}}"#, "[".repeat(100), "]".repeat(100)).into_bytes(), StatusCode::BAD_REQUEST, "too_deep", -32600),
        ("text/plain", vec![("content-type", "text/plain")], br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", -32600),
        ("form content type", vec![("content-type", "application/x-www-form-urlencoded")], br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", -32600),
        ("utf-16 charset", vec![("content-type", "application/json; charset=utf-16")], br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", -32600),
        ("no content type", vec![], br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type", -32600),
        ("gzip body", vec![JSON, ("content-encoding", "gzip")], b"\x1f\x8b\x08\x00".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "compressed_body_refused", -32600),
        ("empty batch", vec![JSON], b"[]".to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
        ("null id", vec![JSON], br#"{"jsonrpc":"2.0","id":null,"method":"tools/call"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
        ("wrong version", vec![JSON], br#"{"jsonrpc":"1.0","id":1,"method":"tools/call"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
        ("method not a string", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":["tools/call"]}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
        // JavaScript reads this id as a rounded float, Python as an exact integer.
        ("integer id beyond 64 bits", vec![JSON], br#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
        ("params not structured", vec![JSON], br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"shell"}"#.to_vec(), StatusCode::BAD_REQUEST, "invalid_request", -32600),
    ];
    for (what, headers, body, status, reason, code) in cases {
        let r = post(&gw, &headers, &body).await;
        assert_eq!(
            r.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["jsonrpc"], "2.0", "{what}");
        assert_eq!(v["error"]["code"], code, "{what}");
        assert_eq!(v["error"]["data"]["reason"], reason, "{what}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no refused body reached the upstream"
    );
}

#[tokio::test]
async fn refusals_echo_the_id_when_it_is_unambiguous() {
    let (_up, _hits, gw) = setup().await;
    let r = post(
        &gw,
        &[JSON],
        br#"{"jsonrpc":"2.0","id":"req-9","method":"ping","params":"x"}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["data"]["reason"], "invalid_request");
    assert_eq!(r.json()["id"], "req-9");
    // Refused on its headers, the body is never read: no id to echo.
    let r = post(
        &gw,
        &[("content-type", "text/plain")],
        br#"{"jsonrpc":"2.0","id":"req-9","method":"ping"}"#,
    )
    .await;
    assert!(r.json()["id"].is_null());
    // A duplicated id is itself ambiguous: answered with a null id.
    let r = post(
        &gw,
        &[JSON],
        br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#,
    )
    .await;
    assert!(r.json()["id"].is_null());
}

#[tokio::test]
async fn valid_messages_of_every_kind_pass_unchanged() {
    let (_up, hits, gw) = setup().await;
    let bodies: [&[u8]; 6] = [
        b"  {\"jsonrpc\":\"2.0\",\"id\":18446744073709551615,\"method\":\"ping\"}\n",
        br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\u00e9 \ud83d\ude00"}}}"#,
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        br#"{"jsonrpc":"2.0","id":0,"result":{"content":[]}}"#,
        br#"{"jsonrpc":"2.0","id":"x","error":{"code":-1,"message":"no"}}"#,
        br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}]"#,
    ];
    for body in bodies {
        let r = post(
            &gw,
            &[("content-type", "application/json; charset=utf-8")],
            body,
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(&r.body[..], body, "forwarded byte for byte");
    }
    assert_eq!(hits.load(Ordering::SeqCst), bodies.len());
}

#[tokio::test]
async fn plain_http_routes_and_get_streams_are_not_parsed() {
    let (_up, hits, gw) = setup().await;
    let r = send(
        gw.proxy_addr,
        Method::POST,
        "/api/form",
        &[("content-type", "text/plain")],
        Some("a=1&a=2"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(&r.body[..], b"a=1&a=2");
    let r = send(
        gw.proxy_addr,
        Method::GET,
        "/mcp",
        &[("accept", "text/event-stream")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

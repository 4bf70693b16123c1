//! Limits through the real proxy: body size (413, declared and streamed), slowloris
//! header timeout, stalled request bodies (408), and the connection cap.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::{Upstream, channel_body, gateway, within};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn counting_upstream() -> (Upstream, Arc<AtomicUsize>) {
    Upstream::counting(|_| Response::new(common::full("ok"))).await
}

fn config(up: &Upstream, limits: &str) -> String {
    format!(
        "limits: {{ {limits} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool, max_request_body: 1KiB }}\n  - {{ path_prefix: /upload, upstream: u, protocol: http, boundary: tool_to_api, max_request_body: 64KiB }}\n",
        up.url()
    )
}

async fn post_chunked(addr: std::net::SocketAddr, path: &str, total: usize) -> common::Answer {
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b' '; 512]);
        let mut sent = 0;
        while sent < total {
            if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
    });
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    common::collect(
        within("response", common::client().request(req))
            .await
            .unwrap_or_else(|e| panic!("response to {path} ({total} bytes): {e:?}")),
    )
    .await
}

#[tokio::test]
async fn declared_oversize_body_is_refused_before_forwarding() {
    let (up, hits) = counting_upstream().await;
    let gw = gateway(&config(&up, "")).await;
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"x":"{}"}}}}"#,
        "a".repeat(2000)
    );
    let r = common::post_json(gw.proxy_addr, "/mcp", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["error"]["code"], -32600);
    assert_eq!(v["error"]["data"]["reason"], "body_too_large");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the upstream"
    );
}

#[tokio::test]
async fn streamed_oversize_body_is_refused() {
    let (up, hits) = counting_upstream().await;
    let gw = gateway(&config(&up, "")).await;
    // JSON-RPC route: buffered, so the upstream is never contacted.
    let r = post_chunked(gw.proxy_addr, "/mcp", 4096).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"]["data"]["reason"], "body_too_large");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // HTTP route: streamed; the upload is cut at the limit and the client gets 413.
    let r = post_chunked(gw.proxy_addr, "/upload", 256 * 1024).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"]["reason"], "body_too_large");
    // Within the limit everything passes.
    let r = post_chunked(gw.proxy_addr, "/upload", 32 * 1024).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn slowloris_header_is_cut() {
    let (up, _) = counting_upstream().await;
    let gw = gateway(&config(&up, "header_read_timeout: 300ms")).await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    s.write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let mut buf = Vec::new();
    // The gateway must close the connection by itself (a 408 before closing is fine).
    // `within` fails the test if the connection is still open after the timeout window;
    // a reset (Err) counts as closed too.
    let _ = within("gateway to close a slow header", s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

#[tokio::test]
async fn stalled_request_body_gets_408() {
    let (up, hits) = counting_upstream().await;
    let gw = gateway(&config(&up, "idle_timeout: 300ms")).await;
    let (tx, body) = channel_body();
    tx.send(Ok(Frame::data(Bytes::from_static(b"{\"jsonrpc\":"))))
        .await
        .expect("send");
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .body(body)
        .expect("request");
    let r = common::collect(
        within("408", common::client().request(req))
            .await
            .expect("response"),
    )
    .await;
    drop(tx);
    assert_eq!(r.status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(r.json()["error"]["data"]["reason"], "request_body_timeout");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn connection_cap_makes_extra_connections_wait() {
    let (up, _) = counting_upstream().await;
    let gw = gateway(&config(&up, "max_connections: 1")).await;
    let req = b"GET /upload HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut first = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    first.write_all(req).await.expect("write");
    let mut buf = [0u8; 256];
    let n = within("first answer", first.read(&mut buf))
        .await
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // The first connection stays open (keep-alive), holding the only slot.
    let mut second = TcpStream::connect(gw.proxy_addr)
        .await
        .expect("connect (kernel backlog)");
    second.write_all(req).await.expect("write");
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "second connection served while the cap was reached"
    );

    drop(first);
    let n = within("second answer after the slot frees", second.read(&mut buf))
        .await
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

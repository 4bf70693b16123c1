//! HTTP/1.1 connections on the wire: keep-alive, pipelining, heads and bodies in pieces,
//! answers without a body, bodies left unread, `Connection: close`, other framings after
//! plain ones. Plain connections are served one exchange at a time (`src/server/exchange.rs`);
//! these are the ways that could go wrong, each checked byte for byte from the client's side.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Upstream, gateway, within};
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn setup() -> (Upstream, Arc<AtomicUsize>, sec0_gateway::RunningGateway) {
    let (up, hits) = Upstream::counting(|body| Response::new(common::full(body))).await;
    let gw = gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ))
    .await;
    (up, hits, gw)
}

fn post(path: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Reads answers off `s` until `n` are whole (bodies by `content-length`, or chunked);
/// `head_only` for answers to HEAD.
async fn answers(s: &mut TcpStream, n: usize, head_only: bool) -> Vec<Answer> {
    let mut got = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        if let Some((answer, used)) = parse_one(&got, head_only) {
            got.drain(..used);
            out.push(answer);
            continue;
        }
        let mut buf = [0u8; 4096];
        let k = within("an answer", s.read(&mut buf)).await.expect("read");
        assert!(
            k > 0,
            "connection closed after {} answers: {out:?}",
            out.len()
        );
        got.extend_from_slice(&buf[..k]);
    }
    assert!(got.is_empty(), "bytes after the answers: {got:?}");
    out
}

fn parse_one(buf: &[u8], head_only: bool) -> Option<(Answer, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut r = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(head_len) = r.parse(buf).expect("a valid answer") else {
        return None;
    };
    let status = r.code.expect("status");
    let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
    let value = |name: &str| {
        r.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_string())
    };
    if head_only || status == 204 || status == 304 {
        return Some((
            Answer {
                status,
                head,
                body: Vec::new(),
            },
            head_len,
        ));
    }
    if let Some(len) = value("content-length") {
        let len: usize = len.trim().parse().expect("content-length");
        let end = head_len + len;
        return (buf.len() >= end).then(|| {
            (
                Answer {
                    status,
                    head,
                    body: buf[head_len..end].to_vec(),
                },
                end,
            )
        });
    }
    // Chunked.
    let mut at = head_len;
    let mut body = Vec::new();
    loop {
        let line_end = at + buf.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&buf[at..line_end]).ok()?, 16).ok()?;
        let data = line_end + 2;
        if buf.len() < data + size + 2 {
            return None;
        }
        body.extend_from_slice(&buf[data..data + size]);
        at = data + size + 2;
        if size == 0 {
            return Some((Answer { status, head, body }, at));
        }
    }
}

/// Whether the gateway closed `s` (reading nothing more) within a moment.
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn one_connection_serves_many_calls_one_after_another() {
    let (up, hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    for i in 0..20 {
        let body = format!("call {i}");
        s.write_all(post("/api/x", &body).as_bytes())
            .await
            .expect("write");
        let a = answers(&mut s, 1, false).await.remove(0);
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body, body.as_bytes());
    }
    assert_eq!(hits.load(Ordering::SeqCst), 20);
    drop(up);
}

#[tokio::test]
async fn pipelined_calls_are_answered_in_order() {
    let (_up, hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    let mut wire = String::new();
    for i in 0..5 {
        wire.push_str(&post("/api/p", &format!("pipelined {i}")));
    }
    wire.push_str("GET /api/g HTTP/1.1\r\nHost: gw\r\n\r\n");
    s.write_all(wire.as_bytes()).await.expect("write");
    let got = answers(&mut s, 6, false).await;
    for (i, a) in got.iter().take(5).enumerate() {
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body, format!("pipelined {i}").as_bytes());
    }
    assert_eq!(got[5].status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn heads_and_bodies_in_pieces_are_put_together() {
    let (_up, _hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    let wire = post("/api/pieces", "a body in three pieces");
    for piece in [
        &wire[..7],
        &wire[7..40],
        &wire[40..wire.len() - 5],
        &wire[wire.len() - 5..],
    ] {
        s.write_all(piece.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let a = answers(&mut s, 1, false).await.remove(0);
    assert_eq!(a.body, b"a body in three pieces");
    // The same connection goes on.
    s.write_all(post("/api/again", "again").as_bytes())
        .await
        .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].body, b"again");
}

#[tokio::test]
async fn an_answer_without_a_body_keeps_the_connection() {
    let (_up, _hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    s.write_all(b"HEAD /api/h HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .expect("write");
    let a = answers(&mut s, 1, true).await.remove(0);
    assert_eq!(a.status, 200, "{a:?}");
    s.write_all(post("/api/after-head", "after").as_bytes())
        .await
        .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].body, b"after");
}

#[tokio::test]
async fn a_body_left_unread_is_never_read_as_a_request() {
    let (_up, hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    // No route: refused (404) before the body is read. The body looks like a request.
    let smuggled = "GET /api/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n";
    s.write_all(post("/nowhere", smuggled).as_bytes())
        .await
        .expect("write");
    let a = answers(&mut s, 1, false).await.remove(0);
    assert_eq!(a.status, 404, "{a:?}");
    // Whether the connection is then closed or goes on, the body is never a request.
    let _ = s.write_all(post("/api/next", "next").as_bytes()).await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut rest)).await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.matches("HTTP/1.1").count() <= 1, "{rest}");
    assert!(!rest.contains("smuggled"), "{rest}");
    assert!(hits.load(Ordering::SeqCst) <= 1);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let (_up, _hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    s.write_all(b"GET /api/c HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let a = answers(&mut s, 1, false).await.remove(0);
    assert_eq!(a.status, 200);
    assert!(a.head.contains("connection: close"), "{}", a.head);
    assert!(closed(&mut s).await, "still open after Connection: close");
}

#[tokio::test]
async fn other_framings_after_plain_calls_are_served_by_hyper() {
    let (_up, hits, gw) = setup().await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    s.write_all(post("/api/first", "plain").as_bytes())
        .await
        .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].body, b"plain");
    // Chunked, then plain again, on the same connection.
    s.write_all(
        b"POST /api/chunked HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await
    .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].body, b"hello");
    s.write_all(post("/api/third", "plain again").as_bytes())
        .await
        .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].body, b"plain again");
    // Chunked with a plain call pipelined behind it: hyper reads the second from what was
    // already received.
    s.write_all(
        b"POST /api/c2 HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /api/g HTTP/1.1\r\nHost: gw\r\n\r\n",
    )
    .await
    .expect("write");
    let got = answers(&mut s, 2, false).await;
    assert_eq!(got[0].body, b"abc");
    assert_eq!(got[1].status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_timeout() {
    let (up, _hits) = Upstream::counting(|body| Response::new(common::full(body))).await;
    let gw = gateway(&format!(
        "limits: {{ header_read_timeout: 300ms }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ))
    .await;
    let mut s = TcpStream::connect(gw.proxy_addr).await.expect("connect");
    s.write_all(post("/api/x", "x").as_bytes())
        .await
        .expect("write");
    assert_eq!(answers(&mut s, 1, false).await[0].status, 200);
    // Nothing more: the keep-alive wait ends with the header timeout.
    assert!(closed(&mut s).await, "idle connection never closed");
}

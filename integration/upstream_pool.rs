//! The upstream connection pool: keep-alive reuse, no reuse of a connection whose response
//! was not read to the end, transparent retry when the upstream closed an idle connection,
//! and HTTP/2 (h2c) upstreams.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::{Upstream, channel_body, gateway, send, within};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One per-core worker: its one upstream pool is what these tests look at (each worker
/// has its own; `each_worker_keeps_its_own_pool` covers several).
fn cfg(url: &str, extra: &str) -> String {
    format!(
        "workers: 1\nupstreams: {{ u: {{ url: \"{url}\" {extra} }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n"
    )
}

#[tokio::test]
async fn each_worker_keeps_its_own_pool() {
    let up = Upstream::echo("u").await;
    let gw = gateway(&cfg(&up.url(), "").replace("workers: 1", "workers: 2")).await;
    // A new client connection per request: the kernel spreads them over both workers.
    for i in 0..20 {
        let r = send(gw.proxy_addr, Method::GET, &format!("/r{i}"), &[], None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let opened = up.accepted.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&opened),
        "at most one upstream connection per worker, reused: {opened}"
    );
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let up = Upstream::echo("u").await;
    let gw = gateway(&cfg(&up.url(), "")).await;
    for i in 0..20 {
        let r = send(gw.proxy_addr, Method::GET, &format!("/r{i}"), &[], None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["path"], format!("/r{i}"));
    }
    assert_eq!(
        up.accepted.load(Ordering::SeqCst),
        1,
        "keep-alive connection reused"
    );
}

#[tokio::test]
async fn a_half_read_response_never_poisons_the_pool() {
    // /big streams 64 chunks slowly; anything else is echoed.
    let up = Upstream::start(|req| async move {
        if req.uri().path() == "/big" {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                for _ in 0..64 {
                    if tx
                        .send(Ok(Frame::data(Bytes::from(vec![b'b'; 1024]))))
                        .await
                        .is_err()
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            Response::new(body)
        } else {
            Response::new(common::full(format!("small:{}", req.uri().path())))
        }
    })
    .await;
    let gw = gateway(&cfg(&up.url(), "")).await;
    let req = Request::builder()
        .uri(format!("http://{}/big", gw.proxy_addr))
        .body(common::empty())
        .expect("request");
    let resp = within("big head", common::client().request(req))
        .await
        .expect("response");
    let mut body = resp.into_body();
    let first = within("first chunk", body.frame())
        .await
        .expect("frame")
        .expect("ok");
    assert!(first.data_ref().is_some_and(|d| !d.is_empty()));
    drop(body); // the client walks away mid-body

    for i in 0..5 {
        let r = send(gw.proxy_addr, Method::GET, &format!("/s{i}"), &[], None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            &r.body[..],
            format!("small:/s{i}").as_bytes(),
            "answer belongs to this request"
        );
    }
}

#[tokio::test]
async fn a_keep_alive_connection_closed_by_the_upstream_is_retried() {
    // Answers one request per connection with a keep-alive response, then closes the socket:
    // the pooled connection is dead when the next request comes.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok",
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(s);
            });
        }
    });
    let gw = gateway(&cfg(&format!("http://{addr}"), "")).await;
    for _ in 0..5 {
        let r = send(gw.proxy_addr, Method::GET, "/", &[], None).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{:?}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(&r.body[..], b"ok");
        tokio::time::sleep(Duration::from_millis(50)).await; // let the upstream close it
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        5,
        "each request needed a fresh connection"
    );
}

#[tokio::test]
async fn h2c_upstreams_multiplex_on_one_connection() {
    let up = Upstream::echo("h2").await;
    let gw = gateway(&cfg(&up.url(), ", http2: true")).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let addr = gw.proxy_addr;
        tasks.push(tokio::spawn(async move {
            common::post_json(
                addr,
                "/rpc",
                &format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"m"}}"#),
            )
            .await
        }));
    }
    for t in tasks {
        let r = t.await.expect("task");
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["version"], "HTTP/2.0");
        assert!(
            v["headers"].get("host").is_none(),
            "h2 carries :authority, not Host"
        );
    }
    assert_eq!(
        up.accepted.load(Ordering::SeqCst),
        1,
        "one multiplexed connection"
    );
}

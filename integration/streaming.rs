//! Streaming through the proxy: SSE events reach the client one by one (not when the
//! stream ends), silent streams are cut by the idle timeout, and a gibibyte moves through
//! in both directions without the gateway holding it in memory.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{
    GatewayProcess, Upstream, channel_body, gateway, metric_value, metrics, sse_event, within,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::Notify;

/// An upstream that answers with SSE: one event at once, the second only after `release`.
async fn slow_sse_upstream(release: Arc<Notify>) -> Upstream {
    Upstream::start(move |_req| {
        let release = release.clone();
        async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let _ = tx.send(sse_event(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#)).await;
                release.notified().await;
                let _ = tx.send(sse_event(r#"{"jsonrpc":"2.0","id":1,"result":{"content":[]}}"#)).await;
            });
            let mut r = Response::new(body);
            r.headers_mut().insert("content-type", "text/event-stream".parse().expect("hv"));
            r
        }
    })
    .await
}

#[tokio::test]
async fn sse_events_arrive_before_the_stream_ends() {
    let release = Arc::new(Notify::new());
    let up = slow_sse_upstream(release.clone()).await;
    let gw = gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(common::full(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow"}}"#,
        ))
        .expect("request");
    let resp = within("response head", common::client().request(req))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().get("content-length").is_none());
    let mut body = resp.into_body();

    // The upstream will not finish until we release it, so the first event can only be
    // here if the gateway passed it on by itself.
    let mut got = Vec::new();
    while !got.ends_with(b"\n\n") {
        let frame = within("first SSE event", body.frame())
            .await
            .expect("frame")
            .expect("ok");
        got.extend_from_slice(&frame.into_data().expect("data"));
    }
    assert!(String::from_utf8_lossy(&got).contains("notifications/progress"));
    let m = metrics(&gw).await;
    assert_eq!(
        metric_value(&m, "sec0_gateway_open_sse_streams"),
        Some(1.0),
        "{m}"
    );

    release.notify_one();
    let rest = within("end of stream", body.collect())
        .await
        .expect("rest")
        .to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains(r#""id":1"#));
    let m = metrics(&gw).await;
    assert_eq!(
        metric_value(&m, "sec0_gateway_open_sse_streams"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "sec0_gateway_in_flight_requests"),
        Some(0.0),
        "{m}"
    );
}

#[tokio::test]
async fn silent_stream_is_cut_by_idle_timeout() {
    let release = Arc::new(Notify::new()); // never released
    let up = slow_sse_upstream(release.clone()).await;
    let gw = gateway(&format!(
        "limits: {{ idle_timeout: 300ms }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let req = Request::builder()
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("accept", "text/event-stream")
        .body(common::empty())
        .expect("request");
    let resp = within("response", common::client().request(req))
        .await
        .expect("response");
    let result = within("stream end after idle timeout", resp.into_body().collect()).await;
    assert!(
        result.is_err(),
        "a silent stream must be cut, not hang or end cleanly"
    );
    let m = metrics(&gw).await;
    assert_eq!(
        metric_value(&m, "sec0_gateway_open_sse_streams"),
        Some(0.0),
        "{m}"
    );
}

const GIB: u64 = 1 << 30;
const CHUNK: usize = 256 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_each_way_with_bounded_memory() {
    // Upstream: POST counts the bytes it receives; GET streams 1 GiB back.
    let up = Upstream::start(|req| async move {
        if req.method() == Method::POST {
            let mut body = req.into_body();
            let mut n: u64 = 0;
            while let Some(f) = body.frame().await {
                match f {
                    Ok(f) => n += f.data_ref().map_or(0, |d| d.len() as u64),
                    Err(_) => break,
                }
            }
            Response::new(common::full(n.to_string()))
        } else {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; CHUNK]);
                for _ in 0..(GIB / CHUNK as u64) {
                    if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                        break;
                    }
                }
            });
            Response::new(body)
        }
    })
    .await;
    let mut gw = GatewayProcess::start(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api, max_request_body: 2GiB }}\n",
        up.url()
    ));
    let baseline = gw.peak_rss_kib();

    let (tx, body) = channel_body();
    tokio::spawn(async move {
        let chunk = Bytes::from(vec![b'u'; CHUNK]);
        for _ in 0..(GIB / CHUNK as u64) {
            if tx.send(Ok(Frame::data(chunk.clone()))).await.is_err() {
                break;
            }
        }
    });
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/upload", gw.proxy_addr))
        .body(body)
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(300), common::client().request(req))
        .await
        .expect("upload finished in time")
        .expect("response");
    let a = common::collect(resp).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&a.body),
        GIB.to_string(),
        "upstream got every byte"
    );

    let req = Request::builder()
        .uri(format!("http://{}/download", gw.proxy_addr))
        .body(common::empty())
        .expect("request");
    let resp = common::client().request(req).await.expect("response");
    let mut body = resp.into_body();
    let mut n: u64 = 0;
    while let Some(f) = tokio::time::timeout(Duration::from_secs(60), body.frame())
        .await
        .expect("progress")
    {
        n += f.expect("frame").data_ref().map_or(0, |d| d.len() as u64);
    }
    assert_eq!(n, GIB, "client got every byte");

    let peak = gw.peak_rss_kib();
    eprintln!("gateway peak RSS: baseline {baseline} KiB, after 2 GiB streamed {peak} KiB");
    assert!(
        peak < baseline + 64 * 1024,
        "gateway held the body in memory: peak RSS {peak} KiB (baseline {baseline} KiB)"
    );
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

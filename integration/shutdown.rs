//! Graceful shutdown of the real binary: on SIGTERM/SIGINT it stops accepting, fails
//! readiness, lets open streams finish within the drain timeout, then exits 0.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{GatewayProcess, Upstream, channel_body, sse_event, within};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::Notify;

async fn sse_upstream(release: Arc<Notify>) -> Upstream {
    Upstream::start(move |_req| {
        let release = release.clone();
        async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let _ = tx.send(sse_event(r#"{"n":1}"#)).await;
                release.notified().await;
                let _ = tx.send(sse_event(r#"{"n":2,"last":true}"#)).await;
            });
            let mut r = Response::new(body);
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().expect("hv"));
            r
        }
    })
    .await
}

fn cfg(up: &Upstream, drain: &str) -> String {
    format!(
        "limits: {{ drain_timeout: {drain} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    )
}

async fn open_stream(addr: std::net::SocketAddr) -> hyper::body::Incoming {
    let req = Request::builder()
        .uri(format!("http://{addr}/mcp"))
        .header("accept", "text/event-stream")
        .body(common::empty())
        .expect("request");
    let resp = within("stream head", common::client().request(req))
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let first = within("first event", body.frame())
        .await
        .expect("frame")
        .expect("ok");
    assert!(String::from_utf8_lossy(first.data_ref().expect("data")).contains(r#""n":1"#));
    body
}

async fn readyz(addr: std::net::SocketAddr) -> StatusCode {
    common::send(addr, Method::GET, "/readyz", &[], None)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_open_streams_then_exits_zero() {
    let release = Arc::new(Notify::new());
    let up = sse_upstream(release.clone()).await;
    let mut gw = GatewayProcess::start(&cfg(&up, "20s"));
    assert_eq!(readyz(gw.admin_addr).await, StatusCode::OK);
    let body = open_stream(gw.proxy_addr).await;

    gw.signal("TERM");
    // Readiness fails while draining, so a load balancer stops sending new traffic.
    within("readyz to fail", async {
        while readyz(gw.admin_addr).await != StatusCode::SERVICE_UNAVAILABLE {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // New connections are refused once the listener is closed.
    within("listener to close", async {
        while tokio::net::TcpStream::connect(gw.proxy_addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        gw.wait_exit(Duration::from_millis(200)),
        None,
        "must wait for the open stream"
    );

    // The open stream still completes in full.
    release.notify_one();
    let rest = within("rest of the stream", body.collect())
        .await
        .expect("stream completes")
        .to_bytes();
    assert!(String::from_utf8_lossy(&rest).contains(r#""last":true"#));
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_cuts_endless_streams_and_exits_zero() {
    let release = Arc::new(Notify::new()); // never released
    let up = sse_upstream(release).await;
    let mut gw = GatewayProcess::start(&cfg(&up, "500ms"));
    let body = open_stream(gw.proxy_addr).await;
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(
        within("stream cut", body.collect()).await.is_err(),
        "stream ends with an error when cut"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_on_idle_gateway_exits_zero() {
    let up = Upstream::echo("u").await;
    let mut gw = GatewayProcess::start(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ));
    let r = common::send(gw.proxy_addr, Method::GET, "/", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    gw.signal("INT");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

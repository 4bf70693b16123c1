//! The admin listener: health, readiness, Prometheus metrics, bearer-token protection.

use crate::common;

use std::io::Write;

use common::{Upstream, gateway, metric_value, send};
use http::{Method, StatusCode};

#[tokio::test]
async fn health_ready_and_metrics_after_traffic() {
    let up = Upstream::echo("u").await;
    let gw = gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    assert_eq!(
        send(gw.admin_addr, Method::GET, "/healthz", &[], None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(gw.admin_addr, Method::GET, "/readyz", &[], None)
            .await
            .status,
        StatusCode::OK
    );

    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    for _ in 0..3 {
        assert_eq!(
            common::post_json(gw.proxy_addr, "/mcp", body).await.status,
            StatusCode::OK
        );
    }
    send(gw.proxy_addr, Method::GET, "/nowhere", &[], None).await;

    let r = send(gw.admin_addr, Method::GET, "/metrics", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain; version=0.0.4")
    );
    let m = String::from_utf8_lossy(&r.body);
    assert_eq!(
        metric_value(
            &m,
            "sec0_gateway_requests_total{route=\"tools\",status=\"200\"}"
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "sec0_gateway_requests_total{route=\"-\",status=\"404\"}"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        metric_value(
            &m,
            "sec0_gateway_upstream_latency_seconds_count{route=\"tools\"}"
        ),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric_value(&m, "sec0_gateway_request_bytes_total{route=\"tools\"}"),
        Some((3 * body.len()) as f64),
        "{m}"
    );
    assert!(
        metric_value(&m, "sec0_gateway_response_bytes_total{route=\"tools\"}")
            .is_some_and(|v| v > 0.0)
    );
    assert_eq!(
        metric_value(&m, "sec0_gateway_in_flight_requests"),
        Some(0.0)
    );
    assert!(metric_value(&m, "sec0_gateway_connections_total").is_some_and(|v| v >= 1.0));
    assert!(m.contains("sec0_gateway_open_sse_streams 0"));
}

#[tokio::test]
async fn admin_token_protects_everything_but_probes() {
    let up = Upstream::echo("u").await;
    let mut token = tempfile::NamedTempFile::new().expect("tempfile");
    writeln!(token, "s3cr3t-admin-token-0123456789").expect("write");
    // The admin block is part of the header the `gateway` helper writes, so build it here.
    let yaml = format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0, token_file: {:?} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n",
        token.path(),
        up.url()
    );
    let cfg = sec0_gateway::config::load_from_str(&yaml, "<test>", Some(Default::default()))
        .expect("config");
    let gw = sec0_gateway::Gateway::start(cfg).await.expect("start");
    let a = gw.admin_addr;
    assert_eq!(
        send(a, Method::GET, "/healthz", &[], None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(a, Method::GET, "/readyz", &[], None).await.status,
        StatusCode::OK
    );
    let r = send(a, Method::GET, "/metrics", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .expect("hdr")
            .starts_with("Bearer")
    );
    let r = send(
        a,
        Method::GET,
        "/metrics",
        &[("authorization", "Bearer wrong-token")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = send(
        a,
        Method::GET,
        "/metrics",
        &[("authorization", "Bearer s3cr3t-admin-token-0123456789")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A method an endpoint does not answer: 405 naming the one it does, not 404.
    let auth = [("authorization", "Bearer s3cr3t-admin-token-0123456789")];
    let r = send(a, Method::DELETE, "/v1/status", &auth, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "GET");
    let r = send(a, Method::POST, "/v1/escalations/feed", &auth, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = send(a, Method::GET, "/v1/escalations/x/approve", &auth, None).await;
    assert_eq!(r.headers["allow"], "POST");
    assert_eq!(
        send(a, Method::GET, "/v1/nothing", &auth, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = send(
        a,
        Method::GET,
        "/nope",
        &[("authorization", "Bearer s3cr3t-admin-token-0123456789")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

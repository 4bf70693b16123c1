//! Routing and header handling through the real proxy: host and longest-prefix matching,
//! prefix stripping and rewriting, 404 for unrouted requests, h2c, header hygiene.

use crate::common;

use common::{Upstream, gateway, post_json, send};
use http::{Method, Request, StatusCode};

async fn two_upstreams() -> (Upstream, Upstream, sec0_gateway::RunningGateway) {
    let a = Upstream::echo("a").await;
    let b = Upstream::echo("b").await;
    let gw = gateway(&format!(
        r#"
upstreams:
  a: {{ url: "{}" }}
  b: {{ url: "{}/base" }}
  p: {{ url: "{}", host_header: preserve }}
  f: {{ url: "{}", host_header: {{ fixed: "tools.internal:8443" }} }}
routes:
  - {{ name: root, path_prefix: /, upstream: a, protocol: http, boundary: tool_to_api }}
  - {{ name: mcp, path_prefix: /mcp, upstream: b, protocol: mcp, boundary: agent_to_tool }}
  - {{ name: strip, path_prefix: /strip, strip_prefix: true, upstream: a, protocol: http, boundary: tool_to_api }}
  - {{ name: rewrite, path_prefix: /agents/planner, rewrite_prefix: /a2a, upstream: a, protocol: a2a, boundary: agent_to_agent }}
  - {{ name: vhost, host: "tools.example.com", path_prefix: /mcp, upstream: a, protocol: mcp, boundary: agent_to_tool }}
  - {{ name: preserve, path_prefix: /preserve, upstream: p, protocol: http, boundary: tool_to_api }}
  - {{ name: fixed, path_prefix: /fixed, upstream: f, protocol: http, boundary: tool_to_api }}
"#,
        a.url(),
        b.url(),
        a.url(),
        a.url()
    ))
    .await;
    (a, b, gw)
}

#[tokio::test]
async fn longest_prefix_host_strip_and_rewrite() {
    let (a, b, gw) = two_upstreams().await;
    let addr = gw.proxy_addr;

    let r = send(addr, Method::GET, "/mcp/x?y=1", &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["tag"], "b");
    assert_eq!(v["path"], "/base/mcp/x", "upstream base path is prepended");
    assert_eq!(v["query"], "y=1");

    let v = send(addr, Method::GET, "/mcpx", &[], None).await.json();
    assert_eq!(v["tag"], "a", "prefix matches only at a segment boundary");
    assert_eq!(v["path"], "/mcpx");

    let v = send(addr, Method::GET, "/strip/deep/path", &[], None)
        .await
        .json();
    assert_eq!(v["path"], "/deep/path");
    let v = send(addr, Method::GET, "/strip", &[], None).await.json();
    assert_eq!(v["path"], "/");

    let v = post_json(
        addr,
        "/agents/planner/v1",
        r#"{"jsonrpc":"2.0","id":1,"method":"message/send"}"#,
    )
    .await
    .json();
    assert_eq!(v["path"], "/a2a/v1");
    assert_eq!(
        v["body"], r#"{"jsonrpc":"2.0","id":1,"method":"message/send"}"#,
        "body forwarded unchanged"
    );

    let v = send(
        addr,
        Method::GET,
        "/mcp",
        &[("host", "TOOLS.example.com:443")],
        None,
    )
    .await
    .json();
    assert_eq!(v["tag"], "a", "host route wins over a host-less one");
    assert_eq!(
        v["headers"]["host"][0],
        a.addr.to_string(),
        "Host is the upstream's own authority"
    );
    drop(b);
}

#[tokio::test]
async fn no_route_and_ambiguous_paths_get_json_errors() {
    let up = Upstream::echo("only").await;
    let gw = gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let r = send(gw.proxy_addr, Method::GET, "/other", &[], None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json()["error"]["reason"], "no_route");

    for path in ["/mcp/../admin", "/mcp/%2e%2e/admin", "/mcp/./x", "/mcp/%5c"] {
        let r = send(gw.proxy_addr, Method::GET, path, &[], None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.json()["error"]["reason"], "ambiguous_path", "{path}");
    }
}

#[tokio::test]
async fn h2c_prior_knowledge_clients_are_served() {
    let (_a, _b, gw) = two_upstreams().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .body(common::full(
            r#"{"jsonrpc":"2.0","id":"h2","method":"ping"}"#,
        ))
        .expect("request");
    let resp = common::h2c_client()
        .request(req)
        .await
        .expect("h2 response");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let a = common::collect(resp).await;
    assert_eq!(a.status, StatusCode::OK);
    let v = a.json();
    assert_eq!(v["tag"], "b");
    assert_eq!(v["method"], "POST");
    assert!(
        v["headers"]["host"][0].as_str().is_some(),
        "upstream got a Host over HTTP/1.1"
    );
}

#[tokio::test]
async fn headers_are_cleaned_and_forwarded() {
    let (a, _b, gw) = two_upstreams().await;
    let r = send(
        gw.proxy_addr,
        Method::POST,
        "/mcp",
        &[
            ("content-type", "application/json"),
            ("connection", "keep-alive, x-client-hop"),
            ("x-client-hop", "must-not-pass"),
            ("keep-alive", "timeout=10"),
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
            ("x-sec0-run-id", "forged-run"),
            ("X-Sec0-Decision", "allow"),
            ("mcp-session-id", "Sess-ID_with.odd~chars"),
            ("last-event-id", "stream7_1700000000_abc"),
            ("authorization", "Bearer client-token"),
        ],
        Some(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let h = &v["headers"];
    for gone in ["x-client-hop", "keep-alive", "x-sec0-decision"] {
        assert!(
            h.get(gone).is_none(),
            "{gone} must not reach the upstream: {h}"
        );
    }
    // The gateway sets its own run id (no policy: no decision headers); the caller's is gone.
    assert_eq!(h["x-sec0-run-id"].as_array().map(Vec::len), Some(1));
    assert_ne!(h["x-sec0-run-id"][0], "forged-run");
    assert_eq!(
        h["x-forwarded-for"][0], "127.0.0.1",
        "untrusted XFF replaced"
    );
    assert_eq!(
        h["forwarded"][0],
        format!("for=127.0.0.1;proto=http;host=\"{}\"", gw.proxy_addr)
    );
    assert_eq!(h["x-forwarded-proto"][0], "http");
    assert_eq!(h["mcp-session-id"][0], "Sess-ID_with.odd~chars");
    assert_eq!(h["last-event-id"][0], "stream7_1700000000_abc");
    assert_eq!(
        h["authorization"][0], "Bearer client-token",
        "end-to-end headers pass"
    );

    // And on the way back: the upstream's hop-by-hop headers are removed.
    assert!(r.headers.get("x-upstream-hop").is_none());
    assert!(r.headers.get("keep-alive").is_none());

    // Host modes.
    let v = send(
        gw.proxy_addr,
        Method::GET,
        "/preserve",
        &[("host", "public.example:8080")],
        None,
    )
    .await
    .json();
    assert_eq!(v["headers"]["host"][0], "public.example:8080");
    let v = send(gw.proxy_addr, Method::GET, "/fixed", &[], None)
        .await
        .json();
    assert_eq!(v["headers"]["host"][0], "tools.internal:8443");
    drop(a);
}

#[tokio::test]
async fn trusted_proxies_keep_forwarding_headers() {
    let up = Upstream::echo("t").await;
    let gw = gateway(&format!(
        "trusted_proxies: [127.0.0.0/8]\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ))
    .await;
    let v = send(
        gw.proxy_addr,
        Method::GET,
        "/x",
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
        ],
        None,
    )
    .await
    .json();
    assert_eq!(v["headers"]["x-forwarded-for"][0], "203.0.113.9, 127.0.0.1");
    assert_eq!(v["headers"]["x-forwarded-proto"][0], "https");
}

#[tokio::test]
async fn get_and_delete_pass_through_with_session() {
    let (_a, _b, gw) = two_upstreams().await;
    for m in [Method::GET, Method::DELETE] {
        let v = send(
            gw.proxy_addr,
            m.clone(),
            "/mcp",
            &[("mcp-session-id", "s-1"), ("accept", "text/event-stream")],
            None,
        )
        .await
        .json();
        assert_eq!(v["method"], m.as_str());
        assert_eq!(v["headers"]["mcp-session-id"][0], "s-1");
        assert_eq!(v["headers"]["accept"][0], "text/event-stream");
    }
}

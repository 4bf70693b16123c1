//! Run-scoped rules through the real proxy: a rule labels a run that read private data, and
//! a later hop of the same run on another route is refused when it sends to an open-world
//! tool, while another run is not; `count_gt` counts a run's calls; rate limits per caller
//! answer JSON-RPC calls with a refusal and `Retry-After`, plain HTTP calls with 429.

use crate::common;

use common::runs::{call, read, refusal, tool};
use common::{Upstream, gateway_with_rules};
use http::Method;
use serde_json::json;

const RULES: &str = r#"version: 1
rules:
  - { id: reads-private, when: { method: resources/read, resource: "file:///private/*" }, decision: allow, reason: private_read, label: private_data }
  - { id: no-exfil, when: { tool: "web_*", run: { labels: private_data } }, decision: deny, reason: private_data_to_open_world }
  - { id: chatty, when: { tool: ping, run: { count_gt: 3 } }, decision: deny, reason: too_many_pings }
limits:
  - { id: slow-down, when: { tool: limited }, per: caller, rate: 0.5, burst: 2 }
  - { id: http-slow-down, when: { protocol: http }, per: run, rate: 0.5, burst: 1 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_read_private_data_cannot_send_it_to_the_open_world() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        RULES,
        &format!(
            "context: {{ trusted_networks: [127.0.0.0/8] }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n\
             \x20 - {{ name: files, path_prefix: /files, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
             \x20 - {{ name: web, path_prefix: /web, upstream: u, protocol: mcp, boundary: tool_to_api }}\n\
             \x20 - {{ name: api, path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n",
            up.url()
        ),
    )
    .await;
    let a = gw.proxy_addr;
    // Before reading anything private, the open world is fine.
    assert_eq!(
        refusal(&call(a, "/web", "run-a", tool("web_fetch")).await),
        None
    );
    // Hop 1 (files route): the run reads private data — allowed, and labelled.
    assert_eq!(
        refusal(&call(a, "/files", "run-a", read("file:///private/salaries.csv")).await),
        None
    );
    // Hop 2 (web route), same run: refused.
    let denied = call(a, "/web", "run-a", tool("web_post")).await;
    assert_eq!(denied.status, 200);
    assert_eq!(
        refusal(&denied).as_deref(),
        Some("private_data_to_open_world")
    );
    assert_eq!(denied.json()["error"]["data"]["rules"], json!(["no-exfil"]));
    // Another run is not affected, and neither is a public read.
    assert_eq!(
        refusal(&call(a, "/web", "run-b", tool("web_post")).await),
        None
    );
    assert_eq!(
        refusal(&call(a, "/files", "run-c", read("file:///public/menu.txt")).await),
        None
    );
    assert_eq!(
        refusal(&call(a, "/web", "run-c", tool("web_post")).await),
        None
    );

    // count_gt: the fifth ping of a run is one too many.
    let pings: Vec<Option<String>> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(refusal(&call(a, "/files", "run-d", tool("ping")).await));
        }
        v
    };
    assert_eq!(
        pings,
        vec![None, None, None, None, Some("too_many_pings".into())]
    );

    // Rate limit per caller: a burst of two, then a refusal with Retry-After.
    assert_eq!(
        refusal(&call(a, "/files", "run-e", tool("limited")).await),
        None
    );
    assert_eq!(
        refusal(&call(a, "/files", "run-f", tool("limited")).await),
        None
    );
    let limited = call(a, "/files", "run-g", tool("limited")).await;
    assert_eq!(
        limited.status, 200,
        "a JSON-RPC call gets a JSON-RPC refusal"
    );
    assert_eq!(refusal(&limited).as_deref(), Some("rate_limited"));
    assert_eq!(
        limited.json()["error"]["data"]["rules"],
        json!(["slow-down"])
    );
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("str")
        .parse()
        .expect("secs");
    assert!((1..=2).contains(&retry), "{retry}");
    // Plain HTTP: 429 with Retry-After, per run.
    let get = |run: &'static str| async move {
        common::send(a, Method::GET, "/api/x", &[("x-sec0-run-id", run)], None).await
    };
    assert_eq!(get("run-h").await.status, 200);
    let second = get("run-h").await;
    assert_eq!(second.status, 429);
    assert!(second.headers.get("retry-after").is_some());
    assert_eq!(second.json()["error"]["reason"], "rate_limited");
    assert_eq!(get("run-i").await.status, 200, "buckets are per run");
    let m = common::metrics(&gw).await;
    assert!(
        common::decisions(
            &m,
            "tool_to_api",
            "deny",
            "enforce",
            "private_data_to_open_world",
            "web"
        )
        .is_some_and(|v| v >= 1.0),
        "{m}"
    );
}

//! Context headers through the real proxy: spoofed `x-sec0-*` headers never reach the
//! upstream and a caller that is not trusted cannot pick its run; a trusted one continues
//! its run and names its parent hop; traces continue; the upstream gets the gateway's run,
//! node, hop and decision headers and the sec0 SDK's cause links; the client gets the
//! decision and trace ids; the sec0 SDK's agent state is validated (mismatches are a 400 and
//! never forwarded) and passed on unchanged.

use crate::common;

use base64::Engine;
use common::{Upstream, gateway_with_rules};
use http::Method;
use serde_json::{Value, json};

const RULES: &str = "version: 1\nrules:\n  - { id: no-shell, when: { tool: shell_exec }, decision: deny, reason: shell_forbidden }\n";

fn call(tool: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}).to_string()
}

fn config(up: &Upstream, extra: &str) -> String {
    format!(
        "{extra}upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    )
}

/// The single value of header `name` the echo upstream saw.
fn seen<'a>(echo: &'a Value, name: &str) -> Option<&'a str> {
    echo["headers"][name][0].as_str()
}

async fn post(addr: std::net::SocketAddr, tool: &str, headers: &[(&str, &str)]) -> common::Answer {
    let mut h = vec![
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    h.extend_from_slice(headers);
    common::send(addr, Method::POST, "/mcp", &h, Some(&call(tool))).await
}

fn is_hex(s: Option<&str>, n: usize) -> bool {
    s.is_some_and(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_headers_are_stripped_and_the_gateway_sets_its_own() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(RULES, &config(&up, "")).await;
    let a = post(
        gw.proxy_addr,
        "echo",
        &[
            ("x-sec0-run-id", "run-of-someone-else"),
            ("x-sec0-node-id", "admin"),
            ("x-sec0-decision", "allow"),
            ("x-sec0-hop-id", "forgedhop"),
            ("x-agent-ref", "run-of-someone-else"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "vendor=1"),
        ],
    )
    .await;
    assert_eq!(a.status, 200);
    let echo = a.json();
    let run = seen(&echo, "x-sec0-run-id").expect("run id upstream");
    assert!(
        run.starts_with("run-") && run != "run-of-someone-else",
        "an anonymous caller cannot pick its run: {run}"
    );
    assert_eq!(seen(&echo, "x-sec0-node-id"), Some("anonymous"));
    assert_eq!(
        seen(&echo, "x-sec0-decision"),
        Some("allow"),
        "the gateway's decision, not the caller's"
    );
    assert_eq!(
        echo["headers"]["x-sec0-parent-hop-id"],
        Value::Null,
        "an untrusted parent hop is not believed"
    );
    let hop = seen(&echo, "x-sec0-hop-id");
    assert!(is_hex(hop, 16), "{hop:?}");
    assert!(is_hex(seen(&echo, "x-sec0-decision-id"), 32));
    assert!(seen(&echo, "x-sec0-policy-version").is_some_and(|v| v.len() == 16));
    let tp = seen(&echo, "traceparent").expect("traceparent");
    assert_eq!(
        tp,
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
            hop.unwrap_or_default()
        ),
        "trace continued, this hop as parent"
    );
    assert_eq!(seen(&echo, "tracestate"), Some("vendor=1"));
    assert_eq!(
        seen(&echo, "x-cause-trace"),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(seen(&echo, "x-cause-span"), hop);
    // Every x-sec0 header upstream appears once: the caller's copies are gone.
    for (k, v) in echo["headers"].as_object().expect("headers") {
        if k.starts_with("x-sec0-") {
            assert_eq!(v.as_array().map(Vec::len), Some(1), "{k}: {v}");
        }
    }
    // The client learns the decision and trace ids.
    assert_eq!(
        a.headers["x-sec0-decision-id"],
        seen(&echo, "x-sec0-decision-id").expect("id")
    );
    assert_eq!(
        a.headers["x-sec0-trace-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(a.headers["x-trace-id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(a.headers["x-span-id"], hop.expect("hop"));
    // A refused call tells the client its decision id too.
    let denied = post(gw.proxy_addr, "shell_exec", &[]).await;
    assert_eq!(
        denied.headers["x-sec0-decision-id"].to_str().expect("str"),
        denied.json()["error"]["data"]["decision_id"]
            .as_str()
            .expect("id")
    );
    assert!(
        is_hex(denied.headers["x-sec0-trace-id"].to_str().ok(), 32),
        "a new trace when none came in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_caller_continues_its_run() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        RULES,
        &config(&up, "context: { trusted_networks: [127.0.0.0/8] }\n"),
    )
    .await;
    let a = post(
        gw.proxy_addr,
        "echo",
        &[
            ("x-agent-ref", "run-42"),
            ("x-cause-span", "00f067aa0ba902b7"),
        ],
    )
    .await;
    let echo = a.json();
    assert_eq!(seen(&echo, "x-sec0-run-id"), Some("run-42"));
    assert_eq!(
        seen(&echo, "x-sec0-parent-hop-id"),
        Some("00f067aa0ba902b7")
    );
    assert_eq!(a.headers["x-sec0-run-id"], "run-42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_state_is_validated_and_passed_on() {
    let (up, hits) = Upstream::echo_counting("u").await;
    let (gw, _r) = gateway_with_rules(RULES, &config(&up, "")).await;
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let good = enc(
        json!({"version": 1, "nodeId": "planner", "runId": "run-7", "variables": {"AGENT": {"step": 2}}}),
    );
    let a = post(
        gw.proxy_addr,
        "echo",
        &[
            ("x-node-id", "Planner"),
            ("x-agent-ref", "run-7"),
            ("x-agent-state", &good),
            ("x-idempotency-key", "idem-1"),
        ],
    )
    .await;
    assert_eq!(a.status, 200);
    let echo = a.json();
    assert_eq!(
        seen(&echo, "x-agent-state"),
        Some(good.as_str()),
        "passed on unchanged"
    );
    assert_eq!(seen(&echo, "x-node-id"), Some("Planner"));
    assert_eq!(seen(&echo, "x-agent-ref"), Some("run-7"));
    assert_eq!(seen(&echo, "x-idempotency-key"), Some("idem-1"));

    let before = hits.load(std::sync::atomic::Ordering::SeqCst);
    let other_node = enc(json!({"version": 1, "nodeId": "someone-else", "runId": "run-7"}));
    let other_run = enc(json!({"version": 1, "nodeId": "planner", "runId": "run-8"}));
    let big = enc(json!({"nodeId": "planner", "pad": "x".repeat(10_000)}));
    for (what, state, node) in [
        ("node mismatch", other_node.as_str(), Some("planner")),
        ("run mismatch", other_run.as_str(), Some("planner")),
        ("no x-node-id", good.as_str(), None),
        ("not base64url JSON", "%%%", Some("planner")),
        ("too large", big.as_str(), Some("planner")),
    ] {
        let mut h = vec![("x-agent-ref", "run-7"), ("x-agent-state", state)];
        if let Some(n) = node {
            h.push(("x-node-id", n));
        }
        let a = post(gw.proxy_addr, "echo", &h).await;
        assert_eq!(
            a.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(a.json()["error"]["data"]["reason"], "bad_context", "{what}");
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "refused context never reaches the upstream"
    );
}

/// Each hop is a span in the call's trace, exported over OTLP/HTTP to a receiver that decodes
/// it with the official OpenTelemetry protobuf definitions: the caller's trace and span are
/// its trace and parent, the hop id the upstream saw is its span id, and the decision is on
/// it. Unsampled traces are not exported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hop_is_a_span_in_the_callers_trace_exported_over_otlp() {
    let Some(py) = common::peers::python("otlp export") else {
        return;
    };
    let ok = std::process::Command::new(&py)
        .args(["-c", "import opentelemetry.proto"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        common::peers::missing(
            "otlp export",
            "opentelemetry-proto is not installed in the test venv (run integration/run)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("spans.jsonl");
    let port = common::closed_port();
    let _receiver = common::peers::start_python_server(
        &py,
        "otlp_receiver.py",
        &[&port.to_string(), out.to_str().expect("utf-8")],
        port,
    )
    .await;
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        RULES,
        &config(
            &up,
            &format!(
                "otlp: {{ endpoint: \"http://127.0.0.1:{port}/v1/traces\", interval: 50ms, service_name: sec0-test }}\n"
            ),
        ),
    )
    .await;
    let send = |tool: &'static str, traceparent: &'static str| {
        let addr = gw.proxy_addr;
        async move {
            let h = [
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("traceparent", traceparent),
            ];
            common::send(addr, Method::POST, "/mcp", &h, Some(&call(tool))).await
        }
    };
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let allowed = send(
        "echo",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    .await;
    let hop = seen(&allowed.json(), "x-sec0-hop-id")
        .expect("hop id upstream")
        .to_string();
    let denied = send(
        "shell_exec",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01",
    )
    .await;
    assert_eq!(denied.json()["error"]["code"], 4030);
    let unsampled = send(
        "echo",
        "00-aaf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )
    .await;
    assert_eq!(unsampled.status, 200);
    // Shutdown flushes what is queued.
    gw.shutdown().await;

    let spans: Vec<Value> = common::within("the spans to arrive", async {
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let spans: Vec<Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok()) // a line being written is skipped
                .collect();
            if spans.len() >= 2 {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        spans.len(),
        2,
        "the unsampled trace is not exported: {spans:#?}"
    );
    let a = spans
        .iter()
        .find(|s| s["parent_span_id"] == "00f067aa0ba902b7")
        .expect("the allowed call's span");
    assert_eq!(a["trace_id"], trace);
    assert_eq!(
        a["span_id"],
        hop.as_str(),
        "the hop id upstream is the span id"
    );
    assert_eq!(a["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(a["resource"]["service.name"], "sec0-test");
    assert_eq!(a["scope"], "sec0-gateway");
    assert_eq!(a["attributes"]["sec0.decision"], "allow");
    assert_eq!(a["attributes"]["sec0.route"], "route-0");
    assert_eq!(a["attributes"]["sec0.caller"], "anonymous");
    assert_eq!(a["attributes"]["http.response.status_code"], 200);
    assert!(a["end"].as_u64() >= a["start"].as_u64());
    let d = spans
        .iter()
        .find(|s| s["parent_span_id"] == "00f067aa0ba902b8")
        .expect("the denied call's span");
    assert_eq!(d["trace_id"], trace);
    assert_eq!(d["attributes"]["sec0.decision"], "deny");
    assert_eq!(
        d["attributes"]["sec0.decision_id"],
        denied.json()["error"]["data"]["decision_id"]
    );
}

/// A collector that is down costs the calls nothing: they are answered, and the spans that
/// could not be exported are counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_does_not_touch_the_calls() {
    let up = Upstream::echo("u").await;
    let dead = common::closed_port();
    let (gw, _r) = gateway_with_rules(
        RULES,
        &config(
            &up,
            &format!("otlp: {{ endpoint: \"http://127.0.0.1:{dead}/v1/traces\", interval: 20ms, timeout: 1s }}\n"),
        ),
    )
    .await;
    for _ in 0..3 {
        let a = common::post_json(gw.proxy_addr, "/mcp", &call("echo")).await;
        assert_eq!(a.json()["tag"], "u");
    }
    common::within("the failed export to be counted", async {
        loop {
            let m = common::metrics(&gw).await;
            if common::metric_value(&m, "sec0_gateway_otlp_spans_total{result=\"failed\"}")
                .is_some_and(|v| v >= 3.0)
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_chooses_which_context_headers_its_answers_carry() {
    let up = Upstream::echo("u").await;
    let cfg = format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n\
         \x20 - {{ path_prefix: /full, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
         \x20 - {{ path_prefix: /ids, upstream: u, protocol: mcp, boundary: agent_to_tool, client_context: decision_id }}\n\
         \x20 - {{ path_prefix: /bare, upstream: u, protocol: mcp, boundary: agent_to_tool, client_context: none }}\n",
        up.url()
    );
    let (gw, _r) = gateway_with_rules(RULES, &cfg).await;
    let names = [
        "x-sec0-decision-id",
        "x-sec0-trace-id",
        "x-sec0-run-id",
        "x-trace-id",
        "x-span-id",
    ];
    for (path, expected) in [
        ("/full", &names[..]),
        ("/ids", &names[..1]),
        ("/bare", &[][..]),
    ] {
        for tool in ["echo", "shell_exec"] {
            let a = common::send(
                gw.proxy_addr,
                Method::POST,
                path,
                &[
                    ("content-type", "application/json"),
                    ("accept", "application/json"),
                ],
                Some(&call(tool)),
            )
            .await;
            assert_eq!(a.status, 200, "{path} {tool}");
            let got: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| a.headers.contains_key(*n))
                .collect();
            assert_eq!(got, expected, "{path} {tool}: answer headers");
            // The upstream side is not affected: the upstream still gets the context.
            if tool == "echo" {
                assert!(
                    seen(&a.json(), "x-sec0-run-id").is_some_and(|r| r.starts_with("run-")),
                    "{path}: upstream context"
                );
            }
        }
    }
}

//! Policy decisions through the real proxy: denied calls answered with the JSON-RPC error
//! the issue specifies (HTTP 200, code 4030, id echoed, `error.data` with decision, reason,
//! rules and decision id) and never forwarded; notifications dropped; observe mode; batches;
//! escalation hold and timeout; plain HTTP routes (403); decision metrics; `check`.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Upstream, post_json, send};
use http::{Method, Response, StatusCode};

const RULES: &str = r#"
version: 1
default_decision: allow
rules:
  - id: no-shell
    description: agents never get a shell
    when: { protocol: mcp, method: tools/call, tool: "shell_*" }
    decision: deny
    reason: shell_forbidden
  - id: big-payments
    when:
      tool: pay
      args: [ { path: "$.amount", gt: 1000 } ]
    decision: escalate
    reason: large_payment
  - id: no-progress-spam
    when: { method: notifications/progress }
    decision: deny
    reason: progress_muted
  - id: watch-reads
    mode: observe
    when: { tool: read_file }
    decision: deny
    reason: reads_under_review
  - id: no-delete-api
    when: { protocol: http, method: DELETE }
    decision: deny
    reason: no_deletes
  - id: no-admin-api
    when: { protocol: http, path: "/api/admin/*" }
    decision: deny
    reason: admin_api_closed
"#;

struct Setup {
    gw: sec0_gateway::RunningGateway,
    hits: Arc<AtomicUsize>,
    _up: Upstream,
    _rules: tempfile::NamedTempFile,
}

async fn setup(escalation: &str) -> Setup {
    let (up, hits) = Upstream::counting(|body| {
        let mut r = Response::new(common::full(format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"echo":{}}}}}"#,
            body.len()
        )));
        r.headers_mut()
            .insert("content-type", "application/json".parse().expect("hv"));
        r
    })
    .await;
    let (gw, rules) = common::gateway_with_rules(RULES, &format!(
        "escalation: {{ {escalation} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n  - {{ name: api, path_prefix: /api, upstream: u, protocol: http, boundary: tool_to_api }}\n",
        up.url()
    ))
    .await;
    Setup {
        gw,
        hits,
        _up: up,
        _rules: rules,
    }
}

fn call(id: &str, tool: &str, args: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{args}}}}}"#
    )
}

#[tokio::test]
async fn denied_call_gets_jsonrpc_error_and_is_never_forwarded() {
    let s = setup("").await;
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call(r#""c-7""#, "shell_exec", r#"{"cmd":"id"}"#),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "denials are HTTP 200 so MCP clients see one failed call"
    );
    let v = r.json();
    assert_eq!(v["id"], "c-7");
    assert_eq!(v["error"]["code"], 4030);
    assert_eq!(v["error"]["message"], "denied by policy: shell_forbidden");
    let data = &v["error"]["data"];
    assert_eq!(data["decision"], "deny");
    assert_eq!(data["reason"], "shell_forbidden");
    assert_eq!(data["rules"], serde_json::json!(["no-shell"]));
    assert_eq!(data["decision_id"].as_str().map(str::len), Some(32));
    assert_eq!(data["policy_version"].as_str().map(str::len), Some(16));
    assert_eq!(s.hits.load(Ordering::SeqCst), 0);

    // The next, allowed call goes through.
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call("8", "echo", r#"{"text":"hi"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["result"].is_object());
    assert_eq!(s.hits.load(Ordering::SeqCst), 1);

    let m = common::metrics(&s.gw).await;
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_tool",
            "deny",
            "enforce",
            "shell_forbidden",
            "tools"
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        common::decisions(&m, "agent_to_tool", "allow", "enforce", "default", "tools"),
        Some(1.0),
        "{m}"
    );
    assert!(
        m.contains("sec0_gateway_policy_eval_seconds_count 2"),
        "{m}"
    );
    assert!(
        m.contains("sec0_gateway_policy_version_info{version="),
        "{m}"
    );
}

#[tokio::test]
async fn tool_name_tricks_do_not_slip_past_tool_rules() {
    let s = setup("").await;
    // A non-string name could never match a tool rule: refused as invalid.
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["shell_exec"]}}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["data"]["reason"], "invalid_request");
    // Escaped characters in the name are decoded before matching.
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"\u0073hell_exec"}}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["code"], 4030);
    // A method name with escapes is the same method.
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        r#"{"jsonrpc":"2.0","id":3,"method":"tools\/call","params":{"name":"shell_x"}}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["code"], 4030);
    assert_eq!(s.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn denied_notification_is_dropped_with_202() {
    let s = setup("").await;
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.body.is_empty());
    assert_eq!(s.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn observe_rules_let_the_call_through_and_record_it() {
    let s = setup("").await;
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call("1", "read_file", r#"{"path":"/etc/passwd"}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["result"].is_object());
    assert_eq!(s.hits.load(Ordering::SeqCst), 1);
    let m = common::metrics(&s.gw).await;
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_tool",
            "deny",
            "observe",
            "reads_under_review",
            "tools"
        ),
        Some(1.0),
        "{m}"
    );
}

/// An upstream answering a batch the way the header `x-answer` asks: `json` (an array of
/// results, in reverse order as a server may), `sse` (one event per answer), `none` (202);
/// it records every body it receives.
async fn batch_upstream() -> (Upstream, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let up = Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let log = log.clone();
        async move {
            use http_body_util::BodyExt;
            let answer = req
                .headers()
                .get("x-answer")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("json")
                .to_string();
            let body = req.into_body().collect().await.expect("body").to_bytes();
            let text = String::from_utf8_lossy(&body).into_owned();
            log.lock().expect("lock").push(text.clone());
            let batch: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a batch");
            let results: Vec<serde_json::Value> = batch
                .iter()
                .rev()
                .filter_map(|m| {
                    m.get("id")
                        .map(|id| serde_json::json!({"jsonrpc":"2.0","id":id,"result":{"ok":true}}))
                })
                .collect();
            let mut r = match answer.as_str() {
                "none" => {
                    let mut r = Response::new(common::empty());
                    *r.status_mut() = StatusCode::ACCEPTED;
                    return r;
                }
                "sse" => {
                    let events: String = results
                        .iter()
                        .map(|r| format!("event: message\ndata: {r}\n\n"))
                        .collect();
                    let mut r = Response::new(common::full(events));
                    r.headers_mut()
                        .insert("content-type", "text/event-stream".parse().expect("hv"));
                    r
                }
                _ => Response::new(common::full(serde_json::to_string(&results).expect("json"))),
            };
            if answer == "json" {
                r.headers_mut()
                    .insert("content-type", "application/json".parse().expect("hv"));
            }
            r
        }
    })
    .await;
    (up, seen)
}

async fn post_batch(gw: &sec0_gateway::RunningGateway, answer: &str, body: &str) -> common::Answer {
    let req = http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("x-answer", answer)
        .body(common::full(body.to_string()))
        .expect("request");
    common::collect(common::client().request(req).await.expect("response")).await
}

#[tokio::test]
async fn batch_forwards_the_allowed_part_and_merges_the_answers_in_order() {
    let (up, seen) = batch_upstream().await;
    let (gw, _rules) = common::gateway_with_rules(RULES, &format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let notification = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let body = format!(
        "[{}, {},{},{}]",
        call("1", "echo", r#"{"n": 1.50}"#),
        notification,
        call(r#""two""#, "shell_rm", "{}"),
        call("3", "echo", "{}"),
    );

    // JSON answer: one array, refusal in place, client order.
    let r = post_batch(&gw, "json", &body).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let items = v.as_array().expect("batch answer");
    let ids: Vec<&serde_json::Value> = items.iter().map(|i| &i["id"]).collect();
    assert_eq!(
        ids,
        [
            &serde_json::json!(1),
            &serde_json::json!("two"),
            &serde_json::json!(3)
        ],
        "{v}"
    );
    assert_eq!(items[0]["result"]["ok"], true);
    assert_eq!(items[1]["error"]["code"], 4030);
    assert_eq!(items[1]["error"]["data"]["reason"], "shell_forbidden");
    assert_eq!(items[2]["result"]["ok"], true);
    let forwarded = seen.lock().expect("lock").pop().expect("forwarded");
    assert_eq!(
        forwarded,
        format!(
            "[{},{},{}]",
            call("1", "echo", r#"{"n": 1.50}"#),
            notification,
            call("3", "echo", "{}")
        ),
        "the allowed elements, byte for byte, the denied one gone"
    );

    // SSE answer: the refusal arrives as its own event, the upstream's events follow.
    let r = post_batch(&gw, "sse", &body).await;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("event json"))
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[0]["id"], "two");
    assert_eq!(events[0]["error"]["code"], 4030);
    assert!(
        events[1..].iter().all(|e| e["result"]["ok"] == true),
        "{text}"
    );

    // Only a notification passes: the upstream answers 202, the client gets the refusal.
    let body = format!("[{},{}]", notification, call("9", "shell_exec", "{}"));
    let r = post_batch(&gw, "none", &body).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["id"], 9);
    assert_eq!(
        seen.lock().expect("lock").pop().as_deref(),
        Some(format!("[{notification}]").as_str())
    );

    // Everything refused: answered here, nothing forwarded.
    let before = seen.lock().expect("lock").len();
    let body = format!(
        "[{},{}]",
        call("1", "shell_a", "{}"),
        call("2", "shell_b", "{}")
    );
    let v = post_batch(&gw, "json", &body).await.json();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(seen.lock().expect("lock").len(), before);

    // Everything allowed: forwarded as is.
    let body = format!("[{},{}]", call("1", "echo", "{}"), call("2", "echo", "{}"));
    let v = post_batch(&gw, "json", &body).await.json();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(seen.lock().expect("lock").pop(), Some(body));
}

#[tokio::test]
async fn escalation_is_held_then_denied_by_default() {
    let s = setup("hold_timeout: 200ms").await;
    let started = Instant::now();
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call("5", "pay", r#"{"amount":5000}"#),
    )
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "held for the hold timeout"
    );
    let v = r.json();
    assert_eq!(v["id"], 5);
    assert_eq!(v["error"]["code"], 4031);
    assert_eq!(v["error"]["data"]["decision"], "escalate");
    assert_eq!(v["error"]["data"]["on_timeout"], "deny");
    assert_eq!(v["error"]["data"]["reason"], "large_payment");
    assert_eq!(s.hits.load(Ordering::SeqCst), 0);
    // Small payments are not escalated.
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call("6", "pay", r#"{"amount":5}"#),
    )
    .await;
    assert!(r.json()["result"].is_object());
}

#[tokio::test]
async fn escalation_on_timeout_allow_forwards() {
    let s = setup("on_timeout: allow").await;
    let r = post_json(
        s.gw.proxy_addr,
        "/mcp",
        &call("5", "pay", r#"{"amount":5000}"#),
    )
    .await;
    assert!(r.json()["result"].is_object());
    assert_eq!(s.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn http_routes_get_403_with_the_same_fields() {
    let s = setup("").await;
    let r = send(s.gw.proxy_addr, Method::DELETE, "/api/users/7", &[], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let e = &r.json()["error"];
    assert_eq!(e["status"], 403);
    assert_eq!(e["decision"], "deny");
    assert_eq!(e["reason"], "no_deletes");
    assert_eq!(e["rules"], serde_json::json!(["no-delete-api"]));
    assert!(e["decision_id"].is_string());
    assert_eq!(s.hits.load(Ordering::SeqCst), 0);
    assert_eq!(
        send(s.gw.proxy_addr, Method::GET, "/api/users/7", &[], None)
            .await
            .status,
        StatusCode::OK
    );
    let r = send(
        s.gw.proxy_addr,
        Method::GET,
        "/api/admin/keys?all=1",
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["reason"], "admin_api_closed");
}

#[test]
fn check_reports_rule_errors_with_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("10-bad.yaml");
    std::fs::write(&rules, "version: 1\nrules:\n  - id: x\n    when: { tool: \"[oops\" }\n    decision: deny\n    reason: r\n").expect("write");
    let cfg = conf.path().join("gw.yaml");
    std::fs::write(
        &cfg,
        format!(
            "listen: 127.0.0.1:1\nadmin: {{ listen: 127.0.0.1:2 }}\npolicy: {{ rules: {:?} }}\nupstreams: {{ u: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            dir.path()
        ),
    )
    .expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args(["check", "-c"])
        .arg(&cfg)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{}:3:5: rule \"x\": when.tool:", rules.display())),
        "{err}"
    );
    std::fs::write(&rules, RULES).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args(["check", "-c"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK (6 rules from 1 files"));
}

/// An upstream answering `tools/list` with three tools, as JSON or (path `/sse/…`) as SSE
/// with a notification first.
async fn tools_upstream() -> Upstream {
    Upstream::start(|req| async move {
        let sse = req.uri().path().starts_with("/sse");
        let tools = r#"{"jsonrpc":"2.0","id":"l1","result":{"tools":[{"name":"echo"},{"name":"shell_exec"},{"name":"shell_x"}],"nextCursor":"p2"}}"#;
        let mut r = if sse {
            let body = format!(
                "event: message\r\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"level\":\"info\"}}}}\r\n\r\nevent: message\r\nid: e1\r\ndata: {tools}\r\n\r\n"
            );
            let mut r = Response::new(common::full(body));
            r.headers_mut().insert("content-type", "text/event-stream".parse().expect("hv"));
            r
        } else {
            let mut r = Response::new(common::full(tools));
            r.headers_mut().insert("content-type", "application/json".parse().expect("hv"));
            r
        };
        r.headers_mut().insert("x-upstream", "tools".parse().expect("hv"));
        r
    })
    .await
}

#[tokio::test]
async fn tools_list_hides_tools_the_caller_can_never_call() {
    let up = tools_upstream().await;
    let (gw, _rules) = common::gateway_with_rules(RULES, &format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let list = r#"{"jsonrpc":"2.0","id":"l1","method":"tools/list"}"#;
    // JSON answer.
    let r = post_json(gw.proxy_addr, "/mcp", list).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(
        v["result"]["tools"],
        serde_json::json!([{"name": "echo"}]),
        "shell_* denied by no-shell"
    );
    assert_eq!(v["result"]["nextCursor"], "p2");
    assert_eq!(
        r.headers
            .get("content-length")
            .map(|h| h.to_str().expect("ascii").to_string()),
        Some(r.body.len().to_string())
    );
    // SSE answer: the notification passes untouched, the result event is filtered.
    let r = post_json(gw.proxy_addr, "/sse/mcp", list).await;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    assert!(
        text.starts_with(
            "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\""
        ),
        "{text}"
    );
    assert!(text.contains("id: e1\n"), "{text}");
    assert!(text.contains(r#""tools":[{"name":"echo"}]"#), "{text}");
    assert!(!text.contains("shell"), "{text}");
    let m = common::metrics(&gw).await;
    assert_eq!(
        common::metric_value(&m, "sec0_gateway_tools_hidden_total{route=\"tools\"}"),
        Some(4.0),
        "{m}"
    );
}

#[tokio::test]
async fn refusal_codes_are_configurable_for_clients_that_expect_others() {
    let (up, hits) = Upstream::counting(|_| Response::new(common::full("{}"))).await;
    let (gw, _rules) = common::gateway_with_rules(RULES, &format!(
        "answers: {{ codes: {{ denied: 7001, escalated: 7002 }} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let denied = post_json(
        gw.proxy_addr,
        "/mcp",
        &call("1", "shell_exec", r#"{"cmd":"id"}"#),
    )
    .await
    .json();
    assert_eq!(denied["error"]["code"], 7001, "{denied}");
    let held = post_json(
        gw.proxy_addr,
        "/mcp",
        &call("2", "pay", r#"{"amount":5000}"#),
    )
    .await
    .json();
    assert_eq!(held["error"]["code"], 7002, "{held}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

//! The audit trail through the real proxy: every decision path (allow, deny, redact,
//! escalate, observe, response-side redaction, no policy) and every error answer (malformed,
//! unroutable, too large, upstream timeout after a decision) leaves exactly one record with
//! the right fields, in hash-chained, checkpoint-signed files that `audit verify` accepts;
//! rotation under load loses nothing; `audit run` prints one run's trajectory.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::{Upstream, audit_files, full, post_json};
use http::{Method, Response};
use http_body_util::BodyExt;
use sec0_gateway::audit::chain::public_key_from_pem_file;
use sec0_gateway::audit::verify::verify_file;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const RULES: &str = r#"version: 1
rules:
  - { id: no-shell, when: { tool: shell_exec }, decision: deny, reason: shell_forbidden }
  - { id: no-keys, when: { method: tools/call, findings: { detectors: secrets } }, decision: deny, reason: secret_in_arguments }
  - { id: mask-pii, when: { method: tools/call, findings: { detectors: pii, direction: request } }, decision: redact, reason: pii_in_arguments }
  - { id: mask-result-keys, when: { findings: { detectors: secrets, direction: response } }, decision: redact, reason: secret_in_result }
  - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves }
  - { id: try-delete, when: { tool: delete_all }, decision: deny, reason: destructive, mode: observe }
"#;

/// An MCP-ish upstream: answers a `tools/call` with a text result — a live-looking key for
/// `leak`, a late answer for `slow`, `ok` otherwise.
async fn tool_server() -> Upstream {
    tool_server_telling(Arc::new(tokio::sync::Notify::new())).await
}

/// [`tool_server`], notifying `slow_arrived` when a `slow` call has arrived.
async fn tool_server_telling(slow_arrived: Arc<tokio::sync::Notify>) -> Upstream {
    Upstream::start(move |req: http::Request<hyper::body::Incoming>| {
        let slow_arrived = slow_arrived.clone();
        async move {
        let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
        let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let tool = msg.pointer("/params/name").and_then(Value::as_str).unwrap_or("");
        if tool == "slow" {
            slow_arrived.notify_one();
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let text = if tool == "leak" { "key AKIAQYLPMN5HHHFPZAM2 here" } else { "ok" };
        let answer = json!({"jsonrpc": "2.0", "id": msg["id"], "result": {"content": [{"type": "text", "text": text}]}});
        let mut resp = Response::new(full(answer.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("hv"));
        resp
        }
    })
    .await
}

/// Every record of every file in `dir`, in file order (there must be files).
fn all_records(dir: &Path) -> Vec<Value> {
    assert!(
        !audit_files(dir).is_empty(),
        "no audit files in {}",
        dir.display()
    );
    common::audit_records(dir)
}

/// Verify every file with the test key, then return all records in order.
fn verified_records(dir: &Path) -> Vec<Value> {
    let keys = HashMap::from([(
        "audit-test".to_string(),
        public_key_from_pem_file(&common::test_key("audit-test.pub")).expect("key"),
    )]);
    for f in &audit_files(dir) {
        let v = verify_file(f, &keys, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.checkpoints >= 1);
    }
    all_records(dir)
}

fn call(id: u32, tool: &str, args: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": args}})
        .to_string()
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_path_and_error_answer_leaves_exactly_one_record() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let up = tool_server().await;
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {audit_dir:?} }}, signing_key: {:?}, checkpoint_every: 3 }}\n\
             context: {{ trusted_networks: [127.0.0.0/8] }}\n\
             limits: {{ max_request_body: 4KiB }}\n\
             upstreams: {{ u: {{ url: \"{}\", response_header_timeout: 500ms }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            common::test_key("audit-test.pem"),
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    // 1: allowed, with run and trace context (continued: loopback is a trusted network here).
    let allowed_body = call(1, "echo", json!({}));
    let allowed = common::send(
        addr,
        Method::POST,
        "/mcp",
        &[
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
            ("x-agent-ref", "run-7"),
            ("x-cause-span", "00f067aa0ba902b7"),
            ("traceparent", traceparent),
        ],
        Some(&allowed_body),
    )
    .await;
    assert_eq!(allowed.status, 200);
    // 2: denied by a rule; 3: denied on a finding; 4: redacted on the way up.
    let denied = post_json(addr, "/mcp", &call(2, "shell_exec", json!({}))).await;
    assert_eq!(denied.json()["error"]["code"], 4030);
    post_json(
        addr,
        "/mcp",
        &call(3, "send", json!({"k": "AKIAQYLPMN5HHHFPZAM2"})),
    )
    .await;
    post_json(
        addr,
        "/mcp",
        &call(4, "mail", json!({"to": "ann@example.com"})),
    )
    .await;
    // 5: escalated, nobody answers in the hold time, denied (4031).
    let escalated = post_json(addr, "/mcp", &call(5, "wire_money", json!({}))).await;
    assert_eq!(escalated.json()["error"]["code"], 4031);
    // 6: observe mode: would be denied, goes through.
    assert!(
        post_json(addr, "/mcp", &call(6, "delete_all", json!({})))
            .await
            .json()["result"]
            .is_object()
    );
    // 7: the result carries a key: allowed on the way up, redacted on the way back.
    let leaked = post_json(addr, "/mcp", &call(7, "leak", json!({}))).await;
    assert!(!String::from_utf8_lossy(&leaked.body).contains("AKIA"));
    // 8: allowed, then the upstream is too slow (one record: the decision, with the error).
    let slow = post_json(addr, "/mcp", &call(8, "slow", json!({}))).await;
    assert_eq!(slow.status, 504);
    // Errors without a decision: malformed, unroutable, too large.
    post_json(addr, "/mcp", "{not json").await;
    common::send(addr, Method::GET, "/nowhere", &[], None).await;
    let big = call(9, "echo", json!({"pad": "x".repeat(8 << 10)}));
    assert_eq!(post_json(addr, "/mcp", &big).await.status, 413);
    let metrics = common::metrics(&gw).await;
    gw.shutdown().await;

    let records = verified_records(&audit_dir);
    let all = serde_json::to_string(&records).expect("json");
    assert!(
        !all.contains("AKIAQYLPMN5HHHFPZAM2"),
        "no secret value in the audit trail"
    );
    assert!(
        !all.contains("ann@example.com"),
        "no personal data in the audit trail"
    );
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    let summary: Vec<(String, &str, &str, &str)> = decisions
        .iter()
        .map(|d| {
            (
                d["tool"].as_str().unwrap_or("-").to_string(),
                d["direction"].as_str().unwrap_or("-"),
                d["decision"].as_str().unwrap_or("-"),
                d["enforced"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    let expect =
        |t: &str, dir: &'static str, d: &'static str, e: &'static str| (t.to_string(), dir, d, e);
    let mut got = summary.clone();
    got.sort();
    let mut want = vec![
        expect("echo", "request", "allow", "allow"),
        expect("shell_exec", "request", "deny", "deny"),
        expect("send", "request", "deny", "deny"),
        expect("mail", "request", "redact", "redact"),
        expect("wire_money", "request", "escalate", "escalate"),
        expect("delete_all", "request", "deny", "allow"),
        expect("leak", "request", "allow", "allow"),
        expect("leak", "response", "redact", "redact"),
        expect("slow", "request", "allow", "allow"),
    ];
    want.sort();
    assert_eq!(got, want, "exactly one record per decision");
    let by_tool = |t: &str, dir: &str| -> &Value {
        decisions
            .iter()
            .find(|d| d["tool"] == t && d["direction"] == dir)
            .unwrap_or_else(|| panic!("no {dir} record of {t}"))
    };
    // Every field the schema promises, on the allowed call.
    let a = by_tool("echo", "request");
    for (k, v) in [
        ("schema", json!(1)),
        ("route", json!("tools")),
        ("boundary", json!("agent_to_tool")),
        ("upstream", json!("u")),
        ("protocol", json!("mcp")),
        ("method", json!("tools/call")),
        ("mode", json!("enforce")),
        ("http_status", json!(200)),
        ("outcome", json!("complete")),
        ("run_id", json!("run-7")),
        ("parent_hop", json!("00f067aa0ba902b7")),
        ("trace_id", json!("4bf92f3577b34da6a3ce929d0e0e4736")),
        ("redactions", json!(0)),
        ("findings", json!([])),
        ("rules", json!([])),
    ] {
        assert_eq!(a[k], v, "{k} in {a}");
    }
    assert_eq!(a["request_sha256"], sha256(allowed_body.as_bytes()));
    assert_eq!(a["response_sha256"], sha256(&allowed.body));
    assert_eq!(a["bytes_in"], allowed_body.len());
    assert_eq!(a["bytes_out"], allowed.body.len());
    let lat = &a["latency_us"];
    let (total, upstream) = (
        lat["total"].as_u64().expect("total"),
        lat["upstream"].as_u64().expect("upstream"),
    );
    assert!(
        total >= upstream && lat["policy"].as_u64().is_some(),
        "{lat}"
    );
    assert_eq!(a["hop_id"].as_str().map(str::len), Some(16));
    assert_eq!(a["decision_id"].as_str().map(str::len), Some(32));
    assert!(a["policy_version"].as_str().is_some_and(|v| v.len() == 16));
    assert!(a["record_id"].as_str().is_some_and(|v| !v.is_empty()));
    // Refusals carry the JSON-RPC code the client got.
    let shell = by_tool("shell_exec", "request");
    assert_eq!(
        (shell["jsonrpc_code"].as_i64(), shell["reason"].as_str()),
        (Some(4030), Some("shell_forbidden"))
    );
    assert_eq!(shell["rules"], json!(["no-shell"]));
    assert_eq!(
        by_tool("send", "request")["findings"][0]["type"],
        "aws_access_key_id"
    );
    assert_eq!(
        by_tool("send", "request")["findings"][0]["path"],
        "$.params.arguments.k"
    );
    let mail = by_tool("mail", "request");
    assert_eq!(
        (mail["redactions"].as_u64(), mail["jsonrpc_code"].as_i64()),
        (Some(1), None)
    );
    let wire = by_tool("wire_money", "request");
    assert_eq!(wire["jsonrpc_code"], 4031);
    assert_eq!(
        wire["escalation"],
        json!({"id": wire["decision_id"], "outcome": "deny", "state": "expired"})
    );
    assert_eq!(by_tool("delete_all", "request")["mode"], "observe");
    let leak_back = by_tool("leak", "response");
    assert_eq!(leak_back["findings"][0]["path"], "$.result.content[0].text");
    assert_eq!(
        leak_back["hop_id"],
        by_tool("leak", "request")["hop_id"],
        "both directions name the same hop"
    );
    let slow_rec = by_tool("slow", "request");
    assert_eq!(
        (slow_rec["http_status"].as_u64(), slow_rec["error"].as_str()),
        (Some(504), Some("upstream_timeout"))
    );
    assert_eq!(slow_rec["jsonrpc_code"], Value::Null);
    // Errors without a decision: their own records.
    let errors: Vec<(&str, u64, Option<i64>)> = records
        .iter()
        .filter(|r| r["kind"] == "error")
        .map(|r| {
            (
                r["reason"].as_str().unwrap_or(""),
                r["http_status"].as_u64().unwrap_or(0),
                r["jsonrpc_code"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("parse_error", 400, Some(-32700)),
            ("no_route", 404, None),
            ("body_too_large", 413, Some(-32600))
        ]
    );
    let ids: HashSet<&str> = records
        .iter()
        .filter_map(|r| r["record_id"].as_str())
        .collect();
    assert_eq!(ids.len(), records.len(), "record ids are unique");
    let last = records.last().expect("records");
    assert_eq!(
        (last["kind"].as_str(), last["reason"].as_str()),
        (Some("checkpoint"), Some("shutdown"))
    );
    assert!(
        common::metric_value(
            &metrics,
            "sec0_gateway_audit_records_total{result=\"written\",sink=\"file\"}"
        )
        .is_some_and(|v| v >= 9.0),
        "{metrics}"
    );
    assert!(metrics.contains("sec0_gateway_audit_queue_depth"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_policy_are_recorded_and_runs_can_be_replayed() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let up = tool_server().await;
    let gw = common::gateway(&format!(
        "audit: {{ file: {{ dir: {audit_dir:?} }}, signing_key: {:?} }}\n\
         context: {{ trusted_networks: [127.0.0.0/8] }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        common::test_key("audit-test.pem"),
        up.url()
    ))
    .await;
    for (n, tool) in ["plan", "search", "write"].iter().enumerate() {
        let body = call(n as u32, tool, json!({}));
        common::send(
            gw.proxy_addr,
            Method::POST,
            "/mcp",
            &[
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("x-sec0-run-id", "run-a"),
            ],
            Some(&body),
        )
        .await;
    }
    post_json(gw.proxy_addr, "/mcp", &call(9, "elsewhere", json!({}))).await;
    gw.shutdown().await;
    let records = verified_records(&audit_dir);
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(
        decisions.len(),
        4,
        "one record per call even without a policy"
    );
    assert!(
        decisions
            .iter()
            .all(|d| d["reason"] == "no_policy" && d["decision"] == "allow")
    );

    let files = audit_files(&audit_dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args(["audit", "run", "run-a"])
        .args(&files)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let steps: Vec<&str> = text.lines().collect();
    assert_eq!(steps.len(), 3, "{text}");
    assert!(
        steps[0].contains("POST") && steps[0].contains("allow") && steps[0].contains("200"),
        "{text}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args(["audit", "run", "no-such-run"])
        .args(&files)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no records of run"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let up = tool_server().await;
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {audit_dir:?} }}, signing_key: {:?}, max_file_size: 32KiB, checkpoint_every: 50, queue: 64 }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            common::test_key("audit-test.pem"),
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let (workers, each) = (8u32, 100u32);
    let mut tasks = Vec::new();
    for w in 0..workers {
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let tool = if i % 5 == 0 { "shell_exec" } else { "echo" };
                let a = post_json(addr, "/mcp", &call(w * 1000 + i, tool, json!({"w": w}))).await;
                assert_eq!(a.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    gw.shutdown().await;
    let files = audit_files(&audit_dir);
    assert!(files.len() >= 4, "rotated by size: {} files", files.len());
    let records = verified_records(&audit_dir);
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(
        decisions.len() as u32,
        workers * each,
        "every call recorded once"
    );
    let ids: HashSet<&str> = decisions
        .iter()
        .filter_map(|r| r["decision_id"].as_str())
        .collect();
    assert_eq!(
        ids.len() as u32,
        workers * each,
        "no decision recorded twice"
    );
    let denied = decisions.iter().filter(|d| d["decision"] == "deny").count() as u32;
    assert_eq!(denied, workers * each / 5);
    let rotations = records.iter().filter(|r| r["reason"] == "rotation").count();
    assert_eq!(
        rotations,
        files.len() - 1,
        "every file but the last ends in a rotation checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_admin_request_is_an_audit_event() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "s3cr3t-admin-token-0123456789\n").expect("token");
    let up = tool_server().await;
    let yaml = format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0, token_file: {token:?} }}\n\
         audit: {{ file: {{ dir: {audit_dir:?} }}, signing_key: {:?} }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ upstream: u, protocol: http, boundary: tool_to_api }}\n",
        common::test_key("audit-test.pem"),
        up.url()
    );
    let cfg = sec0_gateway::config::load_from_str(&yaml, "<test>", Some(Default::default()))
        .expect("config");
    let gw = sec0_gateway::Gateway::start(cfg).await.expect("start");
    let refused = common::send(
        gw.admin_addr,
        Method::POST,
        "/v1/reload",
        &[("authorization", "Bearer guess")],
        None,
    )
    .await;
    assert_eq!(refused.status, 401);
    let fine = common::send(
        gw.admin_addr,
        Method::GET,
        "/metrics",
        &[("authorization", "Bearer s3cr3t-admin-token-0123456789")],
        None,
    )
    .await;
    assert_eq!(fine.status, 200);
    gw.shutdown().await;
    let records = verified_records(&audit_dir);
    let refusals: Vec<&Value> = records.iter().filter(|r| r["kind"] == "error").collect();
    assert_eq!(refusals.len(), 1, "the refused request only: {refusals:?}");
    let r = refusals[0];
    assert_eq!(
        (
            r["route"].as_str(),
            r["reason"].as_str(),
            r["http_status"].as_u64(),
            r["method"].as_str()
        ),
        (Some("admin"), Some("unauthorized"), Some(401), Some("POST"))
    );
    let all = serde_json::to_string(&records).expect("json");
    assert!(
        !all.contains("guess") && !all.contains("s3cr3t"),
        "no presented or real token in the trail"
    );
}

#[test]
fn the_stdout_sink_prints_chained_records_of_the_real_binary() {
    use std::io::BufRead;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let up = rt.block_on(tool_server());
    let mut gw = common::GatewayProcess::start(&format!(
        "audit: {{ stdout: true }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ));
    let addr = gw.proxy_addr;
    rt.block_on(async {
        for i in 0..3 {
            assert_eq!(
                post_json(addr, "/mcp", &call(i, "echo", json!({})))
                    .await
                    .status,
                200
            );
        }
    });
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let lines: Vec<Value> = std::io::BufReader::new(gw.stdout.take().expect("stdout"))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("every stdout line is a record"))
        .collect();
    let kinds: Vec<&str> = lines.iter().filter_map(|r| r["kind"].as_str()).collect();
    assert_eq!(
        kinds,
        ["decision", "decision", "decision", "checkpoint"],
        "{lines:?}"
    );
    // The same chain a file would hold: seq from 0, each linked to the one before.
    for (n, r) in lines.iter().enumerate() {
        assert_eq!(r["seq"], n);
        if n > 0 {
            assert_eq!(r["prev_hash"], lines[n - 1]["hash"]);
        }
    }
    assert_eq!(lines[3]["reason"], "shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_calls_while_the_trail_cannot_take_their_records() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let slow_arrived = Arc::new(tokio::sync::Notify::new());
    let up = tool_server_telling(slow_arrived.clone()).await;
    // One queue slot: a call holds it from its decision until its answer ends.
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {audit_dir:?} }}, queue: 1, on_full: fail_closed }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let held =
        tokio::spawn(async move { post_json(addr, "/mcp", &call(1, "slow", json!({}))).await });
    // Forwarded means decided: the slot is taken.
    common::within("the slow call upstream", slow_arrived.notified()).await;
    let refused = post_json(addr, "/mcp", &call(2, "echo", json!({}))).await;
    assert_eq!(
        refused.status,
        503,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    let body = refused.json();
    assert_eq!(body["id"], 2, "the refusal echoes the call's id");
    assert_eq!(body["error"]["data"]["reason"], "audit_unavailable");
    assert_eq!(held.await.expect("held call").status, 200);
    // The held call's record frees its slot when the writer takes it from the queue, which
    // is before the record reaches the file: wait for the file (progress, not a fixed time).
    common::within("the held call's record in the audit file", async {
        while !common::audit_files(&audit_dir)
            .iter()
            .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(r#""tool":"slow""#)))
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Room again: calls go through.
    assert_eq!(
        post_json(addr, "/mcp", &call(3, "echo", json!({})))
            .await
            .status,
        200
    );
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(
            &m,
            "sec0_gateway_audit_records_total{result=\"failed\",sink=\"queue\"}"
        )
        .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    gw.shutdown().await;
    let records = all_records(&audit_dir);
    let tools: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "decision")
        .filter_map(|r| r["tool"].as_str())
        .collect();
    assert_eq!(
        tools,
        ["slow", "echo"],
        "the refused call was not forwarded, so it has no decision record"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_client_abandons_is_recorded_as_aborted() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    // An upstream that answers with one SSE event and then keeps the stream open.
    let senders = Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = senders.clone();
    let up = Upstream::start(move |_req| {
        let keep = keep.clone();
        async move {
            let (tx, body) = common::channel_body();
            tx.send(common::sse_event(
                r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#,
            ))
            .await
            .expect("first event");
            keep.lock().expect("senders").push(tx);
            let mut resp = Response::new(body);
            resp.headers_mut()
                .insert("content-type", "text/event-stream".parse().expect("hv"));
            resp
        }
    })
    .await;
    let gw = common::gateway(&format!(
        "audit: {{ file: {{ dir: {audit_dir:?} }} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    let req = http::Request::post(format!("http://{}/mcp", gw.proxy_addr))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(full(call(1, "long", json!({}))))
        .expect("request");
    let resp = common::client().request(req).await.expect("response");
    let mut body = resp.into_body();
    let first = common::within("the first event", body.frame()).await;
    assert!(first.is_some_and(|f| f.is_ok()), "one event arrives");
    drop(body); // the client goes away mid-stream
    // The record is sent as soon as the gateway notices; shutdown flushes it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.shutdown().await;
    let records = all_records(&audit_dir);
    let d: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["outcome"], "aborted");
    assert!(
        d[0]["bytes_out"].as_u64().is_some_and(|n| n > 0),
        "{}",
        d[0]
    );
    assert_eq!(
        d[0]["response_sha256"],
        Value::Null,
        "no hash of a cut answer"
    );
    drop(senders);
}

/// A client that goes away while the gateway waits for the upstream's answer (the call was
/// decided and forwarded, no response head exists yet) still leaves the decision's record —
/// aborted, without a status, as the metrics counted it. The soak (`benches/soak.sh`) found
/// such calls missing from the trail: the dropped request took its pending record with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_client_abandons_before_its_answer_is_still_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    // An upstream that takes the call and never answers it.
    let arrived = Arc::new(tokio::sync::Notify::new());
    let tell = arrived.clone();
    let up = Upstream::start(move |_req| {
        let tell = tell.clone();
        async move {
            tell.notify_one();
            std::future::pending::<Response<sec0_gateway::forward::body::ProxyBody>>().await
        }
    })
    .await;
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {audit_dir:?} }} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let body = call(7, "long", json!({}));
    let mut client = tokio::net::TcpStream::connect(gw.proxy_addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut client, format!("{head}{body}").as_bytes())
        .await
        .expect("send");
    common::within("the call to reach the upstream", arrived.notified()).await;
    drop(client); // the client goes away before any answer
    // The gateway notices (the request is no longer in flight), then shutdown flushes the trail.
    common::within("the abandoned call to end", async {
        loop {
            let m = common::metrics(&gw).await;
            if common::metric_value(&m, "sec0_gateway_in_flight_requests") == Some(0.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let m = common::metrics(&gw).await;
    let counted: f64 = m
        .lines()
        .filter(|l| l.starts_with("sec0_gateway_decisions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    gw.shutdown().await;
    let records = all_records(&audit_dir);
    let d: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(d.len(), 1, "{records:?}");
    assert_eq!(counted, 1.0, "one decision counted, one recorded");
    assert_eq!(d[0]["outcome"], "aborted", "{}", d[0]);
    assert_eq!(
        d[0]["http_status"],
        Value::Null,
        "no answer was sent: {}",
        d[0]
    );
    assert_eq!(d[0]["decision"], "allow");
}

//! Learning through the real proxy: 600 labelled calls of the hard trace (every
//! tool call escalated by rule; agents identified by API keys; runs continued by header)
//! go through a gateway one at a time while a reviewer answers every held escalation
//! through the admin API from the call's label. The proxy must decide every call exactly as
//! `sec0-gateway replay` decides it for the same trace (same features, findings, run flags,
//! levels, confidence), and hold the three figures: no unsafe call allowed without review
//! beyond 1%, no safe call denied beyond 1%, and fewer escalations at the end than at the
//! start.

use crate::common;

use std::time::Duration;

use common::{Upstream, gateway_with_rules};
use http::Method;
use sec0_gateway::policy::{DecisionKind, Policy};
use sec0_gateway::review::learn::LearnConfig;
use sec0_gateway::review::replay::{self, Label, TraceCall, generate};
use serde_json::json;

const RULES: &str = "version: 1\nrules:\n  - { id: review-every-call, when: { method: tools/call }, decision: escalate, reason: needs_review }\n";
/// Spot checks off: the proxy's decisions must equal the replay's call for call.
const LEARN: &str = "learn: { spot_checks: { rate: 0, young_rate: 0, deny_rate: 0 } }";

/// What one call got through the proxy.
async fn through_proxy(gw: &sec0_gateway::RunningGateway, n: usize, c: &TraceCall) -> DecisionKind {
    let body = json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": c.tool, "arguments": c.args}}).to_string();
    let key = format!("key-{}", c.caller);
    let run = c.run.clone().unwrap_or_else(|| format!("run-single-{n}"));
    let addr = gw.proxy_addr;
    let mut call = tokio::spawn(async move {
        let headers = [
            ("x-api-key", key.as_str()),
            ("x-sec0-run-id", run.as_str()),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ];
        common::send(addr, Method::POST, "/mcp", &headers, Some(&body)).await
    });
    let mut reviewed = false;
    let answer = loop {
        tokio::select! {
            done = &mut call => break done.expect("call"),
            () = tokio::time::sleep(Duration::from_millis(5)), if !reviewed => {
                let pending = common::pending_escalations(gw.admin_addr).await;
                if let Some(e) = pending.first() {
                    let id = e["id"].as_str().expect("id").to_string();
                    let verb = if c.label == Label::Safe { "approve" } else { "reject" };
                    let a = common::answer_escalation(gw.admin_addr, &id, verb, r#"{"reviewer":"replayer"}"#).await;
                    assert_eq!(a.status, 200, "call {n}: {}", String::from_utf8_lossy(&a.body));
                    reviewed = true;
                }
            }
        }
    };
    let v = answer.json();
    match (reviewed, v["error"]["code"].as_i64()) {
        (true, _) => DecisionKind::Escalate,
        (false, None) if v["result"]["content"][0]["text"] == "done" => DecisionKind::Allow,
        (false, Some(_)) if v["error"]["data"]["reason"] == "precedent" => DecisionKind::Deny,
        other => panic!("call {n}: unexpected answer {other:?}: {v}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_learns_as_replay_does_and_holds_the_figures() {
    // The hard trace's first 600 calls; the tool server declares each tool's annotations
    // in `tools/list`, which the gateway reads (the replay takes them from the trace).
    let calls = generate::hard(600, 7);
    let mut tools: Vec<serde_json::Value> = Vec::new();
    for c in &calls {
        if !tools.iter().any(|t| t["name"] == c.tool.as_str()) {
            let mut t =
                json!({"name": c.tool, "description": "a tool", "inputSchema": {"type": "object"}});
            if let Some(a) = &c.annotations {
                t["annotations"] = serde_json::to_value(a).expect("annotations");
            }
            tools.push(t);
        }
    }
    let mut callers: Vec<&str> = calls.iter().map(|c| c.caller.as_str()).collect();
    callers.sort_unstable();
    callers.dedup();
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("api-keys");
    let lines: String = callers
        .iter()
        .map(|c| {
            use sha2::Digest;
            format!(
                "{} {c}\n",
                hex::encode(sha2::Sha256::digest(format!("key-{c}")))
            )
        })
        .collect();
    std::fs::write(&keys, lines).expect("keys");
    let (up, _) = Upstream::counting(move |body| {
        let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let result = if req["method"] == "tools/list" {
            json!({ "tools": tools })
        } else {
            json!({ "content": [{ "type": "text", "text": "done" }] })
        };
        let answer = json!({"jsonrpc": "2.0", "id": req["id"], "result": result});
        let mut resp = http::Response::new(common::full(answer.to_string()));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("hv"));
        resp
    })
    .await;
    let (gw, _rules) = gateway_with_rules(
        RULES,
        &format!(
            "escalation: {{ hold_timeout: 30s }}\n{LEARN}\nidentity: {{ api_keys: {{ file: {keys:?} }} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [api_key], anonymous: false }} }}\n",
            up.url()
        ),
    )
    .await;

    // The agents list the tools first (the gateway learns their annotations).
    let list = json!({"jsonrpc": "2.0", "id": "l", "method": "tools/list"}).to_string();
    let listed = common::send(
        gw.proxy_addr,
        Method::POST,
        "/mcp",
        &[
            ("x-api-key", "key-planner"),
            ("content-type", "application/json"),
            ("accept", "application/json, text/event-stream"),
        ],
        Some(&list),
    )
    .await;
    assert!(
        listed.json()["result"]["tools"].is_array(),
        "{}",
        listed.json()
    );
    let mut got = Vec::with_capacity(calls.len());
    for (n, c) in calls.iter().enumerate() {
        got.push(common::within("a call to be decided", through_proxy(&gw, n, c)).await);
    }

    let policy = Policy::from_sources(
        &[(std::path::PathBuf::from("rules.yaml"), RULES.to_string())],
        sec0_gateway::policy::Mode::Enforce,
    )
    .expect("rules");
    let learn = LearnConfig {
        spot_checks: sec0_gateway::review::learn::SpotChecks {
            rate: 0.0,
            young_rate: 0.0,
            deny_rate: 0.0,
            flow: sec0_gateway::review::learn::SpotFlow::Escalate,
        },
        ..LearnConfig::default()
    };
    let report = replay::replay(&policy, learn, &calls, 100, 1);
    if let Some(n) = (0..calls.len()).find(|&n| got[n] != report.decisions[n]) {
        panic!(
            "call {n} ({} by {}): the proxy decided {:?}, replay {:?}\n{}",
            calls[n].tool,
            calls[n].caller,
            got[n],
            report.decisions[n],
            replay::table(&report)
        );
    }
    let t = report.total();
    println!("{}", replay::table(&report));
    assert!(t.unsafe_calls > 10, "the trace has unsafe calls: {t:?}");
    assert!(
        report.unsafe_allowed_share() <= 1.0,
        "{}",
        replay::table(&report)
    );
    assert!(
        report.safe_denied_share() <= 1.0,
        "{}",
        replay::table(&report)
    );
    let first = report.windows[0].escalated_share();
    let last = report.last(100).escalated_share();
    assert!(
        first >= 90.0 && last < first - 30.0,
        "escalations fall: {first}% → {last}%"
    );
    // What the gateway learned is listed with its level and evidence.
    let list = common::send(gw.admin_addr, Method::GET, "/v1/precedents", &[], None)
        .await
        .json();
    let precedents = list["precedents"].as_array().cloned().unwrap_or_default();
    assert!(!precedents.is_empty(), "{list}");
    for p in &precedents {
        assert!(
            p["level"].is_string() && p["confidence"].is_number() && p["approvals"].is_number(),
            "{p}"
        );
    }
}

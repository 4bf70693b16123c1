//! The audit trail through the real proxy: every decision (and every call the gateway
//! answered with an error itself) leaves one record in hash-chained, checkpoint-signed files
//! that `audit verify` accepts after a graceful shutdown.

mod common;

use std::collections::HashMap;

use common::{Upstream, post_json};
use http::Method;
use sec0_gateway::audit::chain::public_key_from_pem_file;
use sec0_gateway::audit::verify::verify_file;
use serde_json::Value;

const RULES: &str = "version: 1\nrules:\n  - { id: no-shell, when: { tool: shell_exec }, decision: deny, reason: shell_forbidden }\n  - { id: no-keys, when: { method: tools/call, findings: { detectors: secrets } }, decision: deny, reason: secret_in_arguments }\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_decision_and_error_answer_leaves_one_verifiable_record() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let private = common::test_key("audit-test.pem");
    let public = common::test_key("audit-test.pub");
    let up = Upstream::echo("up").await;
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {:?} }}, signing_key: {:?}, checkpoint_every: 3 }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            audit_dir,
            private,
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let call = |id: u32, tool: &str, args: &str| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{args}}}}}"#
        )
    };
    post_json(addr, "/mcp", &call(1, "echo", "{}")).await;
    post_json(addr, "/mcp", &call(2, "shell_exec", "{}")).await;
    post_json(
        addr,
        "/mcp",
        &call(3, "send", r#"{"k":"AKIAIOSFODNN7EXAMPLE"}"#),
    )
    .await;
    post_json(addr, "/mcp", "{not json").await;
    common::send(addr, Method::GET, "/nowhere", &[], None).await;
    gw.shutdown().await;

    let keys = HashMap::from([(
        "audit-test".to_string(),
        public_key_from_pem_file(&public).expect("key"),
    )]);
    let mut records: Vec<Value> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&audit_dir)
        .expect("audit dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in &files {
        let v = verify_file(f, &keys, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.checkpoints >= 1);
        for line in std::fs::read_to_string(f).expect("read").lines() {
            records.push(serde_json::from_str(line).expect("json"));
        }
    }
    let decisions: Vec<&Value> = records.iter().filter(|r| r["kind"] == "decision").collect();
    assert_eq!(decisions.len(), 3, "one record per decision: {decisions:?}");
    assert_eq!(
        (
            decisions[0]["tool"].as_str(),
            decisions[0]["decision"].as_str()
        ),
        (Some("echo"), Some("allow"))
    );
    assert_eq!(decisions[1]["reason"], "shell_forbidden");
    assert_eq!(decisions[1]["rules"], serde_json::json!(["no-shell"]));
    assert_eq!(decisions[2]["reason"], "secret_in_arguments");
    assert_eq!(decisions[2]["findings"][0]["type"], "aws_access_key_id");
    assert_eq!(decisions[2]["findings"][0]["path"], "$.params.arguments.k");
    for d in &decisions {
        assert_eq!(d["schema"], 1);
        assert_eq!(d["route"], "tools");
        assert_eq!(d["boundary"], "agent_to_tool");
        assert_eq!(d["decision_id"].as_str().map(str::len), Some(32));
        assert!(d["policy_version"].as_str().is_some_and(|v| v.len() == 16));
    }
    let all = serde_json::to_string(&records).expect("json");
    assert!(
        !all.contains("AKIAIOSFODNN7EXAMPLE"),
        "no secret value in the audit trail"
    );
    let errors: Vec<(&str, u64)> = records
        .iter()
        .filter(|r| r["kind"] == "error")
        .map(|r| {
            (
                r["reason"].as_str().unwrap_or(""),
                r["http_status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(errors, vec![("parse_error", 400), ("no_route", 404)]);
    let last = records.last().expect("records");
    assert_eq!(last["kind"], "checkpoint");
    assert_eq!(last["reason"], "shutdown");
}

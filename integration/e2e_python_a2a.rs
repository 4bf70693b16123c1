//! End to end with the official A2A Python SDK (`a2a-sdk` 1.x from PyPI) on both sides: an
//! agent served by the SDK (JSON-RPC, v1.0 and v0.3 on one endpoint) behind the gateway, and
//! the SDK's client finding it through its agent card (served through the gateway too).
//! Both protocol generations and both send modes (plain and streaming): allowed messages get
//! the agent's answer; a message a rule refuses surfaces in the client as an error carrying
//! our code and reason, and the next message works.

use crate::common;

use common::peers::{python_script, python_with_a2a, run_client, start_a2a_agent};
use tokio::process::Command;

const RULES: &str = r#"
version: 1
rules:
  - id: no-wires-by-message
    when:
      protocol: a2a
      agent: payments
      method: [ message/send, message/stream ]
      text: [ { contains: "wire transfer" } ]
    decision: deny
    reason: wire_by_message
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_a2a_client_and_agent_through_the_gateway() {
    let Some(py) = python_with_a2a("e2e_python_a2a") else {
        return;
    };
    let agent_port = common::closed_port();
    let (gw, _rules) = common::gateway_with_rules(
        RULES,
        &format!(
            "upstreams: {{ agent: {{ url: \"http://127.0.0.1:{agent_port}\" }} }}\nroutes:\n  - {{ name: pay, path_prefix: /a2a, upstream: agent, protocol: a2a, boundary: agent_to_agent, agent: payments }}\n  - {{ name: card, path_prefix: /.well-known, upstream: agent, protocol: http, boundary: agent_to_agent }}\n"
        ),
    )
    .await;
    let base = format!("http://{}", gw.proxy_addr);
    let _agent = start_a2a_agent(&py, agent_port, &format!("{base}/a2a/jsonrpc")).await;

    for version in ["1.0", "0.3"] {
        for mode in ["send", "stream"] {
            let mut cmd = Command::new(&py);
            cmd.arg(python_script("a2a_client.py"))
                .args([&base, version, mode])
                .args(["hello", "please do a wire transfer of 9000", "still there?"]);
            let v = run_client(cmd).await;
            let what = format!("v{version} {mode}: {v}");
            assert_eq!(v["agent"], "payments", "{what}");
            let results = v["results"].as_array().expect("results");
            assert_eq!(
                results[0]["replies"],
                serde_json::json!(["echo: hello"]),
                "{what}"
            );
            let refused = results[1]["error"].as_str().unwrap_or_default();
            assert!(
                refused.contains("denied by policy: wire_by_message"),
                "the SDK raised our refusal: {what}"
            );
            // The v1.0 client names the JSON-RPC code; the v0.3 compat client only the message.
            if version == "1.0" {
                assert!(refused.contains("4030"), "{what}");
            }
            assert_eq!(results[1].get("replies"), None, "{what}");
            assert_eq!(
                results[2]["replies"],
                serde_json::json!(["echo: still there?"]),
                "the next message works: {what}"
            );
        }
    }
    let m = common::metrics(&gw).await;
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_agent",
            "deny",
            "enforce",
            "wire_by_message",
            "pay"
        ),
        Some(4.0),
        "one refusal per generation and mode: {m}"
    );
}

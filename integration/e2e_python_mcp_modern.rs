//! End to end in the stateless MCP era (2026-07-28) with the official Python SDK 2.x on both
//! sides: every request carries its protocol version in `_meta` and the mirrored
//! `Mcp-Method` / `Mcp-Name` / `MCP-Protocol-Version` headers, which the gateway checks
//! against the body before deciding on the body. A pinned modern client and an `auto` client
//! (probes `server/discover` first) both see the never-callable tool hidden, a denied call as
//! one MCP error with our code and reason, and the next call work.

use crate::common;

use common::peers::{python_mcp2, python_script, run_client, start_python_server};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_2_in_the_stateless_era() {
    let Some(py) = python_mcp2("e2e_python_mcp_modern") else {
        return;
    };
    let port = common::closed_port();
    let _server =
        start_python_server(&py, "modern/peer.py", &["server", &port.to_string()], port).await;
    // Observe-only: counts the calls that arrive with the mirrored headers (checked against
    // the body, so a header rule cannot be fooled).
    let rules = format!(
        "{}  - id: mirrored\n    mode: observe\n    when: {{ method: tools/call, headers: {{ mcp-method: tools/call, mcp-name: add, mcp-protocol-version: \"2026-07-28\" }} }}\n    decision: deny\n    reason: seen_mirrored\n",
        common::peers::DENY_RULES
    );
    let (gw, _rules) = common::gateway_with_rules(
        &rules,
        &format!("upstreams: {{ mcp2: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: mcp2, protocol: mcp, boundary: agent_to_tool }}\n"),
    )
    .await;
    for mode in ["2026-07-28", "auto"] {
        let mut cmd = Command::new(&py);
        cmd.arg(python_script("modern/peer.py")).args([
            "client",
            &format!("http://{}/mcp", gw.proxy_addr),
            mode,
        ]);
        let v = run_client(cmd).await;
        let what = format!("mode {mode}: {v}");
        assert_eq!(v["protocol_version"], "2026-07-28", "{what}");
        assert_eq!(
            v["tools"],
            serde_json::json!(["add"]),
            "shell_exec hidden: {what}"
        );
        assert_eq!(v["add"], "42", "{what}");
        let refusal = &v["refusal"];
        assert_eq!(refusal["raised"], true, "the SDK raised MCPError: {what}");
        assert_eq!(refusal["code"], 4030, "{what}");
        assert_eq!(
            refusal["message"], "denied by policy: unlucky_number",
            "{what}"
        );
        assert_eq!(refusal["data"]["rules"][0], "no-thirteen", "{what}");
        assert_eq!(v["after"], "2", "the next call works: {what}");
    }
    let m = common::metrics(&gw).await;
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_tool",
            "deny",
            "enforce",
            "unlucky_number",
            "tools"
        ),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        common::decisions(
            &m,
            "agent_to_tool",
            "deny",
            "observe",
            "seen_mirrored",
            "tools"
        ),
        Some(4.0),
        "every allowed add call carried agreeing mirrored headers: {m}"
    );
}

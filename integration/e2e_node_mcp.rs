//! End to end with the official TypeScript MCP SDK (`@modelcontextprotocol/sdk` from npm)
//! client, through the gateway, to the official Python SDK's FastMCP server: a denied call
//! surfaces in the client as an MCP error for that one call with our code and reason, the
//! session stays usable, and the tool no caller may use is not listed; on a route with
//! `soft_deny` the same denial arrives as a tool result with `isError: true`.
//!
//! The TypeScript peer lives in `integration/node/node_modules` (made by `integration/run`
//! with `npm ci`). Without Node or Python the test says SKIPPED loudly; under CI (`CI` set)
//! a missing peer fails it.

use crate::common;

use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_typescript_client_sees_a_denial_as_one_failed_call() {
    let sdk = common::peers::root()
        .join("integration/node/node_modules/@modelcontextprotocol/sdk/package.json");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !sdk.exists() {
        return common::peers::missing(
            "e2e_node_mcp",
            "node or @modelcontextprotocol/sdk is not installed (run integration/run)",
        );
    }
    // The upstream is the Python SDK's FastMCP server.
    let Some(py) = common::peers::python("e2e_node_mcp") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "streamable-http").await;
    let (gw, _rules) = common::gateway_with_rules(
        common::peers::DENY_RULES,
        &format!("upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n  - {{ path_prefix: /soft, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool, soft_deny: true, rewrite_prefix: /mcp }}\n"),
    )
    .await;

    let mut cmd = Command::new("node");
    cmd.arg(common::peers::root().join("integration/node/client.mjs"))
        .arg(format!("http://{}/mcp", gw.proxy_addr));
    let v = common::peers::run_client(cmd).await;

    let refusal = &v["refusal"];
    assert_eq!(
        refusal["raised"], true,
        "the SDK raised McpError for the denied call: {v}"
    );
    assert_eq!(refusal["code"], 4030);
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("denied by policy: unlucky_number")),
        "{v}"
    );
    assert_eq!(refusal["data"]["reason"], "unlucky_number");
    assert_eq!(
        v["tools"],
        serde_json::json!(["add", "contact", "count_slowly"]),
        "shell_exec hidden: {v}"
    );
    assert_eq!(v["add"], "42", "the session stayed usable: {v}");
    assert_eq!(v["add_is_error"], false);

    // With `soft_deny` the model reads the refusal as the tool's (failed) result.
    let mut cmd = Command::new("node");
    cmd.arg(common::peers::root().join("integration/node/client.mjs"))
        .arg(format!("http://{}/soft", gw.proxy_addr));
    let v = common::peers::run_client(cmd).await;
    common::peers::assert_soft_denial(&v);
    assert_eq!(v["add"], "42", "the session stayed usable: {v}");
}

//! End to end with the official TypeScript MCP SDK (`@modelcontextprotocol/sdk` from npm)
//! client, through the gateway, to the official Python SDK's FastMCP server: a denied call
//! surfaces in the client as an MCP error for that one call with our code and reason, the
//! session stays usable, and the tool no caller may use is not listed.
//!
//! The TypeScript peer lives in `integration/node/node_modules` (made by `integration/run`
//! with `npm ci`). Without Node or Python the test says SKIPPED loudly; under CI (`CI` set)
//! a missing peer fails it.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

fn peer_missing(msg: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n*** SKIPPED e2e_node_mcp: {msg} ***\n");
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_typescript_client_sees_a_denial_as_one_failed_call() {
    let sdk = root().join("integration/node/node_modules/@modelcontextprotocol/sdk/package.json");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !sdk.exists() {
        return peer_missing(
            "node or @modelcontextprotocol/sdk is not installed (run integration/run)",
        );
    }
    let py = std::env::var_os("SEC0_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"));
    if !std::process::Command::new(&py)
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return peer_missing(
            "the Python MCP SDK (the upstream server) is not installed (run integration/run)",
        );
    }

    let port = common::closed_port();
    let _server = Command::new(&py)
        .arg(root().join("integration/python/server.py"))
        .arg(port.to_string())
        .arg("streamable-http")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start FastMCP server");
    common::within("FastMCP server to listen", async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;

    let mut rules = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("tempfile");
    std::io::Write::write_all(
        &mut rules,
        b"version: 1\nrules:\n  - id: no-thirteen\n    when: { method: tools/call, tool: add, args: [ { path: \"$.a\", equals: 13 } ] }\n    decision: deny\n    reason: unlucky_number\n  - id: no-shell\n    when: { tool: \"shell_*\" }\n    decision: deny\n    reason: shell_forbidden\n",
    )
    .expect("write rules");
    let gw = common::gateway(&format!(
        "policy: {{ rules: {:?} }}\nupstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n",
        rules.path()
    ))
    .await;

    let out = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new("node")
            .arg(root().join("integration/node/client.mjs"))
            .arg(format!("http://{}/mcp", gw.proxy_addr))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("client finished in time")
    .expect("client ran");
    assert!(
        out.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("client output ({e}): {stdout}"));

    let refusal = &v["refusal"];
    assert_eq!(
        refusal["raised"], true,
        "the SDK raised McpError for the denied call: {v}"
    );
    assert_eq!(refusal["code"], -32030);
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("denied by policy: unlucky_number")),
        "{v}"
    );
    assert_eq!(refusal["data"]["reason"], "unlucky_number");
    assert_eq!(
        v["tools"],
        serde_json::json!(["add", "count_slowly"]),
        "shell_exec hidden: {v}"
    );
    assert_eq!(v["add"], "42", "the session stayed usable: {v}");
    assert_eq!(v["add_is_error"], false);
}

//! End to end with peers nobody here wrote: the official Python MCP SDK (`mcp<2` from PyPI)
//! client talks through the gateway to its own FastMCP server, over Streamable HTTP (JSON
//! and SSE replies, sessions, progress notifications) and over the legacy HTTP+SSE
//! transport (GET stream + POST messages).
//!
//! The Python peers live in `.venv` (made by `integration/run`) or `$SEC0_TEST_PYTHON`.
//! Without Python the test says SKIPPED loudly; under CI (`CI` set) a missing peer fails.

use crate::common;

use std::path::Path;

use serde_json::Value;
use tokio::process::Command;

async fn run_client(py: &Path, url: &str, transport: &str) -> Value {
    run_client_with(py, url, transport, &[]).await
}

async fn run_client_with(py: &Path, url: &str, transport: &str, extra: &[&str]) -> Value {
    let mut cmd = Command::new(py);
    cmd.arg(common::peers::python_script("client.py"))
        .arg(url)
        .arg(transport)
        .args(extra);
    common::peers::run_client(cmd).await
}

fn assert_session(v: &Value, tools: &[&str]) {
    assert_eq!(v["server"], "e2e-tools");
    assert_eq!(v["tools"], serde_json::json!(tools));
    assert_eq!(v["add"], "42");
    assert_eq!(v["add_is_error"], false);
    assert_eq!(v["count"], "counted to 3");
    assert_eq!(
        v["progress"],
        serde_json::json!([1.0, 2.0, 3.0]),
        "progress notifications streamed through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_and_server_over_streamable_http() {
    let Some(py) = common::peers::python("e2e_python_mcp") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "streamable-http").await;
    let gw = common::gateway(&format!(
        "upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n"
    ))
    .await;
    let v = run_client(
        &py,
        &format!("http://{}/mcp", gw.proxy_addr),
        "streamable-http",
    )
    .await;
    assert_session(&v, &["add", "contact", "count_slowly", "shell_exec"]);
    assert_eq!(
        v["contact"], "on call: dana.whitfield@northwind-freight.io, +1 415 555 2671",
        "no rules: results untouched"
    );
    assert!(
        v["session_id"].as_str().is_some_and(|s| s.len() >= 16),
        "Mcp-Session-Id reached the client: {v}"
    );
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(
            &m,
            "sec0_gateway_requests_total{route=\"tools\",status=\"200\"}"
        )
        .is_some_and(|n| n >= 4.0),
        "{m}"
    );
    assert!(
        m.contains("sec0_gateway_requests_total{route=\"tools\",status=\"202\"}"),
        "notifications answered 202: {m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_and_server_over_legacy_sse() {
    let Some(py) = common::peers::python("e2e_python_mcp") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "sse").await;
    let gw = common::gateway(&format!(
        "upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ name: sse, path_prefix: /sse, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n  - {{ name: messages, path_prefix: /messages, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n"
    ))
    .await;
    let v = run_client(&py, &format!("http://{}/sse", gw.proxy_addr), "sse").await;
    assert_session(&v, &["add", "contact", "count_slowly", "shell_exec"]);
    assert_eq!(
        v["contact"], "on call: dana.whitfield@northwind-freight.io, +1 415 555 2671",
        "no rules: results untouched"
    );
    let m = common::metrics(&gw).await;
    assert!(
        m.contains("sec0_gateway_requests_total{route=\"messages\",status=\"202\"}"),
        "legacy POSTs answered 202 through the gateway: {m}"
    );
}

fn assert_refusal(v: &Value) {
    let refusal = &v["refusal"];
    assert_eq!(
        refusal["raised"], true,
        "the SDK raised McpError for the denied call: {v}"
    );
    assert_eq!(refusal["code"], 4030);
    assert_eq!(refusal["message"], "denied by policy: unlucky_number");
    assert_eq!(refusal["data"]["rules"], serde_json::json!(["no-thirteen"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_sees_a_denial_over_legacy_sse() {
    let Some(py) = common::peers::python("e2e_python_mcp") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "sse").await;
    let (gw, _rules) = common::gateway_with_rules(
        common::peers::DENY_RULES,
        &format!("upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ name: sse, path_prefix: /sse, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n  - {{ name: messages, path_prefix: /messages, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n"),
    )
    .await;
    // The answer to a legacy POST travels on the GET stream: the gateway must put the
    // refusal there, or the client would wait for it forever.
    let v = run_client_with(
        &py,
        &format!("http://{}/sse", gw.proxy_addr),
        "sse",
        &["denied"],
    )
    .await;
    assert_refusal(&v);
    // On the legacy transport the list arrives on the GET stream: filtered there too.
    assert_session(&v, &["add", "contact", "count_slowly"]);
    assert_eq!(
        v["contact"], "on call: [REDACTED:email], [REDACTED:phone]",
        "the guard redacted the result: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_sees_a_denial_as_one_failed_call() {
    let Some(py) = common::peers::python("e2e_python_mcp") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "streamable-http").await;
    let (gw, _rules) = common::gateway_with_rules(
        common::peers::DENY_RULES,
        &format!("upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n  - {{ name: soft, path_prefix: /soft, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool, soft_deny: true, rewrite_prefix: /mcp }}\n"),
    )
    .await;
    for path in ["/mcp", "/soft"] {
        let v = run_client_with(
            &py,
            &format!("http://{}{path}", gw.proxy_addr),
            "streamable-http",
            &["denied"],
        )
        .await;
        if path == "/soft" {
            // `soft_deny`: the model reads the refusal as the tool's failed result.
            common::peers::assert_soft_denial(&v);
        } else {
            assert_refusal(&v);
        }
        // The session stayed usable: everything after the denial worked, and the tool the
        // caller can never call was not listed (FastMCP answers tools/list over SSE).
        assert_session(&v, &["add", "contact", "count_slowly"]);
        assert_eq!(
            v["contact"], "on call: [REDACTED:email], [REDACTED:phone]",
            "the guard redacted the result: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_over_tls_with_a_client_certificate() {
    let Some(py) = common::peers::python("e2e_python_mcp") else {
        return;
    };
    let certs = tempfile::tempdir().expect("dir");
    sec0_gateway::devcerts::write_dev_certs(certs.path(), sec0_gateway::devcerts::DEV_CLIENT_ID)
        .expect("certs");
    let p = |n: &str| certs.path().join(n);
    let (_server, port) = common::peers::start_fastmcp(&py, "streamable-http").await;
    let (gw, _rules) = common::gateway_with_rules(
        &format!(
            "version: 1\nrules:\n  - {{ id: no-shell-for-dev, when: {{ tool: shell_exec, caller: {:?} }}, decision: deny, reason: no_shell_for_dev }}\n",
            sec0_gateway::devcerts::DEV_CLIENT_ID
        ),
        &format!(
            "tls: {{ cert: {:?}, key: {:?}, client_ca: {:?}, client_auth: required }}\n\
             upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool, auth: {{ methods: [mtls], anonymous: false }} }}\n",
            p("server.pem"),
            p("server-key.pem"),
            p("ca.pem"),
        ),
    )
    .await;
    let url = format!("https://localhost:{}/mcp", gw.proxy_addr.port());
    let mut cmd = Command::new(&py);
    cmd.arg(common::peers::python_script("tls_client.py"))
        .arg(&url)
        .arg(p("ca.pem"))
        .arg(p("client.pem"))
        .arg(p("client-key.pem"));
    let v = common::peers::run_client(cmd).await;
    assert_eq!(v["server"], "e2e-tools");
    assert_eq!(v["add"], "42");
    assert_eq!(
        v["refusal"],
        serde_json::json!({"code": 4030, "reason": "no_shell_for_dev"}),
        "the certificate's identity decided: {v}"
    );
    // Without a client certificate the official client cannot connect at all.
    let out = Command::new(&py)
        .arg(common::peers::python_script("tls_client.py"))
        .arg(&url)
        .arg(p("ca.pem"))
        .kill_on_drop(true)
        .output()
        .await
        .expect("ran");
    assert!(!out.status.success(), "no certificate, no session");
}

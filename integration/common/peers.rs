//! The peers nobody here wrote: the official MCP SDKs, installed by `integration/run`
//! (Python into `.venv` or `$SEC0_TEST_PYTHON`, TypeScript into `integration/node`), and
//! the browser the console test drives (Debian's `chromium`, with Playwright in `.venv`).
//! A missing peer makes a test say SKIPPED loudly; under CI (`CI` set) it fails the test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Rules the end-to-end tests run with: `add(13, …)` is denied (a rule on an argument), and
/// `shell_*` tools can never be called (so they are hidden from `tools/list`).
pub const DENY_RULES: &str = "version: 1\nrules:\n  - id: no-thirteen\n    when: { method: tools/call, tool: add, args: [ { path: \"$.a\", equals: 13 } ] }\n    decision: deny\n    reason: unlucky_number\n  - id: no-shell\n    when: { tool: \"shell_*\" }\n    decision: deny\n    reason: shell_forbidden\n  - id: mask-personal-data\n    when: { findings: { detectors: pii, direction: response } }\n    decision: redact\n    reason: personal_data\n";

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Report a missing peer for `test`: a failure under CI, a loud skip elsewhere.
/// What a client script reports for `add(13, 1)` on a `soft_deny` route: no exception, a
/// tool result with `isError`, the refusal's message as its text, the code and the
/// deciding rule in `_meta["sec0/refusal"]`.
pub fn assert_soft_denial(v: &serde_json::Value) {
    let refusal = &v["refusal"];
    assert_eq!(refusal["raised"], false, "a soft denial is a result: {v}");
    assert_eq!(refusal["is_error"], true, "{v}");
    assert_eq!(refusal["text"], "denied by policy: unlucky_number", "{v}");
    let meta = &refusal["meta"]["sec0/refusal"];
    assert_eq!(meta["code"], 4030, "{v}");
    assert_eq!(
        meta["data"]["rules"],
        serde_json::json!(["no-thirteen"]),
        "{v}"
    );
}

pub fn missing(test: &str, msg: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("\n*** SKIPPED {test}: {msg} ***\n");
}

/// A Python interpreter that can `import` `module`: `$env_var`, else `<root>/<venv>/bin/python`;
/// `None` (after reporting `what` missing) when there is none.
fn find_python(test: &str, env_var: &str, venv: &str, module: &str, what: &str) -> Option<PathBuf> {
    let candidate = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(venv).join("bin/python"));
    let ok = std::process::Command::new(&candidate)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(candidate);
    }
    missing(
        test,
        &format!(
            "{what} is not installed at {} (run integration/run, or set {env_var})",
            candidate.display()
        ),
    );
    None
}

/// A Python with the official MCP SDK 1.x, or `None` (after reporting it missing).
pub fn python(test: &str) -> Option<PathBuf> {
    find_python(
        test,
        "SEC0_TEST_PYTHON",
        ".venv",
        "mcp",
        "the official MCP Python SDK",
    )
}

/// A Python with the official A2A SDK (same venv as the MCP SDK 1.x), or `None`.
pub fn python_with_a2a(test: &str) -> Option<PathBuf> {
    find_python(
        test,
        "SEC0_TEST_PYTHON",
        ".venv",
        "a2a.server.routes, a2a.client",
        "the official A2A Python SDK (a2a-sdk[http-server])",
    )
}

/// A Python with the official MCP SDK 1.x and Playwright (the browser driver, without a
/// browser of its own), or `None`.
pub fn python_with_playwright(test: &str) -> Option<PathBuf> {
    find_python(
        test,
        "SEC0_TEST_PYTHON",
        ".venv",
        "mcp, playwright.async_api",
        "Playwright (the Python browser driver) beside the official MCP Python SDK",
    )
}

/// A Python with schemathesis (the OpenAPI fuzzer, same venv as the MCP SDK 1.x), or `None`.
pub fn python_with_schemathesis(test: &str) -> Option<PathBuf> {
    find_python(
        test,
        "SEC0_TEST_PYTHON",
        ".venv",
        "schemathesis",
        "schemathesis (the OpenAPI property-based tester)",
    )
}

/// Debian's chromium (`$SEC0_TEST_CHROMIUM`, else `/usr/bin/chromium`), or `None` (after
/// reporting it missing).
pub fn chromium(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("SEC0_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    missing(
        test,
        &format!(
            "chromium is not installed at {} (apt-get install chromium, or set SEC0_TEST_CHROMIUM)",
            path.display()
        ),
    );
    None
}

/// A Python with the official MCP SDK 2.x (stateless 2026-07-28 era), or `None`.
pub fn python_mcp2(test: &str) -> Option<PathBuf> {
    find_python(
        test,
        "SEC0_TEST_PYTHON_MCP2",
        ".venv-mcp2",
        "mcp.server.mcpserver",
        "the official MCP Python SDK 2.x",
    )
}

/// Start the A2A test agent (`a2a_agent.py`) on `port`, announcing `public_url` in its
/// card, and wait until it listens.
pub async fn start_a2a_agent(py: &Path, port: u16, public_url: &str) -> Server {
    start_python_server(py, "a2a_agent.py", &[&port.to_string(), public_url], port).await
}

/// Longest wait for a Python peer server to listen.
const PEER_START: Duration = Duration::from_secs(60);

/// Start a Python peer server (`script` with `args`) and wait until `port` listens.
pub async fn start_python_server(py: &Path, script: &str, args: &[&str], port: u16) -> Server {
    let child = Command::new(py)
        .arg(python_script(script))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {script}: {e}"));
    // An interpreter importing the SDK takes seconds, and far longer when several peers
    // start at once on a loaded machine: a minute before this is a failure.
    let listening = async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PEER_START, listening)
        .await
        .unwrap_or_else(|_| panic!("{script} did not listen on {port} within {PEER_START:?}"));
    Server(child)
}

/// A script of the Python peers (`integration/python/<name>`).
pub fn python_script(name: &str) -> PathBuf {
    root().join("integration/python").join(name)
}

/// A running FastMCP server (stopped when dropped).
pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Start the official SDK's FastMCP test server on a free port with `transport`
/// (`streamable-http` or `sse`) and wait until it listens.
pub async fn start_fastmcp(py: &Path, transport: &str) -> (Server, u16) {
    let port = super::closed_port();
    let server = start_python_server(py, "server.py", &[&port.to_string(), transport], port).await;
    (server, port)
}

/// Run a peer client (`cmd`, already given its arguments) for at most a minute; it must
/// succeed, and its last stdout line is the JSON it reports.
pub async fn run_client(mut cmd: Command) -> serde_json::Value {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.kill_on_drop(true).output())
        .await
        .expect("client finished in time")
        .expect("client ran");
    assert!(
        out.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("client output ({e}): {stdout}"))
}

//! The admin API against its own OpenAPI document, by a tester nobody here wrote:
//! schemathesis (PyPI) generates requests from `docs/admin-openapi.yaml` — examples at the
//! edges of every schema, random ones, schema-violating ones, wrong methods, and stateful
//! sequences following the document's links — against a running gateway with an admin
//! token, and checks every answer: no 5xx, only documented status codes and content types,
//! bodies matching their schemas, schema-valid requests accepted, invalid ones refused,
//! 405 (not 404) for a method an endpoint does not answer. A fixed seed and a time budget
//! keep it reproducible and bounded.

use std::process::Command;
use std::time::Duration;

use crate::common::GatewayProcess;
use crate::common::peers::{python_with_schemathesis, root};

#[test]
fn the_admin_api_holds_to_its_openapi_document_under_schemathesis() {
    let Some(python) = python_with_schemathesis("admin_schema") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "schemathesis-admin-token-0123456789\n").expect("token");
    let rules = root().join("integration/data/learning-rules.yaml");
    let mut gw = GatewayProcess::start_config(&format!(
        "listen: 127.0.0.1:0\n\
         admin: {{ listen: 127.0.0.1:0, token_file: {token:?} }}\n\
         upstreams: {{ u: {{ url: \"http://127.0.0.1:1\" }} }}\n\
         routes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
         policy: {{ rules: {rules:?} }}\n\
         escalation: {{ hold_timeout: 1s, on_timeout: deny }}\n"
    ));
    let out = Command::new(&python)
        .args(["-m", "schemathesis.cli", "run"])
        .arg(root().join("docs/admin-openapi.yaml"))
        .args(["--url", &format!("http://{}", gw.admin_addr)])
        .args([
            "-H",
            "Authorization: Bearer schemathesis-admin-token-0123456789",
        ])
        .args(["--seed", "7", "--max-examples", "25", "--max-time", "90"])
        .args(["--request-timeout", "10", "--no-color"])
        .current_dir(dir.path())
        .output()
        .expect("run schemathesis");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    gw.signal("TERM");
    gw.wait_exit(Duration::from_secs(10));
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("Fuzzing"), "no fuzzing phase ran:\n{text}");
    assert!(
        text.contains("passed") && !text.contains("failures,"),
        "unexpected summary:\n{text}"
    );
}

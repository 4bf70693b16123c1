//! The review console in a real browser: Debian's chromium driven by Playwright
//! (`integration/python/console_check.py`) while the official MCP Python client calls tools
//! through the gateway. See the parent module for what it checks.

use crate::common;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use super::{TOKEN, with_token};

const BROWSER_RULES: &str = r#"version: 1
rules:
  - { id: review-add, when: { tool: add }, decision: escalate, reason: needs_review }
  - { id: no-thirteen, when: { tool: add, args: [ { path: "$.a", equals: 13 } ] }, decision: deny, reason: unlucky_number }
  - { id: review-notes, when: { tool: send_note }, decision: escalate, reason: note_review }
  - { id: defer-contact, when: { tool: contact }, decision: escalate, reason: contact_review, flow: defer }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_answers_in_a_real_browser() {
    let Some(py) = common::peers::python_with_playwright("console") else {
        return;
    };
    let Some(chromium) = common::peers::chromium("console") else {
        return;
    };
    let (_server, port) = common::peers::start_fastmcp(&py, "streamable-http").await;
    let dir = tempfile::tempdir().expect("dir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, BROWSER_RULES).expect("rules");
    let audit = dir.path().join("audit");
    let (gw, _token_dir) = with_token(&format!(
        "policy: {{ rules: {rules:?} }}\n\
         escalation: {{ hold_timeout: 60s, defer_ttl: 3s }}\n\
         learn: {{ auto_allow_after: 1, confidence: {{ exact: 0.2 }}, strict_confidence: {{ exact: 0.2 }}, spot_checks: {{ rate: 1, young_rate: 1, deny_rate: 0 }} }}\n\
         context: {{ trusted_networks: [\"127.0.0.0/8\"] }}\n\
         audit: {{ file: {{ dir: {audit:?} }} }}\n\
         upstreams: {{ fastmcp: {{ url: \"http://127.0.0.1:{port}\" }} }}\n\
         routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: fastmcp, protocol: mcp, boundary: agent_to_tool }}\n"
    ))
    .await;
    // Screenshots stay in the test's temp dir, unless SEC0_CONSOLE_SCREENSHOTS names a
    // directory to keep them in (that is how docs/console-*.png were made).
    let shots = match std::env::var_os("SEC0_CONSOLE_SCREENSHOTS") {
        Some(d) => std::path::PathBuf::from(d),
        None => dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let mut cmd = tokio::process::Command::new(&py);
    cmd.arg(common::peers::python_script("console_check.py"))
        .arg(format!("http://{}", gw.admin_addr))
        .arg(format!("http://{}/mcp", gw.proxy_addr))
        .arg(TOKEN)
        .arg(&shots)
        .arg(&chromium)
        .arg("run-console-7");
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.kill_on_drop(true).output())
        .await
        .expect("the browser session finished in time")
        .expect("ran");
    assert!(
        out.status.success(),
        "browser session failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("report ({e}): {stdout}"));
    check_browser_report(&v, &shots);
    gw.shutdown().await;
}

fn check_browser_report(v: &Value, shots: &Path) {
    assert_eq!(v["wrong_token_refused"], true);
    assert_eq!(
        v["console_errors"],
        json!([]),
        "no script error, no CSP violation"
    );
    // Approved in the console: the official client got its result.
    assert_eq!(
        v["approved_call"],
        json!({"ok": true, "text": "42", "is_error": false}),
        "{v}"
    );
    let card = v["pending_card"].as_str().expect("card");
    for fact in [
        "add",
        "tools",
        "agent_to_tool",
        "anonymous",
        "run-console-7",
        "review-add",
    ] {
        assert!(card.contains(fact), "the card shows {fact}: {card}");
    }
    // Rejected: the client's rejection error; the markup shown as text, never run.
    assert_eq!(v["rejected_call"]["code"], 4032, "{v}");
    assert_eq!(v["script_shown_as_text"], true);
    assert_eq!(v["script_ran"], false);
    assert_eq!(v["img_elements_in_card"], 0);
    assert_eq!(v["other_reviewer_status"], 200);
    assert_eq!(v["elsewhere_call"]["text"], "14", "{v}");
    assert_eq!(v["deferred_call"]["code"], 4031, "{v}");
    assert!(
        v["spot_check_text"]
            .as_str()
            .is_some_and(|t| t.contains("(exact), which would have decided allow")),
        "{v}"
    );
    assert_eq!(v["spot_checked_call"]["text"], "42", "{v}");
    assert_eq!(v["denied_call"]["code"], 4030, "{v}");
    // A precedent appeared, exported as a rule, and was revoked.
    assert!(
        v["precedents_before"].as_u64().is_some_and(|n| n >= 1),
        "{v}"
    );
    assert!(
        v["precedent_row"]
            .as_str()
            .is_some_and(|r| r.contains("allow"))
    );
    let export = v["export"].as_str().expect("export");
    assert!(
        export.contains("precedent: true") && export.contains("learn export"),
        "{export}"
    );
    let revoked = v["revoked_id"].as_str().expect("revoked id");
    assert!(revoked.starts_with("precedent-"), "{revoked}");
    assert!(
        !v["precedents_after"]
            .as_array()
            .expect("list")
            .iter()
            .any(|p| p == revoked),
        "{v}"
    );
    // The charts count the calls just made: five escalations (approved, rejected, answered
    // elsewhere, spot-checked, deferred) and the denial.
    let totals = &v["chart_totals"];
    assert!(
        totals["escalate"].as_u64().is_some_and(|n| n >= 4),
        "{totals}"
    );
    assert!(totals["deny"].as_u64().is_some_and(|n| n >= 1), "{totals}");
    assert!(
        v["audit_text"]
            .as_str()
            .is_some_and(|t| t.contains("no-thirteen"))
    );
    let history = v["history_text"].as_str().expect("history");
    for fact in [
        "console-test",
        "other-reviewer",
        "not from an agent",
        "refused (4032)",
    ] {
        assert!(history.contains(fact), "history shows {fact}: {history}");
    }
    assert!(
        v["history_filtered"]
            .as_str()
            .is_some_and(|t| t.contains("send_note"))
    );
    assert!(v["run_rows"].as_u64().is_some_and(|n| n >= 3), "{v}");
    assert_eq!(v["small_screen_overflow"], 0, "nothing wider than 375 px");
    assert_eq!(v["small_screen_call"]["text"], "4300", "{v}");
    // Page weight (sizes are deterministic; times are printed, never asserted).
    let first = &v["first_load"];
    let bytes = first["transferred_bytes"].as_u64().expect("bytes");
    assert!(bytes < 200 * 1024, "first load {bytes} bytes: {first}");
    let charts = v["after_charts_load"]["transferred_bytes"]
        .as_u64()
        .expect("bytes");
    assert!(charts < 200 * 1024, "with the charts {charts} bytes");
    eprintln!(
        "console: first load {bytes} B in {} requests, first paint {} ms; signed in: ready at {} ms; with charts {charts} B",
        first["requests"], first["first_contentful_paint_ms"], v["signed_in_load"]["ready_ms"]
    );
    let taken = v["screenshots"].as_array().expect("screenshots");
    assert!(taken.len() >= 11, "{taken:?}");
    for s in taken {
        let p = Path::new(s.as_str().expect("path"));
        assert!(
            p.starts_with(shots) && p.metadata().is_ok_and(|m| m.len() > 1000),
            "{p:?}"
        );
    }
}

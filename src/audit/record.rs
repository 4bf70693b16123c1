//! The audit record of one decision (schema 1, `docs/audit.md`): who called what where, what
//! was decided and why, what the guard found (types and locations, never values). The chain
//! fields (`seq`, `prev_hash`, `hash`) are added by the file that writes it.

use serde_json::{Value, json};

use crate::policy::{CallFacts, Decision};

/// The record of `decision` on the call described by `facts` (on route `route`).
pub fn decision_record(route: &str, facts: &CallFacts<'_>, d: &Decision) -> Value {
    let findings: Vec<Value> = facts
        .findings
        .iter()
        .map(|f| {
            json!({"detector": &*f.detector, "type": &*f.kind, "severity": f.severity.as_str(),
                   "path": f.path, "span": [f.span.0, f.span.1]})
        })
        .collect();
    json!({
        "schema": super::file::SCHEMA_VERSION,
        "kind": "decision",
        "record_id": uuid::Uuid::new_v4().to_string(),
        "ts": super::file::now_rfc3339(),
        "decision_id": d.decision_id,
        "direction": facts.phase.as_str(),
        "caller": facts.caller,
        "boundary": facts.boundary.as_str(),
        "route": route,
        "upstream": facts.upstream,
        "protocol": facts.protocol.as_str(),
        "method": facts.method,
        "tool": facts.tool,
        "resource": facts.resource,
        "prompt": facts.prompt,
        "agent": facts.agent,
        "session_id": facts.headers.get("mcp-session-id").and_then(|v| v.to_str().ok()),
        "decision": d.shown().as_str(),
        "enforced": d.decision.as_str(),
        "mode": d.mode.as_str(),
        "reason": &*d.reason,
        "rules": d.rules.iter().map(|r| &**r).collect::<Vec<&str>>(),
        "policy_version": &*d.policy_version,
        "findings": findings,
        "redactions": d.redact.len(),
    })
}

/// The record of a call the gateway answered with an error before any decision (malformed,
/// unroutable, too large, upstream failure): `reason` is the answer's stable reason code.
pub fn error_record(route: Option<&str>, status: u16, reason: &str, detail: &str) -> Value {
    json!({
        "schema": super::file::SCHEMA_VERSION,
        "kind": "error",
        "record_id": uuid::Uuid::new_v4().to_string(),
        "ts": super::file::now_rfc3339(),
        "route": route,
        "http_status": status,
        "reason": reason,
        "detail": detail,
    })
}

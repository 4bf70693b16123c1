//! The audit record (schema 1, `docs/audit.md`): who called what where, what was decided and
//! why, what the guard found (types and locations, never values), and how the exchange ended
//! (status, JSON-RPC code, body hashes, bytes, latencies).
//!
//! One typed struct for every kind (`decision`, `error`, `checkpoint`) whose fields are
//! declared in byte order of their names, so serializing it *is* the canonical form
//! ([`super::chain`]): one serialization and one SHA-256 per record, no generic JSON tree.
//! The chain fields (`chain`, `seq`, `prev_hash`) are filled in by the writer; `hash` and
//! `signature` are appended to the line after hashing (they are not part of the hashed form).

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::guard::Finding;
use crate::policy::{CallFacts, Decision};
use crate::vocab::{
    Boundary, DecisionKind, Direction, EscalationState, Mode, Protocol, StreamOutcome,
};
pub use crate::vocab::{HopId, instance_id};

/// Audit schema version written into every record.
pub const SCHEMA_VERSION: u64 = 1;

/// One audit record. **Fields stay in byte order of their names** (a unit test checks that
/// the serialized form equals the canonical form).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditRecord {
    /// A2A: the target agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Arc<str>>,
    /// Which boundary the route sits on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boundary: Option<Boundary>,
    /// Request body bytes received from the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Response body bytes sent to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// The caller (node id) as the gateway knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<Arc<str>>,
    /// Which chain (file) the record belongs to; set by the writer.
    pub chain: Arc<str>,
    /// Escalation records: the reviewer's comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `allow` | `deny` | `redact` | `escalate` as reported (the would-be one under observe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionKind>,
    /// The decision's id (also on the wire to the client).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
    /// Error records: the human description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `request` or `response`: which way the decided data travelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// What was enforced (differs from `decision` under observe).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforced: Option<DecisionKind>,
    /// Why the exchange failed after it was decided (the stable reason code of the error
    /// answer, e.g. `upstream_timeout`); error records carry it in `reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// For `escalate`: what became of the escalation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
    /// What the guard found (never the values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingRecord>>,
    /// This hop's id (one per exchange through the gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop_id: Option<HopId>,
    /// HTTP status of the answer to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// JSON-RPC error code of the answer, when the gateway answered with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonrpc_code: Option<i64>,
    /// Checkpoints: the signing key's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<Arc<str>>,
    /// `decision`, `error` or `checkpoint`.
    pub kind: &'static str,
    /// Where the time went, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Latency>,
    /// JSON-RPC method, or the HTTP method on plain routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `enforce` or `observe`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `complete` (the answer reached the client whole) or `aborted` (the exchange ended
    /// early: client gone, stream cut, upstream failure mid-answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "answer_outcome")]
    pub outcome: Option<StreamOutcome>,
    /// The parent hop's id, as the caller sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_hop: Option<String>,
    /// Version of the policy that decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<Arc<str>>,
    /// The learned precedent that decided the call, or that a spot check sent to a
    /// reviewer (`{id, level, spot_check}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precedent: Option<crate::policy::PrecedentUse>,
    /// Hash of the record before this one in the chain; set by the writer.
    pub prev_hash: String,
    /// MCP `prompts/get`: the prompt's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// `mcp`, `jsonrpc`, `a2a` or `http`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// Decision: the winning rule's reason code; error: the answer's stable reason code;
    /// checkpoint: why it was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Arc<str>>,
    /// Unique id of the record (`<instance>-<counter>`), so a receiver can drop duplicates.
    pub record_id: RecordId,
    /// Checkpoints: records before it in the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// How many findings were redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redactions: Option<u64>,
    /// Hex SHA-256 of the request body as received (decoded when it was compressed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<Sha256Hex>,
    /// MCP `resources/read`: the resource URI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Hex SHA-256 of the response body as sent to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<Sha256Hex>,
    /// Escalation records: who answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    /// The route's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Arc<str>>,
    /// Ids of every rule that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<Arc<str>>>,
    /// The run the call belongs to, as the caller sent it (verified with identity later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// [`SCHEMA_VERSION`].
    pub schema: u64,
    /// Position in the chain, from 0; set by the writer.
    pub seq: u64,
    /// The MCP session id, when the call carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// MCP `tools/call`: the tool's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// W3C trace id of the call (from `traceparent`), as the caller sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// When the call arrived (checkpoints: when written); RFC 3339 UTC, microseconds.
    pub ts: Timestamp,
    /// The upstream's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Arc<str>>,
}

/// What became of an escalation.
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    /// The escalation's id (the decision id).
    pub id: String,
    /// What was applied: `allow` or `deny` (`None`, written `pending`, while it waits).
    #[serde(serialize_with = "applied")]
    pub outcome: Option<DecisionKind>,
    /// `pending`, `approved`, `rejected` or `expired` (nobody answered in time).
    pub state: EscalationState,
}

/// A finding as recorded: where and what, never the value.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRecord {
    /// Detector family or custom detector name.
    pub detector: Arc<str>,
    /// JSONPath of the string within the message.
    pub path: String,
    /// `low` … `critical`.
    pub severity: &'static str,
    /// Byte range within the string.
    pub span: (usize, usize),
    /// What was found.
    #[serde(rename = "type")]
    pub kind: Arc<str>,
}

/// Microseconds spent.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Latency {
    /// Evaluating the policy (all decisions of the exchange).
    pub policy: u64,
    /// From the request's arrival to the answer's end.
    pub total: u64,
    /// From sending upstream to the upstream's response head (absent when not forwarded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<u64>,
}

/// A point in time, written as RFC 3339 UTC with microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub SystemTime);

impl Default for Timestamp {
    fn default() -> Self {
        Self(SystemTime::UNIX_EPOCH)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_micros(self.0))
    }
}

impl From<&Finding> for FindingRecord {
    fn from(f: &Finding) -> Self {
        Self {
            detector: f.detector.clone(),
            path: f.path.clone(),
            severity: f.severity.as_str(),
            span: f.span,
            kind: f.kind.clone(),
        }
    }
}

/// A record id: this process's instance id and a counter (`<instance>-<hex>`), unique across
/// restarts and instances without a system call or an allocation per record; written out
/// only by the writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RecordId(pub u64);

impl RecordId {
    /// The next id.
    pub fn next() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        Self(COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:x}", instance_id(), self.0)
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A SHA-256 digest, written as lowercase hex (formatted by the writer, not the call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sha256Hex(pub [u8; 32]);

impl Serialize for Sha256Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        // 32 bytes always fit 64 hex digits, and hex digits are ASCII.
        let hex = hex::encode_to_slice(self.0, &mut buf)
            .ok()
            .and_then(|()| std::str::from_utf8(&buf).ok())
            .unwrap_or_default();
        s.serialize_str(hex)
    }
}

impl AuditRecord {
    /// An empty record of `kind` with its id, schema and time set.
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            schema: SCHEMA_VERSION,
            ts: Timestamp(SystemTime::now()),
            record_id: RecordId::next(),
            ..Self::default()
        }
    }

    /// The record of `decision` on the call described by `facts` (on route `route`).
    pub fn decision(route: &str, facts: &CallFacts<'_>, d: &Decision) -> Self {
        Self {
            agent: facts.agent.map(Arc::from),
            boundary: Some(facts.boundary),
            caller: Some(Arc::from(facts.caller)),
            decision: Some(d.shown()),
            decision_id: Some(d.decision_id.clone()),
            direction: Some(facts.phase),
            enforced: Some(d.decision),
            findings: Some(facts.findings.iter().map(FindingRecord::from).collect()),
            method: facts.method.map(str::to_owned),
            mode: Some(d.mode),
            policy_version: Some(d.policy_version.clone()),
            precedent: d.precedent.clone(),
            prompt: facts.prompt.map(str::to_owned),
            protocol: Some(facts.protocol),
            reason: Some(d.reason.clone()),
            redactions: Some(d.redact.len() as u64),
            resource: facts.resource.map(str::to_owned),
            route: Some(Arc::from(route)),
            rules: Some(d.rules.clone()),
            session_id: facts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            tool: facts.tool.map(str::to_owned),
            upstream: Some(Arc::from(facts.upstream)),
            ..Self::new("decision")
        }
    }

    /// The record of a call the gateway answered with an error before or instead of a
    /// decision (malformed, unroutable, too large, upstream failure): `reason` is the
    /// answer's stable reason code.
    pub fn error(route: Option<&str>, status: u16, reason: &str, detail: String) -> Self {
        Self {
            route: route.map(Arc::from),
            http_status: Some(status),
            reason: Some(Arc::from(reason)),
            detail: Some(detail),
            ..Self::new("error")
        }
    }

    /// A checkpoint (chain fields and key id are filled in by the chain).
    pub fn checkpoint(reason: &'static str, records: u64) -> Self {
        Self {
            reason: Some(Arc::from(reason)),
            records: Some(records),
            ..Self::new("checkpoint")
        }
    }
}

/// How the answer ended, as the audit says it: `complete`, or `aborted` (failed or cut).
fn answer_outcome<S: Serializer>(o: &Option<StreamOutcome>, s: S) -> Result<S::Ok, S::Error> {
    match o {
        Some(StreamOutcome::Complete) => s.serialize_str("complete"),
        Some(StreamOutcome::Failed | StreamOutcome::Cut) => s.serialize_str("aborted"),
        None => s.serialize_none(),
    }
}

/// What an escalation applied, as the audit says it: `pending` while nothing is.
fn applied<S: Serializer>(o: &Option<DecisionKind>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(o.map_or("pending", DecisionKind::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> AuditRecord {
        AuditRecord {
            agent: Some("billing".into()),
            boundary: Some(Boundary::AgentToTool),
            bytes_in: Some(120),
            bytes_out: Some(96),
            caller: Some("spiffe://x/agent/a".into()),
            chain: "audit-x".into(),
            comment: Some("c".into()),
            decision: Some(DecisionKind::Deny),
            decision_id: Some("d1".into()),
            detail: Some("why \"quoted\" é\u{1}".into()),
            direction: Some(Direction::Request),
            enforced: Some(DecisionKind::Deny),
            error: Some("upstream_timeout"),
            escalation: Some(Escalation {
                id: "d1".into(),
                outcome: Some(DecisionKind::Deny),
                state: EscalationState::Expired,
            }),
            findings: Some(vec![FindingRecord {
                detector: "pii".into(),
                path: "$.params.arguments.q".into(),
                severity: "medium",
                span: (3, 19),
                kind: "email".into(),
            }]),
            hop_id: Some(HopId(1)),
            http_status: Some(200),
            jsonrpc_code: Some(4030),
            key_id: Some("k".into()),
            kind: "decision",
            latency_us: Some(Latency {
                policy: 1,
                total: 400,
                upstream: Some(300),
            }),
            method: Some("tools/call".into()),
            mode: Some(Mode::Enforce),
            outcome: Some(StreamOutcome::Complete),
            parent_hop: Some("p".into()),
            policy_version: Some("v".into()),
            precedent: Some(crate::policy::PrecedentUse {
                id: "precedent-0011".into(),
                level: "known",
                spot_check: true,
            }),
            prev_hash: "00".into(),
            prompt: Some("pr".into()),
            protocol: Some(Protocol::Mcp),
            reason: Some("r".into()),
            record_id: RecordId(1),
            records: Some(4),
            redactions: Some(1),
            request_sha256: Some(Sha256Hex([1; 32])),
            resource: Some("file:///x".into()),
            response_sha256: Some(Sha256Hex([2; 32])),
            reviewer: Some("r".into()),
            route: Some("tools".into()),
            rules: Some(vec!["r1".into()]),
            run_id: Some("run".into()),
            schema: 1,
            seq: 7,
            session_id: Some("s".into()),
            tool: Some("t".into()),
            trace_id: Some("tr".into()),
            ts: Timestamp::default(),
            upstream: Some("u".into()),
        }
    }

    #[test]
    fn serializing_a_record_is_its_canonical_form() {
        let r = full();
        let bytes = serde_json::to_vec(&r).expect("serialize");
        let value: serde_json::Value = serde_json::from_slice(&bytes).expect("parse");
        assert_eq!(
            String::from_utf8(super::super::chain::canonical(&value)).expect("utf8"),
            String::from_utf8(bytes).expect("utf8"),
            "AuditRecord's fields (and nested structs') must stay in byte order of their names"
        );
        // Every field is present in the fully populated record (none skipped by accident).
        assert_eq!(value.as_object().expect("object").len(), 48);
    }

    #[test]
    fn record_ids_are_unique_and_carry_the_instance() {
        let (a, b) = (RecordId::next().to_string(), RecordId::next().to_string());
        assert_ne!(a, b);
        assert!(a.starts_with(instance_id()) && instance_id().len() == 16);
        assert_eq!(HopId::next().to_string().len(), 16);
        assert_eq!(
            serde_json::to_string(&Sha256Hex([0xab; 32])).expect("json"),
            format!("\"{}\"", "ab".repeat(32))
        );
    }
}

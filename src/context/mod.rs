//! Context: which run a call belongs to and where it sits in it, carried from hop to hop.
//!
//! - **Run id**: continued from the inbound request (`x-sec0-run-id`, else the sec0 SDK's
//!   `x-agent-ref`) only when the caller is trusted to set it — a verified identity (unless
//!   `context.trust_verified_callers: false`) or a peer in `context.trusted_networks`;
//!   otherwise minted here. A caller cannot pull its calls into someone else's run.
//! - **Node id**: the verified caller.
//! - **Hop id**: new for every hop; the parent hop comes from a trusted inbound
//!   `x-sec0-hop-id` (or the SDK's `x-cause-span`).
//! - **Trace**: a valid W3C `traceparent` is continued (trace id kept, this hop's id as the
//!   new parent id), else a trace is started; `tracestate` passes through.
//! - **sec0 SDK headers** (`x-node-id`, `x-agent-ref`, `x-agent-parent-ref`, `x-agent-state`,
//!   `x-idempotency-key`, `x-cause-*`) are validated the way the SDK does (`x-agent-state`:
//!   base64url JSON object under a size cap, its `nodeId`/`runId`/`parentRef` equal to the
//!   headers) and passed on unchanged; a mismatch is a 400, not the SDK's 500.
//!
//! Upstream the call carries `x-sec0-run-id`, `-node-id`, `-hop-id`, `-parent-hop-id`,
//! `-decision`, `-decision-id`, `-policy-version`, a continued `traceparent` and the SDK's
//! `x-cause-trace`/`x-cause-span`; the client gets `x-sec0-decision-id`, `x-sec0-trace-id`
//! and the SDK's `x-trace-id`/`x-span-id`. Inbound `x-sec0-*` headers never pass (stripped
//! in the forward step). All in `docs/headers.md`.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use serde_json::Value;

pub mod runs;

use crate::config::ClientContext;
use crate::identify::Identity;
use crate::vocab::HopId;
use crate::vocab::ids::{Claimed, header};
pub use crate::vocab::ids::{TraceParent, parse_traceparent};

/// Why the context headers of a request are refused (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// `x-agent-state` is larger than allowed.
    #[error("x-agent-state is larger than {0} bytes")]
    StateTooLarge(usize),
    /// `x-agent-state` is not base64url JSON of an object.
    #[error("x-agent-state is not base64url-encoded JSON of an object: {0}")]
    StateMalformed(String),
    /// `x-agent-state` needs an `x-node-id` header naming the same node.
    #[error("x-agent-state names node {state:?} but x-node-id is {header:?}")]
    NodeMismatch {
        /// In the state (normalised).
        state: String,
        /// In the header (normalised), empty when missing.
        header: String,
    },
    /// The state's `runId` and `x-agent-ref` differ.
    #[error("x-agent-state names run {state:?} but x-agent-ref is {header:?}")]
    RunMismatch {
        /// In the state.
        state: String,
        /// In the header, empty when missing.
        header: String,
    },
    /// The state's `parentRef` and `x-agent-parent-ref` differ.
    #[error("x-agent-state names parent {state:?} but x-agent-parent-ref is {header:?}")]
    ParentMismatch {
        /// In the state.
        state: String,
        /// In the header, empty when missing.
        header: String,
    },
    /// `x-node-id` normalises to nothing.
    #[error("x-node-id is empty after normalisation")]
    EmptyNode,
}

/// Who may continue a run.
#[derive(Debug, Clone)]
pub struct ContextPolicy {
    /// Callers with a verified identity may.
    pub trust_verified: bool,
    /// And peers in these networks.
    pub trusted_networks: Vec<IpNet>,
    /// Largest `x-agent-state` accepted (encoded bytes).
    pub max_agent_state: usize,
}

/// The context of one call.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The run.
    pub run_id: String,
    /// Whether the run id was continued from the caller (else minted).
    pub run_continued: bool,
    /// The node (verified caller).
    pub node_id: Arc<str>,
    /// This hop.
    pub hop_id: HopId,
    /// The hop that called (trusted callers only).
    pub parent_hop: Option<String>,
    /// W3C trace id (32 hex).
    pub trace_id: String,
    /// The caller's span in that trace (from `traceparent`), if it sent one.
    pub trace_parent: Option<String>,
    /// W3C trace flags (2 hex).
    pub trace_flags: String,
    /// `tracestate`, passed through.
    pub tracestate: Option<HeaderValue>,
    /// The values written on both sides, rendered once.
    rendered: Rendered,
}

/// Header values of a call's context, rendered once and written upstream and back (a
/// `HeaderValue` clone shares its bytes).
#[derive(Debug, Clone)]
struct Rendered {
    run: HeaderValue,
    trace: HeaderValue,
    hop: HeaderValue,
}

impl Rendered {
    fn of(run_id: &str, trace_id: &str, hop: HopId) -> Self {
        // Every value here is an id the gateway minted or validated (`Claimed` checks the
        // characters of a continued run id): rendering cannot fail; if it did, the header
        // is sent empty rather than the call failing.
        let value = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static(""));
        Self {
            run: value(run_id),
            trace: value(trace_id),
            hop: value(&hop.to_string()),
        }
    }
}

/// The context headers' names, built at compile time.
mod names {
    use http::HeaderName;
    pub const RUN_ID: HeaderName = HeaderName::from_static("x-sec0-run-id");
    pub const NODE_ID: HeaderName = HeaderName::from_static("x-sec0-node-id");
    pub const HOP_ID: HeaderName = HeaderName::from_static("x-sec0-hop-id");
    pub const PARENT_HOP_ID: HeaderName = HeaderName::from_static("x-sec0-parent-hop-id");
    pub const DECISION: HeaderName = HeaderName::from_static("x-sec0-decision");
    pub const DECISION_ID: HeaderName = HeaderName::from_static("x-sec0-decision-id");
    pub const POLICY_VERSION: HeaderName = HeaderName::from_static("x-sec0-policy-version");
    pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    pub const CAUSE_TRACE: HeaderName = HeaderName::from_static("x-cause-trace");
    pub const CAUSE_SPAN: HeaderName = HeaderName::from_static("x-cause-span");
    pub const TRACE_ID: HeaderName = HeaderName::from_static("x-sec0-trace-id");
    pub const BRIDGE_TRACE_ID: HeaderName = HeaderName::from_static("x-trace-id");
    pub const BRIDGE_SPAN_ID: HeaderName = HeaderName::from_static("x-span-id");
    pub const AGENT_STATE: HeaderName = HeaderName::from_static("x-agent-state");
}

impl CallContext {
    /// Establish the context of a request from `peer` by `who`.
    pub fn establish(
        headers: &HeaderMap,
        who: &Identity,
        peer: IpAddr,
        policy: &ContextPolicy,
    ) -> Result<Self, ContextError> {
        check_sdk_headers(headers, policy.max_agent_state)?;
        let trusted = (policy.trust_verified && who.is_verified())
            || policy.trusted_networks.iter().any(|n| n.contains(&peer));
        let claimed = Claimed::from_headers(headers);
        let claimed_run = claimed.run.filter(|_| trusted);
        let parent_hop = claimed.parent_hop.filter(|_| trusted);
        let hop_id = HopId::next();
        let inbound = claimed.traceparent;
        let trace_parent = inbound.as_ref().map(|t| t.parent_id.clone());
        // One id minted at most: a run begun here is named after its first trace.
        let minted = (inbound.is_none() || claimed_run.is_none())
            .then(|| crate::vocab::ids::mint_trace_id(hop_id));
        let run_continued = claimed_run.is_some();
        let run_id = claimed_run.unwrap_or_else(|| {
            let mut r = String::with_capacity(36);
            r.push_str("run-");
            r.push_str(minted.as_deref().unwrap_or_default());
            r
        });
        let (trace_id, trace_flags) = match inbound {
            Some(t) => (t.trace_id, t.flags),
            None => (minted.unwrap_or_default(), "01".to_string()),
        };
        let rendered = Rendered::of(&run_id, &trace_id, hop_id);
        Ok(Self {
            rendered,
            run_continued,
            run_id,
            node_id: who.caller.clone(),
            hop_id,
            parent_hop,
            trace_id,
            trace_parent,
            trace_flags,
            tracestate: headers.get(&names::TRACESTATE).cloned(),
        })
    }

    /// Set the context headers on a request going upstream (after inbound `x-sec0-*`
    /// headers were stripped). `decision`: the call's decision, id and policy version.
    pub fn to_upstream(&self, h: &mut HeaderMap, decision: Option<&DecisionTag>) {
        let r = &self.rendered;
        h.insert(names::RUN_ID, r.run.clone());
        set(h, names::NODE_ID, &self.node_id);
        h.insert(names::HOP_ID, r.hop.clone());
        if let Some(p) = &self.parent_hop {
            set(h, names::PARENT_HOP_ID, p);
        }
        if let Some(d) = decision {
            h.insert(names::DECISION, HeaderValue::from_static(d.decision));
            set(h, names::DECISION_ID, &d.decision_id);
            set(h, names::POLICY_VERSION, &d.policy_version);
        }
        let hop = r.hop.to_str().unwrap_or_default();
        let mut tp = String::with_capacity(55);
        for part in ["00-", &self.trace_id, "-", hop, "-", &self.trace_flags] {
            tp.push_str(part);
        }
        set(h, names::TRACEPARENT, &tp);
        if let Some(ts) = &self.tracestate {
            h.insert(names::TRACESTATE, ts.clone());
        }
        // The sec0 SDK's cause links: this hop is the cause of the next one.
        h.insert(names::CAUSE_TRACE, r.trace.clone());
        h.insert(names::CAUSE_SPAN, r.hop.clone());
    }

    /// Set the headers the client gets back: all of them, only the decision id, or none,
    /// as the route's `client_context` says.
    pub fn to_client(&self, h: &mut HeaderMap, decision_id: Option<&str>, which: ClientContext) {
        if which == ClientContext::None {
            return;
        }
        let r = &self.rendered;
        if let Some(id) = decision_id {
            set(h, names::DECISION_ID, id);
        }
        if which == ClientContext::DecisionId {
            return;
        }
        h.insert(names::TRACE_ID, r.trace.clone());
        h.insert(names::RUN_ID, r.run.clone());
        // The sec0 bridge client requires these on every answer.
        h.insert(names::BRIDGE_TRACE_ID, r.trace.clone());
        h.insert(names::BRIDGE_SPAN_ID, r.hop.clone());
    }
}

/// The decision a call carries upstream.
#[derive(Debug, Clone)]
pub struct DecisionTag {
    /// `allow`, `redact`, … (what was enforced).
    pub decision: &'static str,
    /// Its id.
    pub decision_id: String,
    /// The policy version that decided.
    pub policy_version: Arc<str>,
}

fn set(h: &mut HeaderMap, name: HeaderName, value: &str) {
    // Every value set here is an id, a name or hex the gateway validated or minted.
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The SDK's node-id normalisation: lowercase, runs outside `[a-z0-9-]` become `-`, no
/// leading/trailing/repeated `-`, at most 80 characters.
pub fn normalize_node(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut collapsed = String::new();
    for c in out.chars() {
        if !(c == '-' && collapsed.ends_with('-')) {
            collapsed.push(c);
        }
    }
    collapsed.trim_matches('-').chars().take(80).collect()
}

/// The SDK's run-ref normalisation: runs outside `[A-Za-z0-9._:-]` become `_`, at most 120.
pub fn normalize_ref(s: &str) -> String {
    let mut out = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.chars().take(120).collect()
}

/// Validate the sec0 SDK's context headers (see `../shared/reference/sec0-sdk.md` 3.3).
fn check_sdk_headers(h: &HeaderMap, max_state: usize) -> Result<(), ContextError> {
    let Some(state) = h.get(&names::AGENT_STATE) else {
        return Ok(());
    };
    if state.len() > max_state {
        return Err(ContextError::StateTooLarge(max_state));
    }
    let obj = decode_state(state.as_bytes())?;
    let node_header = header(h, "x-node-id")
        .map(normalize_node)
        .unwrap_or_default();
    if header(h, "x-node-id").is_some() && node_header.is_empty() {
        return Err(ContextError::EmptyNode);
    }
    let state_node = obj
        .get("nodeId")
        .and_then(Value::as_str)
        .map(normalize_node)
        .unwrap_or_default();
    if state_node != node_header {
        return Err(ContextError::NodeMismatch {
            state: state_node,
            header: node_header,
        });
    }
    let run = obj.get("runId").or_else(|| obj.get("ref"));
    match run {
        Some(Value::String(r)) => {
            let header_run = header(h, "x-agent-ref")
                .map(normalize_ref)
                .unwrap_or_default();
            if normalize_ref(r) != header_run {
                return Err(ContextError::RunMismatch {
                    state: normalize_ref(r),
                    header: header_run,
                });
            }
        }
        Some(_) => {
            return Err(ContextError::StateMalformed(
                "runId must be a string".into(),
            ));
        }
        None => {}
    }
    if let Some(p) = obj.get("parentRef") {
        let Some(p) = p.as_str() else {
            return Err(ContextError::StateMalformed(
                "parentRef must be a string".into(),
            ));
        };
        let header_parent = header(h, "x-agent-parent-ref")
            .map(normalize_ref)
            .unwrap_or_default();
        if normalize_ref(p) != header_parent {
            return Err(ContextError::ParentMismatch {
                state: normalize_ref(p),
                header: header_parent,
            });
        }
    }
    if matches!(obj.get("metadata"), Some(Value::Null)) {
        return Err(ContextError::StateMalformed(
            "metadata must not be null".into(),
        ));
    }
    Ok(())
}

/// The `x-agent-state` object: base64url, padding optional (the SDK writes none), decoded
/// strictly, then strict JSON.
fn decode_state(state: &[u8]) -> Result<serde_json::Map<String, Value>, ContextError> {
    let text = state.trim_ascii();
    let unpadded = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(unpadded)
        .map_err(|e| ContextError::StateMalformed(e.to_string()))?;
    let v = crate::protocol::json::parse_strict(&raw, 16)
        .map_err(|e| ContextError::StateMalformed(e.to_string()))?;
    match v {
        Value::Object(obj) => Ok(obj),
        _ => Err(ContextError::StateMalformed("not an object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: Value) -> HeaderValue {
        HeaderValue::from_str(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string()),
        )
        .expect("hv")
    }

    fn policy() -> ContextPolicy {
        ContextPolicy {
            trust_verified: true,
            trusted_networks: vec![],
            max_agent_state: 8192,
        }
    }

    #[test]
    fn normalisation_follows_the_sdk() {
        assert_eq!(normalize_node("  Planner Agent!!v2 "), "planner-agent-v2");
        assert_eq!(normalize_node("--A--b--"), "a-b");
        assert_eq!(normalize_ref("run 42/x"), "run_42_x");
    }

    #[test]
    fn agent_state_is_checked_against_the_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-node-id", HeaderValue::from_static("Planner"));
        h.insert("x-agent-ref", HeaderValue::from_static("run-1"));
        h.insert(
            "x-agent-state",
            state(serde_json::json!({"version": 1, "nodeId": "planner", "runId": "run-1"})),
        );
        assert_eq!(check_sdk_headers(&h, 8192), Ok(()));
        h.insert(
            "x-agent-state",
            state(serde_json::json!({"version": 1, "nodeId": "other", "runId": "run-1"})),
        );
        assert!(matches!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::NodeMismatch { .. })
        ));
        h.insert(
            "x-agent-state",
            state(serde_json::json!({"version": 1, "nodeId": "planner", "runId": "run-2"})),
        );
        assert!(matches!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::RunMismatch { .. })
        ));
        h.insert(
            "x-agent-state",
            state(serde_json::json!({"version": 1, "nodeId": "planner", "parentRef": "p"})),
        );
        assert!(matches!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::ParentMismatch { .. })
        ));
        h.insert("x-agent-state", state(serde_json::json!([1, 2])));
        assert!(matches!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::StateMalformed(_))
        ));
        h.insert("x-agent-state", HeaderValue::from_static("!!!not-base64"));
        assert!(matches!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::StateMalformed(_))
        ));
        h.insert(
            "x-agent-state",
            state(serde_json::json!({"nodeId": "planner", "pad": "x".repeat(9000)})),
        );
        assert_eq!(
            check_sdk_headers(&h, 8192),
            Err(ContextError::StateTooLarge(8192))
        );
    }

    #[test]
    fn runs_continue_only_for_trusted_callers() {
        let mut h = HeaderMap::new();
        h.insert("x-sec0-run-id", HeaderValue::from_static("run-from-caller"));
        h.insert("x-sec0-hop-id", HeaderValue::from_static("parenthop"));
        h.insert(
            "traceparent",
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let ip: IpAddr = "10.0.0.5".parse().expect("ip");
        let anon = CallContext::establish(&h, &Identity::anonymous(), ip, &policy()).expect("ctx");
        assert!(
            !anon.run_continued && anon.run_id.starts_with("run-"),
            "an anonymous caller cannot pick the run"
        );
        assert_eq!(anon.parent_hop, None);
        assert_eq!(
            anon.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
            "traces continue from anyone"
        );
        let verified = Identity {
            caller: "spiffe://x/agent/a".into(),
            method: Some(crate::config::AuthMethod::Mtls),
            claims: Default::default(),
        };
        let v = CallContext::establish(&h, &verified, ip, &policy()).expect("ctx");
        assert_eq!(
            (v.run_id.as_str(), v.parent_hop.as_deref()),
            ("run-from-caller", Some("parenthop"))
        );
        let mut net = policy();
        net.trust_verified = false;
        net.trusted_networks = vec!["10.0.0.0/8".parse().expect("net")];
        assert!(
            CallContext::establish(&h, &Identity::anonymous(), ip, &net)
                .expect("ctx")
                .run_continued
        );
        let mut up = HeaderMap::new();
        v.to_upstream(&mut up, None);
        let tp = up["traceparent"].to_str().expect("str");
        assert!(tp.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && tp.ends_with("-01"));
        assert_eq!(up["x-sec0-node-id"], "spiffe://x/agent/a");
        assert_eq!(up["x-cause-span"].to_str().expect("str").len(), 16);
    }
}

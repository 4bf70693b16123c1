//! Act: what the decisions about a call's messages mean for the call.
//!
//! All messages may pass: the call is forwarded unchanged. Otherwise the gateway answers
//! itself: a refused request gets a JSON-RPC error echoing its id (HTTP 200, so MCP clients
//! see one failed call, not a broken transport); a refused notification or client response
//! cannot be answered and is dropped (202). Escalated calls wait for a reviewer
//! ([`crate::review`]) up to `escalation.hold_timeout`: approved, they go on; rejected, they
//! are refused (4032); unanswered, they get `on_timeout`.
//! A batch is decided element by element: refused elements are taken out and answered here,
//! the rest is forwarded as a smaller batch, and the upstream's answer is merged with the
//! gateway's refusals (the inspect step's batch merge).

use http::Response;
use serde_json::Value;

use crate::config::{EscalationConfig, RefusalCodes};
use crate::error::{
    RefusalKind, accepted, http_refusal, json_response, refusal_object, soft_refusal,
};
use crate::forward::body::ProxyBody;
use crate::policy::{Decision, DecisionKind};
use crate::protocol::jsonrpc::{Message, MessageKind};
use crate::review::State;

/// What to do with a call.
pub enum Action {
    /// Send it on.
    Forward,
    /// Answer it here.
    Answer(Response<ProxyBody>),
    /// Answer it here with this JSON-RPC answer (a refusal, or a batch of them). Usually
    /// the HTTP 200 answer to the POST; on a legacy HTTP+SSE session, an event on the
    /// session's stream.
    Refused(Value),
    /// Forward only part of a batch; answer the rest here.
    ForwardPart(PartialBatch),
}

/// A batch of which some elements were refused.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialBatch {
    /// Positions (in the client's batch) of the elements to forward.
    pub keep: Vec<usize>,
    /// The gateway's answers to the refused requests.
    pub refusals: Vec<Value>,
    /// The ids of the batch's requests in the client's order: the merged answer keeps it.
    pub order: Vec<Value>,
}

impl Action {
    /// The HTTP answer for a refusal delivered on the POST itself.
    pub fn refused_response(answer: &Value) -> Response<ProxyBody> {
        json_response(
            http::StatusCode::OK,
            serde_json::to_vec(answer).unwrap_or_default(),
        )
    }
}

enum Outcome {
    Pass,
    Refuse(RefusalKind),
}

/// What each decision means, given the reviewers' answers to the escalated ones (`None`
/// for a decision that was not escalated; an escalation without an answer expired).
fn outcomes(
    decisions: &[&Decision],
    answers: &[Option<State>],
    escalation: &EscalationConfig,
) -> Vec<Outcome> {
    decisions
        .iter()
        .enumerate()
        .map(|(i, d)| match d.decision {
            DecisionKind::Allow | DecisionKind::Redact => Outcome::Pass,
            DecisionKind::Deny => Outcome::Refuse(RefusalKind::Denied),
            DecisionKind::Escalate => match answers.get(i).copied().flatten() {
                Some(State::Approved) => Outcome::Pass,
                Some(State::Rejected) => Outcome::Refuse(RefusalKind::Rejected),
                Some(State::Pending) => Outcome::Refuse(RefusalKind::Deferred),
                Some(State::Unavailable) => Outcome::Refuse(RefusalKind::ReviewUnavailable),
                _ if escalation.on_timeout == DecisionKind::Allow => Outcome::Pass,
                _ => Outcome::Refuse(RefusalKind::EscalationTimedOut),
            },
        })
        .collect()
}

/// Act on the decisions for the messages of a JSON-RPC body (same order); `answers` are
/// the reviewers' answers to escalated ones.
pub fn on_jsonrpc(
    decided: &[(&Message, Decision)],
    answers: &[Option<State>],
    batch: bool,
    escalation: &EscalationConfig,
    soft_deny: bool,
    codes: &RefusalCodes,
) -> Action {
    let decisions: Vec<&Decision> = decided.iter().map(|(_, d)| d).collect();
    let outcomes = outcomes(&decisions, answers, escalation);
    if outcomes.iter().all(|o| matches!(o, Outcome::Pass)) {
        return Action::Forward;
    }
    let mut keep = Vec::new();
    let mut refusals = Vec::new();
    let mut order = Vec::new();
    for (i, ((msg, decision), outcome)) in decided.iter().zip(&outcomes).enumerate() {
        let id = msg.value.get("id").cloned().unwrap_or(Value::Null);
        let request = msg.kind == MessageKind::Request;
        if request {
            order.push(id.clone());
        }
        match outcome {
            Outcome::Pass => keep.push(i),
            // Notifications and client responses cannot be answered: dropped.
            Outcome::Refuse(kind) if request && soft_deny && msg.method() == Some("tools/call") => {
                refusals.push(soft_refusal(&id, decision, *kind, codes));
            }
            Outcome::Refuse(kind) if request => {
                refusals.push(refusal_object(&id, decision, *kind, codes));
            }
            Outcome::Refuse(_) => {}
        }
    }
    if !keep.is_empty() {
        return Action::ForwardPart(PartialBatch {
            keep,
            refusals,
            order,
        });
    }
    match (batch, refusals.len()) {
        (_, 0) => Action::Answer(accepted()),
        (false, _) => Action::Refused(refusals.remove(0)),
        (true, _) => Action::Refused(Value::Array(refusals)),
    }
}

/// Act on the decision for a plain HTTP call: `Some` answer (403) when it is refused.
pub fn on_http(
    decision: &Decision,
    answer: Option<State>,
    escalation: &EscalationConfig,
) -> Option<Response<ProxyBody>> {
    match outcomes(&[decision], &[answer], escalation).pop() {
        Some(Outcome::Refuse(kind)) => Some(http_refusal(decision, kind)),
        _ => None,
    }
}

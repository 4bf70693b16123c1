//! Act: what the decisions about a call's messages mean for the call.
//!
//! All messages may pass: the call is forwarded unchanged. Otherwise the gateway answers
//! itself: a refused request gets a JSON-RPC error echoing its id (HTTP 200, so MCP clients
//! see one failed call, not a broken transport); a refused notification or client response
//! cannot be answered and is dropped (202). Escalated calls are held for
//! `escalation.hold_timeout` (no reviewer can answer yet) and then get `on_timeout`.
//! A batch with a refused element is answered element by element but not forwarded at all
//! (the other requests are answered as withheld): forwarding part of a batch and merging the
//! upstream's answer with the gateway's is not implemented yet.

use http::Response;
use serde_json::Value;

use crate::config::EscalationConfig;
use crate::error::{
    RefusalKind, accepted, http_refusal, json_response, refusal_object, withheld_object,
};
use crate::forward::body::ProxyBody;
use crate::policy::{Decision, DecisionKind};
use crate::protocol::jsonrpc::{Message, MessageKind};

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

async fn outcomes(decisions: &[&Decision], escalation: &EscalationConfig) -> Vec<Outcome> {
    let escalated = decisions
        .iter()
        .any(|d| d.decision == DecisionKind::Escalate);
    if escalated && !escalation.hold_timeout.is_zero() {
        tokio::time::sleep(escalation.hold_timeout).await;
    }
    decisions
        .iter()
        .map(|d| match d.decision {
            DecisionKind::Allow | DecisionKind::Redact => Outcome::Pass,
            DecisionKind::Deny => Outcome::Refuse(RefusalKind::Denied),
            DecisionKind::Escalate if escalation.on_timeout == DecisionKind::Allow => Outcome::Pass,
            DecisionKind::Escalate => Outcome::Refuse(RefusalKind::EscalationTimedOut),
        })
        .collect()
}

/// Act on the decisions for the messages of a JSON-RPC body (same order).
pub async fn on_jsonrpc(
    decided: &[(&Message, Decision)],
    batch: bool,
    escalation: &EscalationConfig,
) -> Action {
    let decisions: Vec<&Decision> = decided.iter().map(|(_, d)| d).collect();
    let outcomes = outcomes(&decisions, escalation).await;
    let Some(first_refused) = outcomes
        .iter()
        .position(|o| matches!(o, Outcome::Refuse(_)))
    else {
        return Action::Forward;
    };
    let mut answers = Vec::new();
    for ((msg, decision), outcome) in decided.iter().zip(&outcomes) {
        if msg.kind != MessageKind::Request {
            continue; // notifications and client responses cannot be answered
        }
        let id = msg.value.get("id").cloned().unwrap_or(Value::Null);
        answers.push(match outcome {
            Outcome::Refuse(kind) => refusal_object(&id, decision, *kind),
            Outcome::Pass => withheld_object(&id, first_refused),
        });
    }
    match (batch, answers.len()) {
        (_, 0) => Action::Answer(accepted()),
        (false, _) => Action::Refused(answers.remove(0)),
        (true, _) => Action::Refused(Value::Array(answers)),
    }
}

/// Act on the decision for a plain HTTP call.
pub async fn on_http(decision: &Decision, escalation: &EscalationConfig) -> Action {
    match outcomes(&[decision], escalation).await.pop() {
        Some(Outcome::Refuse(kind)) => Action::Answer(http_refusal(decision, kind)),
        _ => Action::Forward,
    }
}

//! Phase 4, act: what the decisions mean for the call (`crate::act` maps them): forward
//! it — redacted where a decision says so, only the allowed part of a batch — or answer it
//! here with its refusals. The run remembers what its messages did, and the answer gets
//! what it will need: a `tools/list` filter, the response guard, the legacy stream's tap.

use std::sync::Arc;

use bytes::Bytes;
use http::header;
use http::request::Parts;

use super::decide::Decided;
use super::read::{Read, ReadBody};
use super::state::{Admitted, CallState};
use super::{ProxyState, full};
use crate::act::{self, Action, PartialBatch};
use crate::config::Protocol;
use crate::context::DecisionTag;
use crate::error::GatewayError;
use crate::forward::body::ProxyBody;
use crate::guard::{Direction, Located, redact_json};
use crate::inspect::ToolsListFilter;
use crate::inspect::guarded::{Asked, ResponseGuard, RouteInfo};
use crate::inspect::legacy_sse::session_from_query;
use crate::policy::{Decision, DecisionKind, Policy};
use crate::protocol::jsonrpc::{Message, MessageKind, select_batch};
use crate::protocol::mcp::call_parts;
use crate::protocol::{Envelope, ProtocolError};
use crate::review::State;
use crate::routing::Route;

/// What the act phase made of the call.
pub(super) enum Acted {
    /// The gateway answered the call itself (refusal, dropped notification, 429).
    Answered(http::Response<ProxyBody>),
    /// Send this on.
    Forward(Box<Outgoing>),
}

/// A call on its way to the upstream, and what its answer will need.
pub(super) struct Outgoing {
    /// Its head.
    pub parts: Parts,
    /// The body to send.
    pub body: ProxyBody,
    /// What the answer will need.
    pub plan: AnswerPlan,
}

/// What the answer to a forwarded call will need.
#[derive(Default)]
pub(super) struct AnswerPlan {
    /// Filter for a `tools/list` answer.
    pub tools_filter: Option<ToolsListFilter>,
    /// The refused part of a batch, to merge into the answer.
    pub partial: Option<PartialBatch>,
    /// The guard for the answer (response-direction rules, tool descriptors).
    pub response_guard: Option<ResponseGuard>,
    /// An MCP GET: the answer may be a legacy HTTP+SSE session stream.
    pub stream_open: bool,
}

impl ProxyState {
    /// Act on what was decided about the call `read`.
    pub(super) async fn act(
        &self,
        call: &mut CallState,
        a: &Admitted,
        read: Read,
        decided: Decided,
    ) -> Result<Acted, GatewayError> {
        let Read {
            mut parts,
            body: readout,
            send,
        } = read;
        let body = send.unwrap_or_else(|| full(call.buffered.clone().unwrap_or_default()));
        let Some(policy) = call.policy.clone() else {
            // No policy: nothing was decided; the call goes on as it came.
            return Ok(forward(parts, body));
        };
        match readout {
            ReadBody::Http { .. } => {
                let Some(d) = decided.decisions.first() else {
                    return Ok(forward(parts, body));
                };
                if let Some(wait) = decided.retry_after {
                    return Ok(Acted::Answered(crate::error::too_many(d, wait)));
                }
                call.decision = call_decision(decided.decisions.iter());
                let answer = decided.answers.first().copied().flatten();
                if let Some(refusal) = act::on_http(d, answer, &self.escalation) {
                    return Ok(Acted::Answered(tagged(refusal, &call.decision)));
                }
                Ok(forward(parts, body))
            }
            ReadBody::JsonRpc(envelope) => {
                match self
                    .act_jsonrpc(call, a, &policy, &mut parts, &envelope, decided)
                    .await?
                {
                    Next::Answer(resp) => Ok(Acted::Answered(resp)),
                    Next::Forward(partial) => {
                        Ok(self.prepare_answer(call, a, &policy, &envelope, parts, partial))
                    }
                }
            }
        }
    }

    /// A JSON-RPC body: redact, remember the run, and answer here, or forward what
    /// `call.buffered` now holds.
    async fn act_jsonrpc(
        &self,
        call: &mut CallState,
        a: &Admitted,
        policy: &Policy,
        parts: &mut Parts,
        envelope: &Envelope,
        decided: Decided,
    ) -> Result<Next, GatewayError> {
        if !decided.to_redact.is_empty() {
            self.redact_request(call, a, policy, parts, &decided.to_redact);
        }
        call.decision = call_decision(decided.decisions.iter());
        let pairs: Vec<(&Message, Decision)> = envelope
            .messages
            .iter()
            .zip(decided.decisions.iter().cloned())
            .collect();
        let retry_after = decided.retry_after;
        let mut partial = None;
        let soft_deny = a.route.soft_deny && a.route.protocol == Protocol::Mcp;
        let action = act::on_jsonrpc(
            &pairs,
            &decided.answers,
            envelope.batch,
            &self.escalation,
            soft_deny,
            &self.codes,
        );
        let forwards = matches!(action, Action::Forward | Action::ForwardPart(_));
        self.remember_run(policy, a, &pairs, &decided, forwards)
            .await?;
        match action {
            Action::Forward => {}
            Action::Answer(resp) => {
                let resp = with_retry_after(tagged(resp, &call.decision), retry_after);
                return Ok(Next::Answer(resp));
            }
            Action::Refused(answer) => {
                let query = parts.uri.query();
                let resp = self.deliver_refusal(&a.route, query, envelope.batch, &answer);
                let resp = with_retry_after(tagged(resp, &call.decision), retry_after);
                return Ok(Next::Answer(resp));
            }
            Action::ForwardPart(part) => {
                // Only the allowed elements go on, each byte for byte.
                let whole = call.buffered.as_deref().unwrap_or_default();
                let Some(kept) = select_batch(whole, &part.keep) else {
                    call.buffered = None;
                    return Err(ProtocolError::Mcp("batch could not be split".into()).into());
                };
                let kept = Bytes::from(kept);
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, kept.len().into());
                call.buffered = Some(kept);
                partial = Some(part);
            }
        }
        Ok(Next::Forward(partial))
    }

    /// Replace what redact decisions chose, before anything is forwarded; every other byte
    /// stays as it was.
    fn redact_request(
        &self,
        call: &mut CallState,
        a: &Admitted,
        policy: &Policy,
        parts: &mut Parts,
        to_redact: &[Located],
    ) {
        let whole = call.buffered.as_deref().unwrap_or_default();
        let chosen: Vec<&Located> = to_redact.iter().collect();
        let redacted = Bytes::from(redact_json(whole, &chosen));
        self.metrics
            .redactions
            .with_label_values(&[&a.route.name, "request"])
            .inc_by(to_redact.len() as u64);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, redacted.len().into());
        // 2026-07-28 clients mirror marked arguments in `Mcp-Param-*` headers; the upstream
        // checks them against the body, so they are redacted the same way.
        let kinds: Vec<&str> = to_redact.iter().map(|l| &*l.finding.kind).collect();
        redact_param_headers(policy.guard(), &mut parts.headers, &kinds);
        call.buffered = Some(redacted);
    }

    /// What a forwarded JSON-RPC call's answer will need: the `tools/list` filter, the
    /// legacy stream's expectations, the response guard.
    fn prepare_answer(
        &self,
        call: &mut CallState,
        a: &Admitted,
        policy: &Arc<Policy>,
        envelope: &Envelope,
        parts: Parts,
        partial: Option<PartialBatch>,
    ) -> Acted {
        let mut plan = AnswerPlan {
            partial,
            tools_filter: self.tools_list_filter(policy, &a.route, envelope, a.who.caller.clone()),
            ..AnswerPlan::default()
        };
        // Legacy HTTP+SSE: answers arrive on the session's GET stream, not on this POST;
        // the stream's tap filters the tool list and guards the answers there.
        if let Some(session) = parts.uri.query().and_then(session_from_query) {
            if let Some(f) = &plan.tools_filter {
                self.legacy
                    .watch_tools_list(a.route.upstream, session, f.clone());
            }
            self.legacy
                .expect_answers(a.route.upstream, session, asked_of(envelope));
        }
        let mut guard =
            self.response_guard(policy, &a.route, envelope, &parts, a.who.caller.clone());
        if let Some(g) = &mut guard {
            // The guard takes over the `tools/list` filter.
            g.tools_filter = plan.tools_filter.take();
            if let Some(audit) = &call.audit {
                g.audit = Some((audit.trail().clone(), Some(audit.ids().clone())));
            }
        }
        plan.response_guard = guard;
        Acted::Forward(Box::new(Outgoing {
            body: full(call.buffered.clone().unwrap_or_default()),
            parts,
            plan,
        }))
    }

    /// The guard for this call's answer: when rules look at responses, or (MCP) when the
    /// call lists tools, whose descriptors are remembered for the rug-pull defence.
    fn response_guard(
        &self,
        policy: &Arc<Policy>,
        route: &Route,
        envelope: &Envelope,
        parts: &Parts,
        caller: Arc<str>,
    ) -> Option<ResponseGuard> {
        let lists_tools = route.protocol == Protocol::Mcp
            && envelope
                .messages
                .iter()
                .any(|m| m.method() == Some("tools/list"));
        if !policy.scans(Direction::Response) && !lists_tools {
            return None;
        }
        let mut guard = self.guard_for(policy.clone(), route, asked_of(envelope), caller);
        guard.route.session = session_of(parts);
        Some(guard)
    }

    /// A response guard for `route` knowing the requests `asked`.
    pub(super) fn guard_for(
        &self,
        policy: Arc<Policy>,
        route: &Route,
        asked: Vec<Asked>,
        caller: Arc<str>,
    ) -> ResponseGuard {
        ResponseGuard {
            policy,
            metrics: self.metrics.clone(),
            route: RouteInfo {
                name: route.name.clone(),
                upstream: route.upstream_name.clone(),
                upstream_index: route.upstream,
                boundary: route.boundary,
                protocol: route.protocol,
                agent: route.agent.clone(),
                caller,
                session: None,
            },
            asked,
            on_timeout: self.escalation.on_timeout,
            codes: self.codes,
            tools_filter: None,
            descriptors: self.descriptors.clone(),
            injected: Default::default(),
            audit: self.audit.clone().map(|t| (t, None)),
            held: Default::default(),
        }
    }

    /// Remember in the run what the call did, in one write: what became of its messages
    /// (a refusal — denied or rejected — or sensitive data handled by a message that went
    /// on mark it) and, when it `forwards`, what its forwarded messages did (tools,
    /// resources, labels). Every run when rules read runs; otherwise, when calls can be
    /// escalated, the runs callers continue (a minted run id is new with each call: it has
    /// no "so far"). With runs in Redis the write goes there only when a rule reads
    /// something in it, or the policy escalates (reviewers see the trajectory), and the run
    /// as read for this call does not hold all of it already
    /// ([`crate::context::runs::Seen`]); when it fails under `fail_closed`, a call going on
    /// whose step a rule reads is refused (a run whose step went unrecorded could pass a
    /// flow rule later).
    async fn remember_run(
        &self,
        policy: &Policy,
        a: &Admitted,
        decided: &[(&Message, Decision)],
        outcome: &Decided,
        forwards: bool,
    ) -> Result<(), GatewayError> {
        if !(policy.tracks_runs() || (policy.escalates() && a.ctx.run_continued)) {
            return Ok(());
        }
        let mut rec = crate::context::runs::Record::default();
        // Whether a rule reads something the call adds (asked only with Redis: in memory
        // everything is kept anyway).
        let shared = self.runs.is_shared();
        let mut read = false;
        for (n, (msg, d)) in decided.iter().enumerate() {
            let answer = outcome.answers.get(n).copied().flatten();
            let went_on = passed(d, answer);
            if d.decision == DecisionKind::Deny || answer == Some(State::Rejected) {
                rec.marks.push(crate::context::runs::REFUSED);
            }
            if went_on && outcome.sensitive.get(n).copied().unwrap_or(false) {
                rec.marks.push(crate::context::runs::SENSITIVE);
                read = true;
            }
            if forwards && went_on {
                let call = call_parts(msg);
                read = read
                    || (shared
                        && policy.reads_step(call.tool, call.resource, !d.labels.is_empty()));
                // What precedents key on: an identifier the run gave the tool before (only
                // in runs callers continue: a minted run has no later call).
                let ids = match (call.tool, call.args) {
                    (Some(tool), Some(args)) if policy.escalates() && a.ctx.run_continued => {
                        crate::features::CallFeatures::of(
                            &a.route.name,
                            tool,
                            "",
                            Some(args),
                            &[],
                            &[],
                            crate::features::Hints {
                                tool,
                                internal_domains: &[],
                            },
                        )
                        .id_keys()
                    }
                    _ => Vec::new(),
                };
                rec.steps.push(crate::context::runs::Step {
                    route: &a.route.name,
                    tool: call.tool,
                    resource: call.resource,
                    labels: &d.labels,
                    ids,
                });
            }
        }
        // A refusal's mark counts when rules read runs (they may name it; precedents key
        // on it).
        read = read || (!rec.marks.is_empty() && policy.reads_runs());
        // Left out when the run, as this call read it, holds all the write would add and
        // was written within a second (its expiry as good as refreshed), and nothing reads
        // the call count (no `count_gt`, no reviewer's trajectory): one round trip fewer.
        let redundant = shared
            && !policy.escalates()
            && outcome
                .run
                .as_ref()
                .is_some_and(|s| s.fresh && s.holds(&rec))
            && !policy.counts_calls();
        let to_redis = (read || policy.escalates()) && !redundant;
        match self.runs.record(&a.ctx.run_id, &rec, to_redis).await {
            Ok(()) => Ok(()),
            Err(e) if forwards && read => {
                tracing::warn!(route = %a.route.name, error = %e, "call refused: its run step cannot be recorded");
                Err(crate::error::RequestError::RunStoreUnavailable(e).into())
            }
            Err(e) => {
                tracing::warn!(route = %a.route.name, error = %e, "run step not recorded in the shared store");
                Ok(())
            }
        }
    }
}

/// What a JSON-RPC call's decisions lead to.
enum Next {
    /// Answer here.
    Answer(http::Response<ProxyBody>),
    /// Forward (a partly refused batch: what was refused).
    Forward(Option<PartialBatch>),
}

/// Forward `body` with `parts` as they are.
fn forward(parts: Parts, body: ProxyBody) -> Acted {
    Acted::Forward(Box::new(Outgoing {
        parts,
        body,
        plan: AnswerPlan::default(),
    }))
}

/// Whether a message decided `d` (answered `answer` if escalated) goes on upstream.
fn passed(d: &Decision, answer: Option<State>) -> bool {
    match d.decision {
        DecisionKind::Allow | DecisionKind::Redact => true,
        DecisionKind::Escalate => answer == Some(State::Approved),
        DecisionKind::Deny => false,
    }
}

/// The decision a call carries upstream and to the client: the most severe of its
/// messages' decisions (what was enforced).
fn call_decision<'d>(decisions: impl Iterator<Item = &'d Decision>) -> Option<DecisionTag> {
    let severity = |k: DecisionKind| match k {
        DecisionKind::Deny => 3,
        DecisionKind::Escalate => 2,
        DecisionKind::Redact => 1,
        DecisionKind::Allow => 0,
    };
    decisions
        .max_by_key(|d| severity(d.decision))
        .map(|d| DecisionTag {
            decision: d.decision.as_str(),
            decision_id: d.decision_id.clone(),
            policy_version: d.policy_version.clone(),
        })
}

/// `resp` with `Retry-After` when a rate limit refused part of it.
fn with_retry_after(
    mut resp: http::Response<ProxyBody>,
    wait: Option<std::time::Duration>,
) -> http::Response<ProxyBody> {
    if let Some(w) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, crate::error::retry_secs(w).into());
    }
    resp
}

/// `resp` with the call's decision attached (for the client's `x-sec0-decision-id`).
fn tagged(
    mut resp: http::Response<ProxyBody>,
    tag: &Option<DecisionTag>,
) -> http::Response<ProxyBody> {
    if let Some(t) = tag {
        resp.extensions_mut().insert(t.clone());
    }
    resp
}

/// The MCP session a request belongs to: `Mcp-Session-Id` (session-era Streamable HTTP) or
/// the legacy transport's `session_id` query parameter.
pub(super) fn session_of(parts: &Parts) -> Option<String> {
    // A compile-time name: looking up by `&str` parses the name on every call.
    const MCP_SESSION_ID: http::HeaderName = http::HeaderName::from_static("mcp-session-id");
    parts
        .headers
        .get(&MCP_SESSION_ID)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.query().and_then(session_from_query))
        .map(str::to_string)
}

/// What the requests of a body asked (for judging their answers).
fn asked_of(envelope: &Envelope) -> Vec<Asked> {
    envelope
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Request)
        .map(|m| {
            let p = call_parts(m);
            Asked {
                id: m.value.get("id").cloned().unwrap_or_default(),
                method: p.method.map(str::to_string),
                tool: p.tool.map(str::to_string),
                resource: p.resource.map(str::to_string),
                prompt: p.prompt.map(str::to_string),
            }
        })
        .collect()
}

/// Redact findings of the given types in `Mcp-Param-*` header values (plain or
/// `=?base64?…?=`), the same way the body was redacted, so header and body still agree.
fn redact_param_headers(
    guard: &crate::guard::Guard,
    headers: &mut http::HeaderMap,
    kinds: &[&str],
) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("mcp-param-"))
        .cloned()
        .collect();
    for name in names {
        let Some(raw) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let (mut text, encoded) = match raw
            .strip_prefix("=?base64?")
            .and_then(|r| r.strip_suffix("?="))
        {
            Some(b) => match b64.decode(b).ok().and_then(|v| String::from_utf8(v).ok()) {
                Some(t) => (t, true),
                None => continue,
            },
            None => (raw.to_string(), false),
        };
        let all = guard.scan_plain(&text, "");
        let found: Vec<_> = all.iter().filter(|f| kinds.contains(&&*f.kind)).collect();
        if found.is_empty() {
            continue;
        }
        crate::guard::redact_text(&mut text, &found);
        let value = if encoded {
            format!("=?base64?{}?=", b64.encode(text.as_bytes()))
        } else {
            text
        };
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_param_headers_are_redacted_like_the_body() {
        use base64::Engine;
        let guard = crate::guard::Guard::new(&[]).expect("guard");
        let mut h = http::HeaderMap::new();
        h.insert("mcp-param-to", "dana@example.com".parse().expect("hv"));
        let b64 = base64::engine::general_purpose::STANDARD.encode("mail dana@example.com");
        h.insert(
            "mcp-param-note",
            format!("=?base64?{b64}?=").parse().expect("hv"),
        );
        h.insert("mcp-param-key", "AKIAQYLPMN5HHHFPZAM2".parse().expect("hv"));
        h.insert("mcp-name", "send".parse().expect("hv"));
        redact_param_headers(&guard, &mut h, &["email"]);
        assert_eq!(h["mcp-param-to"], "[REDACTED:email]");
        let note = h["mcp-param-note"].to_str().expect("ascii");
        let inner = note
            .strip_prefix("=?base64?")
            .and_then(|r| r.strip_suffix("?="))
            .expect("still base64");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(inner)
            .expect("b64");
        assert_eq!(decoded, b"mail [REDACTED:email]");
        assert_eq!(
            h["mcp-param-key"], "AKIAQYLPMN5HHHFPZAM2",
            "only the redacted types"
        );
        assert_eq!(h["mcp-name"], "send");
    }
}

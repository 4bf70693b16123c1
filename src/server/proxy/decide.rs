//! Phase 3, decide: each message of a JSON-RPC body — or the one plain HTTP call — is
//! decided the same way ([`ProxyState::decide_one`]): its rate limits, a withheld tool
//! (rug pull), the rules, and for an escalation the precedents and approvals learning
//! offers; the decision is counted, recorded in the audit trail, and an escalation opened.
//! Then the reviewers' answers to the escalations are awaited, all at once.

use std::sync::Arc;
use std::time::Duration;

use super::ProxyState;
use http::request::Parts;

use super::read::ReadBody;
use super::review::{Learned, Open, opens_escalation};
use super::state::{Admitted, CallState};
use crate::audit::exchange::CallAudit;
use crate::audit::record::AuditRecord;
use crate::config::Protocol;
use crate::error::{GatewayError, RequestError};
use crate::guard::{Direction, Finding, Located};
use crate::policy::{CallFacts, Decision, DecisionKind, Policy, RecordDecision};
use crate::protocol::ProtocolError;
use crate::protocol::a2a::{message_text, method_alias};
use crate::protocol::jsonrpc::{MessageKind, message_slices};
use crate::protocol::mcp::call_parts;
use crate::review::State;

/// What the decide phase settled, per message (one for a plain HTTP call).
#[derive(Default)]
pub(super) struct Decided {
    /// The decisions, in message order (empty: no policy, nothing decided).
    pub decisions: Vec<Decision>,
    /// The reviewers' answers to the escalated ones (`None` elsewhere).
    pub answers: Vec<Option<State>>,
    /// What redact decisions replace, located in the body.
    pub to_redact: Vec<Located>,
    /// The longest wait a rate limit asks for, when one refused a message.
    pub retry_after: Option<Duration>,
    /// Whether each message handles something sensitive (marks its run).
    pub sensitive: Vec<bool>,
    /// The run as this call read it before deciding (when a rule needed it): the write
    /// after may be left out when it adds nothing ([`crate::context::runs::Seen`]).
    pub run: Option<crate::context::runs::Seen>,
}

/// What decides one message besides its facts.
struct Message<'a> {
    /// Where the guard found something in it.
    located: &'a [Located],
    /// A request (it can be answered with a refusal code).
    request: bool,
    /// Its tool's descriptor changed since first seen (rug pull).
    withheld: bool,
}

impl ProxyState {
    /// Decide every message of the call (`head`, and what was read of its `body`).
    pub(super) async fn decide(
        &self,
        call: &mut CallState,
        a: &Admitted,
        head: &Parts,
        body: &ReadBody,
    ) -> Result<Decided, GatewayError> {
        let Some(policy) = call.policy.clone() else {
            return Ok(Decided::default());
        };
        let mut decided = Decided::default();
        let opened = match body {
            ReadBody::JsonRpc(envelope) => {
                self.decide_messages(call, a, &policy, head, envelope, &mut decided)
                    .await?
            }
            ReadBody::Http { json } => {
                let facts = CallFacts {
                    method: Some(head.method.as_str()),
                    host: call.host.as_deref(),
                    path: head.uri.path(),
                    query: head.uri.query(),
                    headers: &head.headers,
                    args: json.as_ref(),
                    claims: Some(&a.who.claims),
                    internal_domains: &self.precedents.config().internal_domains,
                    ..a.route.facts(&a.who.caller)
                };
                let what = Message {
                    located: &[],
                    request: false,
                    withheld: false,
                };
                let open = self
                    .decide_one(&mut call.audit, a, &policy, &facts, what, &mut decided)
                    .await?;
                vec![open]
            }
        };
        decided.answers = self.await_answers(opened, &mut call.audit).await;
        Ok(decided)
    }

    /// Decide each message of a JSON-RPC `envelope`, in order.
    async fn decide_messages(
        &self,
        call: &mut CallState,
        a: &Admitted,
        policy: &Policy,
        head: &Parts,
        envelope: &crate::protocol::Envelope,
        decided: &mut Decided,
    ) -> Result<Vec<Option<Open>>, GatewayError> {
        let scanned = self.scan_request(call, policy, envelope).await;
        // Only looked up when some descriptor is withheld (rug pull): the usual path pays
        // nothing.
        let session = if self.descriptors.has_changes() {
            super::act::session_of(head)
        } else {
            None
        };
        // The run's history, read once, when a rule that reads runs may apply to one of
        // the messages (with runs in Redis: one round trip, only for such calls).
        let mut history = None;
        let a2a = a.route.protocol == Protocol::A2a;
        let mut opened = Vec::with_capacity(envelope.messages.len());
        for (n, msg) in envelope.messages.iter().enumerate() {
            let located = scanned.get(n).map(Vec::as_slice).unwrap_or_default();
            let findings: Vec<Finding> = located.iter().map(|l| l.finding.clone()).collect();
            let parts = call_parts(msg);
            if parts.method == Some("tools/call") && parts.tool.is_none() {
                return Err(
                    ProtocolError::Mcp("tools/call needs a string params.name".into()).into(),
                );
            }
            let text = if a2a { message_text(msg) } else { None };
            // Looked up only when some rule reads them (learning looks them up itself).
            let annotations = parts.tool.filter(|_| policy.reads_annotations());
            let annotations =
                annotations.and_then(|t| self.descriptors.annotations_of(a.route.upstream, t));
            let mut facts = CallFacts {
                method: parts.method,
                method_alias: parts.method.filter(|_| a2a).and_then(method_alias),
                tool: parts.tool,
                resource: parts.resource,
                prompt: parts.prompt,
                agent: a.route.agent.as_deref(),
                text: text.as_deref(),
                host: call.host.as_deref(),
                path: head.uri.path(),
                query: head.uri.query(),
                headers: &head.headers,
                args: parts.args,
                findings: &findings,
                run: None,
                claims: Some(&a.who.claims),
                annotations: annotations.as_ref(),
                internal_domains: &self.precedents.config().internal_domains,
                ..a.route.facts(&a.who.caller)
            };
            // In memory the read is free: as soon as any rule reads runs. In Redis only
            // when a run-reading rule may apply to this message.
            let wants = if self.runs.is_shared() {
                policy.needs_run(&facts)
            } else {
                policy.reads_runs()
            };
            if history.is_none() && wants {
                history = Some(self.runs.read(&a.ctx.run_id).await.map_err(run_store)?);
            }
            facts.run = history.as_ref().map(|s| &s.history);
            let what = Message {
                located,
                request: msg.kind == MessageKind::Request,
                withheld: self.withheld(a, session.as_deref(), parts.tool),
            };
            opened.push(
                self.decide_one(&mut call.audit, a, policy, &facts, what, decided)
                    .await?,
            );
        }
        decided.run = history;
        Ok(opened)
    }

    /// Whether `tool` is withheld on this MCP call: its descriptor changed since it was
    /// first seen (rug pull), for this `session` or the upstream.
    fn withheld(&self, a: &Admitted, session: Option<&str>, tool: Option<&str>) -> bool {
        a.route.protocol == Protocol::Mcp
            && self.descriptors.has_changes()
            && tool.is_some_and(|t| self.descriptors.is_withheld(a.route.upstream, session, t))
    }

    /// What the guard finds in each message of a JSON-RPC body, when some rule looks at
    /// request findings (after HTTP classifiers, when declared, answered).
    async fn scan_request(
        &self,
        call: &CallState,
        policy: &Policy,
        envelope: &crate::protocol::Envelope,
    ) -> Vec<Vec<Located>> {
        if !policy.scans(Direction::Request) {
            return Vec::new();
        }
        let whole = call.buffered.as_deref().unwrap_or_default();
        crate::guard::classifier::prefetch(policy.guard(), whole).await;
        let slices = message_slices(whole, envelope.batch).unwrap_or_default();
        slices
            .into_iter()
            .map(|(offset, msg)| {
                let mut found = policy.guard().scan_json(msg);
                for l in &mut found {
                    l.raw = l.raw.start + offset..l.raw.end + offset;
                }
                found
            })
            .collect()
    }

    /// Decide one message (or plain call) described by `facts`: count it, record it, and
    /// open its escalation (returned, to be awaited with the others).
    async fn decide_one(
        &self,
        audit: &mut Option<CallAudit>,
        a: &Admitted,
        policy: &Policy,
        facts: &CallFacts<'_>,
        what: Message<'_>,
        decided: &mut Decided,
    ) -> Result<Option<Open>, GatewayError> {
        let limited = self
            .rate_limited(policy, facts, a)
            .await
            .unwrap_or_else(|e| Some(crate::error::limit_without_store(&e)));
        let mut learned = None;
        let decision = if let Some((limit, wait)) = limited {
            decided.retry_after = decided.retry_after.max(Some(wait));
            let d = policy.fixed_decision(DecisionKind::Deny, "rate_limited", &limit);
            self.metrics.record_decision(&a.route.name, facts, &d);
            d
        } else if what.withheld {
            // The tool's descriptor changed since it was first seen (rug pull).
            let d = policy.fixed_decision(
                DecisionKind::Deny,
                "tool_descriptor_changed",
                "guard.on_descriptor_change",
            );
            self.metrics.record_decision(&a.route.name, facts, &d);
            d
        } else {
            let (d, l) = self.judge(audit, a, policy, facts).await;
            learned = l;
            d
        };
        decided
            .sensitive
            .push(learned.as_ref().is_some_and(|l| l.features.is_sensitive()));
        let refused_code = what
            .request
            .then(|| refusal_code(&decision, self.escalation.on_timeout, &self.codes))
            .flatten();
        self.record_decision(audit, a, facts, &decision, refused_code)
            .await?;
        decided.to_redact.extend(
            decision
                .redact
                .iter()
                .filter_map(|&k| what.located.get(k))
                .cloned(),
        );
        let open = opens_escalation(&decision, learned.as_ref())
            .then(|| self.escalate(&a.route, facts, &decision, learned, &a.ctx.run_id));
        decided.decisions.push(decision);
        Ok(open)
    }

    /// The rules' decision, and for an escalation what learning makes of it: a deferred
    /// approval of this very call, or a precedent (or its spot check). Counted and timed.
    async fn judge(
        &self,
        audit: &mut Option<CallAudit>,
        a: &Admitted,
        policy: &Policy,
        facts: &CallFacts<'_>,
    ) -> (Decision, Option<Learned>) {
        let started = std::time::Instant::now();
        let mut d = policy.decide(facts);
        let mut learned = None;
        if d.decision == DecisionKind::Escalate {
            let run = &a.ctx.run_id;
            // Learning and the reviewer see the run even when no rule read it. When it
            // cannot be read (`fail_closed`), neither an approval nor a precedent answers
            // the call — they key on the run's labels: a person does, or the review
            // store's own rule denies it.
            let (history, run_known) = match facts.run {
                Some(_) => (None, true),
                None => match self.runs.history(run).await {
                    Ok(h) => (Some(h), true),
                    Err(e) => {
                        tracing::warn!(route = %a.route.name, error = %e, "escalated call learned without its run");
                        (None, false)
                    }
                },
            };
            let mut l = self.learned(policy, &a.route, facts, history);
            let approval = facts
                .headers
                .get("x-sec0-approval")
                .and_then(|v| v.to_str().ok());
            let grant = if run_known {
                self.reviews
                    .take_grant(facts.caller, run, &l.features.exact().id, approval)
                    .await
            } else {
                None
            };
            if let Some(grant) = grant {
                // A deferred escalation of this very call was approved: allowed once.
                d = policy.fixed_decision(DecisionKind::Allow, "approved", &grant);
            } else if let Some(o) = run_known
                .then(|| self.precedents.decide(&l.features, l.strict, started))
                .flatten()
            {
                d = self.apply_precedent(policy, d, &o, &mut l);
            }
            learned = Some(l);
        }
        let took = started.elapsed();
        self.metrics.policy_eval.observe(took.as_secs_f64());
        self.metrics.record_decision(&a.route.name, facts, &d);
        if let Some(audit) = audit {
            audit.policy_took(took);
        }
        (d, learned)
    }

    /// The first rate limit whose bucket for this call is empty: its id and the wait.
    /// Buckets are shared by replicas when the store is (`Err`: it cannot be reached under
    /// `fail_closed`; `crate::error::limit_without_store` says how the call is refused).
    async fn rate_limited(
        &self,
        policy: &Policy,
        facts: &CallFacts<'_>,
        a: &Admitted,
    ) -> Result<Option<(Arc<str>, Duration)>, crate::shared::StoreError> {
        for l in policy.limits_for(facts) {
            let key = match l.per {
                crate::policy::model::LimitKey::Caller => &*a.who.caller,
                crate::policy::model::LimitKey::Run => a.ctx.run_id.as_str(),
            };
            if let Some(wait) = self.limits.take(l, key).await? {
                return Ok(Some((l.id.clone(), wait)));
            }
        }
        Ok(None)
    }

    /// Record a decision in the audit trail (its record is completed when the answer ends).
    /// Under `fail_closed` a record that cannot be queued refuses the call; under `block`
    /// this waits for room.
    async fn record_decision(
        &self,
        audit: &mut Option<CallAudit>,
        a: &Admitted,
        facts: &CallFacts<'_>,
        d: &Decision,
        refused_code: Option<i64>,
    ) -> Result<(), GatewayError> {
        let Some(audit) = audit else {
            return Ok(());
        };
        let mut record = AuditRecord::decision(&a.route.name, facts, d);
        record.jsonrpc_code = refused_code;
        if d.decision == DecisionKind::Escalate {
            record.escalation = Some(crate::audit::record::Escalation {
                id: d.decision_id.clone(),
                outcome: Some(self.escalation.on_timeout),
                state: crate::vocab::EscalationState::Expired,
            });
        }
        match audit.decided(record).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(route = %a.route.name, error = %e, "audit record not queued");
                Err(RequestError::AuditUnavailable.into())
            }
        }
    }
}

/// A call refused because its run's history cannot be read (`fail_closed`).
fn run_store(e: crate::context::runs::RunStoreError) -> GatewayError {
    RequestError::RunStoreUnavailable(e).into()
}

/// The JSON-RPC error code a request gets when `d` refuses it (none when it goes on).
fn refusal_code(
    d: &Decision,
    on_timeout: DecisionKind,
    codes: &crate::config::RefusalCodes,
) -> Option<i64> {
    match (d.decision, on_timeout) {
        (DecisionKind::Deny, _) => Some(codes.denied),
        (DecisionKind::Escalate, DecisionKind::Deny) => Some(codes.escalated),
        _ => None,
    }
}

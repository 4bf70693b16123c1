//! Escalations on the request path: open one for each escalated decision, wait for the
//! reviewers' answers (all of a call's escalations at once, up to the hold time), and record
//! every state change in the audit trail, linked to the decision.

use std::sync::Arc;

use tokio::sync::watch;

use super::ProxyState;
use crate::audit::exchange::CallAudit;
use crate::audit::record::{AuditRecord, Escalation as EscalationNote};
use crate::policy::model::EscalationFlow;
use crate::policy::{CallFacts, Decision, DecisionKind};
use crate::review::learn::Fingerprint;
use crate::review::{Escalation, State};
use crate::routing::Route;

/// An escalation waiting for its answer.
pub(super) struct Open {
    id: String,
    rx: watch::Receiver<State>,
    fingerprint: Fingerprint,
    /// Answered at once (`defer`); the approval comes later, for the call's next attempt.
    deferred: bool,
    /// How long it may wait for its answer.
    wait: std::time::Duration,
}

/// The fingerprint precedents group an escalated call by.
pub(super) fn fingerprint(facts: &CallFacts<'_>) -> Fingerprint {
    Fingerprint::of_call(facts)
}

impl ProxyState {
    /// Open an escalation for `d` (an escalated decision on the call `facts` describes).
    pub(super) fn escalate(
        &self,
        route: &Route,
        facts: &CallFacts<'_>,
        d: &Decision,
        run_id: &str,
    ) -> Open {
        let fp = fingerprint(facts);
        let deferred = d.flow.unwrap_or(self.escalation.flow) == EscalationFlow::Defer;
        let (arguments, arguments_note) = match facts
            .args
            .map(|a| crate::review::masked_arguments(a, facts.findings))
        {
            Some(Ok(a)) => (Some(a), None),
            Some(Err(note)) => (None, Some(note)),
            None => (None, None),
        };
        let e = Escalation {
            flow: if deferred {
                EscalationFlow::Defer
            } else {
                EscalationFlow::Hold
            },
            fingerprint: fp.id.clone(),
            shape: fp.text.clone(),
            arguments,
            arguments_note,
            trajectory: Some(match facts.run {
                Some(h) => crate::review::Trajectory::from(h),
                None => crate::review::Trajectory::from(&self.runs.history(run_id)),
            }),
            id: d.decision_id.clone(),
            state: State::Pending,
            created: String::new(),
            expires: String::new(),
            route: route.name.clone(),
            caller: facts.caller.to_string(),
            run_id: Some(run_id.to_string()),
            method: facts.method.map(str::to_owned),
            tool: facts.tool.map(str::to_owned),
            resource: facts.resource.map(str::to_owned),
            reason: d.reason.to_string(),
            rules: d.rules.iter().map(|r| r.to_string()).collect(),
            findings: facts
                .findings
                .iter()
                .map(|f| format!("{}/{}", f.detector, f.kind))
                .collect(),
            reviewer: None,
            comment: None,
        };
        self.record_escalation(&e, e.state.as_str(), "pending");
        tracing::info!(escalation = %e.id, route = %e.route, caller = %e.caller, reason = %e.reason, "call escalated for review");
        let wait = if deferred {
            self.escalation.defer_ttl
        } else {
            self.escalation.hold_timeout
        };
        let rx = self.reviews.create(e, wait);
        self.metrics
            .escalations_pending
            .set(self.reviews.pending() as i64);
        Open {
            id: d.decision_id.clone(),
            rx,
            fingerprint: fp,
            deferred,
            wait,
        }
    }

    /// Wait for the answers to `open` (one slot per message; `None` where nothing was
    /// escalated), record them, and note them on the call's decision records.
    pub(super) async fn await_answers(
        &self,
        open: Vec<Option<Open>>,
        audit: &mut Option<CallAudit>,
    ) -> Vec<Option<State>> {
        let hold = self.escalation.hold_timeout;
        let asked = std::time::Instant::now();
        let waits = open.into_iter().map(|o| {
            let store = self.reviews.clone();
            async move {
                let o = o?;
                // Other replicas (and their reviewers) learn of it; if they cannot and the
                // store fails closed, the call is denied without review.
                if store.share(&o.id, o.wait).await.is_err() {
                    return Some((State::Unavailable, o.id, o.fingerprint));
                }
                if o.deferred {
                    // Answered now; the reviewer's answer is for a later attempt.
                    return Some((State::Pending, o.id, o.fingerprint));
                }
                let state = crate::review::wait(&store, &o.id, o.rx, hold).await;
                Some((state, o.id, o.fingerprint))
            }
        });
        let answers = futures_util::future::join_all(waits).await;
        for (state, _, fp) in answers.iter().flatten() {
            match state {
                State::Approved => {
                    self.reviews
                        .shared()
                        .learn(&self.precedents, fp, true)
                        .await
                }
                State::Rejected => {
                    self.reviews
                        .shared()
                        .learn(&self.precedents, fp, false)
                        .await
                }
                _ => {}
            }
        }
        self.metrics
            .escalations_pending
            .set(self.reviews.pending() as i64);
        answers
            .into_iter()
            .map(|a| {
                let (state, id, _) = a?;
                if state != State::Pending {
                    self.metrics
                        .escalation_answer_seconds
                        .observe(asked.elapsed().as_secs_f64());
                }
                if state == State::Pending {
                    if let Some(a) = audit.as_mut() {
                        a.set_escalation(&id, "pending", "deny");
                    }
                    return Some(State::Pending);
                }
                self.count_precedents();
                let outcome = match state {
                    State::Approved => "allow",
                    State::Rejected | State::Unavailable => "deny",
                    _ => self.escalation.on_timeout.as_str(),
                };
                if let Some(e) = self.reviews.get(&id) {
                    self.record_escalation(&e, e.state.as_str(), outcome);
                }
                if let Some(a) = audit.as_mut() {
                    a.set_escalation(&id, state.as_str(), outcome);
                }
                self.metrics
                    .escalations
                    .with_label_values(&[state.as_str()])
                    .inc();
                Some(state)
            })
            .collect()
    }

    /// Refresh the precedents gauge.
    fn count_precedents(&self) {
        let list = self.precedents.list(std::time::Instant::now());
        for verdict in ["allow", "deny"] {
            let n = list
                .iter()
                .filter(|p| {
                    matches!(
                        (p.verdict, verdict),
                        (crate::review::learn::Verdict::Allow, "allow")
                            | (crate::review::learn::Verdict::Deny, "deny")
                    )
                })
                .count();
            self.metrics
                .precedents
                .with_label_values(&[verdict])
                .set(n as i64);
        }
    }

    /// An audit record that reviewers were notified of a pending escalation (a webhook took
    /// it).
    pub(crate) fn record_notified(&self, e: &Escalation) {
        self.record_escalation(e, "notified", "pending");
    }

    /// An audit record of an escalation's state (never waits).
    fn record_escalation(&self, e: &Escalation, state: &'static str, outcome: &'static str) {
        let Some(trail) = &self.audit else {
            return;
        };
        let record = AuditRecord {
            caller: Some(Arc::from(e.caller.as_str())),
            comment: e.comment.clone(),
            decision_id: Some(e.id.clone()),
            escalation: Some(EscalationNote {
                id: e.id.clone(),
                outcome,
                state,
            }),
            method: e.method.clone(),
            reason: Some(Arc::from(e.reason.as_str())),
            resource: e.resource.clone(),
            reviewer: e.reviewer.clone(),
            route: Some(Arc::from(e.route.as_str())),
            rules: Some(e.rules.iter().map(|r| Arc::from(r.as_str())).collect()),
            run_id: e.run_id.clone(),
            tool: e.tool.clone(),
            ..AuditRecord::new("escalation")
        };
        if trail.try_record(record).is_err() {
            tracing::error!(escalation = %e.id, "audit record of an escalation not queued");
        }
    }
}

/// Whether `d` waits for a reviewer.
pub(super) fn is_escalated(d: &Decision) -> bool {
    d.decision == DecisionKind::Escalate
}

//! Escalations on the request path: what learning makes of an escalated call (its features,
//! a precedent that answers it, a spot check), opening an escalation for each escalated
//! decision, waiting for the reviewers' answers (all of a call's escalations at once, up to
//! the hold time), teaching precedents with the answers, and recording every state change
//! in the audit trail, linked to the decision.

use std::sync::Arc;

use tokio::sync::watch;

use super::ProxyState;
use crate::audit::exchange::CallAudit;
use crate::audit::record::{AuditRecord, Escalation as EscalationNote};
use crate::features::CallFeatures;
use crate::guard::{Direction, Finding};
use crate::policy::model::EscalationFlow;
use crate::policy::{CallFacts, Decision, DecisionKind, Policy, PrecedentUse};
use crate::protocol::mcp::ToolAnnotations;
use crate::review::learn::{Outcome, SpotCheck, SpotFlow, Verdict};
use crate::review::{Escalation, State};
use crate::routing::Route;

/// What learning made of an escalated call.
pub(super) struct Learned {
    /// Its features (the answer to its escalation teaches precedents with them).
    pub features: CallFeatures,
    /// Its tool is destructive or open-world (declared or presumed): stronger evidence.
    pub strict: bool,
    /// The precedent it spot-checks, when it is a spot check.
    pub spot_check: Option<SpotCheck>,
    /// Allowed now and reviewed afterwards (`learn.spot_checks.flow: after`).
    pub review_after: bool,
    /// The run's history when no rule had read it for the call (its trajectory).
    pub history: Option<crate::context::runs::RunHistory>,
}

/// An escalation waiting for its answer.
pub(super) struct Open {
    id: String,
    rx: watch::Receiver<State>,
    features: CallFeatures,
    spot_check: Option<SpotCheck>,
    /// Answered at once (`defer`, or reviewed after the call went through); the answer
    /// comes later and teaches then.
    deferred: bool,
    /// The call went through already (reviewed after the fact).
    reviewed_after: bool,
    /// How long it may wait for its answer.
    wait: std::time::Duration,
}

/// Whether `d` (with what learning made of it) opens an escalation: it waits for a
/// reviewer, or it went through to be reviewed afterwards.
pub(super) fn opens_escalation(d: &Decision, learned: Option<&Learned>) -> bool {
    d.decision == DecisionKind::Escalate || learned.is_some_and(|l| l.review_after)
}

impl ProxyState {
    /// What learning sees of an escalated call: its features (the guard's findings in its
    /// arguments even when no rule asked for them, its run's labels) and how strict its
    /// tool's annotations make precedents.
    pub(super) fn learned(
        &self,
        policy: &Policy,
        route: &Route,
        facts: &CallFacts<'_>,
        history: Option<crate::context::runs::RunHistory>,
    ) -> Learned {
        let found: Vec<Finding>;
        let findings = if policy.scans(Direction::Request) {
            facts.findings
        } else {
            let bytes = facts
                .args
                .and_then(|a| serde_json::to_vec(a).ok())
                .unwrap_or_default();
            found = policy
                .guard()
                .scan_json(&bytes)
                .into_iter()
                .map(|l| l.finding)
                .collect();
            &found
        };
        let empty = crate::context::runs::RunHistory::default();
        let run_history = facts.run.or(history.as_ref()).unwrap_or(&empty);
        let annotations = facts.annotations.copied().or_else(|| {
            facts
                .tool
                .and_then(|t| self.descriptors.annotations_of(route.upstream, t))
        });
        let seen = CallFacts {
            findings,
            run: Some(run_history),
            internal_domains: &self.precedents.config().internal_domains,
            ..*facts
        };
        Learned {
            features: seen.features(),
            strict: route.protocol != crate::config::Protocol::Mcp
                || ToolAnnotations::strict(annotations.as_ref()),
            spot_check: None,
            review_after: false,
            history,
        }
    }

    /// The decision a precedent's outcome `o` makes of the escalated decision `d`: its
    /// verdict, or — for a spot check — the escalation it was, marked as one.
    pub(super) fn apply_precedent(
        &self,
        policy: &Policy,
        d: Decision,
        o: &Outcome,
        l: &mut Learned,
    ) -> Decision {
        let kind = match o.verdict {
            Verdict::Allow => DecisionKind::Allow,
            Verdict::Deny => DecisionKind::Deny,
        };
        // An auto-allow needs the whole truth (a rejection on another replica revokes it);
        // an auto-deny is safe to apply from what this replica knows.
        if kind == DecisionKind::Allow && !self.reviews.store().trusts_local_view() {
            return d;
        }
        let used = PrecedentUse {
            id: Arc::from(o.precedent.as_str()),
            level: o.level.as_str(),
            spot_check: o.spot_check,
        };
        if !o.spot_check {
            let mut decided = policy.fixed_decision(kind, "precedent", &o.precedent);
            decided.precedent = Some(used);
            return decided;
        }
        l.spot_check = Some(SpotCheck {
            precedent: o.precedent.clone(),
            level: o.level,
            verdict: o.verdict,
        });
        let after = self.precedents.config().spot_checks.flow == SpotFlow::After;
        if after && kind == DecisionKind::Allow {
            // Through now; a reviewer looks at it afterwards and the answer teaches.
            l.review_after = true;
            let mut decided = policy.fixed_decision(kind, "precedent", &o.precedent);
            decided.precedent = Some(used);
            return decided;
        }
        let mut d = d;
        d.precedent = Some(used);
        d
    }

    /// Open an escalation for `d` (an escalated decision on the call `facts` describes, or
    /// one allowed to be reviewed afterwards).
    pub(super) fn escalate(
        &self,
        route: &Route,
        facts: &CallFacts<'_>,
        d: &Decision,
        learned: Option<Learned>,
        run_id: &str,
    ) -> Open {
        let learned = learned.unwrap_or_else(|| Learned {
            features: facts.features(),
            strict: true,
            spot_check: None,
            review_after: false,
            history: None,
        });
        let deferred =
            learned.review_after || d.flow.unwrap_or(self.escalation.flow) == EscalationFlow::Defer;
        let e = self.escalation_of(route, facts, d, &learned, run_id, deferred);
        self.record_escalation(&e, e.state, None);
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
            features: learned.features,
            spot_check: learned.spot_check,
            deferred,
            reviewed_after: learned.review_after,
            wait,
        }
    }

    /// The escalation a reviewer sees: the call, its arguments with what the guard found
    /// masked, its run's trajectory, and what learning made of it.
    fn escalation_of(
        &self,
        route: &Route,
        facts: &CallFacts<'_>,
        d: &Decision,
        learned: &Learned,
        run_id: &str,
        deferred: bool,
    ) -> Escalation {
        let exact = learned.features.exact();
        let (arguments, arguments_note) = match facts
            .args
            .map(|a| crate::review::masked_arguments(a, facts.findings))
        {
            Some(Ok(a)) => (Some(a), None),
            Some(Err(note)) => (None, Some(note)),
            None => (None, None),
        };
        Escalation {
            flow: if deferred {
                EscalationFlow::Defer
            } else {
                EscalationFlow::Hold
            },
            fingerprint: exact.id.clone(),
            shape: exact.text.clone(),
            arguments,
            arguments_note,
            trajectory: Some(crate::review::Trajectory::from(
                facts
                    .run
                    .or(learned.history.as_ref())
                    .unwrap_or(&crate::context::runs::RunHistory::default()),
            )),
            features: Some(learned.features.clone()),
            spot_check: learned.spot_check.clone(),
            reviewed_after: learned.review_after,
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
            reason: if learned.spot_check.is_some() {
                "spot_check".into()
            } else {
                d.reason.to_string()
            },
            rules: d.rules.iter().map(|r| r.to_string()).collect(),
            findings: facts
                .findings
                .iter()
                .map(|f| format!("{}/{}", f.detector, f.kind))
                .collect(),
            reviewer: None,
            comment: None,
        }
    }

    /// Wait for the answers to `open` (one slot per message; `None` where nothing was
    /// escalated), teach precedents with them, record them, and note them on the call's
    /// decision records.
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
                if store.share(&o.id, o.wait).await.is_err() && !o.reviewed_after {
                    return Some((State::Unavailable, o));
                }
                if o.deferred {
                    // Answered now; the reviewer's answer is for a later attempt.
                    return Some((State::Pending, o));
                }
                let rx = o.rx.clone();
                let state = crate::review::wait(&store, &o.id, rx, hold).await;
                Some((state, o))
            }
        });
        let answers = futures_util::future::join_all(waits).await;
        for (state, o) in answers.iter().flatten() {
            if matches!(state, State::Approved | State::Rejected) {
                self.reviews
                    .learn(
                        &self.precedents,
                        &o.features,
                        *state == State::Approved,
                        o.spot_check.clone(),
                    )
                    .await;
            }
        }
        self.metrics
            .escalations_pending
            .set(self.reviews.pending() as i64);
        answers
            .into_iter()
            .map(|a| {
                let (state, o) = a?;
                self.note_answer(state, &o, asked, audit);
                Some(state)
            })
            .collect()
    }

    /// Count, record and note on the call's decision records what became of escalation
    /// `o` (`state`; asked at `asked`).
    fn note_answer(
        &self,
        state: State,
        o: &Open,
        asked: std::time::Instant,
        audit: &mut Option<CallAudit>,
    ) {
        if state == State::Pending {
            // Answered now (deferred): allowed only when it is reviewed afterwards.
            let outcome = if o.reviewed_after {
                DecisionKind::Allow
            } else {
                DecisionKind::Deny
            };
            if let Some(a) = audit.as_mut() {
                a.set_escalation(&o.id, State::Pending, Some(outcome));
            }
            return;
        }
        self.metrics
            .escalation_answer_seconds
            .observe(asked.elapsed().as_secs_f64());
        self.count_precedents();
        let outcome = match state {
            State::Approved => DecisionKind::Allow,
            State::Rejected | State::Unavailable => DecisionKind::Deny,
            _ => self.escalation.on_timeout,
        };
        if let Some(e) = self.reviews.get(&o.id) {
            self.record_escalation(&e, e.state, Some(outcome));
        }
        if let Some(a) = audit.as_mut() {
            a.set_escalation(&o.id, state, Some(outcome));
        }
        self.metrics
            .escalations
            .with_label_values(&[state.as_str()])
            .inc();
    }

    /// Refresh the precedents gauge.
    pub(crate) fn count_precedents(&self) {
        let list = self.precedents.list(std::time::Instant::now());
        for (verdict, name) in [(Verdict::Allow, "allow"), (Verdict::Deny, "deny")] {
            let n = list.iter().filter(|p| p.verdict == verdict).count();
            self.metrics
                .precedents
                .with_label_values(&[name])
                .set(n as i64);
        }
    }

    /// An audit record that reviewers were notified of a pending escalation (a webhook took
    /// it).
    pub(crate) fn record_notified(&self, e: &Escalation) {
        self.record_escalation(e, State::Notified, None);
    }

    /// An audit record of an escalation's state (never waits).
    fn record_escalation(&self, e: &Escalation, state: State, outcome: Option<DecisionKind>) {
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
            precedent: e.spot_check.as_ref().map(|s| PrecedentUse {
                id: Arc::from(s.precedent.as_str()),
                level: s.level.as_str(),
                spot_check: true,
            }),
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

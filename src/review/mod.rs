//! Review: escalated calls wait for a person. An escalation is created when a call is
//! escalated, listed and answered through the admin API (`/v1/escalations`), and the held
//! call goes on (approved), is refused with 4032 (rejected) or gets `on_timeout` when
//! nobody answered within `escalation.hold_timeout` (expired). Every state change is an
//! audit record linked to the decision.
//!
//! This store is each replica's view. With a shared store (`crate::shared`, Redis) the
//! answers are decided there, once for all replicas, and every replica's view follows.

pub mod export;
pub mod learn;
pub mod notify;
pub mod replay;
mod replicated;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::shared::Store;
use crate::vocab::EscalationFlow;
pub use crate::vocab::EscalationState as State;

/// What a reviewer sees of an escalated call. Findings name types only; the arguments are
/// kept, masked where the guard found something, only while the escalation is pending.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Escalation {
    /// The escalation's id (the decision id).
    pub id: String,
    /// Where it stands.
    pub state: State,
    /// When it was created (RFC 3339).
    pub created: String,
    /// When it is decided by `on_timeout` if nobody answers (RFC 3339).
    pub expires: String,
    /// The route.
    pub route: String,
    /// The verified caller.
    pub caller: String,
    /// The run.
    pub run_id: Option<String>,
    /// JSON-RPC method (or HTTP method).
    pub method: Option<String>,
    /// The tool called.
    pub tool: Option<String>,
    /// The resource read.
    pub resource: Option<String>,
    /// Why it was escalated.
    pub reason: String,
    /// The matching rules.
    pub rules: Vec<String>,
    /// Finding types (`pii/email`, …).
    pub findings: Vec<String>,
    /// Who answered.
    pub reviewer: Option<String>,
    /// Their comment.
    pub comment: Option<String>,
    /// `hold` or `defer`.
    pub flow: EscalationFlow,
    /// The call's fingerprint id (a deferred approval is for this shape of call).
    pub fingerprint: String,
    /// The fingerprint in words (route, tool, caller, argument shape, finding types).
    pub shape: String,
    /// The call's arguments, every string in which the guard found something replaced by
    /// `«detector/type»`; absent when larger than [`MAX_ARGUMENTS`] (see `arguments_note`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<serde_json::Value>,
    /// Why `arguments` is absent, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments_note: Option<String>,
    /// What the call's run did before it (forwarded calls through this replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trajectory: Option<Trajectory>,
    /// The call's features, as learning sees them (the answer teaches precedents with
    /// them; see docs/review.md, "Features").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<crate::features::CallFeatures>,
    /// Set when the escalation is a spot check of a learned precedent: which one, at which
    /// level, and what it would have decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_check: Option<crate::review::learn::SpotCheck>,
    /// The call went through already; the reviewer's answer only teaches (a spot check
    /// with `learn.spot_checks.flow: after`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reviewed_after: bool,
}

impl Escalation {
    /// Move to `state`; a decided escalation no longer carries the call's arguments (they
    /// were for its reviewer, and decided escalations are kept for a while).
    pub fn settle(&mut self, state: State) {
        self.state = state;
        if state != State::Pending {
            self.arguments = None;
        }
    }
}

/// What a run did before an escalated call.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trajectory {
    /// Calls forwarded so far.
    pub calls: u64,
    /// Tools it called.
    pub called: Vec<String>,
    /// Resources it read.
    pub read: Vec<String>,
    /// Routes it crossed.
    pub routes: Vec<String>,
    /// Labels rules attached to it.
    pub labels: Vec<String>,
}

impl From<&crate::context::runs::RunHistory> for Trajectory {
    fn from(h: &crate::context::runs::RunHistory) -> Self {
        let names =
            |s: &std::collections::BTreeSet<Arc<str>>| s.iter().map(|x| x.to_string()).collect();
        Self {
            calls: h.calls,
            called: names(&h.called),
            read: names(&h.read),
            routes: names(&h.routes),
            labels: names(&h.labels),
        }
    }
}

/// Largest arguments (serialized) kept on an escalation for reviewers.
pub const MAX_ARGUMENTS: usize = 16 * 1024;

/// `args` for a reviewer: every string value at a path where the guard found something is
/// replaced by `«detector/type»` (matched by path suffix, so in doubt more is masked, never
/// less). `Err` with a note when the result is larger than [`MAX_ARGUMENTS`].
pub fn masked_arguments(
    args: &serde_json::Value,
    findings: &[crate::guard::Finding],
) -> Result<serde_json::Value, String> {
    use crate::guard::json_walk::{Segment, render_path};
    use serde_json::Value;
    fn walk<'a>(
        v: &'a Value,
        path: &mut Vec<Segment<'a>>,
        findings: &[crate::guard::Finding],
    ) -> Value {
        match v {
            Value::String(_) => {
                let rel = render_path(path);
                let hit = findings.iter().find(|f| {
                    f.path.ends_with(&rel[1..]) || (path.is_empty() && !f.path.is_empty())
                });
                match hit {
                    Some(f) => Value::String(format!("«{}/{}»", f.detector, f.kind)),
                    None => v.clone(),
                }
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| {
                        path.push(Segment::Index(i));
                        let out = walk(x, path, findings);
                        path.pop();
                        out
                    })
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        path.push(Segment::Key(std::borrow::Cow::Borrowed(k.as_str())));
                        let out = walk(x, path, findings);
                        path.pop();
                        (k.clone(), out)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    let masked = walk(args, &mut Vec::new(), findings);
    let size = serde_json::to_vec(&masked).map_or(usize::MAX, |b| b.len());
    if size > MAX_ARGUMENTS {
        return Err(format!(
            "arguments omitted: {size} bytes (more than {MAX_ARGUMENTS})"
        ));
    }
    Ok(masked)
}

/// Why an answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewError {
    /// No such escalation (or it was forgotten).
    #[error("no escalation {0:?}")]
    NotFound(String),
    /// It was already decided.
    #[error("escalation {id:?} is already {state}")]
    Decided {
        /// The escalation.
        id: String,
        /// Its state.
        state: &'static str,
    },
    /// The shared store could not be reached (`fail_closed`); nothing was answered.
    #[error("review store unavailable: {0}")]
    Unavailable(String),
}

/// Filters for listing.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    /// Only this state (default: all).
    pub state: Option<State>,
    /// Only this route.
    pub route: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only this caller.
    pub caller: Option<String>,
    /// Only this run.
    pub run_id: Option<String>,
}

struct Entry {
    escalation: Escalation,
    tx: watch::Sender<State>,
    /// Until when it may be answered (deferred escalations), then until when its approval
    /// may be used.
    deadline: std::time::Instant,
    /// Deferred approvals are used once.
    used: bool,
    /// Opened by this replica (not learned from another).
    here: bool,
    /// When this replica saw it decided (RFC 3339).
    answered: Option<String>,
}

impl Entry {
    fn shown(&self) -> Shown {
        Shown {
            escalation: self.escalation.clone(),
            answered: self.answered.clone(),
        }
    }

    /// Move to `state`, noting when a decision was seen.
    fn settle(&mut self, state: State) {
        self.escalation.settle(state);
        if state != State::Pending && self.answered.is_none() {
            self.answered = Some(now_rfc3339());
        }
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// An escalation as the admin API shows it: with when it was decided.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// The escalation.
    #[serde(flatten)]
    pub escalation: Escalation,
    /// When it was answered, expired or found unavailable, as this replica saw it
    /// (RFC 3339); absent while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered: Option<String>,
}

/// Decided escalations kept for the API at most (oldest forgotten first).
const KEEP_DECIDED: usize = 10_000;

/// The escalations this replica knows (all of them, with a shared store).
pub struct ReviewStore {
    entries: Mutex<HashMap<String, Entry>>,
    order: Mutex<std::collections::VecDeque<String>>,
    /// Every new escalation and every answer, for the SSE feed and notifiers.
    events: tokio::sync::broadcast::Sender<Escalation>,
    /// Where answers are decided once for all replicas.
    store: Arc<Store>,
    /// Lessons already applied by this replica (so none is counted twice).
    seen: Mutex<std::collections::HashSet<String>>,
}

impl Default for ReviewStore {
    fn default() -> Self {
        Self::new(Arc::new(Store::memory()))
    }
}

impl ReviewStore {
    /// A store whose answers are decided in `store`.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            entries: Mutex::default(),
            order: Mutex::default(),
            events: tokio::sync::broadcast::channel(1024).0,
            store,
            seen: Mutex::default(),
        }
    }

    /// The shared store behind it.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Keep the order of escalations and forget the oldest decided ones past the cap.
    fn remember(&self, id: String) {
        if let (Ok(mut m), Ok(mut o)) = (self.entries.lock(), self.order.lock()) {
            o.push_back(id);
            while o.len() > KEEP_DECIDED {
                let Some(old) = o.pop_front() else { break };
                if m.get(&old)
                    .is_some_and(|x| x.escalation.state == State::Pending)
                {
                    o.push_back(old); // never forget a pending one
                    break;
                }
                m.remove(&old);
            }
        }
    }

    /// Set a pending escalation's state here (no shared store involved).
    pub(crate) fn set_state(&self, id: &str, state: State) -> Option<Escalation> {
        let mut m = self.entries.lock().ok()?;
        let e = m.get_mut(id)?;
        if e.escalation.state != State::Pending {
            return None;
        }
        e.settle(state);
        let _ = e.tx.send(state);
        let _ = self.events.send(e.escalation.clone());
        Some(e.escalation.clone())
    }

    /// New escalations and state changes as they happen (a slow reader misses events
    /// rather than slowing the gateway; it is told how many).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Escalation> {
        self.events.subscribe()
    }

    /// A deferred escalation's approval for this call, used up here: the call is allowed
    /// once. The caller and the call's fingerprint must be the same, and either the run is
    /// too or `approval` (the `x-sec0-approval` header) names the escalation.
    pub fn take_local_grant(
        &self,
        caller: &str,
        run: &str,
        fingerprint: &str,
        approval: Option<&str>,
    ) -> Option<String> {
        let mut m = self.entries.lock().ok()?;
        let now = std::time::Instant::now();
        let hit = m.values_mut().find(|e| {
            let x = &e.escalation;
            x.flow == EscalationFlow::Defer
                && x.state == State::Approved
                && !e.used
                && now < e.deadline
                && x.caller == caller
                // Always the same call (shape); named by the approval, or in the same run.
                && x.fingerprint == fingerprint
                && (approval == Some(x.id.as_str()) || x.run_id.as_deref() == Some(run))
        })?;
        hit.used = true;
        Some(hit.escalation.id.clone())
    }

    /// Register a pending escalation; the receiver turns when it is answered.
    pub fn create(&self, mut e: Escalation, hold: Duration) -> watch::Receiver<State> {
        let now = SystemTime::now();
        e.state = State::Pending;
        e.created = humantime::format_rfc3339_millis(now).to_string();
        e.expires = humantime::format_rfc3339_millis(now + hold).to_string();
        let (tx, rx) = watch::channel(State::Pending);
        let id = e.id.clone();
        let event = e.clone();
        if let Ok(mut m) = self.entries.lock() {
            m.insert(
                id.clone(),
                Entry {
                    escalation: e,
                    tx,
                    deadline: std::time::Instant::now() + hold,
                    used: false,
                    here: true,
                    answered: None,
                },
            );
        }
        self.remember(id);
        // Announced only once it is stored: a listener on another thread (webhooks, the
        // feed) that looks it up on hearing of it finds it.
        let _ = self.events.send(event);
        rx
    }

    /// Answer an escalation here (no shared store involved).
    pub fn resolve(
        &self,
        id: &str,
        approve: bool,
        reviewer: &str,
        comment: Option<&str>,
    ) -> Result<Escalation, ReviewError> {
        let mut m = self
            .entries
            .lock()
            .map_err(|_| ReviewError::NotFound(id.to_string()))?;
        let e = m
            .get_mut(id)
            .ok_or_else(|| ReviewError::NotFound(id.to_string()))?;
        let now = std::time::Instant::now();
        if e.escalation.state == State::Pending
            && e.escalation.flow == EscalationFlow::Defer
            && now >= e.deadline
        {
            // A deferred escalation nobody answered in time.
            e.settle(State::Expired);
        }
        if e.escalation.state != State::Pending {
            return Err(ReviewError::Decided {
                id: id.to_string(),
                state: e.escalation.state.as_str(),
            });
        }
        let state = if approve {
            State::Approved
        } else {
            State::Rejected
        };
        e.settle(state);
        // An approved deferred call may come again for as long as the escalation could
        // have waited (at least a minute).
        let ttl = e
            .deadline
            .saturating_duration_since(now)
            .max(Duration::from_secs(60));
        e.deadline = now + ttl;
        e.escalation.reviewer = Some(reviewer.to_string());
        e.escalation.comment = comment.map(str::to_string);
        let _ = e.tx.send(state);
        let _ = self.events.send(e.escalation.clone());
        Ok(e.escalation.clone())
    }

    /// Mark a pending escalation expired (its hold time passed); `None` when it was
    /// answered meanwhile.
    pub fn expire(&self, id: &str) -> Option<Escalation> {
        let mut m = self.entries.lock().ok()?;
        let e = m.get_mut(id)?;
        if e.escalation.state != State::Pending {
            return None;
        }
        e.settle(State::Expired);
        let _ = e.tx.send(State::Expired);
        let _ = self.events.send(e.escalation.clone());
        Some(e.escalation.clone())
    }

    /// Whether this replica opened the escalation (another replica's are announced there).
    pub fn opened_here(&self, id: &str) -> bool {
        self.entries
            .lock()
            .is_ok_and(|m| m.get(id).is_some_and(|e| e.here))
    }

    /// One escalation.
    pub fn get(&self, id: &str) -> Option<Escalation> {
        let mut m = self.entries.lock().ok()?;
        expire_overdue(&mut m);
        m.get(id).map(|e| e.escalation.clone())
    }

    /// One escalation, with when it was decided.
    pub fn get_shown(&self, id: &str) -> Option<Shown> {
        let mut m = self.entries.lock().ok()?;
        expire_overdue(&mut m);
        m.get(id).map(Entry::shown)
    }

    /// When this replica saw escalation `id` decided.
    pub fn answered_at(&self, id: &str) -> Option<String> {
        self.entries.lock().ok()?.get(id)?.answered.clone()
    }

    /// Escalations matching `f`, newest first.
    pub fn list(&self, f: &Filter) -> Vec<Escalation> {
        self.list_shown(f)
            .into_iter()
            .map(|s| s.escalation)
            .collect()
    }

    /// Escalations matching `f`, newest first, with when they were decided.
    pub fn list_shown(&self, f: &Filter) -> Vec<Shown> {
        let Ok(mut m) = self.entries.lock() else {
            return Vec::new();
        };
        expire_overdue(&mut m);
        let mut v: Vec<Shown> = m
            .values()
            .filter(|x| {
                let e = &x.escalation;
                f.state.is_none_or(|s| e.state == s)
                    && f.route.as_ref().is_none_or(|r| &e.route == r)
                    && f.tool.as_ref().is_none_or(|t| e.tool.as_ref() == Some(t))
                    && f.caller.as_ref().is_none_or(|c| &e.caller == c)
                    && f.run_id
                        .as_ref()
                        .is_none_or(|r| e.run_id.as_ref() == Some(r))
            })
            .map(Entry::shown)
            .collect();
        v.sort_by(|a, b| b.escalation.created.cmp(&a.escalation.created));
        v
    }

    /// Pending escalations now.
    pub fn pending(&self) -> usize {
        self.entries
            .lock()
            .map(|mut m| {
                expire_overdue(&mut m);
                m.values()
                    .filter(|e| e.escalation.state == State::Pending)
                    .count()
            })
            .unwrap_or(0)
    }
}

/// How long past its deadline a pending escalation may still be settled by its waiter.
pub(crate) const SETTLE_GRACE: Duration = Duration::from_secs(5);

/// Pending escalations nobody can answer any more (their hold or defer time passed; the
/// replica holding the call settles it at the deadline, but it may have stopped) are shown
/// as expired.
fn expire_overdue(m: &mut HashMap<String, Entry>) {
    let now = std::time::Instant::now();
    for e in m.values_mut() {
        if e.escalation.state == State::Pending && now > e.deadline + SETTLE_GRACE {
            e.settle(State::Expired);
            let _ = e.tx.send(State::Expired);
        }
    }
}

/// Wait for the answer to an escalation for at most `hold`; `Expired` when none came.
pub async fn wait(
    store: &Arc<ReviewStore>,
    id: &str,
    mut rx: watch::Receiver<State>,
    hold: Duration,
) -> State {
    let answered = tokio::time::timeout(hold, async {
        loop {
            let s = *rx.borrow_and_update();
            if s != State::Pending {
                return s;
            }
            if rx.changed().await.is_err() {
                return State::Expired;
            }
        }
    })
    .await;
    match answered {
        Ok(s) => s,
        // The hold passed: expire it (unless an answer raced in, here or elsewhere).
        Err(_) => store.settle(id).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn esc(id: &str) -> Escalation {
        Escalation {
            id: id.into(),
            state: State::Pending,
            created: String::new(),
            expires: String::new(),
            route: "tools".into(),
            caller: "alice".into(),
            run_id: Some("run-1".into()),
            method: Some("tools/call".into()),
            tool: Some("wire_money".into()),
            resource: None,
            reason: "money_moves".into(),
            rules: vec!["review-wires".into()],
            findings: vec![],
            reviewer: None,
            comment: None,
            flow: EscalationFlow::Hold,
            fingerprint: "fp".into(),
            shape: "route tools, wire_money".into(),
            arguments: None,
            arguments_note: None,
            trajectory: None,
            features: None,
            spot_check: None,
            reviewed_after: false,
        }
    }

    #[test]
    fn arguments_are_masked_where_the_guard_found_something_and_capped() {
        use serde_json::json;
        let finding = |path: &str| crate::guard::Finding {
            detector: "pii".into(),
            kind: "email".into(),
            severity: crate::guard::Severity::Medium,
            path: path.into(),
            span: (0, 3),
            redactable: true,
        };
        let args =
            json!({"to": "ann@corp.test", "n": 5, "cc": ["ok", "bob@corp.test"], "note": "hi"});
        let masked = masked_arguments(
            &args,
            &[
                finding("$.params.arguments.to"),
                finding("$.params.arguments.cc[1]"),
            ],
        )
        .expect("small");
        assert_eq!(
            masked,
            json!({"to": "«pii/email»", "n": 5, "cc": ["ok", "«pii/email»"], "note": "hi"})
        );
        let big = json!({"blob": "x".repeat(MAX_ARGUMENTS)});
        assert!(
            masked_arguments(&big, &[])
                .expect_err("too large")
                .contains("arguments omitted")
        );
    }

    #[test]
    fn a_deferred_approval_is_used_once_by_the_same_call() {
        let s = ReviewStore::default();
        let mut e = esc("d1");
        e.flow = EscalationFlow::Defer;
        let _rx = s.create(e, Duration::from_secs(60));
        assert_eq!(
            s.take_local_grant("alice", "run-1", "fp", None),
            None,
            "not approved yet"
        );
        s.resolve("d1", true, "bob", None).expect("approved");
        assert_eq!(
            s.take_local_grant("mallory", "run-1", "fp", Some("d1")),
            None,
            "another caller"
        );
        assert_eq!(
            s.take_local_grant("alice", "run-2", "other", None),
            None,
            "another call"
        );
        assert_eq!(
            s.take_local_grant("alice", "run-1", "other", Some("d1")),
            None,
            "another shape"
        );
        assert_eq!(
            s.take_local_grant("alice", "run-1", "fp", None).as_deref(),
            Some("d1")
        );
        assert_eq!(
            s.take_local_grant("alice", "run-1", "fp", None),
            None,
            "once"
        );
    }

    #[tokio::test]
    async fn an_answer_releases_the_held_call_once() {
        let s = Arc::new(ReviewStore::default());
        let rx = s.create(esc("e1"), Duration::from_secs(10));
        assert_eq!(s.pending(), 1);
        let waiter = {
            let s = s.clone();
            tokio::spawn(async move { wait(&s, "e1", rx, Duration::from_secs(10)).await })
        };
        let done = s.resolve("e1", true, "bob", Some("ok")).expect("resolved");
        assert_eq!(done.reviewer.as_deref(), Some("bob"));
        assert_eq!(waiter.await.expect("waiter"), State::Approved);
        assert_eq!(
            s.resolve("e1", false, "eve", None).err(),
            Some(ReviewError::Decided {
                id: "e1".into(),
                state: "approved"
            })
        );
        assert_eq!(
            s.resolve("nope", true, "bob", None).err(),
            Some(ReviewError::NotFound("nope".into()))
        );
        assert_eq!(
            s.list(&Filter {
                tool: Some("wire_money".into()),
                ..Filter::default()
            })
            .len(),
            1
        );
    }

    #[tokio::test]
    async fn nobody_answering_expires_it() {
        let s = Arc::new(ReviewStore::default());
        let rx = s.create(esc("e2"), Duration::from_millis(20));
        assert_eq!(
            wait(&s, "e2", rx, Duration::from_millis(20)).await,
            State::Expired
        );
        assert_eq!(s.get("e2").map(|e| e.state), Some(State::Expired));
        assert!(
            s.resolve("e2", true, "late", None).is_err(),
            "too late to answer"
        );
    }
}

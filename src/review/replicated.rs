//! How a replica's review store meets the shared store (`crate::shared`, in the store's
//! own terms): escalations are records (`esc:<id>`: the escalation's JSON, its state,
//! flow and deadline) whose state changes by compare-and-set, so an answer or an expiry is
//! decided once for all replicas; a deferred approval is claimed once; reviewers' answers
//! are lessons appended to a log (`lessons`) and revocations fields of a hash (`revoked`);
//! and news travels on the store's channel as [`Event`]s, which [`ReviewStore::follow`]
//! applies here.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::learn::{Lesson, Precedents, SpotCheck};
use super::{Entry, Escalation, ReviewError, ReviewStore, State};
use crate::features::CallFeatures;
use crate::shared::{CasOutcome, CasRule, Lapse, StoreError, instant_of, now_ms};

/// The store's space for escalations.
const ESCALATIONS: &str = "esc";
/// How long decided escalations stay in the shared store for the API.
const KEEP_DECIDED: Duration = Duration::from_secs(24 * 3600);
/// Escalations a replica loads when it starts or reconnects.
const LOAD_ESCALATIONS: isize = 10_000;
/// The log of reviewers' answers, as learning took them.
const LESSONS: &str = "lessons";
/// Most lessons kept (older ones are trimmed: old answers of long-lived precedents, whose
/// newer answers remain).
const MAX_LESSONS: isize = 50_000;
/// The hash of revoked precedents (id → Unix ms).
const REVOKED: &str = "revoked";

/// A reviewer's answer as stored and announced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LessonNote {
    /// Unique id (a replica counts each answer once).
    pub id: String,
    /// What learning took from the answer.
    pub lesson: Lesson,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// What replicas tell each other on the store's channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An escalation opened or changed state.
    Escalation {
        /// The escalation as it stands.
        escalation: Box<Escalation>,
    },
    /// A reviewer's answer taught precedents.
    Lesson(Box<LessonNote>),
    /// A precedent was revoked (its answers until then forgotten).
    Revoke {
        /// `precedent-<fingerprint id>`.
        precedent: String,
        /// When (Unix ms).
        at_ms: u64,
    },
}

/// A deadline as this process's clock reads it, from an RFC 3339 time (now if unreadable;
/// in the past if it has passed).
fn deadline_of(rfc3339: &str) -> std::time::Instant {
    let now = std::time::Instant::now();
    let Ok(t) = humantime::parse_rfc3339(rfc3339) else {
        return now;
    };
    match t.duration_since(SystemTime::now()) {
        Ok(left) => now + left,
        Err(passed) => now.checked_sub(passed.duration()).unwrap_or(now),
    }
}

impl ReviewStore {
    /// Take in an escalation as another replica (or the shared store) tells it: a new one
    /// is remembered and announced on the feed; an answer to a pending one releases its
    /// held call here. Applying the same news twice changes nothing.
    pub fn apply(&self, mut e: Escalation) {
        let Ok(mut m) = self.entries.lock() else {
            return;
        };
        let now = std::time::Instant::now();
        if let Some(x) = m.get_mut(&e.id) {
            if x.escalation.state != State::Pending || e.state == State::Pending {
                return;
            }
            x.settle(e.state);
            x.escalation.reviewer = e.reviewer;
            x.escalation.comment = e.comment;
            if e.state == State::Approved {
                x.deadline = x.deadline.max(now + Duration::from_secs(60));
            }
            let _ = x.tx.send(e.state);
            let _ = self.events.send(x.escalation.clone());
            return;
        }
        if e.state != State::Pending {
            e.arguments = None;
        }
        let mut deadline = deadline_of(&e.expires);
        if e.state == State::Approved {
            deadline = deadline.max(now + Duration::from_secs(60));
        }
        let id = e.id.clone();
        if e.state == State::Pending {
            let _ = self.events.send(e.clone());
        }
        let (tx, _) = watch::channel(e.state);
        let answered = (e.state != State::Pending).then(super::now_rfc3339);
        m.insert(
            id.clone(),
            Entry {
                escalation: e,
                tx,
                deadline,
                used: false,
                here: false,
                answered,
            },
        );
        drop(m);
        self.remember(id);
    }

    /// Share a new escalation with the other replicas (stored, announced). Under
    /// `fail_closed` with the store unreachable it is marked `unavailable` here and the
    /// error returned: the call must then be denied.
    pub async fn share(&self, id: &str, wait: Duration) -> Result<(), StoreError> {
        if !self.store.is_shared() {
            return Ok(());
        }
        let Some(e) = self.get(id) else {
            return Ok(());
        };
        let r = self.put(&e, wait).await;
        if r.is_err() {
            self.set_state(id, State::Unavailable);
        }
        r
    }

    async fn put(&self, e: &Escalation, wait: Duration) -> Result<(), StoreError> {
        let data = serde_json::to_string(e).map_err(|err| StoreError::Data(err.to_string()))?;
        let deadline = (now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)).to_string();
        let fields = [
            ("state", "pending"),
            ("flow", e.flow.as_str()),
            ("deadline", deadline.as_str()),
        ];
        self.store
            .put_record(
                "open",
                (ESCALATIONS, &e.id),
                &data,
                &fields,
                wait + KEEP_DECIDED,
            )
            .await?;
        self.announce(e).await;
        Ok(())
    }

    /// Tell the other replicas how an escalation stands (best effort: they also find out
    /// when their hold ends).
    pub(crate) async fn announce(&self, e: &Escalation) {
        let event = Event::Escalation {
            escalation: Box::new(e.clone()),
        };
        if let Ok(msg) = serde_json::to_string(&event) {
            let _ = self.store.publish("announce", &msg).await;
        }
    }

    /// Change an escalation's state in the shared store, once for all replicas (`None`:
    /// no shared store, decide it here).
    async fn decide_shared(
        &self,
        id: &str,
        state: State,
        reviewer: &str,
        comment: &str,
    ) -> Result<Option<CasOutcome>, StoreError> {
        let also = [("reviewer", reviewer), ("comment", comment)];
        let rule = CasRule {
            field: "state",
            expect: State::Pending.as_str(),
            set: state.as_str(),
            also: &also,
            keep: KEEP_DECIDED,
            lapse: Some(Lapse {
                value: State::Expired.as_str(),
                deadline_field: "deadline",
                grace: super::SETTLE_GRACE,
            }),
        };
        let op = if state == State::Expired {
            "expire"
        } else {
            "answer"
        };
        self.store.cas(op, (ESCALATIONS, id), &rule).await
    }

    /// Answer an escalation: in the shared store when there is one (so only one answer
    /// counts, whichever replica it reaches), else here.
    pub async fn answer(
        &self,
        id: &str,
        approve: bool,
        reviewer: &str,
        comment: Option<&str>,
    ) -> Result<Escalation, ReviewError> {
        let state = if approve {
            State::Approved
        } else {
            State::Rejected
        };
        let shared = self
            .decide_shared(id, state, reviewer, comment.unwrap_or(""))
            .await
            .map_err(|e| ReviewError::Unavailable(e.to_string()))?;
        match shared {
            None => self.resolve(id, approve, reviewer, comment),
            Some(CasOutcome::Missing) => Err(ReviewError::NotFound(id.to_string())),
            Some(CasOutcome::Decided(st)) => {
                let st = State::parse(&st).unwrap_or(State::Expired);
                self.set_state(id, st);
                Err(ReviewError::Decided {
                    id: id.to_string(),
                    state: st.as_str(),
                })
            }
            Some(CasOutcome::Done(data)) => {
                let mut e: Escalation = serde_json::from_str(&data)
                    .map_err(|err| ReviewError::Unavailable(format!("stored escalation: {err}")))?;
                e.settle(state);
                e.reviewer = Some(reviewer.to_string());
                e.comment = comment.map(str::to_string);
                self.apply(e.clone());
                self.announce(&e).await;
                Ok(self.get(id).unwrap_or(e))
            }
        }
    }

    /// The hold time of a held escalation passed: expire it, unless it was answered
    /// meanwhile (on any replica), and say how it ended.
    pub async fn settle(&self, id: &str) -> State {
        match self.decide_shared(id, State::Expired, "", "").await {
            Ok(None | Some(CasOutcome::Missing)) => match self.expire(id) {
                Some(_) => State::Expired,
                None => self.get(id).map_or(State::Expired, |e| e.state),
            },
            Ok(Some(CasOutcome::Done(_))) => {
                let e = self.expire(id);
                if let Some(e) = &e {
                    self.announce(e).await;
                }
                State::Expired
            }
            Ok(Some(CasOutcome::Decided(st))) => {
                // Answered elsewhere; the news may not have reached this replica yet.
                let st = State::parse(&st).unwrap_or(State::Expired);
                self.set_state(id, st);
                self.get(id).map_or(st, |e| e.state)
            }
            Err(_) => {
                self.set_state(id, State::Unavailable);
                State::Unavailable
            }
        }
    }

    /// A deferred approval for this call, used once across replicas (see
    /// [`ReviewStore::take_local_grant`] for what matches).
    pub async fn take_grant(
        &self,
        caller: &str,
        run: &str,
        fingerprint: &str,
        approval: Option<&str>,
    ) -> Option<String> {
        if !self.store.trusts_local_view() {
            return None;
        }
        loop {
            let id = self.take_local_grant(caller, run, fingerprint, approval)?;
            match self
                .store
                .claim_once(
                    "claim_grant",
                    &format!("grant:{id}"),
                    Duration::from_secs(24 * 3600),
                )
                .await
            {
                Ok(None | Some(true)) => return Some(id),
                Ok(Some(false)) => continue, // used on another replica
                Err(_) => return None,
            }
        }
    }
}

impl ReviewStore {
    /// Learn from a reviewer's answer to a call with features `f` here, and tell the other
    /// replicas (`spot_check`: the call was a spot check of that precedent).
    pub async fn learn(
        &self,
        precedents: &Precedents,
        f: &CallFeatures,
        approved: bool,
        spot_check: Option<SpotCheck>,
    ) {
        let lesson = precedents.learn(f, approved, spot_check, Instant::now());
        if !self.store.is_shared() {
            return;
        }
        let note = LessonNote {
            id: uuid::Uuid::new_v4().to_string(),
            lesson,
            at_ms: now_ms(),
        };
        if let Ok(mut s) = self.seen.lock() {
            s.insert(note.id.clone());
        }
        let Ok(entry) = serde_json::to_string(&note) else {
            return;
        };
        // A failed write leaves the answer known to this replica only (logged and counted).
        let stored = self
            .store
            .append(
                "record_lesson",
                LESSONS,
                &entry,
                MAX_LESSONS,
                precedents.window(),
            )
            .await;
        if let (Ok(Some(())), Ok(msg)) = (
            stored,
            serde_json::to_string(&Event::Lesson(Box::new(note))),
        ) {
            let _ = self.store.publish("record_lesson", &msg).await;
        }
    }

    /// Revoke a precedent here and on every replica; `false` when there was none here.
    pub async fn revoke_precedent(
        &self,
        precedents: &Precedents,
        id: &str,
    ) -> Result<bool, StoreError> {
        let id = if id.starts_with("precedent-") {
            id.to_string()
        } else {
            format!("precedent-{id}")
        };
        let at_ms = now_ms();
        // The shared store first: if it cannot be reached under fail_closed, nothing changes.
        if self
            .store
            .set_field("revoke", REVOKED, &id, &at_ms.to_string())
            .await?
            .is_some()
        {
            if let Ok(msg) = serde_json::to_string(&Event::Revoke {
                precedent: id.clone(),
                at_ms,
            }) {
                let _ = self.store.publish("revoke", &msg).await;
            }
        }
        Ok(precedents.revoke(&id, Instant::now()))
    }

    /// Follow the other replicas: load what the shared store holds (escalations, lessons,
    /// revocations), then apply every event, reconnecting (and reloading) whenever the
    /// connection drops. Runs until the process ends; does nothing in memory.
    pub fn follow(self: &Arc<Self>, precedents: Arc<Precedents>) {
        if !self.store.is_shared() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match me.follow_once(&precedents).await {
                    Ok(()) => backoff = Duration::from_millis(200),
                    Err(e) => {
                        me.store.count_error("follow");
                        tracing::warn!(error = %e, "not following the shared store; retrying");
                    }
                }
                me.store.set_synced(false);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }

    async fn follow_once(&self, precedents: &Precedents) -> Result<(), StoreError> {
        use futures_util::StreamExt;
        // Subscribe first, then load: nothing that happens in between is missed (events
        // already reflected in the load are applied idempotently).
        let Some(ps) = self.store.subscribe().await else {
            return Ok(());
        };
        let mut ps = ps?;
        for e in self.load_escalations().await? {
            self.apply(e);
        }
        let lessons: Vec<LessonNote> = self
            .store
            .read_log(LESSONS)
            .await?
            .unwrap_or_default()
            .iter()
            .filter_map(|l| match serde_json::from_str(l) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable lesson in the shared store skipped");
                    None
                }
            })
            .collect();
        let revoked = self.store.fields(REVOKED).await?.unwrap_or_default();
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
            s.extend(lessons.iter().map(|l| l.id.clone()));
        }
        precedents.replace(lessons.into_iter().map(|l| {
            let at = instant_of(l.at_ms);
            (l.lesson, at)
        }));
        for (id, at_ms) in revoked {
            if let Some(at) = at_ms.parse().ok().and_then(instant_of) {
                precedents.revoke(&id, at);
            }
        }
        self.store.set_synced(true);
        tracing::info!("following the shared store");
        let mut messages = ps.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            match serde_json::from_str::<Event>(&payload) {
                Ok(Event::Escalation { escalation }) => self.apply(*escalation),
                Ok(Event::Lesson(l)) => {
                    let fresh = self.seen.lock().is_ok_and(|mut s| {
                        if s.len() > 100_000 {
                            s.clear();
                        }
                        s.insert(l.id.clone())
                    });
                    if let (true, Some(at)) = (fresh, instant_of(l.at_ms)) {
                        precedents.apply(&l.lesson, at);
                    }
                }
                Ok(Event::Revoke { precedent, at_ms }) => {
                    if let Some(at) = instant_of(at_ms) {
                        precedents.revoke(&precedent, at);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable shared store event ignored"),
            }
        }
        Err(StoreError::Redis("events connection closed".into()))
    }

    /// The most recent escalations in the shared store, as they stand.
    async fn load_escalations(&self) -> Result<Vec<Escalation>, StoreError> {
        let rows = self
            .store
            .recent(
                ESCALATIONS,
                LOAD_ESCALATIONS,
                &["data", "state", "reviewer", "comment"],
            )
            .await?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let [Some(data), Some(state), reviewer, comment] =
                    <[Option<String>; 4]>::try_from(row).ok()?
                else {
                    return None; // expired meanwhile
                };
                let mut e: Escalation = serde_json::from_str(&data).ok()?;
                e.state = State::parse(&state)?;
                e.reviewer = reviewer.filter(|r| !r.is_empty());
                e.comment = comment.filter(|c| !c.is_empty());
                Some(e)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::esc;
    use super::*;

    #[tokio::test]
    async fn news_from_another_replica_is_remembered_and_releases_a_held_call_once() {
        let s = ReviewStore::default();
        let mut feed = s.subscribe();
        // An escalation opened elsewhere: listed here, and on the feed.
        let mut e = esc("x1");
        e.expires = humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(30))
            .to_string();
        s.apply(e.clone());
        assert_eq!(s.pending(), 1);
        assert_eq!(feed.try_recv().map(|x| x.id).ok().as_deref(), Some("x1"));
        s.apply(e.clone());
        assert!(feed.try_recv().is_err(), "the same news twice is one event");

        // A call held here, approved elsewhere: released with the reviewer's name.
        let rx = s.create(esc("h1"), Duration::from_secs(30));
        let mut answered = esc("h1");
        answered.state = State::Approved;
        answered.reviewer = Some("ops".into());
        s.apply(answered.clone());
        assert_eq!(*rx.borrow(), State::Approved);
        assert_eq!(s.get("h1").and_then(|e| e.reviewer).as_deref(), Some("ops"));
        // A late, conflicting report does not undo an answer.
        answered.state = State::Rejected;
        s.apply(answered);
        assert_eq!(s.get("h1").map(|e| e.state), Some(State::Approved));
    }

    #[test]
    fn an_escalation_whose_holder_is_gone_shows_as_expired_after_its_deadline() {
        let s = ReviewStore::default();
        let mut e = esc("gone");
        e.expires = humantime::format_rfc3339_millis(SystemTime::now() - Duration::from_secs(60))
            .to_string();
        s.apply(e);
        assert_eq!(s.pending(), 0);
        assert_eq!(s.get("gone").map(|e| e.state), Some(State::Expired));
    }

    #[tokio::test]
    async fn without_a_shared_store_answers_and_expiries_are_decided_here() {
        let s = ReviewStore::default();
        let _rx = s.create(esc("m1"), Duration::from_secs(30));
        s.share("m1", Duration::from_secs(30))
            .await
            .expect("nothing to share in memory");
        let e = s
            .answer("m1", false, "ops", Some("no"))
            .await
            .expect("answered");
        assert_eq!(e.state, State::Rejected);
        assert_eq!(
            s.answer("m1", true, "eve", None).await.err(),
            Some(ReviewError::Decided {
                id: "m1".into(),
                state: "rejected"
            })
        );
        let _rx = s.create(esc("m2"), Duration::from_secs(30));
        assert_eq!(s.settle("m2").await, State::Expired);
        assert_eq!(
            s.settle("m1").await,
            State::Rejected,
            "answered before the hold ended"
        );
        for st in [
            State::Pending,
            State::Approved,
            State::Rejected,
            State::Expired,
            State::Unavailable,
        ] {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
        assert_eq!(State::parse("maybe"), None);
    }
}

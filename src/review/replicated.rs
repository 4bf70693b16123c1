//! How a replica's review store meets the shared store: news from other replicas is
//! applied here, answers and expiries are decided in the shared store (once for all
//! replicas), and deferred approvals are claimed there so each is used once.

use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::{Entry, Escalation, ReviewError, ReviewStore, State};
use crate::shared::Answered;

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
    pub async fn share(&self, id: &str, wait: Duration) -> Result<(), crate::shared::SharedError> {
        if !self.shared.is_shared() {
            return Ok(());
        }
        let Some(e) = self.get(id) else {
            return Ok(());
        };
        let r = self.shared.open(&e, wait).await;
        if r.is_err() {
            self.set_state(id, State::Unavailable);
        }
        r
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
            .shared
            .answer(id, state.as_str(), reviewer, comment.unwrap_or(""))
            .await
            .map_err(|e| ReviewError::Unavailable(e.to_string()))?;
        match shared {
            None => self.resolve(id, approve, reviewer, comment),
            Some(Answered::Missing) => Err(ReviewError::NotFound(id.to_string())),
            Some(Answered::Decided(st)) => {
                let st = State::parse(&st).unwrap_or(State::Expired);
                self.set_state(id, st);
                Err(ReviewError::Decided {
                    id: id.to_string(),
                    state: st.as_str(),
                })
            }
            Some(Answered::Done(data)) => {
                let mut e: Escalation = serde_json::from_str(&data)
                    .map_err(|err| ReviewError::Unavailable(format!("stored escalation: {err}")))?;
                e.settle(state);
                e.reviewer = Some(reviewer.to_string());
                e.comment = comment.map(str::to_string);
                self.apply(e.clone());
                self.shared.announce(&e).await;
                Ok(self.get(id).unwrap_or(e))
            }
        }
    }

    /// The hold time of a held escalation passed: expire it, unless it was answered
    /// meanwhile (on any replica), and say how it ended.
    pub async fn settle(&self, id: &str) -> State {
        match self.shared.answer(id, "expired", "", "").await {
            Ok(None | Some(Answered::Missing)) => match self.expire(id) {
                Some(_) => State::Expired,
                None => self.get(id).map_or(State::Expired, |e| e.state),
            },
            Ok(Some(Answered::Done(_))) => {
                let e = self.expire(id);
                if let Some(e) = &e {
                    self.shared.announce(e).await;
                }
                State::Expired
            }
            Ok(Some(Answered::Decided(st))) => {
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
        if !self.shared.trusts_local_view() {
            return None;
        }
        loop {
            let id = self.take_local_grant(caller, run, fingerprint, approval)?;
            match self
                .shared
                .claim_grant(&id, Duration::from_secs(24 * 3600))
                .await
            {
                Ok(None | Some(true)) => return Some(id),
                Ok(Some(false)) => continue, // used on another replica
                Err(_) => return None,
            }
        }
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

//! State that gateway replicas share: pending escalations and their answers, deferred
//! approvals, reviewers' answers that make precedents, and rate-limit buckets.
//!
//! Two stores. `memory` (the default) keeps everything in this process: nothing to
//! install, one replica. `redis` keeps it in a Redis server every replica talks to: an
//! escalation opened on replica B can be answered on replica A's admin API and the call
//! held on B goes on; a deferred approval is used once across replicas; every replica
//! learns from every answer; rate limits count calls on all replicas.
//!
//! Each replica keeps its own in-memory view (the review store, the precedents) for the
//! request path and follows the others through Redis pub/sub. Redis decides whatever must
//! happen once: answering an escalation (compare-and-set), using an approval, taking a
//! token. A replica that missed an event still gets the truth when its hold time ends (the
//! expiry is a compare-and-set too, which returns the answer given elsewhere).
//!
//! When Redis cannot be reached, `store.on_unavailable` decides: `fail_closed` (default)
//! turns escalations into denials and does not use approvals or auto-allow precedents it
//! may no longer know the whole truth about; `local` falls back to this replica's memory.
//! Never a hang: every operation has `store.redis.timeout`.

pub mod redis;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{OnUnavailable, StoreBackend, StoreConfig};
use crate::features::CallFeatures;
use crate::review::learn::{Precedents, SpotCheck};
use crate::review::{Escalation, ReviewStore};

pub use self::redis::{Answered, Event, LessonNote, RedisStore};

/// Why the shared store did not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedError {
    /// The Redis settings are unusable.
    #[error("shared store configuration: {0}")]
    Config(String),
    /// The connection to Redis failed (the command was not carried out).
    #[error("shared store (Redis) unreachable: {0}")]
    Connection(String),
    /// Redis answered with an error.
    #[error("shared store (Redis) failed: {0}")]
    Redis(String),
    /// Redis did not answer in time.
    #[error("shared store (Redis) did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis held something this gateway cannot read.
    #[error("shared store data: {0}")]
    Data(String),
}

/// The shared store, as the request path and the admin API use it.
pub struct Shared {
    redis: Option<RedisStore>,
    on_unavailable: OnUnavailable,
    /// Following the events channel now (always true in memory).
    synced: AtomicBool,
    /// Answers already counted by this replica (so none is counted twice).
    seen: Mutex<HashSet<String>>,
    errors: prometheus::IntCounterVec,
    synced_gauge: prometheus::IntGauge,
}

impl Shared {
    /// The store `cfg` names. Redis is connected lazily: a server that is down now is not
    /// an error (`on_unavailable` applies until it is up).
    pub fn new(cfg: &StoreConfig, metrics: &crate::metrics::Metrics) -> Result<Self, SharedError> {
        let redis = match (cfg.backend, &cfg.redis) {
            (StoreBackend::Memory, _) => None,
            (StoreBackend::Redis, Some(r)) => Some(RedisStore::new(r)?),
            (StoreBackend::Redis, None) => {
                return Err(SharedError::Config(
                    "backend redis needs store.redis".into(),
                ));
            }
        };
        let me = Self {
            synced: AtomicBool::new(redis.is_none()),
            redis,
            on_unavailable: cfg.on_unavailable,
            seen: Mutex::default(),
            errors: metrics.shared_state_errors.clone(),
            synced_gauge: metrics.shared_state_synced.clone(),
        };
        me.synced_gauge.set(i64::from(me.redis.is_none()));
        Ok(me)
    }

    /// In this process only (tests, tools).
    pub fn memory() -> Self {
        Self {
            redis: None,
            on_unavailable: OnUnavailable::FailClosed,
            synced: AtomicBool::new(true),
            seen: Mutex::default(),
            errors: prometheus::IntCounterVec::new(
                prometheus::Opts::new("unregistered_errors", "unregistered"),
                &["op"],
            )
            .unwrap_or_else(|_| unreachable!("a valid metric name and label")),
            synced_gauge: prometheus::IntGauge::new("unregistered_synced", "unregistered")
                .unwrap_or_else(|_| unreachable!("a valid metric name")),
        }
    }

    /// Whether state is shared with other replicas.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether this replica may act on what it remembers (approvals, auto-allow
    /// precedents): always in memory or under `local`; with Redis under `fail_closed` only
    /// while it follows the other replicas.
    pub fn trusts_local_view(&self) -> bool {
        self.on_unavailable == OnUnavailable::Local || self.synced.load(Ordering::Relaxed)
    }

    /// Run one Redis operation: `Ok(Some(v))` with its answer, `Ok(None)` when there is no
    /// Redis or it failed under `local` (do it in memory), `Err` when it failed under
    /// `fail_closed`.
    async fn attempt<'a, T, F>(
        &'a self,
        op: &'static str,
        f: impl Fn(&'a RedisStore) -> F,
    ) -> Result<Option<T>, SharedError>
    where
        F: std::future::Future<Output = Result<T, SharedError>> + 'a,
    {
        let Some(r) = &self.redis else {
            return Ok(None);
        };
        let mut result = f(r).await;
        if matches!(result, Err(SharedError::Connection(_))) {
            // The first command after Redis comes back finds the old connection broken
            // and starts a new one: once more, on that one.
            result = f(r).await;
        }
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.errors.with_label_values(&[op]).inc();
                tracing::warn!(op, error = %e, on_unavailable = ?self.on_unavailable, "shared store operation failed");
                match self.on_unavailable {
                    OnUnavailable::Local => Ok(None),
                    OnUnavailable::FailClosed => Err(e),
                }
            }
        }
    }

    /// Store and announce a new escalation.
    pub async fn open(&self, e: &Escalation, wait: Duration) -> Result<(), SharedError> {
        self.attempt("open", |r| r.open(e, wait)).await.map(drop)
    }

    /// Answer an escalation in the shared store (`None`: answer it in memory).
    pub async fn answer(
        &self,
        id: &str,
        state: &str,
        reviewer: &str,
        comment: &str,
    ) -> Result<Option<Answered>, SharedError> {
        self.attempt("answer", |r| r.answer(id, state, reviewer, comment))
            .await
    }

    /// Tell the other replicas how an escalation stands (best effort: they also find out
    /// when their hold ends).
    pub async fn announce(&self, e: &Escalation) {
        let _ = self.attempt("announce", |r| r.announce(e)).await;
    }

    /// Use a deferred approval once across replicas (`None`: use it in memory).
    pub async fn claim_grant(&self, id: &str, ttl: Duration) -> Result<Option<bool>, SharedError> {
        self.attempt("claim_grant", |r| r.claim_grant(id, ttl))
            .await
    }

    /// Take a token from a rate-limit bucket shared by replicas: `Ok(None)` to use the
    /// local bucket, `Ok(Some(None))` taken, `Ok(Some(Some(wait)))` empty.
    pub async fn take_token(
        &self,
        limit: &str,
        key: &str,
        rate: f64,
        burst: f64,
    ) -> Result<Option<Option<Duration>>, SharedError> {
        self.attempt("take_token", |r| r.take_token(limit, key, rate, burst))
            .await
    }

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
        if self.redis.is_none() {
            return;
        }
        let note = LessonNote {
            id: uuid::Uuid::new_v4().to_string(),
            lesson,
            at_ms: redis::now_ms(),
        };
        if let Ok(mut s) = self.seen.lock() {
            s.insert(note.id.clone());
        }
        let window = precedents.window();
        // A failed write leaves the answer known to this replica only (logged and counted).
        let _ = self
            .attempt("record_lesson", |r| r.record_lesson(&note, window))
            .await;
    }

    /// Revoke a precedent here and on every replica; `false` when there was none here.
    pub async fn revoke(&self, precedents: &Precedents, id: &str) -> Result<bool, SharedError> {
        let id = if id.starts_with("precedent-") {
            id.to_string()
        } else {
            format!("precedent-{id}")
        };
        let at_ms = redis::now_ms();
        // The shared store first: if it cannot be reached under fail_closed, nothing changes.
        self.attempt("revoke", |r| r.revoke(&id, at_ms)).await?;
        Ok(precedents.revoke(&id, Instant::now()))
    }

    /// Follow the other replicas: load what the shared store holds, then apply every
    /// event, reconnecting (and reloading) whenever the connection drops. Runs until the
    /// process ends; does nothing in memory.
    pub fn follow(self: &Arc<Self>, reviews: Arc<ReviewStore>, precedents: Arc<Precedents>) {
        if self.redis.is_none() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(200);
            loop {
                match me.follow_once(&reviews, &precedents).await {
                    Ok(()) => backoff = Duration::from_millis(200),
                    Err(e) => {
                        me.errors.with_label_values(&["follow"]).inc();
                        tracing::warn!(error = %e, "not following the shared store; retrying");
                    }
                }
                me.synced.store(false, Ordering::Relaxed);
                me.synced_gauge.set(0);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }

    async fn follow_once(
        &self,
        reviews: &ReviewStore,
        precedents: &Precedents,
    ) -> Result<(), SharedError> {
        use futures_util::StreamExt;
        let Some(r) = &self.redis else {
            return Ok(());
        };
        // Subscribe first, then load: nothing that happens in between is missed (events
        // already reflected in the load are applied idempotently).
        let mut ps = r.pubsub().await?;
        for e in r.escalations().await? {
            reviews.apply(e);
        }
        let (lessons, revoked) = r.lessons().await?;
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
            s.extend(lessons.iter().map(|l| l.id.clone()));
        }
        precedents.replace(lessons.into_iter().map(|l| {
            let at = instant_of(l.at_ms);
            (l.lesson, at)
        }));
        for (id, at_ms) in revoked {
            if let Some(at) = instant_of(at_ms) {
                precedents.revoke(&id, at);
            }
        }
        self.synced.store(true, Ordering::Relaxed);
        self.synced_gauge.set(1);
        tracing::info!("following the shared store");
        let mut messages = ps.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            match serde_json::from_str::<Event>(&payload) {
                Ok(Event::Escalation { escalation }) => reviews.apply(*escalation),
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
        Err(SharedError::Redis("events connection closed".into()))
    }
}

/// This process's clock reading for a Unix time in ms (`None` before the process's clock
/// can express it; such an answer is far outside any learning window).
fn instant_of(at_ms: u64) -> Option<Instant> {
    let age = redis::now_ms().saturating_sub(at_ms);
    Instant::now().checked_sub(Duration::from_millis(age))
}

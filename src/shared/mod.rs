//! The store replicas share, in its own terms: records with a compare-and-set on one field,
//! things that happen once, append-only logs, hashes of fields, token buckets, and a channel
//! every replica follows. It knows nothing of escalations, precedents or rate limits; the
//! review store, learning and the rate limiter put their state into it
//! (`crate::review::sharing`, `crate::server::proxy`).
//!
//! Two backends. `memory` (the default): this process is the only replica, and every
//! operation answers `Ok(None)` — "nothing is shared: keep it here", which the callers do
//! in their own memory. `redis`: a Redis server every replica talks to ([`redis`]).
//!
//! When Redis cannot be reached, `store.on_unavailable` decides: under `fail_closed`
//! (default) an operation returns [`StoreError`] and the caller refuses what needed it; under
//! `local` it answers `Ok(None)`, and the caller falls back to its own memory. Never a hang:
//! every operation has `store.redis.timeout`.

pub mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::{OnUnavailable, StoreBackend, StoreConfig};

pub use self::redis::RedisStore;

/// Why the shared store did not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
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

/// A compare-and-set on one field of a record.
#[derive(Debug, Clone, Copy)]
pub struct CasRule<'a> {
    /// The field compared and set.
    pub field: &'a str,
    /// The value it must hold.
    pub expect: &'a str,
    /// The value it gets.
    pub set: &'a str,
    /// Other fields set with it.
    pub also: &'a [(&'a str, &'a str)],
    /// How long the record is kept afterwards.
    pub keep: Duration,
    /// Past a deadline, the field lapses to another value instead.
    pub lapse: Option<Lapse<'a>>,
}

/// A deadline after which a compare-and-set sets `value` instead of what was asked.
#[derive(Debug, Clone, Copy)]
pub struct Lapse<'a> {
    /// The value the field lapses to.
    pub value: &'a str,
    /// The record's field holding the deadline (Unix ms).
    pub deadline_field: &'a str,
    /// How long after the deadline it still may be set as asked.
    pub grace: Duration,
}

/// What a compare-and-set found.
#[derive(Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// Set now; the record's `data` as stored.
    Done(String),
    /// The field held something else (or lapsed): its value.
    Decided(String),
    /// No such record.
    Missing,
}

/// The shared store, as the request path, the review store and the admin API use it.
pub struct Store {
    redis: Option<RedisStore>,
    on_unavailable: OnUnavailable,
    /// Following the events channel now (always true in memory).
    synced: AtomicBool,
    errors: prometheus::IntCounterVec,
    synced_gauge: prometheus::IntGauge,
}

impl Store {
    /// The store `cfg` names. Redis is connected lazily: a server that is down now is not
    /// an error (`on_unavailable` applies until it is up).
    pub fn new(cfg: &StoreConfig, metrics: &crate::metrics::Metrics) -> Result<Self, StoreError> {
        let redis = match (cfg.backend, &cfg.redis) {
            (StoreBackend::Memory, _) => None,
            (StoreBackend::Redis, Some(r)) => Some(RedisStore::new(r)?),
            (StoreBackend::Redis, None) => {
                return Err(StoreError::Config("backend redis needs store.redis".into()));
            }
        };
        let me = Self {
            synced: AtomicBool::new(redis.is_none()),
            redis,
            on_unavailable: cfg.on_unavailable,
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
            errors: prometheus::IntCounterVec::new(
                prometheus::Opts::new("unregistered_errors", "unregistered"),
                &["op"],
            )
            .unwrap_or_else(|_| unreachable!("a valid metric name and label")),
            synced_gauge: prometheus::IntGauge::new("unregistered_synced", "unregistered")
                .unwrap_or_else(|_| unreachable!("a valid metric name")),
        }
    }

    /// The Redis backend, when there is one (for callers that run their own commands).
    pub fn redis(&self) -> Option<&RedisStore> {
        self.redis.as_ref()
    }

    /// What a replica does while Redis cannot be reached.
    pub fn on_unavailable(&self) -> OnUnavailable {
        self.on_unavailable
    }

    /// Whether state is shared with other replicas.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether this replica may act on what it remembers of shared state: always in
    /// memory or under `local`; with Redis under `fail_closed` only while it follows the
    /// other replicas.
    pub fn trusts_local_view(&self) -> bool {
        self.on_unavailable == OnUnavailable::Local || self.synced.load(Ordering::Relaxed)
    }

    /// Say whether this replica follows the other replicas now.
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Relaxed);
        self.synced_gauge.set(i64::from(synced));
    }

    /// Count a failure of `op` (for operations run outside `Store::attempt`).
    pub fn count_error(&self, op: &str) {
        self.errors.with_label_values(&[op]).inc();
    }

    /// Run one Redis operation: `Ok(Some(v))` with its answer, `Ok(None)` when there is no
    /// Redis or it failed under `local` (keep it in memory), `Err` when it failed under
    /// `fail_closed`.
    async fn attempt<'a, T, F>(
        &'a self,
        op: &'static str,
        f: impl Fn(&'a RedisStore) -> F,
    ) -> Result<Option<T>, StoreError>
    where
        F: std::future::Future<Output = Result<T, StoreError>> + 'a,
    {
        let Some(r) = &self.redis else {
            return Ok(None);
        };
        let mut result = f(r).await;
        if matches!(result, Err(StoreError::Connection(_))) {
            // The first command after Redis comes back finds the old connection broken
            // and starts a new one: once more, on that one.
            result = f(r).await;
        }
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) => {
                self.count_error(op);
                tracing::warn!(op, error = %e, on_unavailable = ?self.on_unavailable, "shared store operation failed");
                match self.on_unavailable {
                    OnUnavailable::Local => Ok(None),
                    OnUnavailable::FailClosed => Err(e),
                }
            }
        }
    }

    /// Store record `id` in `space` (`data` and `fields`, kept for `keep`) — operation
    /// `op` in metrics and logs.
    pub async fn put_record(
        &self,
        op: &'static str,
        (space, id): (&str, &str),
        data: &str,
        fields: &[(&str, &str)],
        keep: Duration,
    ) -> Result<Option<()>, StoreError> {
        self.attempt(op, |r| r.put_record(space, id, data, fields, keep))
            .await
    }

    /// Compare-and-set a field of record `id` in `space`.
    pub async fn cas(
        &self,
        op: &'static str,
        (space, id): (&str, &str),
        rule: &CasRule<'_>,
    ) -> Result<Option<CasOutcome>, StoreError> {
        self.attempt(op, |r| r.cas(space, id, rule)).await
    }

    /// The newest `n` records of `space`, each as the values of `fields`.
    pub async fn recent(
        &self,
        space: &str,
        n: isize,
        fields: &[&str],
    ) -> Result<Option<Vec<Vec<Option<String>>>>, StoreError> {
        self.attempt("recent", |r| r.recent(space, n, fields)).await
    }

    /// `Some(true)` for the one replica that claims `key` first.
    pub async fn claim_once(
        &self,
        op: &'static str,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<bool>, StoreError> {
        self.attempt(op, |r| r.claim_once(key, ttl)).await
    }

    /// Append `entry` to the log `log` (newest `keep_last` kept, expiring after `ttl`).
    pub async fn append(
        &self,
        op: &'static str,
        log: &str,
        entry: &str,
        keep_last: isize,
        ttl: Duration,
    ) -> Result<Option<()>, StoreError> {
        self.attempt(op, |r| r.append(log, entry, keep_last, ttl))
            .await
    }

    /// Every entry of the log `log`, oldest first.
    pub async fn read_log(&self, log: &str) -> Result<Option<Vec<String>>, StoreError> {
        self.attempt("read_log", |r| r.read_log(log)).await
    }

    /// Set `field` of the hash `hash`.
    pub async fn set_field(
        &self,
        op: &'static str,
        hash: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<()>, StoreError> {
        self.attempt(op, |r| r.set_field(hash, field, value)).await
    }

    /// Every field of the hash `hash`.
    pub async fn fields(&self, hash: &str) -> Result<Option<HashMap<String, String>>, StoreError> {
        self.attempt("fields", |r| r.fields(hash)).await
    }

    /// Take a token from the shared bucket `key`: `Ok(None)` to use a local bucket,
    /// `Ok(Some(None))` taken, `Ok(Some(Some(wait)))` empty.
    pub async fn take_token(
        &self,
        key: &str,
        rate: f64,
        burst: f64,
    ) -> Result<Option<Option<Duration>>, StoreError> {
        self.attempt("take_token", |r| r.take_token(key, rate, burst))
            .await
    }

    /// Tell the other replicas `message` (best effort under `local`).
    pub async fn publish(&self, op: &'static str, message: &str) -> Result<Option<()>, StoreError> {
        self.attempt(op, |r| r.publish(message)).await
    }

    /// The events channel, subscribed (`None` in memory: nobody else to hear).
    pub async fn subscribe(&self) -> Option<Result<::redis::aio::PubSub, StoreError>> {
        Some(self.redis.as_ref()?.subscribe().await)
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// This process's clock reading for a Unix time in ms (`None` before the process's clock
/// can express it; such a time is far in the past).
pub fn instant_of(at_ms: u64) -> Option<std::time::Instant> {
    let age = now_ms().saturating_sub(at_ms);
    std::time::Instant::now().checked_sub(Duration::from_millis(age))
}

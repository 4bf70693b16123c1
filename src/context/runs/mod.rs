//! What each run has done so far, so rules can look at it (`when.run`): tools called,
//! resources read, routes crossed, labels attached by rules, and how many calls it made —
//! and so a reviewer sees it (an escalation's trajectory).
//!
//! Two backends, chosen by `store.backend`:
//! - **memory** ([`memory::RunStore`]): in this process, bounded by `context.run_ttl` and
//!   `context.max_runs`. A run whose hops cross several replicas is seen in pieces.
//! - **redis** ([`redis::SharedRuns`]): one hash per run in the shared Redis, kept for
//!   `context.run_ttl` after its last write, capped per run, the runs together capped at
//!   `context.max_runs` (least recently written go first). Every replica sees the whole run.
//!
//! With Redis a call costs at most two round trips for its run, and only when its rules need
//! them: one read before deciding (`HGETALL` and `PTTL`, pipelined), when a rule that reads
//! runs may apply to it ([`crate::policy::Policy::needs_run`]), and one write after deciding
//! (one script for all of its messages), when what it adds is something a rule reads
//! (labels, tools or resources a `when.run` names, calls when a rule counts them) or the
//! policy escalates (reviewers see the trajectory). Other calls never touch Redis for runs.
//! The write is left out when the run, as the call read it, holds everything it would add
//! and was written within [`REFRESH`] (a run calling the same tools again, the usual case),
//! unless a rule counts calls or the policy escalates ([`Seen::holds`]): the set it would
//! add to is unchanged, and the run then expires at most [`REFRESH`] before
//! `context.run_ttl` after its last call.
//!
//! What replicas see of each other: a call's write is answered by Redis before the call is
//! forwarded, so every call a client sends after it had that call's answer — through any
//! replica, any worker — reads a history holding its step. Calls of one run in flight at
//! once are not ordered (neither is a single replica's memory store across its workers).
//! Each worker thread has its own multiplexed connection ([`SharedRuns`]): the commands of
//! the calls it has in flight go out pipelined, and no other thread is woken for them.
//!
//! When Redis fails, `store.on_unavailable` applies: `fail_closed` answers
//! [`RunStoreError`] (the proxy refuses the call with `run_store_unavailable`); `local`
//! serves the read from, and keeps the write in, this replica's memory copy (under `local`
//! every write also goes to that copy, so it holds what this replica saw).

pub mod memory;
pub mod redis;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use memory::RunStore;
pub use redis::SharedRuns;

use crate::config::OnUnavailable;
use crate::metrics::RunStoreMetrics;
use crate::shared::{Store, StoreError};

/// The label the gateway attaches to a run when one of its calls was denied or rejected
/// (learning keys on it; rules may read it with `when.run.labels`).
pub const REFUSED: &str = "sec0:refused";
/// The label the gateway attaches to a run when one of its calls handled something
/// sensitive (credentials, keys, system configuration, secrets or personal data found).
pub const SENSITIVE: &str = "sec0:sensitive";

/// Most distinct tools, resources, routes or labels remembered per run.
pub const MAX_ITEMS: usize = 256;

/// A write that adds nothing new to a run's shared copy is left out while that copy was
/// written less than this long ago (or a tenth of `context.run_ttl`, when shorter): the
/// run then expires at most this much earlier than `context.run_ttl` after its last call.
pub const REFRESH: Duration = Duration::from_secs(1);

/// Why a run's history could not be read or its step kept.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunStoreError {
    /// The shared store failed (under `store.on_unavailable: fail_closed`).
    #[error("the shared run store is unavailable: {0}")]
    Unavailable(#[from] StoreError),
}

/// One run's history (a snapshot is handed to the policy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunHistory {
    /// Tools it called (forwarded calls only).
    pub called: BTreeSet<Arc<str>>,
    /// Resources it read.
    pub read: BTreeSet<Arc<str>>,
    /// Routes it crossed.
    pub routes: BTreeSet<Arc<str>>,
    /// Labels rules attached.
    pub labels: BTreeSet<Arc<str>>,
    /// Identifier values its forwarded calls gave their tools, as keys
    /// ([`crate::features::CallFeatures::id_keys`]: hashed, never the value): an invoice
    /// paid twice in one run is another call than the first payment.
    pub ids: BTreeSet<Arc<str>>,
    /// Calls forwarded so far.
    pub calls: u64,
}

/// A run's history as one call read it before deciding.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// What the run holds.
    pub history: RunHistory,
    /// Whether the run's shared copy was written within [`REFRESH`] (its expiry as good as
    /// refreshed now), so a write adding nothing to `history` may be left out. Always
    /// `false` for runs in memory or served from this replica's copy.
    pub fresh: bool,
}

impl Seen {
    /// Whether `rec` adds nothing to the history but to its call count: every route,
    /// tool, resource and label it names is in it already. (Names the store shortens, and
    /// kinds already at [`MAX_ITEMS`], count as new: the write goes out.)
    pub fn holds(&self, rec: &Record<'_>) -> bool {
        let h = &self.history;
        rec.marks.iter().all(|m| h.labels.contains(*m))
            && rec.steps.iter().all(|s| {
                h.routes.contains(s.route)
                    && s.tool.is_none_or(|t| h.called.contains(t))
                    && s.resource.is_none_or(|r| h.read.contains(r))
                    && s.labels.iter().all(|l| h.labels.contains(l))
                    && s.ids.iter().all(|i| h.ids.contains(i.as_str()))
            })
    }
}

/// What one forwarded call adds to its run.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// The route it crossed.
    pub route: &'a str,
    /// The tool it called.
    pub tool: Option<&'a str>,
    /// The resource it read.
    pub resource: Option<&'a str>,
    /// Labels the matching rules attach.
    pub labels: &'a [Arc<str>],
    /// Keys of the identifier values it gave its tool
    /// ([`crate::features::CallFeatures::id_keys`]; kept when calls may be escalated, so
    /// precedents see a repeat).
    pub ids: Vec<String>,
}

/// What one call adds to its run: the steps of its forwarded messages and the labels the
/// gateway attaches for what became of them ([`REFUSED`], [`SENSITIVE`]) — kept in one write.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// Forwarded messages.
    pub steps: Vec<Step<'a>>,
    /// Labels attached without counting a call.
    pub marks: Vec<&'static str>,
}

impl Record<'_> {
    /// Whether there is nothing to keep.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty() && self.marks.is_empty()
    }
}

fn add(set: &mut BTreeSet<Arc<str>>, v: &str) {
    if set.len() < MAX_ITEMS && !set.contains(v) {
        set.insert(Arc::from(v));
    }
}

/// The runs, in the backend the config names, with `store.on_unavailable` applied.
pub struct Runs {
    /// This replica's copy: the store itself in memory; under Redis with `local`, what
    /// this replica saw (served while Redis is away); `None` under Redis with `fail_closed`.
    memory: Option<RunStore>,
    /// The shared runs, with `store.backend: redis`.
    shared: Option<SharedRuns>,
    on_unavailable: OnUnavailable,
    store: Arc<Store>,
    metrics: Arc<RunStoreMetrics>,
    evictions: prometheus::IntCounter,
}

impl Runs {
    /// Runs kept `ttl` after their last call, at most `max_runs`, in `store`'s backend.
    pub fn new(
        ttl: Duration,
        max_runs: usize,
        store: Arc<Store>,
        metrics: &crate::metrics::Metrics,
    ) -> Self {
        let shared = store
            .redis()
            .map(|r| SharedRuns::new(r, ttl, max_runs as u64));
        let on_unavailable = store.on_unavailable();
        let keeps_copy = shared.is_none() || on_unavailable == OnUnavailable::Local;
        Self {
            memory: keeps_copy.then(|| RunStore::new(ttl, max_runs, metrics.run_evictions.clone())),
            shared,
            on_unavailable,
            store,
            metrics: metrics.run_store.clone(),
            evictions: metrics.run_evictions.clone(),
        }
    }

    /// Whether runs live in the shared store (every replica sees them).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The run's history so far (empty for a new or expired run). `Err` only with Redis
    /// failing under `fail_closed`.
    pub async fn history(&self, run: &str) -> Result<RunHistory, RunStoreError> {
        self.read(run).await.map(|s| s.history)
    }

    /// The run's history so far, and whether its shared copy was just written ([`Seen`]).
    /// With Redis one round trip (the history and its expiry, pipelined). `Err` only with
    /// Redis failing under `fail_closed`.
    pub async fn read(&self, run: &str) -> Result<Seen, RunStoreError> {
        let Some(shared) = &self.shared else {
            return Ok(self.local_seen(run));
        };
        let started = Instant::now();
        let mut got = shared.read(run).await;
        if matches!(got, Err(StoreError::Connection(_))) {
            // The first command after Redis comes back finds the old connection broken.
            got = shared.read(run).await;
        }
        self.timed("read", started);
        match got {
            Ok((history, ttl_left)) => Ok(Seen {
                history,
                fresh: ttl_left.is_some_and(|left| left >= shared.fresh_above()),
            }),
            Err(e) => {
                self.failed("read", &e)?;
                Ok(self.local_seen(run))
            }
        }
    }

    /// Keep what a call adds to its run: in this replica's copy, and — when `shared` (its
    /// rules read something in it, or reviewers will want it) — in Redis, in one round trip.
    /// `Err` only with Redis failing under `fail_closed`.
    pub async fn record(
        &self,
        run: &str,
        rec: &Record<'_>,
        shared: bool,
    ) -> Result<(), RunStoreError> {
        if rec.is_empty() {
            return Ok(());
        }
        if let Some(m) = &self.memory {
            for mark in &rec.marks {
                m.mark(run, mark);
            }
            for step in &rec.steps {
                m.record(run, step);
            }
        }
        let Some(store) = self.shared.as_ref().filter(|_| shared) else {
            return Ok(());
        };
        let started = Instant::now();
        let mut done = store.write(run, rec).await;
        if matches!(done, Err(StoreError::Connection(_))) {
            done = store.write(run, rec).await;
        }
        self.timed("write", started);
        match done {
            Ok(evicted) => {
                self.evictions.inc_by(evicted);
                Ok(())
            }
            Err(e) => self.failed("write", &e),
        }
    }

    fn local_seen(&self, run: &str) -> Seen {
        Seen {
            history: self
                .memory
                .as_ref()
                .map(|m| m.history(run))
                .unwrap_or_default(),
            fresh: false,
        }
    }

    fn timed(&self, op: &str, started: Instant) {
        self.metrics
            .round_trips
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
    }

    /// Count a failed operation; `Ok` when this replica's memory stands in (`local`).
    fn failed(&self, op: &'static str, e: &StoreError) -> Result<(), RunStoreError> {
        self.metrics.errors.with_label_values(&[op]).inc();
        self.store.count_error(if op == "read" {
            "runs_read"
        } else {
            "runs_write"
        });
        tracing::warn!(op, error = %e, on_unavailable = ?self.on_unavailable, "shared run store failed");
        match self.on_unavailable {
            OnUnavailable::Local => {
                self.metrics.fallbacks.with_label_values(&[op]).inc();
                Ok(())
            }
            OnUnavailable::FailClosed => Err(RunStoreError::Unavailable(e.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(store: Store) -> Runs {
        Runs::new(
            Duration::from_secs(60),
            100,
            Arc::new(store),
            &crate::metrics::Metrics::default(),
        )
    }

    fn redis_store(on_unavailable: OnUnavailable) -> Store {
        // Nothing listens on port 1: every command fails at once.
        let cfg = crate::config::StoreConfig {
            backend: crate::config::StoreBackend::Redis,
            redis: Some(crate::config::RedisConfig {
                url: "redis://127.0.0.1:1/".into(),
                prefix: "t:".into(),
                timeout: Duration::from_millis(200),
            }),
            on_unavailable,
        };
        Store::new(&cfg, &crate::metrics::Metrics::default()).expect("store")
    }

    fn step<'a>(tool: &'a str, labels: &'a [Arc<str>]) -> Step<'a> {
        Step {
            route: "tools",
            tool: Some(tool),
            resource: None,
            labels,
            ids: Vec::new(),
        }
    }

    #[tokio::test]
    async fn memory_backend_keeps_runs_here() {
        let r = runs(Store::memory());
        assert!(!r.is_shared());
        let labels = [Arc::from("private_data")];
        let rec = Record {
            steps: vec![step("read_db", &labels)],
            marks: vec![SENSITIVE],
        };
        r.record("run-1", &rec, true).await.expect("kept");
        let h = r.history("run-1").await.expect("history");
        assert_eq!(h.calls, 1);
        assert!(h.labels.contains("private_data") && h.labels.contains(SENSITIVE));
        assert_eq!(r.history("run-2").await.expect("empty").calls, 0);
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_closed() {
        let r = runs(redis_store(OnUnavailable::FailClosed));
        assert!(r.is_shared());
        assert!(matches!(
            r.history("run-1").await,
            Err(RunStoreError::Unavailable(_))
        ));
        let rec = Record {
            steps: vec![step("t", &[])],
            marks: vec![],
        };
        assert!(r.record("run-1", &rec, true).await.is_err());
        // Nothing a rule reads: Redis is not asked, nothing fails.
        assert!(r.record("run-1", &rec, false).await.is_ok());
        let m = &r.metrics;
        assert_eq!(m.errors.with_label_values(&["read"]).get(), 1);
        assert_eq!(m.errors.with_label_values(&["write"]).get(), 1);
        assert_eq!(m.fallbacks.with_label_values(&["read"]).get(), 0);
        // Retried once on a broken connection: up to two round trips per operation.
        let trips = m
            .round_trips
            .with_label_values(&["read"])
            .get_sample_count();
        assert_eq!(trips, 1, "timed once per operation");
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_this_replicas_copy_under_local() {
        let r = runs(redis_store(OnUnavailable::Local));
        let labels = [Arc::from("private_data")];
        let rec = Record {
            steps: vec![step("read_db", &labels)],
            marks: vec![],
        };
        r.record("run-1", &rec, true).await.expect("kept here");
        let h = r.history("run-1").await.expect("served here");
        assert!(h.labels.contains("private_data"), "{h:?}");
        assert_eq!(h.calls, 1);
        let m = &r.metrics;
        assert_eq!(m.fallbacks.with_label_values(&["read"]).get(), 1);
        assert_eq!(m.fallbacks.with_label_values(&["write"]).get(), 1);
    }

    #[test]
    fn a_record_is_held_when_the_run_has_all_it_names() {
        let labels = [Arc::from("private_data")];
        let rec = Record {
            steps: vec![step("read_db", &labels)],
            marks: vec![SENSITIVE],
        };
        let mut seen = Seen::default();
        assert!(!seen.holds(&rec), "an empty run holds nothing");
        let h = &mut seen.history;
        for (set, v) in [
            (&mut h.routes, "tools"),
            (&mut h.called, "read_db"),
            (&mut h.labels, "private_data"),
        ] {
            set.insert(Arc::from(v));
        }
        assert!(!seen.holds(&rec), "the mark is new");
        seen.history.labels.insert(Arc::from(SENSITIVE));
        assert!(seen.holds(&rec));
        let other = Record {
            steps: vec![step("send_mail", &[])],
            marks: vec![],
        };
        assert!(!seen.holds(&other), "a new tool");
        let read = Record {
            steps: vec![Step {
                resource: Some("file:///a"),
                ..step("read_db", &[])
            }],
            marks: vec![],
        };
        assert!(!seen.holds(&read), "a new resource");
        assert!(seen.holds(&Record::default()));
    }
}

//! The memory backend: what each run did, in this process, bounded: entries expire `ttl`
//! after their last call and, when more than `max_runs` are tracked, the least recently seen
//! go first (expired ones are the least recently seen of all); every eviction is counted.
//!
//! The store is a few LRU lists (the `lru` crate) behind their own locks, a run's list chosen
//! by a keyed hash of its id: every operation is O(1) and holds one small lock, so no call
//! ever pays for looking at every run. (The first version sorted all runs when the store was
//! full: with 100,000 runs that stalled single calls for up to 89 ms — benches/README.md.)
//! LRU rather than a scan-resistant policy on purpose: a run is remembered until `max_runs`
//! newer runs have come (about, per list), not only until a tenth of that — a flood of minted
//! runs must not wash out the history a flow rule is waiting for any sooner.

use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lru::LruCache;
use prometheus::IntCounter;

use super::{RunHistory, Step, add};

/// Lists for a large store (fewer threads meet on one lock); a small store keeps one list so
/// its bound and order are exact.
const SHARDS: usize = 16;
/// Below this many runs per list, one list.
const MIN_RUNS_PER_SHARD: usize = 1024;

struct Entry {
    history: RunHistory,
    last_seen: Instant,
}

/// One of the store's LRU lists.
type Shard = LruCache<Arc<str>, Entry>;

/// The runs this gateway has seen.
pub struct RunStore {
    shards: Box<[Mutex<Shard>]>,
    /// Keyed per process, so callers cannot aim many runs at one list.
    hasher: RandomState,
    ttl: Duration,
    evictions: IntCounter,
}

impl RunStore {
    /// A store keeping runs for `ttl` after their last call, at most `max_runs`.
    pub fn new(ttl: Duration, max_runs: usize, evictions: IntCounter) -> Self {
        let max_runs = max_runs.max(1);
        let shards = if max_runs >= SHARDS * MIN_RUNS_PER_SHARD {
            SHARDS
        } else {
            1
        };
        // Rounded down, so the lists together never hold more than `max_runs`.
        let per_shard = NonZeroUsize::new(max_runs / shards).unwrap_or(NonZeroUsize::MIN);
        Self {
            shards: (0..shards)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: RandomState::new(),
            ttl,
            evictions,
        }
    }

    fn shard(&self, run: &str) -> MutexGuard<'_, Shard> {
        let i = if self.shards.len() == 1 {
            0
        } else {
            (self.hasher.hash_one(run) % self.shards.len() as u64) as usize
        };
        // Every change under this lock is one LRU operation plus plain field updates; a
        // panic in between cannot leave the list inconsistent, so a poisoned lock is used
        // as it is.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run's history so far (empty for a new or expired run).
    pub fn history(&self, run: &str) -> RunHistory {
        match self.shard(run).peek(run) {
            Some(e) if e.last_seen.elapsed() < self.ttl => e.history.clone(),
            _ => RunHistory::default(),
        }
    }

    /// The run's entry, pushed if new (counting an eviction it causes), reset if expired.
    fn entry<'s>(&self, shard: &'s mut Shard, run: &str, now: Instant) -> Option<&'s mut Entry> {
        if shard.get_mut(run).is_none() {
            let fresh = Entry {
                history: RunHistory::default(),
                last_seen: now,
            };
            if shard.push(Arc::from(run), fresh).is_some() {
                // The least recently seen run of this list made room.
                self.evictions.inc();
            }
        }
        // Just found or pushed (the most recent entry: a push never evicts it).
        let e = shard.get_mut(run)?;
        if now.duration_since(e.last_seen) >= self.ttl {
            e.history = RunHistory::default();
        }
        e.last_seen = now;
        Some(e)
    }

    /// Record a forwarded call.
    pub fn record(&self, run: &str, step: &Step<'_>) {
        let now = Instant::now();
        let mut shard = self.shard(run);
        let Some(e) = self.entry(&mut shard, run, now) else {
            return;
        };
        let h = &mut e.history;
        h.calls += 1;
        add(&mut h.routes, step.route);
        if let Some(t) = step.tool {
            add(&mut h.called, t);
        }
        if let Some(r) = step.resource {
            add(&mut h.read, r);
        }
        for l in step.labels {
            add(&mut h.labels, l);
        }
        for i in &step.ids {
            add(&mut h.ids, i);
        }
    }

    /// Attach `label` to the run (creating it if new) without counting a call.
    pub fn mark(&self, run: &str, label: &str) {
        let mut shard = self.shard(run);
        if let Some(e) = self.entry(&mut shard, run, Instant::now()) {
            add(&mut e.history.labels, label);
        }
    }

    /// Runs tracked now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    /// Whether no run is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step<'a>(tool: &'a str, labels: &'a [Arc<str>]) -> Step<'a> {
        Step {
            route: "tools",
            tool: Some(tool),
            resource: None,
            labels,
            ids: Vec::new(),
        }
    }

    #[test]
    fn history_accumulates_and_is_bounded() {
        let ev = IntCounter::new("e", "e").expect("counter");
        let s = RunStore::new(Duration::from_secs(60), 16, ev.clone());
        let private: Vec<Arc<str>> = vec![Arc::from("private_data")];
        s.record("r1", &step("read_db", &private));
        s.record("r1", &step("send_mail", &[]));
        let h = s.history("r1");
        assert_eq!(h.calls, 2);
        assert!(h.called.contains("read_db") && h.labels.contains("private_data"));
        assert_eq!(s.history("r2").calls, 0);
        for i in 0..100 {
            s.record(&format!("run-{i}"), &step("t", &[]));
        }
        assert!(s.len() <= 16, "bounded: {}", s.len());
        assert!(ev.get() >= 84, "evictions counted: {}", ev.get());
    }

    #[test]
    fn a_run_in_use_outlives_a_flood_of_new_runs() {
        let ev = IntCounter::new("e", "e").expect("counter");
        let s = RunStore::new(Duration::from_secs(60), 16, ev.clone());
        s.record("hot", &step("t", &[]));
        for i in 0..1000 {
            s.record(&format!("run-{i}"), &step("t", &[]));
            if i % 4 == 0 {
                s.record("hot", &step("t", &[]));
            }
            assert!(s.len() <= 16, "bounded after every call: {}", s.len());
        }
        assert_eq!(
            s.history("hot").calls,
            251,
            "the run in use kept its history"
        );
        assert_eq!(s.history("run-0").calls, 0, "an old unused run went");
        assert_eq!(s.history("run-999").calls, 1, "the newest stayed");
        assert_eq!(ev.get(), 1001 - 16, "every eviction counted once");
    }

    #[test]
    fn a_large_store_is_split_and_still_bounded() {
        let ev = IntCounter::new("e", "e").expect("counter");
        let max = SHARDS * MIN_RUNS_PER_SHARD;
        let s = RunStore::new(Duration::from_secs(60), max, ev.clone());
        assert_eq!(s.shards.len(), SHARDS);
        for i in 0..3 * max {
            s.record(&format!("run-{i}"), &step("t", &[]));
            if i % 8 == 0 {
                s.record("hot", &step("t", &[]));
            }
        }
        let len = s.len();
        assert!(len <= max && len > max * 9 / 10, "bounded and used: {len}");
        assert_eq!(
            ev.get() as usize,
            3 * max + 1 - len,
            "every eviction counted"
        );
        assert!(s.history("hot").calls > 0, "the run in use stayed");
        assert_eq!(s.history("run-0").calls, 0, "the oldest went");
        assert_eq!(s.history(&format!("run-{}", 3 * max - 1)).calls, 1);
    }

    #[test]
    fn expired_runs_go_before_live_ones() {
        let ev = IntCounter::new("e", "e").expect("counter");
        let s = RunStore::new(Duration::from_millis(30), 4, ev.clone());
        for r in ["a", "b", "c"] {
            s.record(r, &step("t", &[]));
        }
        std::thread::sleep(Duration::from_millis(40));
        s.record("d", &step("t", &[]));
        s.record("a", &step("t", &[])); // expired: starts over, now the most recent
        s.record("e", &step("t", &[])); // five runs: the least recently seen (b) goes
        assert_eq!(s.len(), 4);
        assert_eq!(s.history("a").calls, 1, "a started over");
        assert_eq!(s.history("e").calls, 1);
        assert_eq!(s.history("d").calls, 1);
    }

    #[test]
    fn runs_expire() {
        let s = RunStore::new(
            Duration::from_millis(10),
            16,
            IntCounter::new("e", "e").expect("c"),
        );
        s.record("r", &step("t", &[]));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(s.history("r").calls, 0);
    }
}

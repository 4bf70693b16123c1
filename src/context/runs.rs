//! What each run has done so far, so rules can look at it (`when.run`): tools called,
//! resources read, routes crossed, labels attached by rules, and how many calls it made.
//! In memory, per gateway instance, bounded: entries expire `ttl` after their last call and
//! the oldest go first when more than `max_runs` are tracked; every eviction is counted.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use prometheus::IntCounter;

/// Most distinct tools, resources, routes or labels remembered per run.
const MAX_ITEMS: usize = 256;

/// One run's history (a snapshot is handed to the policy).
#[derive(Debug, Clone, Default)]
pub struct RunHistory {
    /// Tools it called (forwarded calls only).
    pub called: BTreeSet<Arc<str>>,
    /// Resources it read.
    pub read: BTreeSet<Arc<str>>,
    /// Routes it crossed.
    pub routes: BTreeSet<Arc<str>>,
    /// Labels rules attached.
    pub labels: BTreeSet<Arc<str>>,
    /// Calls forwarded so far.
    pub calls: u64,
}

struct Entry {
    history: RunHistory,
    last_seen: Instant,
}

/// The runs this gateway has seen.
pub struct RunStore {
    runs: DashMap<Arc<str>, Entry>,
    ttl: Duration,
    max_runs: usize,
    evictions: IntCounter,
}

/// What one forwarded call adds to its run.
pub struct Step<'a> {
    /// The route it crossed.
    pub route: &'a str,
    /// The tool it called.
    pub tool: Option<&'a str>,
    /// The resource it read.
    pub resource: Option<&'a str>,
    /// Labels the matching rules attach.
    pub labels: &'a [Arc<str>],
}

fn add(set: &mut BTreeSet<Arc<str>>, v: &str) {
    if set.len() < MAX_ITEMS && !set.contains(v) {
        set.insert(Arc::from(v));
    }
}

impl RunStore {
    /// A store keeping runs for `ttl` after their last call, at most `max_runs`.
    pub fn new(ttl: Duration, max_runs: usize, evictions: IntCounter) -> Self {
        Self {
            runs: DashMap::new(),
            ttl,
            max_runs: max_runs.max(1),
            evictions,
        }
    }

    /// The run's history so far (empty for a new or expired run).
    pub fn history(&self, run: &str) -> RunHistory {
        match self.runs.get(run) {
            Some(e) if e.last_seen.elapsed() < self.ttl => e.history.clone(),
            _ => RunHistory::default(),
        }
    }

    /// Record a forwarded call.
    pub fn record(&self, run: &str, step: &Step<'_>) {
        {
            let mut e = self.runs.entry(Arc::from(run)).or_insert_with(|| Entry {
                history: RunHistory::default(),
                last_seen: Instant::now(),
            });
            if e.last_seen.elapsed() >= self.ttl {
                e.history = RunHistory::default();
            }
            e.last_seen = Instant::now();
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
        }
        if self.runs.len() > self.max_runs {
            self.evict();
        }
    }

    /// Drop expired runs, then the least recently seen until an eighth of the room is free.
    fn evict(&self) {
        let before = self.runs.len();
        self.runs.retain(|_, e| e.last_seen.elapsed() < self.ttl);
        let target = self.max_runs - self.max_runs / 8;
        if self.runs.len() > target {
            let mut ages: Vec<(Instant, Arc<str>)> = self
                .runs
                .iter()
                .map(|e| (e.value().last_seen, e.key().clone()))
                .collect();
            ages.sort_unstable_by_key(|(t, _)| *t);
            let excess = self.runs.len() - target;
            for (_, k) in ages.into_iter().take(excess) {
                self.runs.remove(&k);
            }
        }
        self.evictions
            .inc_by(before.saturating_sub(self.runs.len()) as u64);
    }

    /// Runs tracked now.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether no run is tracked.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
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

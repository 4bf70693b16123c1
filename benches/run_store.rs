//! The run store's cost per forwarded call when callers mint a new run per call and rules
//! read runs (every call records a new run into a full store) — the case where a store that
//! evicts in bulk stalls single calls. Two threads record 1,000,000 new runs each into a store
//! of 100,000 (the default `max_runs`) with a hot run touched every fourth call; the table
//! gives the time of one `record` at p50 / p99 / p99.9 / max. Not criterion: criterion
//! reports means, and the problem is the tail.
//!
//! Run: `cargo bench --bench run_store` (prints a Markdown table for benches/README.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::IntCounter;
use sec0_gateway::context::runs::{RunStore, Step};

const MAX_RUNS: usize = 100_000;
const PER_THREAD: usize = 1_000_000;

fn main() {
    let evictions = IntCounter::new("evictions", "evictions").expect("counter");
    let store = Arc::new(RunStore::new(
        Duration::from_secs(3600),
        MAX_RUNS,
        evictions.clone(),
    ));
    let labels: Vec<Arc<str>> = vec![Arc::from("private_data")];
    // Fill the store first so every measured call runs against a full store.
    for i in 0..MAX_RUNS {
        store.record(&format!("fill-{i}"), &step(&labels));
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let store = store.clone();
            let labels = labels.clone();
            std::thread::spawn(move || {
                let mut times = Vec::with_capacity(PER_THREAD);
                for i in 0..PER_THREAD {
                    let run = format!("run-{t}-{i}");
                    let at = Instant::now();
                    store.record(&run, &step(&labels));
                    times.push(at.elapsed());
                    if i % 4 == 0 {
                        store.record("hot", &step(&labels));
                    }
                }
                times
            })
        })
        .collect();
    let mut times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|h| h.join().expect("thread"))
        .collect();
    let wall = start.elapsed();
    times.sort_unstable();
    let q = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!("| measurement | result |\n|---|---:|");
    println!(
        "| new runs recorded into a full store (2 threads) | {:.0} per second |",
        times.len() as f64 / wall.as_secs_f64()
    );
    println!("| one record, p50 | {:?} |", q(0.50));
    println!("| one record, p99 | {:?} |", q(0.99));
    println!("| one record, p99.9 | {:?} |", q(0.999));
    println!("| one record, p99.99 | {:?} |", q(0.9999));
    println!("| one record, max | {:?} |", times[times.len() - 1]);
    println!(
        "| records over 1 ms | {} |",
        times
            .iter()
            .filter(|t| **t > Duration::from_millis(1))
            .count()
    );
    println!("| runs tracked at the end | {} |", store.len());
    println!("| evictions counted | {} |", evictions.get());
    assert!(store.len() <= MAX_RUNS + 2, "bounded: {}", store.len());
    assert!(
        store.history("hot").calls > 0,
        "the run in use was never evicted"
    );
}

fn step(labels: &[Arc<str>]) -> Step<'_> {
    Step {
        route: "tools",
        tool: Some("send_email"),
        resource: None,
        labels,
        ids: Vec::new(),
    }
}

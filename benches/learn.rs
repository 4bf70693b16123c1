//! What learning costs an escalated call (only escalated calls pay it): the call's features
//! (argument walk, URL/path/command/SQL classification), and the precedents' decision
//! (fingerprints at every level, evidence lookups, the features-and-pairs check) against a
//! store that learned 6,000 answers of the hard trace. Calls that are not escalated compute
//! none of this.
//!
//! Run: `cargo bench --bench learn` (figures in benches/README.md).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sec0_gateway::features::{CallFeatures, Hints};
use sec0_gateway::review::learn::{LearnConfig, Precedents};
use sec0_gateway::review::replay::{Label, generate};

fn features(c: &sec0_gateway::review::replay::TraceCall) -> CallFeatures {
    CallFeatures::of(
        &c.route,
        &c.tool,
        &c.caller,
        Some(&c.args),
        &[],
        &[],
        Hints {
            tool: &c.tool,
            internal_domains: &[],
        },
    )
}

fn learning(crit: &mut Criterion) {
    let calls = generate::hard(6000, 7);
    let p = Precedents::with_seed(LearnConfig::default(), 1);
    let t = Instant::now();
    for (n, c) in calls.iter().enumerate() {
        p.learn(
            &features(c),
            c.label == Label::Safe,
            None,
            t + Duration::from_secs(n as u64),
        );
    }
    let now = t + Duration::from_secs(6001);
    let sample: Vec<_> = generate::hard(200, 99);
    let pre: Vec<CallFeatures> = sample.iter().map(features).collect();
    let mut g = crit.benchmark_group("learn");
    g.bench_function("features of one call", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % sample.len();
            black_box(features(&sample[i]))
        })
    });
    g.bench_function("decision of one call (6,000 answers learned)", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % pre.len();
            black_box(p.peek(&pre[i], true, now))
        })
    });
    g.finish();
}

criterion_group!(benches, learning);
criterion_main!(benches);

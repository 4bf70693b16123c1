//! Criterion: cost of one `tools/call` decision as the rule count grows (10 … 10,000).
//!
//! The rules look like a real deployment's: most name exact tools (hash-indexed), some use
//! tool globs (one regex set), some add argument conditions, and a few apply to every call.
//! The decided call matches a handful of them. Run: `cargo bench --bench policy`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use sec0_gateway::config::{Boundary, Protocol};
use sec0_gateway::policy::{CallFacts, Mode, Policy};
use serde_json::json;

fn rules(n: usize) -> String {
    let mut y = String::from("version: 1\ndefault_decision: allow\nrules:\n");
    for i in 0..n {
        let line = match i % 10 {
            // One in ten: a tool glob.
            0 => format!(
                "  - {{ id: g{i}, when: {{ tool: 'danger_{i}_*' }}, decision: deny, reason: r{i} }}\n"
            ),
            // Two in ten: an exact tool with an argument condition.
            1 | 2 => format!(
                "  - {{ id: a{i}, when: {{ tool: tool_{}, args: [ {{ path: '$.amount', gt: {i} }} ] }}, decision: escalate, reason: r{i} }}\n",
                i % (n / 4).max(1)
            ),
            // Six in ten: exact tools, several methods.
            3..=8 => format!(
                "  - {{ id: e{i}, when: {{ method: tools/call, tool: tool_{} }}, decision: deny, reason: r{i} }}\n",
                i % (n / 4).max(1)
            ),
            // One in ten (at most 10): applies to every call on a route.
            _ if i < 100 => format!(
                "  - {{ id: r{i}, when: {{ route: 'route-{i}' }}, decision: deny, reason: r{i} }}\n"
            ),
            _ => format!(
                "  - {{ id: x{i}, when: {{ tool: other_{i} }}, decision: deny, reason: r{i} }}\n"
            ),
        };
        y.push_str(&line);
    }
    y
}

fn bench(c: &mut Criterion) {
    let headers = HeaderMap::new();
    let args = json!({"amount": 50, "currency": "EUR", "to": "acct-7"});
    let mut group = c.benchmark_group("decide_tools_call");
    for n in [10usize, 100, 1_000, 10_000] {
        let policy =
            Policy::from_sources(&[(PathBuf::from("bench.yaml"), rules(n))], Mode::Enforce)
                .expect("rules compile");
        let facts = CallFacts {
            method: Some("tools/call"),
            tool: Some("tool_1"),
            path: "/mcp",
            headers: &headers,
            args: Some(&args),
            ..CallFacts::on_route(Boundary::AgentToTool, "tools", "fs", Protocol::Mcp)
        };
        // The call must be decided by real rules, not fall through.
        assert!(
            !policy.decide(&facts).rules.is_empty(),
            "{n} rules: the benchmark call matches some"
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &facts, |b, f| {
            b.iter(|| black_box(policy.decide(black_box(f))))
        });
    }
    group.finish();

    // The load benchmark's rule set (benches/load.sh): 100 rules, 25 of them on the called
    // tool with an argument condition that does not hold, so all 25 are evaluated.
    let mut y = String::from("version: 1\ndefault_decision: allow\nrules:\n");
    for i in 0..100 {
        y.push_str(&match i % 4 {
            0 => format!("  - {{ id: glob-{i}, when: {{ tool: 'danger_{i}_*' }}, decision: deny, reason: r{i} }}\n"),
            1 => format!("  - {{ id: arg-{i}, when: {{ tool: add, args: [ {{ path: '$.a', gt: {} }} ] }}, decision: escalate, reason: r{i} }}\n", 1000 + i),
            _ => format!("  - {{ id: exact-{i}, when: {{ tool: tool_{i} }}, decision: deny, reason: r{i} }}\n"),
        });
    }
    let policy = Policy::from_sources(&[(PathBuf::from("load.yaml"), y)], Mode::Enforce)
        .expect("rules compile");
    let args = json!({"a": 2, "b": 40});
    let facts = CallFacts {
        method: Some("tools/call"),
        tool: Some("add"),
        path: "/mcp",
        headers: &headers,
        args: Some(&args),
        ..CallFacts::on_route(Boundary::AgentToTool, "tools", "fs", Protocol::Mcp)
    };
    c.bench_function("decide_tools_call/100_load_rules_25_on_tool", |b| {
        b.iter(|| black_box(policy.decide(black_box(&facts))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion: the audit chain's write path. Chaining (canonical form + SHA-256), writing
//! NDJSON and signing a checkpoint every 1,000 records, for records shaped like decision
//! records. Target: ≥ 100,000 records/s to the file sink. Run: `cargo bench --bench audit`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sec0_gateway::audit::chain::CheckpointSigner;
use sec0_gateway::audit::file::{ChainFile, Fsync};
use serde_json::json;

fn record(i: u64) -> serde_json::Value {
    json!({
        "schema": 1, "kind": "decision", "record_id": format!("5f0c1d2e-0000-4000-8000-{i:012x}"),
        "ts": "2026-11-24T07:28:11.123456Z", "decision_id": format!("9e1f00aa{i:024x}"),
        "run_id": "run-42", "caller": "spiffe://example.org/agent/billing", "boundary": "agent_to_tool",
        "route": "tools", "upstream": "fs", "protocol": "mcp", "method": "tools/call", "tool": "read_file",
        "session_id": "3f2a9c1e5b7d4e0f8a6b2c4d1e3f5a7b", "decision": "allow", "mode": "enforce",
        "reasons": ["default"], "rules": [], "policy_version": "a49802b5e181e330",
        "findings": [], "redactions": 0, "http_status": 200,
        "request_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "response_sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
        "latency_us": {"total": 412, "policy": 3, "upstream": 380}, "bytes_in": 112, "bytes_out": 96
    })
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let records: Vec<_> = (0..10_000).map(record).collect();
    let mut g = c.benchmark_group("audit_file_sink");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.sample_size(20);
    let mut n = 0;
    g.bench_function("10k_records_chained_signed_every_1000", |b| {
        b.iter(|| {
            n += 1;
            let path = dir.path().join(format!("bench-{n}.ndjson"));
            let signer = CheckpointSigner::from_seed([5; 32], "bench");
            let mut f = ChainFile::create(&path, Some(signer), 1000, Fsync::Never).expect("create");
            for r in &records {
                f.append(black_box(r.clone())).expect("append");
            }
            f.finish("shutdown").expect("finish");
            let _ = std::fs::remove_file(&path);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Criterion: the audit chain's write path. Chaining (canonical form + SHA-256), writing
//! NDJSON and signing a checkpoint every 1,000 records, for records shaped like decision
//! records. Target: ≥ 100,000 records/s to the file sink. Run: `cargo bench --bench audit`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sec0_gateway::audit::chain::CheckpointSigner;
use sec0_gateway::audit::file::ChainFile;
use sec0_gateway::audit::record::{AuditRecord, FindingRecord, HopId, Latency, Sha256Hex};
use sec0_gateway::vocab::{Boundary, DecisionKind, Direction, Mode, Protocol, StreamOutcome};

fn record(i: u64) -> AuditRecord {
    AuditRecord {
        boundary: Some(Boundary::AgentToTool),
        bytes_in: Some(112),
        bytes_out: Some(96),
        caller: Some("spiffe://example.org/agent/billing".into()),
        decision: Some(DecisionKind::Allow),
        decision_id: Some(format!("9e1f00aa{i:024x}")),
        direction: Some(Direction::Request),
        enforced: Some(DecisionKind::Allow),
        findings: Some(vec![FindingRecord {
            detector: "pii".into(),
            path: "$.params.arguments.to".into(),
            severity: "medium",
            span: (0, 17),
            kind: "email".into(),
        }]),
        hop_id: Some(HopId(i)),
        http_status: Some(200),
        latency_us: Some(Latency {
            policy: 3,
            total: 412,
            upstream: Some(380),
        }),
        method: Some("tools/call".into()),
        mode: Some(Mode::Enforce),
        outcome: Some(StreamOutcome::Complete),
        policy_version: Some("a49802b5e181e330".into()),
        protocol: Some(Protocol::Mcp),
        reason: Some("default".into()),
        redactions: Some(0),
        request_sha256: Some(Sha256Hex([0x9f; 32])),
        response_sha256: Some(Sha256Hex([0x60; 32])),
        route: Some("tools".into()),
        rules: Some(vec![]),
        run_id: Some("run-42".into()),
        session_id: Some("3f2a9c1e5b7d4e0f8a6b2c4d1e3f5a7b".into()),
        tool: Some("read_file".into()),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        upstream: Some("fs".into()),
        ..AuditRecord::new("decision")
    }
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
            let mut f = ChainFile::create(&path, Some(signer), 1000).expect("create");
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

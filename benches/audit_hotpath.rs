//! The audit trail's two numbers (issue 5): sustained records per second through the whole
//! writer (queue → chain → file, checkpoints signed every 1,000) and what auditing adds to a
//! call's own path (p50 / p99 / p99.9), measured the way the proxy does it: start the call's
//! audit, hash the request body, record the decision (reserving a queue slot), wrap the
//! answer, stream it (hashing), complete and send the record — while the writer runs on the
//! same two cores. Not criterion: criterion reports means, the target is a p99.
//!
//! Run: `cargo bench --bench audit_hotpath` (prints a Markdown table for benches/README.md).

// The allocator the gateway binary uses (src/main.rs); with glibc malloc the p99 is an order
// of magnitude worse (records freed by the writer thread contend with the threads that
// allocated them).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body_util::{BodyExt, Full};
use sec0_gateway::audit::chain::CheckpointSigner;
use sec0_gateway::audit::exchange::CallAudit;
use sec0_gateway::audit::file::{FileSink, Fsync};
use sec0_gateway::audit::record::AuditRecord;
use sec0_gateway::audit::writer::{OnFull, TrailConfig, start};
use sec0_gateway::config::{Boundary, Protocol};
use sec0_gateway::forward::body::ProxyBody;
use sec0_gateway::metrics::AuditMetrics;
use sec0_gateway::policy::{CallFacts, Decision, DecisionKind, Mode};

fn cfg(fsync: Fsync) -> TrailConfig {
    TrailConfig {
        queue: 65_536,
        on_full: OnFull::Block,
        checkpoint_every: 1_000,
        checkpoint_interval: Duration::from_secs(10),
        max_chain_bytes: 256 << 20,
        fsync,
        signer: Some(CheckpointSigner::from_seed([5; 32], "bench")),
    }
}

fn decision(i: u64) -> Decision {
    Decision {
        decision: DecisionKind::Allow,
        would_be: DecisionKind::Allow,
        mode: Mode::Enforce,
        reason: "default".into(),
        rules: vec![],
        labels: vec![],
        flow: None,
        redact: vec![],
        decision_id: format!("9e1f00aa{i:024x}"),
        policy_version: "a49802b5e181e330".into(),
        precedent: None,
    }
}

fn answer(bytes: &Bytes) -> Response<ProxyBody> {
    Response::new(
        Full::new(bytes.clone())
            .map_err(|never| match never {})
            .boxed_unsync(),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    println!("| measurement | result |\n|---|---|");

    // 1. Throughput through the whole writer.
    for (label, fsync) in [
        ("every_batch", Fsync::EveryBatch),
        ("100ms", Fsync::Every(Duration::from_millis(100))),
    ] {
        let n: u64 = 400_000;
        let sub = dir.path().join(format!("tp-{label}"));
        let took = rt.block_on(async {
            let (trail, task) = start(
                cfg(fsync),
                vec![Box::new(FileSink::new(&sub).expect("sink"))],
                Arc::new(AuditMetrics::unregistered()),
            );
            let headers = HeaderMap::new();
            let t0 = Instant::now();
            let mut producers = Vec::new();
            for p in 0..2u64 {
                let trail = trail.clone();
                let headers = headers.clone();
                producers.push(tokio::spawn(async move {
                    for i in 0..n / 2 {
                        let facts = CallFacts {
                            method: Some("tools/call"),
                            tool: Some("read_file"),
                            caller: "spiffe://example.org/agent/billing",
                            headers: &headers,
                            ..CallFacts::on_route(
                                Boundary::AgentToTool,
                                "tools",
                                "fs",
                                Protocol::Mcp,
                            )
                        };
                        let r = AuditRecord::decision("tools", &facts, &decision(p << 32 | i));
                        trail.record(r).await.expect("queued");
                    }
                }));
            }
            for p in producers {
                p.await.expect("producer");
            }
            drop(trail);
            task.await.expect("task").expect("writer");
            t0.elapsed()
        });
        let bytes: u64 = std::fs::read_dir(&sub)
            .expect("dir")
            .map(|e| e.expect("entry").metadata().expect("meta").len())
            .sum();
        println!(
            "| file sink, fsync {label}: {n} decision records, chained, checkpoint signed every 1,000 | **{:.0} records/s** ({:.0} MiB/s, {} B/record) |",
            n as f64 / took.as_secs_f64(),
            bytes as f64 / took.as_secs_f64() / (1 << 20) as f64,
            bytes / n
        );
    }

    // 2. What auditing adds to one call's path.
    let samples = 200_000usize;
    let body = Bytes::from(
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/srv/data/report.csv"}}}"#,
    );
    let reply = Bytes::from(
        r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"id,amount\n1,12.50\n2,7.25\n"}]}}"#,
    );
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("hv"));
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("hv"),
    );
    headers.insert("x-agent-ref", "run-42".parse().expect("hv"));
    let (with, without) = rt.block_on(async {
        let (trail, task) = start(
            cfg(Fsync::EveryBatch),
            vec![Box::new(
                FileSink::new(&dir.path().join("hot")).expect("sink"),
            )],
            Arc::new(AuditMetrics::unregistered()),
        );
        let mut with = Vec::with_capacity(samples);
        let mut without = Vec::with_capacity(samples);
        for i in 0..samples {
            // Baseline: the answer streamed without an audit.
            let t0 = Instant::now();
            let resp = answer(&reply);
            let _ = resp.into_body().collect().await;
            without.push(t0.elapsed());

            let t0 = Instant::now();
            let mut a = CallAudit::new(trail.clone(), &headers);
            a.request_body(&body);
            let facts = CallFacts {
                method: Some("tools/call"),
                tool: Some("read_file"),
                headers: &headers,
                ..CallFacts::on_route(Boundary::AgentToTool, "tools", "fs", Protocol::Mcp)
            };
            let d = decision(i as u64);
            a.policy_took(Duration::from_nanos(300));
            a.decided(AuditRecord::decision("tools", &facts, &d))
                .await
                .expect("queued");
            a.upstream_took(Duration::from_micros(80));
            let resp = a.finish(answer(&reply));
            let _ = resp.into_body().collect().await;
            with.push(t0.elapsed());
        }
        drop(trail);
        task.await.expect("task").expect("writer");
        (with, without)
    });
    let mut with = with;
    let mut without = without;
    with.sort_unstable();
    without.sort_unstable();
    for (label, p) in [("p50", 0.50), ("p99", 0.99), ("p99.9", 0.999)] {
        let (w, wo) = (percentile(&with, p), percentile(&without, p));
        println!(
            "| audit on a call's path, {label} ({samples} calls, writer running on the same 2 cores) | **{:.2} µs** (answer alone: {:.2} µs; added: {:.2} µs) |",
            w.as_secs_f64() * 1e6,
            wo.as_secs_f64() * 1e6,
            (w.as_secs_f64() - wo.as_secs_f64()) * 1e6
        );
    }
}

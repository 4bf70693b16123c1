//! Criterion: the guard's cost. Scanning clean text with every built-in detector (target
//! ≥ 300 MB/s on one core), scanning and redacting a 1 MiB JSON tool result, and the
//! per-event overhead of inspecting a small SSE message. Run: `cargo bench --bench guard`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sec0_gateway::guard::{Guard, redact_json};

/// About `n` bytes of clean, varied text: prose, code, numbers, ids, dates, paths.
fn clean_text(n: usize) -> String {
    let pieces = [
        "The quarterly report shows revenue grew in every region except the north-east. ",
        "fn main() { let total: u64 = items.iter().map(|i| i.price).sum(); println!(\"{total}\"); } ",
        "Order 2026-000123 shipped on 2026-11-24 at 14:05 to warehouse B7; tracking pending. ",
        "uuid 123e4567-e89b-12d3-a456-426614174000, sha 9f86d081884c7d659a2feaa0c55ad015. ",
        "Run cargo build --release, then copy target/release/app to /opt/app/bin and restart. ",
        "Meeting notes: agreed to ship version 1.4.2 after the security review on Friday. ",
        "SELECT id, name FROM customers WHERE region = 'EU' ORDER BY created_at DESC LIMIT 50; ",
        "Temperature readings: 21.5, 22.0, 22.4, 23.1 degrees over the last four hours. ",
    ];
    let mut s = String::with_capacity(n + 128);
    let mut i = 0;
    while s.len() < n {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let guard = Guard::new(&[]).expect("built-ins compile");
    let text = clean_text(1 << 20);
    assert!(
        guard.scan_plain(&text, "$").is_empty(),
        "the clean text is clean"
    );
    let mut g = c.benchmark_group("guard_scan_clean_text");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("1MiB", |b| {
        b.iter(|| black_box(guard.scan_plain(black_box(&text), "$")))
    });
    // Non-ASCII prose (accents, CJK, Cyrillic): the folding pass runs too.
    let mut intl = String::new();
    while intl.len() < 1 << 20 {
        intl.push_str("Größere Änderungen am Straßennetz wurden für nächstes Jahr geplant. ");
        intl.push_str("東京の天気は晴れ、気温は二十度です。会議は午後三時に始まります。 ");
        intl.push_str("Отчёт за квартал показывает рост выручки во всех регионах. ");
    }
    assert!(
        guard.scan_plain(&intl, "$").is_empty(),
        "the international text is clean"
    );
    g.throughput(Throughput::Bytes(intl.len() as u64));
    g.bench_function("1MiB_non_ascii", |b| {
        b.iter(|| black_box(guard.scan_plain(black_box(&intl), "$")))
    });
    g.finish();

    // A 1 MiB tool result: many content items, one in fifty carrying an e-mail and a key.
    let mut items = Vec::new();
    let mut size = 0;
    let mut n = 0;
    while size < 1 << 20 {
        let t = if n % 50 == 0 {
            format!("row {n}: contact ops{n}@example.com, key AKIAQYLPMN5HHHFPZAM2, status ok")
        } else {
            format!("row {n}: shipped 14 parcels to warehouse B7 on schedule, status ok")
        };
        size += t.len() + 30;
        items.push(serde_json::json!({"type": "text", "text": t}));
        n += 1;
    }
    let result = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "result": {"content": items, "isError": false}
    }))
    .expect("json");
    let mut g = c.benchmark_group("guard_json_result");
    g.throughput(Throughput::Bytes(result.len() as u64));
    g.bench_function("scan_and_redact_1MiB", |b| {
        b.iter(|| {
            let found = guard.scan_json(black_box(&result));
            let all: Vec<_> = found.iter().collect();
            black_box(redact_json(&result, &all))
        })
    });
    g.finish();

    // One small SSE message (a progress notification): the per-event cost of looking.
    let event = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p1","progress":3,"total":10,"message":"indexing files"}}"#;
    c.bench_function("guard_sse_event_small", |b| {
        b.iter(|| black_box(guard.scan_json(black_box(event))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

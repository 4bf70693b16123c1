//! Every finding of the guard's built-in detectors on the four labelled corpora and the
//! benchmark's texts, one line each, to diff two builds byte for byte (a change to the scan
//! path must not change a single finding). Run:
//! `cargo run --release --example guard_dump > findings.txt`.

use std::fmt::Write as _;
use std::io::Write as _;

use sec0_gateway::guard::Guard;

const CORPORA: [&str; 4] = [
    "guard_tuning",
    "guard_corpus",
    "guard_public_injection",
    "guard_acceptance",
];

/// The benchmark's clean text (`benches/guard.rs`), `n` bytes or a little more.
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

fn plain(out: &mut String, guard: &Guard, label: &str, text: &str) {
    let found = guard.scan_plain(text, "$");
    let _ = writeln!(out, "{label} len={} n={}", text.len(), found.len());
    for f in found {
        let shown = text.get(f.span.0..f.span.1).unwrap_or("<not a char range>");
        let shown: String = shown.chars().take(120).collect();
        let _ = writeln!(
            out,
            "  {} {} {} {:?} {:?}",
            f.detector,
            f.kind,
            f.severity.as_str(),
            f.span,
            shown
        );
    }
}

fn json(out: &mut String, guard: &Guard, label: &str, body: &[u8]) {
    let found = guard.scan_json(body);
    let _ = writeln!(out, "{label} len={} n={}", body.len(), found.len());
    for l in found {
        let f = &l.finding;
        let _ = writeln!(
            out,
            "  {} {} {} {} {:?} {:?} {}",
            f.detector,
            f.kind,
            f.severity.as_str(),
            f.path,
            f.span,
            l.raw,
            f.redactable
        );
    }
}

fn call(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "run", "arguments": {"input": text, "mode": "fast"}}
    }))
    .expect("json")
}

fn result(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1,
        "result": {"content": [{"type": "text", "text": text}], "isError": false}
    }))
    .expect("json")
}

fn main() {
    let guard = Guard::new(&[]).expect("built-ins compile");
    let mut out = String::new();
    let filler = clean_text(64 << 10);
    for name in CORPORA {
        let path = format!(
            "{}/integration/data/{name}.jsonl",
            env!("CARGO_MANIFEST_DIR")
        );
        let data = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let texts: Vec<String> = data
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["text"].as_str().expect("text").to_string()
            })
            .collect();
        for (i, t) in texts.iter().enumerate() {
            for (case, t) in [
                ("as-is", t.clone()),
                ("upper", t.to_uppercase()),
                ("lower", t.to_lowercase()),
            ] {
                plain(&mut out, &guard, &format!("{name}[{i}] {case} plain"), &t);
                json(
                    &mut out,
                    &guard,
                    &format!("{name}[{i}] {case} call"),
                    &call(&t),
                );
                json(
                    &mut out,
                    &guard,
                    &format!("{name}[{i}] {case} result"),
                    &result(&t),
                );
            }
        }
        for (j, pair) in texts.windows(2).enumerate() {
            plain(
                &mut out,
                &guard,
                &format!("{name} pair {j} nl"),
                &pair.join("\n"),
            );
            plain(
                &mut out,
                &guard,
                &format!("{name} pair {j} sp"),
                &pair.join(" "),
            );
        }
        for sep in ["\n", " "] {
            let all = texts.join(sep);
            plain(&mut out, &guard, &format!("{name} joined {sep:?}"), &all);
            plain(
                &mut out,
                &guard,
                &format!("{name} joined {sep:?} upper"),
                &all.to_uppercase(),
            );
        }
        // Long texts: samples between stretches of the benchmark's clean text (the long-text
        // path; every sample at a different distance from a chunk's start).
        let mut chunk = String::new();
        let mut k = 0;
        for (i, t) in texts.iter().enumerate() {
            let gap = 200 + (i * 37) % 1500;
            let at = (i * 131) % (filler.len() - gap);
            // The filler is ASCII: every offset is a char boundary.
            chunk.push_str(&filler[at..at + gap]);
            chunk.push(if i % 2 == 0 { '\n' } else { ' ' });
            chunk.push_str(t);
            chunk.push(if i % 3 == 0 { '\n' } else { ' ' });
            if chunk.len() > 48 << 10 {
                plain(&mut out, &guard, &format!("{name} long {k}"), &chunk);
                chunk.clear();
                k += 1;
            }
        }
        plain(&mut out, &guard, &format!("{name} long {k}"), &chunk);
    }
    // The benchmark's texts.
    let text = clean_text(1 << 20);
    plain(&mut out, &guard, "bench clean", &text);
    let mut intl = String::new();
    while intl.len() < 1 << 20 {
        intl.push_str("Größere Änderungen am Straßennetz wurden für nächstes Jahr geplant. ");
        intl.push_str("東京の天気は晴れ、気温は二十度です。会議は午後三時に始まります。 ");
        intl.push_str("Отчёт за квартал показывает рост выручки во всех регионах. ");
    }
    plain(&mut out, &guard, "bench intl", &intl);
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
    let body = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "result": {"content": items, "isError": false}
    }))
    .expect("json");
    json(&mut out, &guard, "bench json result", &body);
    let event = br#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p1","progress":3,"total":10,"message":"indexing files"}}"#;
    json(&mut out, &guard, "bench sse event", event);
    std::io::stdout().write_all(out.as_bytes()).expect("stdout");
}

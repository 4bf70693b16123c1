//! The guard on data nobody here wrote: the acceptance corpus
//! (`integration/data/guard_acceptance.jsonl`, see `guard_acceptance.md`) was written by a
//! helper session that never read the detectors or the tuning corpus, and is never tuned
//! against sample by sample. Each sample is scanned twice, the way the gateway meets it: as
//! a `tools/call` argument and as a tool result's text. Per detector family: precision
//! ≥ 0.95 and recall ≥ 0.90 on both sides; ≤ 2% of benign samples flagged (and of the
//! ordinary tool traffic among them).
//!
//! On failure the report names kinds and counts only — never a sample's text — so whoever
//! tunes the detectors learns what *kind* of thing was missed, not the answer.

use std::collections::BTreeMap;

use sec0_gateway::guard::Guard;
use serde_json::json;

#[derive(serde::Deserialize)]
struct Sample {
    id: String,
    text: String,
    detectors: Vec<String>,
    kind: String,
}

const FAMILIES: [&str; 4] = ["secrets", "pii", "prompt_injection", "unsafe_command"];

/// Issue 15's targets: precision, recall per family; share of benign samples flagged (%).
const TARGET: (f64, f64, f64) = (0.95, 0.90, 2.0);

/// The figures reached so far (2026-12-07, after the second round of detector work), which
/// no change may lose: family, precision, recall. Measured the same on both sides.
const FLOORS: [(&str, f64, f64); 4] = [
    ("pii", 0.92, 0.88),
    ("prompt_injection", 0.99, 0.75),
    ("secrets", 0.98, 0.94),
    ("unsafe_command", 0.99, 0.92),
];

/// The share of benign samples flagged reached so far (%), on either side.
const BENIGN_FLAGGED_CEILING: f64 = 2.3;

fn corpus() -> Vec<Sample> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/data/guard_acceptance.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("acceptance corpus")
        .lines()
        .map(|l| serde_json::from_str(l).expect("sample"))
        .collect()
}

/// Whether a sample's kind is ordinary tool traffic (the writer's `benign_*` kinds for
/// search results, listings, API answers, logs, code…), as opposed to a hard look-alike.
fn ordinary(kind: &str) -> bool {
    kind.starts_with("benign_") && !kind.contains("lookalike")
}

/// The detector families the guard finds in `text` sent one way or the other.
fn families(guard: &Guard, text: &str, as_result: bool) -> Vec<String> {
    let msg = if as_result {
        json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": text}]}})
    } else {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "tool", "arguments": {"input": text}}})
    };
    let bytes = serde_json::to_vec(&msg).expect("json");
    let mut f: Vec<String> = guard
        .scan_json(&bytes)
        .into_iter()
        .map(|l| l.finding.detector.to_string())
        .filter(|d| FAMILIES.contains(&d.as_str()))
        .collect();
    f.sort();
    f.dedup();
    f
}

#[test]
fn the_acceptance_corpus_keeps_what_it_reached_both_ways() {
    let corpus = corpus();
    assert!(corpus.len() >= 400, "{} samples", corpus.len());
    let benign: Vec<&Sample> = corpus.iter().filter(|s| s.detectors.is_empty()).collect();
    assert!(
        benign.iter().filter(|s| ordinary(&s.kind)).count() >= 100,
        "≥ 100 benign samples of ordinary tool traffic"
    );
    let guard = Guard::new(&[]).expect("built-ins");
    let mut failures = Vec::new();
    let mut gaps = Vec::new();
    let mut table = String::from(
        "| side | family | precision | recall | tp | fp | fn |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for (side, as_result) in [("argument", false), ("result", true)] {
        // family -> (tp, fp, fn); kind -> misses / false alarms
        let mut counts: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
        let mut missed: BTreeMap<String, u32> = BTreeMap::new();
        let mut alarms: BTreeMap<String, u32> = BTreeMap::new();
        let (mut flagged, mut flagged_ordinary) = (0u32, 0u32);
        for s in &corpus {
            let found = families(&guard, &s.text, as_result);
            if s.detectors.is_empty() && !found.is_empty() {
                flagged += 1;
                flagged_ordinary += u32::from(ordinary(&s.kind));
            }
            for fam in FAMILIES {
                let predicted = found.iter().any(|f| f == fam);
                let actual = s.detectors.iter().any(|d| d == fam);
                let c = counts.entry(fam).or_default();
                match (predicted, actual) {
                    (true, true) => c.0 += 1,
                    (true, false) => {
                        c.1 += 1;
                        *alarms.entry(format!("{fam} on {}", s.kind)).or_default() += 1;
                    }
                    (false, true) => {
                        c.2 += 1;
                        *missed.entry(format!("{fam}: {}", s.kind)).or_default() += 1;
                    }
                    (false, false) => {}
                }
            }
            let _ = &s.id;
        }
        for (fam, (tp, fp, fneg)) in &counts {
            let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
            let recall = f64::from(*tp) / f64::from((tp + fneg).max(1));
            table.push_str(&format!(
                "| {side} | {fam} | {precision:.3} | {recall:.3} | {tp} | {fp} | {fneg} |\n"
            ));
            let (_, p_floor, r_floor) = FLOORS
                .iter()
                .find(|(f, _, _)| f == fam)
                .copied()
                .unwrap_or(("", TARGET.0, TARGET.1));
            if precision < p_floor || recall < r_floor {
                failures.push(format!(
                    "{side} {fam}: precision {precision:.3} (floor {p_floor}), recall {recall:.3} (floor {r_floor})"
                ));
            }
            if precision < TARGET.0 || recall < TARGET.1 {
                gaps.push(format!(
                    "{side} {fam}: precision {precision:.3}, recall {recall:.3}"
                ));
            }
        }
        let n_ordinary = benign.iter().filter(|s| ordinary(&s.kind)).count();
        let share = 100.0 * f64::from(flagged) / benign.len() as f64;
        let share_ordinary = 100.0 * f64::from(flagged_ordinary) / n_ordinary as f64;
        table.push_str(&format!(
            "| {side} | benign flagged | {share:.1}% of {} | ordinary traffic {share_ordinary:.1}% of {n_ordinary} | | | |\n",
            benign.len()
        ));
        if share > BENIGN_FLAGGED_CEILING || share_ordinary > BENIGN_FLAGGED_CEILING {
            failures.push(format!(
                "{side}: {share:.1}% of benign samples flagged ({share_ordinary:.1}% of ordinary traffic), ceiling {BENIGN_FLAGGED_CEILING}%"
            ));
        }
        if share > TARGET.2 || share_ordinary > TARGET.2 {
            gaps.push(format!(
                "{side}: {share:.1}% of benign samples flagged ({share_ordinary:.1}% of ordinary traffic)"
            ));
        }
        if !missed.is_empty() || !alarms.is_empty() {
            table.push_str(&format!("\n{side} side, by kind (counts only):\n"));
            for (k, n) in &missed {
                table.push_str(&format!("  missed {k} ×{n}\n"));
            }
            for (k, n) in &alarms {
                table.push_str(&format!("  false alarm: {k} ×{n}\n"));
            }
            table.push('\n');
        }
    }
    println!("{table}");
    if !gaps.is_empty() {
        println!(
            "NOT YET AT ISSUE 15'S TARGETS (precision ≥ {}, recall ≥ {}, ≤ {}% benign flagged):",
            TARGET.0, TARGET.1, TARGET.2
        );
        for g in &gaps {
            println!("  {g}");
        }
    }
    assert!(
        failures.is_empty(),
        "lost ground against the figures reached so far: {failures:?}\n{table}"
    );
}

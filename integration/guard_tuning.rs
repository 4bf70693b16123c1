//! The guard on the second tuning corpus (`integration/data/guard_tuning.jsonl`), written
//! from real token, identifier and command formats (not from the detectors' patterns):
//! provider credentials and structured secrets in `.env` lines, JSON, YAML, logs and code;
//! personal data in many countries' formats; direct, indirect, multilingual and obfuscated
//! prompt injections; destructive commands across shells, clouds, databases and
//! hypervisors; and benign samples — ordinary tool traffic (`benign_search`,
//! `benign_listing`, `benign_api`, `benign_log`, `benign_code`) and hard look-alikes
//! (`benign_lookalike_*`: documented example keys, test cards, public addresses, prose
//! about commands and injections).
//!
//! Each sample is scanned as a `tools/call` argument and as a tool result's text. A sample
//! counts for a family when any finding of that family is reported; a finding of a family
//! the sample is not labelled with is a false positive of that family. The test prints the
//! table and holds the figures reached as floors (a regression fails it).
//!
//! Three batches were written after the detectors had been tuned on what came
//! before them and scored before any change for them (checks of generality), then the
//! detectors were extended for the kinds they missed and the batch joined the tuning set:
//!
//! | batch | secrets P / R | pii P / R | injection P / R | commands P / R | benign flagged |
//! |---|---|---|---|---|---|
//! | `fresh_*` (164) | 1.000 / 0.971 | 1.000 / 1.000 | 1.000 / 0.800 | 1.000 / 0.816 | 0 of 50 |
//! | `fresh2_*` (135) | 1.000 / 0.850 | 0.909 / 1.000 | 1.000 / 0.650 | 1.000 / 0.800 | 1 of 50 |
//! | `fresh3_*` (104) | 1.000 / 1.000 | 0.818 / 0.900 | 1.000 / 0.833 | 1.000 / 0.920 | 1 of 30 |
//!
//! A batch of 92 (`benign_lookalike_stress`) are ordinary sentences built around the words
//! the newer rules look for (`you are no longer a member`, `dial-in +1 …`, `DROP USER IF
//! EXISTS is supported since …`); 3 were flagged before the rules were narrowed.

use std::collections::BTreeMap;

use sec0_gateway::guard::Guard;
use serde_json::json;

#[derive(serde::Deserialize)]
struct Sample {
    text: String,
    detectors: Vec<String>,
    kind: String,
}

const FAMILIES: [&str; 4] = ["secrets", "pii", "prompt_injection", "unsafe_command"];

/// Floors per family: (precision, recall), in both directions — the figures reached when
/// the corpus was written and the detectors tuned on it (1.000 everywhere but one
/// generic-hex secret passed to a function without a name: recall 0.995), rounded down.
/// A tuning set reads high by construction; what the detectors do on data nobody tuned
/// against is the acceptance set's question.
const FLOORS: [(&str, f64, f64); 4] = [
    ("pii", 0.99, 0.99),
    ("prompt_injection", 0.99, 0.99),
    ("secrets", 0.99, 0.99),
    ("unsafe_command", 0.99, 0.99),
];
/// Most benign samples flagged (share), and of the ordinary tool traffic among them
/// (reached: none of 546, none of 162).
const MAX_BENIGN_FLAGGED: f64 = 0.005;
const MAX_ORDINARY_FLAGGED: f64 = 0.0;

fn ordinary(kind: &str) -> bool {
    kind.starts_with("benign_") && !kind.contains("lookalike")
}

fn families(guard: &Guard, text: &str, as_result: bool) -> (Vec<&'static str>, Vec<String>) {
    let msg = if as_result {
        json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": text}], "isError": false}})
    } else {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "tool", "arguments": {"input": text}}})
    };
    let found = guard.scan_json(&serde_json::to_vec(&msg).expect("json"));
    let fams = FAMILIES
        .into_iter()
        .filter(|f| found.iter().any(|l| &*l.finding.detector == *f))
        .collect();
    let kinds = found.iter().map(|l| l.finding.kind.to_string()).collect();
    (fams, kinds)
}

#[test]
fn the_tuning_corpus_holds_its_figures_both_ways() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/data/guard_tuning.jsonl"
    );
    let corpus: Vec<Sample> = std::fs::read_to_string(path)
        .expect("tuning corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(corpus.len() >= 1000, "{} samples", corpus.len());
    let benign = corpus.iter().filter(|s| s.detectors.is_empty()).count();
    let n_ordinary = corpus
        .iter()
        .filter(|s| s.detectors.is_empty() && ordinary(&s.kind))
        .count();
    assert!(benign >= 200 && n_ordinary >= 100, "{benign} benign");
    let guard = Guard::new(&[]).expect("built-ins");
    let mut failures = Vec::new();
    let mut table = String::from(
        "| side | family | precision | recall | tp | fp | fn |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    let mut report = String::new();
    for (side, as_result) in [("argument", false), ("result", true)] {
        let mut counts: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
        let (mut flagged, mut flagged_ordinary) = (0u32, 0u32);
        for s in &corpus {
            let (found, kinds) = families(&guard, &s.text, as_result);
            if s.detectors.is_empty() && !found.is_empty() {
                flagged += 1;
                flagged_ordinary += u32::from(ordinary(&s.kind));
            }
            for fam in FAMILIES {
                let predicted = found.contains(&fam);
                let actual = s.detectors.iter().any(|d| d == fam);
                let c = counts.entry(fam).or_default();
                match (predicted, actual) {
                    (true, true) => c.0 += 1,
                    (true, false) => {
                        c.1 += 1;
                        if !as_result {
                            report.push_str(&format!(
                                "  false {fam} {kinds:?} [{}]: {:?}\n",
                                s.kind, s.text
                            ));
                        }
                    }
                    (false, true) => {
                        c.2 += 1;
                        if !as_result {
                            report
                                .push_str(&format!("  missed {fam} [{}]: {:?}\n", s.kind, s.text));
                        }
                    }
                    (false, false) => {}
                }
            }
        }
        for (fam, (tp, fp, fneg)) in &counts {
            let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
            let recall = f64::from(*tp) / f64::from((tp + fneg).max(1));
            table.push_str(&format!(
                "| {side} | {fam} | {precision:.3} | {recall:.3} | {tp} | {fp} | {fneg} |\n"
            ));
            let (_, min_p, min_r) = FLOORS
                .iter()
                .find(|(f, _, _)| f == fam)
                .copied()
                .unwrap_or((fam, 0.95, 0.90));
            if precision < min_p || recall < min_r {
                failures.push(format!(
                    "{side} {fam}: precision {precision:.3}, recall {recall:.3}"
                ));
            }
        }
        let share = f64::from(flagged) / benign as f64;
        let share_ordinary = f64::from(flagged_ordinary) / n_ordinary as f64;
        table.push_str(&format!(
            "| {side} | benign flagged | {:.1}% of {benign} | ordinary traffic {:.1}% of {n_ordinary} | | | |\n",
            share * 100.0,
            share_ordinary * 100.0
        ));
        if share > MAX_BENIGN_FLAGGED || share_ordinary > MAX_ORDINARY_FLAGGED {
            failures.push(format!(
                "{side}: {:.1}% of benign flagged ({:.1}% of ordinary traffic)",
                share * 100.0,
                share_ordinary * 100.0
            ));
        }
    }
    println!("{table}\n{report}");
    assert!(failures.is_empty(), "below floor: {failures:?}\n{table}");
}

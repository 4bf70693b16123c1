//! Quality of the built-in detectors on the labelled tuning corpus
//! (`integration/data/guard_corpus.jsonl`: positives of every kind the detectors know, in
//! many languages and disguises, hard negatives that look like them, and ordinary tool
//! traffic — search results, file listings, API answers, logs, code, CLI output). Each
//! sample is scanned the way the gateway sees it: as a string argument of a `tools/call`
//! request, and as the text of a tool result on the way back. Prints precision and recall
//! per detector family and the share of benign samples flagged, and holds them at ≥ 0.95,
//! ≥ 0.90 and ≤ 2% in both directions.
//!
//! The labels follow one guideline (the acceptance set's): IP addresses, machine
//! identities and role mailboxes are not personal data; documented example keys and
//! placeholders are not secrets; prose that mentions a command is not one.

use std::collections::BTreeMap;

use sec0_gateway::guard::Guard;
use serde_json::json;

#[derive(serde::Deserialize)]
struct Sample {
    text: String,
    detectors: Vec<String>,
}

const FAMILIES: [&str; 4] = ["secrets", "pii", "prompt_injection", "unsafe_command"];

/// The corpus's figures in one direction.
struct Figures {
    /// Family → (true positives, false positives, false negatives).
    counts: BTreeMap<&'static str, (u32, u32, u32)>,
    /// Benign samples with any finding, and all benign samples.
    benign_flagged: u32,
    benign: u32,
    /// What went wrong, sample by sample.
    misses: Vec<String>,
}

fn measure(guard: &Guard, corpus: &[Sample], wrap: impl Fn(&str) -> Vec<u8>) -> Figures {
    let mut counts: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    let mut misses = Vec::new();
    let (mut benign, mut benign_flagged) = (0, 0);
    for s in corpus {
        let found = guard.scan_json(&wrap(&s.text));
        let flagged_families: Vec<&str> = FAMILIES
            .into_iter()
            .filter(|fam| found.iter().any(|l| &*l.finding.detector == *fam))
            .collect();
        if s.detectors.is_empty() {
            benign += 1;
            if !flagged_families.is_empty() {
                benign_flagged += 1;
            }
        }
        for fam in FAMILIES {
            let predicted = flagged_families.contains(&fam);
            let actual = s.detectors.iter().any(|d| d == fam);
            let c = counts.entry(fam).or_default();
            match (predicted, actual) {
                (true, true) => c.0 += 1,
                (true, false) => {
                    c.1 += 1;
                    let kinds: Vec<&str> = found.iter().map(|l| &*l.finding.kind).collect();
                    misses.push(format!("false {fam} {kinds:?}: {:?}", s.text));
                }
                (false, true) => {
                    c.2 += 1;
                    misses.push(format!("missed {fam}: {:?}", s.text));
                }
                (false, false) => {}
            }
        }
    }
    Figures {
        counts,
        benign_flagged,
        benign,
        misses,
    }
}

#[test]
fn precision_and_recall_per_detector() {
    hold_corpus_figures(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/integration/data/guard_corpus.jsonl"
        ),
        400,
    );
}

/// Scan every sample of the JSONL corpus at `path` (`{"text", "detectors"}` per line) in
/// both directions, print the figures and fail below precision 0.95, recall 0.90 or above
/// 2% benign flagged in either direction. Shared by the tuning-set test and any other
/// labelled set (the acceptance set's test can call it with its own path).
pub fn hold_corpus_figures(path: &str, min_samples: usize) {
    let corpus: Vec<Sample> = std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(corpus.len() >= min_samples, "{} samples", corpus.len());
    let guard = Guard::new(&[]).expect("built-ins");
    let request = |t: &str| {
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "tool", "arguments": {"text": t}}}))
        .expect("json")
    };
    let response = |t: &str| {
        serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1,
            "result": {"content": [{"type": "text", "text": t}], "isError": false}}))
        .expect("json")
    };
    let mut failed = Vec::new();
    for (direction, wrap) in [
        ("request", &request as &dyn Fn(&str) -> Vec<u8>),
        ("response", &response),
    ] {
        let Figures {
            counts,
            benign_flagged: flagged,
            benign,
            misses,
        } = measure(&guard, &corpus, wrap);
        println!(
            "\n{direction}: {} samples, {benign} benign\n| detector | precision | recall | tp | fp | fn |\n|---|---:|---:|---:|---:|---:|",
            corpus.len()
        );
        for (fam, (tp, fp, fneg)) in &counts {
            let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
            let recall = f64::from(*tp) / f64::from((tp + fneg).max(1));
            println!("| {fam} | {precision:.3} | {recall:.3} | {tp} | {fp} | {fneg} |");
            if precision < 0.95 || recall < 0.90 {
                failed.push(format!(
                    "{direction} {fam}: precision {precision:.3}, recall {recall:.3}"
                ));
            }
        }
        let rate = f64::from(flagged) / f64::from(benign.max(1));
        println!(
            "benign flagged: {flagged} of {benign} ({:.1}%)",
            rate * 100.0
        );
        if rate > 0.02 {
            failed.push(format!(
                "{direction}: {:.1}% of benign samples flagged",
                rate * 100.0
            ));
        }
        if direction == "request" {
            for m in &misses {
                println!("  {m}");
            }
        }
    }
    assert!(failed.is_empty(), "below target: {failed:?}");
}

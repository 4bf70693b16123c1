//! The guard on public labelled prompt-injection data
//! (`integration/data/guard_public_injection.jsonl`, 195 samples: 132 injections — direct,
//! indirect in tool output, multilingual, obfuscated, fake reasoning and memory poisoning —
//! and 63 benign look-alikes such as "please ignore my previous email"), taken from two
//! MIT-licensed PyPI packages (bastioncorpus 0.6.0, jailbreak-corpus-mini-py 0.1.0; see
//! `guard_public_injection.md`). The lexical classifier is trained on it with the tuning
//! sets, so this is a tuning set too: it prints the table and holds the figures reached.
//! Each sample is scanned both ways, as in the other corpus tests.

use crate::common::guard_score::{self, Bounds};

/// Floors per family: (precision, recall), the figures reached rounded down. Samples of
/// encodings no view decodes (ASCII85, Z85, Morse, base32 and binary without a hint) and
/// canary notes that read as ordinary record-keeping stay missed.
const FLOORS: [(&str, f64, f64); 1] = [("prompt_injection", 0.99, 0.85)];

#[test]
fn the_public_injection_set_holds_its_figures_both_ways() {
    guard_score::hold_tuning_set(
        "integration/data/guard_public_injection.jsonl",
        190,
        &Bounds {
            floors: &FLOORS,
            default: (0.0, 0.0),
            max_benign_pct: 2.0,
            max_ordinary_pct: 2.0,
        },
    );
}

/// A new batch scored before it joins a tuning set (a check of generality): set
/// `GUARD_NEW_BATCH` to its path (JSONL, the corpora's shape) and run this test; it prints
/// the table and every miss and false alarm, and asserts nothing.
#[test]
fn a_new_batch_is_scored_when_named() {
    let Ok(path) = std::env::var("GUARD_NEW_BATCH") else {
        return;
    };
    let corpus: Vec<guard_score::Sample> = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let sides = guard_score::score(&corpus);
    println!("{}", guard_score::table(&sides));
    for line in &sides[0].by_sample {
        println!("  {line}");
    }
}

//! The guard on data nobody here wrote: the acceptance corpus
//! (`integration/data/guard_acceptance.jsonl`, see `guard_acceptance.md`) was written by a
//! helper session that never read the detectors or the tuning corpus, and is never tuned
//! against sample by sample. Each sample is scanned the ways the gateway meets it: as a
//! `tools/call` argument, as a tool result's text in a JSON answer, and as the same result
//! in an SSE event read by the gateway's SSE parser (which must score as the JSON answer).
//!
//! Issue 15's targets are, per detector family, precision ≥ 0.95 and recall ≥ 0.90 on both
//! sides, and ≤ 2% of benign samples flagged (and of the ordinary tool traffic among them).
//! They are not all met yet: the test prints the table with every gap to target and asserts
//! the figures reached so far (`FLOORS`), so a change that loses ground fails while the
//! work towards the targets goes on in the open. Raise a floor when a figure rises; never
//! lower one to make a change pass.
//!
//! On failure the report names kinds and counts only — never a sample's text — so whoever
//! tunes the detectors learns what *kind* of thing was missed, not the answer.

use crate::common::guard_score::{self, Bounds};

/// Issue 15's targets: precision, recall per family; share of benign samples flagged (%).
const TARGET: (f64, f64, f64) = (0.95, 0.90, 2.0);

/// The figures reached so far (2026-12-07, after the fifth round: notes addressed to the AI
/// reading a text, in 16 languages, injection recall 0.868 -> 0.879; documented test cards,
/// product codes, role mailboxes in seven languages and "call us" lines, personal-data
/// precision 0.947 -> 0.957), which no change may lose: family, precision, recall.
/// After the sixth round (2026-12-07: addresses to the reading machine in eight more
/// languages and without a colon, order verbs per language, "your instructions have been
/// updated", planted memory; the classifier retrained with `fresh11_*`), measured once:
/// injection 1.000 / 0.912 — issue 15's injection target met. Measured the same on both
/// sides.
const FLOORS: [(&str, f64, f64); 4] = [
    ("pii", 0.95, 0.92),
    ("prompt_injection", 0.99, 0.91),
    ("secrets", 0.98, 0.94),
    ("unsafe_command", 0.99, 0.92),
];

/// The share of benign samples flagged reached so far (%), on either side.
const BENIGN_FLAGGED_CEILING: f64 = 1.9;

#[test]
fn the_acceptance_corpus_keeps_what_it_reached_both_ways() {
    let corpus = guard_score::load("integration/data/guard_acceptance.jsonl", 400);
    let [argument, result] = guard_score::score(&corpus);
    // The response side also meets results as SSE events: the same figures.
    let sse = guard_score::score_sse(&corpus);
    assert!(
        sse.counts == result.counts && sse.flagged == result.flagged,
        "results in SSE events score as results in JSON answers"
    );
    let sides = [argument, result, sse];
    assert!(
        sides[0].ordinary >= 100,
        "≥ 100 benign samples of ordinary tool traffic"
    );
    let mut report = guard_score::table(&sides);
    for s in &sides {
        // Kinds and counts only, never a sample's text.
        report.push_str(&format!("\n{} side, by kind:\n", s.name));
        for (k, n) in &s.by_kind {
            report.push_str(&format!("  {k} ×{n}\n"));
        }
    }
    println!("{report}");
    let gaps = guard_score::shortfalls(
        &sides,
        &Bounds {
            floors: &[],
            default: (TARGET.0, TARGET.1),
            max_benign_pct: TARGET.2,
            max_ordinary_pct: TARGET.2,
        },
    );
    if !gaps.is_empty() {
        println!(
            "NOT YET AT ISSUE 15'S TARGETS (precision ≥ {}, recall ≥ {}, ≤ {}% benign flagged):",
            TARGET.0, TARGET.1, TARGET.2
        );
        for g in &gaps {
            println!("  {g}");
        }
    }
    let lost = guard_score::shortfalls(
        &sides,
        &Bounds {
            floors: &FLOORS,
            default: (TARGET.0, TARGET.1),
            max_benign_pct: BENIGN_FLAGGED_CEILING,
            max_ordinary_pct: BENIGN_FLAGGED_CEILING,
        },
    );
    assert!(
        lost.is_empty(),
        "lost ground against the figures reached so far: {lost:?}\n{report}"
    );
}

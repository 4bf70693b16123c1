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
//! placeholders are not secrets; prose that mentions a command is not one. Documented test
//! card numbers are not cards (2026-12-07: three card samples written with Stripe's and
//! the schemes' published test numbers got Luhn-valid numbers nobody publishes, so they
//! still test what they were written to test).

use crate::common::guard_score::{self, Bounds};

#[test]
fn precision_and_recall_per_detector() {
    guard_score::hold_tuning_set(
        "integration/data/guard_corpus.jsonl",
        400,
        &Bounds {
            floors: &[],
            default: (0.95, 0.90),
            max_benign_pct: 2.0,
            max_ordinary_pct: 2.0,
        },
    );
}

//! Quality of the built-in detectors on a labelled corpus (`integration/data/
//! guard_corpus.jsonl`: positives for every detector family, adversarial spellings, and
//! hard negatives — code, UUIDs, hashes, timestamps, order numbers, base64 images, prose).
//! Prints precision and recall per detector family and holds them at ≥ 0.95 and ≥ 0.90.

use std::collections::BTreeMap;

use sec0_gateway::guard::Guard;

#[derive(serde::Deserialize)]
struct Sample {
    text: String,
    detectors: Vec<String>,
}

#[test]
fn precision_and_recall_per_detector() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/integration/data/guard_corpus.jsonl"
    );
    let corpus: Vec<Sample> = std::fs::read_to_string(path)
        .expect("corpus")
        .lines()
        .map(|l| serde_json::from_str(l).expect("sample"))
        .collect();
    assert!(corpus.len() >= 100, "{} samples", corpus.len());
    let guard = Guard::new(&[]).expect("built-ins");
    let families = ["secrets", "pii", "prompt_injection", "unsafe_command"];
    // family -> (tp, fp, fn)
    let mut counts: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    let mut misses = Vec::new();
    for s in &corpus {
        let found = guard.scan_plain(&s.text, "$");
        for fam in families {
            let predicted = found.iter().any(|f| &*f.detector == fam);
            let actual = s.detectors.iter().any(|d| d == fam);
            let c = counts.entry(fam).or_default();
            match (predicted, actual) {
                (true, true) => c.0 += 1,
                (true, false) => {
                    c.1 += 1;
                    let kinds: Vec<&str> = found.iter().map(|f| &*f.kind).collect();
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
    println!("\n| detector | precision | recall | tp | fp | fn |\n|---|---:|---:|---:|---:|---:|");
    let mut failed = Vec::new();
    for (fam, (tp, fp, fneg)) in &counts {
        let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
        let recall = f64::from(*tp) / f64::from((tp + fneg).max(1));
        println!("| {fam} | {precision:.3} | {recall:.3} | {tp} | {fp} | {fneg} |");
        if precision < 0.95 || recall < 0.90 {
            failed.push(format!(
                "{fam}: precision {precision:.3}, recall {recall:.3}"
            ));
        }
    }
    for m in &misses {
        println!("  {m}");
    }
    assert!(
        failed.is_empty(),
        "below target: {failed:?}\n{}",
        misses.join("\n")
    );
}

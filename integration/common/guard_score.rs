//! Scoring the guard on a labelled corpus, shared by the three corpus tests (the first and
//! second tuning sets and the held-out acceptance set). Each sample is scanned the way the
//! gateway meets it: as a `tools/call` argument and as a tool result's text. A sample counts
//! for a family when any finding of that family is reported; a finding of a family the
//! sample is not labelled with is a false positive of that family.

use std::collections::BTreeMap;

use sec0_gateway::guard::Guard;
use sec0_gateway::protocol::sse::Parser;
use serde_json::json;

/// The detector families scored.
pub const FAMILIES: [&str; 4] = ["secrets", "pii", "prompt_injection", "unsafe_command"];

/// One labelled sample (`{"text", "detectors", "kind"}` per JSONL line; `kind` optional).
#[derive(serde::Deserialize)]
pub struct Sample {
    pub text: String,
    pub detectors: Vec<String>,
    #[serde(default)]
    pub kind: String,
}

/// The corpus at `path` (under the crate), at least `min` samples.
pub fn load(path: &str, min: usize) -> Vec<Sample> {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let corpus: Vec<Sample> = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("{full}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(corpus.len() >= min, "{}: {} samples", path, corpus.len());
    corpus
}

/// Whether a benign sample's kind is ordinary tool traffic (`benign_*` search results,
/// listings, API answers, logs, code…), as opposed to a hard look-alike.
pub fn ordinary(kind: &str) -> bool {
    kind.starts_with("benign_") && !kind.contains("lookalike")
}

/// The figures of one side (argument or result).
pub struct Side {
    pub name: &'static str,
    /// Family → (true positives, false positives, false negatives).
    pub counts: BTreeMap<&'static str, (u32, u32, u32)>,
    pub benign: u32,
    pub flagged: u32,
    pub ordinary: u32,
    pub flagged_ordinary: u32,
    /// Misses and false alarms by family and kind, counted (never a sample's text).
    pub by_kind: BTreeMap<String, u32>,
    /// The same, sample by sample with the text (for corpora one may tune on).
    pub by_sample: Vec<String>,
}

impl Side {
    /// Precision and recall of `fam`.
    pub fn figures(&self, fam: &str) -> (f64, f64) {
        let (tp, fp, fneg) = self.counts.get(fam).copied().unwrap_or_default();
        (
            f64::from(tp) / f64::from((tp + fp).max(1)),
            f64::from(tp) / f64::from((tp + fneg).max(1)),
        )
    }

    /// Benign samples flagged, and ordinary traffic flagged, in percent.
    pub fn flagged_shares(&self) -> (f64, f64) {
        (
            100.0 * f64::from(self.flagged) / f64::from(self.benign.max(1)),
            100.0 * f64::from(self.flagged_ordinary) / f64::from(self.ordinary.max(1)),
        )
    }
}

/// How a sample reaches the guard.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    /// A `tools/call` argument.
    Argument,
    /// A tool result's text in a JSON answer.
    Result,
    /// The same result as an SSE event (`event: message`, `data:` line), parsed by the
    /// gateway's SSE parser in small chunks, its data scanned as the response side does.
    SseResult,
}

/// Score `corpus` with the built-in detectors, both ways.
pub fn score(corpus: &[Sample]) -> [Side; 2] {
    let guard = Guard::new(&[]).expect("built-in detectors");
    [("argument", Way::Argument), ("result", Way::Result)]
        .map(|(name, way)| side(&guard, corpus, name, way))
}

/// Score `corpus` as tool results sent in SSE events.
pub fn score_sse(corpus: &[Sample]) -> Side {
    let guard = Guard::new(&[]).expect("built-in detectors");
    side(&guard, corpus, "sse result", Way::SseResult)
}

/// The data of the events in `stream`, read by the gateway's SSE parser in 61-byte chunks.
fn sse_data(stream: &[u8]) -> Vec<String> {
    let mut parser = Parser::new(1 << 20);
    let mut out = Vec::new();
    for chunk in stream.chunks(61) {
        for ev in parser.push(chunk).expect("parses") {
            out.extend(ev.data);
        }
    }
    out
}

fn side(guard: &Guard, corpus: &[Sample], name: &'static str, way: Way) -> Side {
    let mut s = Side {
        name,
        counts: BTreeMap::new(),
        benign: 0,
        flagged: 0,
        ordinary: 0,
        flagged_ordinary: 0,
        by_kind: BTreeMap::new(),
        by_sample: Vec::new(),
    };
    for sample in corpus {
        let msg = if way == Way::Argument {
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "tool", "arguments": {"input": sample.text}}})
        } else {
            json!({"jsonrpc": "2.0", "id": 1, "result": {"content": [{"type": "text", "text": sample.text}], "isError": false}})
        };
        let bytes = serde_json::to_vec(&msg).expect("json");
        let found = if way == Way::SseResult {
            let mut stream = b"event: message\ndata: ".to_vec();
            stream.extend_from_slice(&bytes);
            stream.extend_from_slice(b"\n\n");
            let data = sse_data(&stream);
            assert_eq!(data.len(), 1, "one event");
            data.iter()
                .flat_map(|d| guard.scan_json(d.as_bytes()))
                .collect()
        } else {
            guard.scan_json(&bytes)
        };
        let families: Vec<&str> = FAMILIES
            .into_iter()
            .filter(|f| found.iter().any(|l| &*l.finding.detector == *f))
            .collect();
        if sample.detectors.is_empty() {
            let ordinary = ordinary(&sample.kind);
            s.benign += 1;
            s.ordinary += u32::from(ordinary);
            if !families.is_empty() {
                s.flagged += 1;
                s.flagged_ordinary += u32::from(ordinary);
            }
        }
        for fam in FAMILIES {
            let predicted = families.contains(&fam);
            let actual = sample.detectors.iter().any(|d| d == fam);
            let c = s.counts.entry(fam).or_default();
            let what = match (predicted, actual) {
                (true, true) => {
                    c.0 += 1;
                    continue;
                }
                (false, false) => continue,
                (true, false) => {
                    c.1 += 1;
                    let kinds: Vec<&str> = found.iter().map(|l| &*l.finding.kind).collect();
                    s.by_sample.push(format!(
                        "false {fam} {kinds:?} [{}]: {:?}",
                        sample.kind, sample.text
                    ));
                    format!("false alarm: {fam} on {}", sample.kind)
                }
                (false, true) => {
                    c.2 += 1;
                    s.by_sample
                        .push(format!("missed {fam} [{}]: {:?}", sample.kind, sample.text));
                    format!("missed {fam}: {}", sample.kind)
                }
            };
            *s.by_kind.entry(what).or_default() += 1;
        }
    }
    s
}

/// The Markdown table of both sides.
pub fn table(sides: &[Side]) -> String {
    let mut t = String::from(
        "| side | family | precision | recall | tp | fp | fn |\n|---|---|---:|---:|---:|---:|---:|\n",
    );
    for s in sides {
        for (fam, (tp, fp, fneg)) in &s.counts {
            let (p, r) = s.figures(fam);
            t.push_str(&format!(
                "| {} | {fam} | {p:.3} | {r:.3} | {tp} | {fp} | {fneg} |\n",
                s.name
            ));
        }
        let (share, share_ordinary) = s.flagged_shares();
        t.push_str(&format!(
            "| {} | benign flagged | {share:.1}% of {} | ordinary traffic {share_ordinary:.1}% of {} | | | |\n",
            s.name, s.benign, s.ordinary
        ));
    }
    t
}

/// What a corpus must hold: per family (precision, recall) floors (families not listed:
/// `default`), and the most benign and ordinary-traffic samples flagged, in percent.
pub struct Bounds<'a> {
    pub floors: &'a [(&'a str, f64, f64)],
    pub default: (f64, f64),
    pub max_benign_pct: f64,
    pub max_ordinary_pct: f64,
}

/// Every way `sides` fall short of `b`.
pub fn shortfalls(sides: &[Side], b: &Bounds<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for s in sides {
        for fam in s.counts.keys() {
            let (min_p, min_r) = b
                .floors
                .iter()
                .find(|(f, _, _)| f == fam)
                .map_or(b.default, |(_, p, r)| (*p, *r));
            let (p, r) = s.figures(fam);
            if p < min_p || r < min_r {
                out.push(format!(
                    "{} {fam}: precision {p:.3} (at least {min_p}), recall {r:.3} (at least {min_r})",
                    s.name
                ));
            }
        }
        let (share, share_ordinary) = s.flagged_shares();
        if share > b.max_benign_pct || share_ordinary > b.max_ordinary_pct {
            out.push(format!(
                "{}: {share:.1}% of benign samples flagged (at most {}%), {share_ordinary:.1}% of ordinary traffic (at most {}%)",
                s.name, b.max_benign_pct, b.max_ordinary_pct
            ));
        }
    }
    out
}

/// Score a tuning set (a corpus one may tune on): print the table and what went wrong
/// sample by sample, and fail when it falls short of `bounds`. Returns the figures.
pub fn hold_tuning_set(path: &str, min: usize, bounds: &Bounds<'_>) -> [Side; 2] {
    let corpus = load(path, min);
    let sides = score(&corpus);
    let table = table(&sides);
    println!("{table}");
    for line in &sides[0].by_sample {
        println!("  {line}");
    }
    let failures = shortfalls(&sides, bounds);
    assert!(
        failures.is_empty(),
        "{path} below its bounds: {failures:?}\n{table}"
    );
    sides
}

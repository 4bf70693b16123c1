//! Guard: what is *inside* the data that crosses the gateway. Detectors find secrets,
//! personal data, prompt injection and unsafe commands in the string values of JSON messages
//! (requests going to tools, results and events coming back, tool descriptors), each finding
//! with a type, a severity, a JSON path and a byte span; redaction replaces the spans with
//! `[REDACTED:<type>]` and leaves every other byte of the message as it was.
//!
//! All patterns (built-in and custom ones from rules files) are compiled into one
//! `RegexSet`: clean text costs one pass, and only the patterns that matched run again to
//! find their spans and pass their checks (Luhn, IBAN mod-97, …). Raw values never leave
//! this module: a [`Finding`] carries what and where, never the matched text.

pub mod command;
pub mod detectors;
pub mod fold;
pub mod json_walk;

use std::ops::Range;
use std::sync::Arc;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

use detectors::{BUILT_IN, Validator};
use json_walk::{Segment, for_each_string, render_path, splice};

/// How bad a finding is. Ordered: `low < medium < high < critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (e.g. an IP address).
    Low,
    /// Personal data, text addressed to an AI.
    Medium,
    /// Credentials, card numbers, injection phrasing.
    High,
    /// Private keys, live payment keys, destructive commands.
    Critical,
}

impl Severity {
    /// The name used in rules and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A custom detector declared in a rules file: named regex patterns and/or keywords.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Its name: the finding type and what `when.findings.detectors` names.
    pub name: String,
    /// How bad a finding is (default `high`).
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Regexes (a group named `v` narrows the finding to that group).
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Words or phrases, matched case-insensitively anywhere.
    #[serde(default)]
    pub keywords: Vec<String>,
}

fn default_severity() -> Severity {
    Severity::High
}

/// One thing found: what, how bad, where. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Detector family (`secrets`, `pii`, `prompt_injection`, `unsafe_command`) or the
    /// custom detector's name.
    pub detector: Arc<str>,
    /// What was found (`aws_access_key_id`, `email`, a custom detector's name, …).
    #[serde(rename = "type")]
    pub kind: Arc<str>,
    /// How bad it is.
    pub severity: Severity,
    /// JSONPath of the string value within the scanned message.
    pub path: String,
    /// Byte range within the (decoded) string value.
    pub span: (usize, usize),
    /// Whether redaction can replace it (`false` for an instruction split across several
    /// strings: no single string holds it).
    #[serde(skip)]
    pub redactable: bool,
}

/// A finding with the position of its string in the scanned JSON text (for redaction).
#[derive(Debug, Clone)]
pub struct Located {
    /// The finding.
    pub finding: Finding,
    /// Byte range of the string token (quotes included) in the scanned text.
    pub raw: Range<usize>,
}

struct Pattern {
    detector: Arc<str>,
    kind: Arc<str>,
    severity: Severity,
    regex: Regex,
    has_v: bool,
    validate: Option<Validator>,
}

/// The compiled detectors (built-in plus custom), immutable and shared.
pub struct Guard {
    set: RegexSet,
    patterns: Vec<Pattern>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

/// Why custom detectors do not compile.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// A pattern is not a valid regex, or a detector has nothing to look for.
    #[error("detector {name:?}: {detail}")]
    Detector {
        /// The detector.
        name: String,
        /// What is wrong.
        detail: String,
    },
}

/// Strings up to this length are also scanned joined (split-instruction attacks).
const MAX_JOINED_PART: usize = 1024;
/// Most joined text scanned per message.
const MAX_JOINED: usize = 64 << 10;

/// Longest single string value scanned (longer values are scanned up to this length; the
/// bodies holding them are capped anyway).
pub const MAX_SCANNED_STRING: usize = 8 << 20;

impl Guard {
    /// The built-in detectors alone, compiled once per process on first use (compiling the
    /// set costs a few hundred milliseconds of CPU; policies without custom detectors share
    /// it across reloads). `Err` only if a built-in pattern does not compile, which the tests
    /// rule out; a policy that needs the guard then refuses to load (fail closed).
    pub fn built_in() -> Result<&'static Guard, &'static str> {
        static BUILT_IN_GUARD: std::sync::OnceLock<Result<Guard, String>> =
            std::sync::OnceLock::new();
        BUILT_IN_GUARD
            .get_or_init(|| Guard::new(&[]).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// A guard that finds nothing (for policies that scan nothing).
    pub fn empty() -> &'static Guard {
        static EMPTY: std::sync::OnceLock<Guard> = std::sync::OnceLock::new();
        EMPTY.get_or_init(|| Guard {
            set: RegexSet::empty(),
            patterns: Vec::new(),
        })
    }

    /// The built-in detectors plus `custom`.
    pub fn new(custom: &[CustomDetector]) -> Result<Self, GuardError> {
        let mut patterns = Vec::new();
        let mut sources = Vec::new();
        for s in BUILT_IN {
            // Built-in patterns are tested to compile (`every_pattern_compiles`).
            let regex = Regex::new(s.pattern).map_err(|e| GuardError::Detector {
                name: s.kind.into(),
                detail: e.to_string(),
            })?;
            sources.push(s.pattern.to_string());
            patterns.push(Pattern {
                detector: Arc::from(s.detector),
                kind: Arc::from(s.kind),
                severity: s.severity,
                has_v: regex.capture_names().any(|n| n == Some("v")),
                regex,
                validate: s.validate,
            });
        }
        for c in custom {
            for (p, regex) in Self::compile_custom(c)? {
                sources.push(p);
                patterns.push(Pattern {
                    detector: Arc::from(c.name.as_str()),
                    kind: Arc::from(c.name.as_str()),
                    severity: c.severity,
                    has_v: regex.capture_names().any(|n| n == Some("v")),
                    regex,
                    validate: None,
                });
            }
        }
        let set = regex::RegexSetBuilder::new(&sources)
            .dfa_size_limit(16 << 20)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| GuardError::Detector {
                name: "(all)".into(),
                detail: e.to_string(),
            })?;
        Ok(Self { set, patterns })
    }

    /// A custom detector's patterns (keywords become one case-insensitive alternation),
    /// compiled; an error names the detector and what is wrong with it.
    pub fn compile_custom(c: &CustomDetector) -> Result<Vec<(String, Regex)>, GuardError> {
        let bad = |detail: String| GuardError::Detector {
            name: c.name.clone(),
            detail,
        };
        if c.patterns.is_empty() && c.keywords.is_empty() {
            return Err(bad("needs `patterns` or `keywords`".into()));
        }
        let mut own: Vec<String> = c.patterns.clone();
        if !c.keywords.is_empty() {
            let words: Vec<String> = c.keywords.iter().map(|k| regex::escape(k)).collect();
            own.push(format!("(?i)(?:{})", words.join("|")));
        }
        let mut out = Vec::with_capacity(own.len());
        for p in own {
            let regex = Regex::new(&p).map_err(|e| bad(format!("pattern {p:?}: {e}")))?;
            if regex.is_match("") {
                return Err(bad(format!("pattern {p:?} matches empty text")));
            }
            out.push((p, regex));
        }
        Ok(out)
    }

    /// Findings in one piece of text: (pattern index, byte span), overlaps resolved in
    /// favour of the earlier pattern.
    fn scan_text(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        let text = cut(text, MAX_SCANNED_STRING);
        let mut out = self.scan_exact(text);
        // Lookalike letters, fullwidth forms and invisible characters inside words: scan
        // what a reader sees too, and report the original span.
        if let Some((folded, map)) = fold::fold(text) {
            for (idx, span) in self.scan_exact(&folded) {
                let orig = map[span.start]..map[span.end];
                let family = &self.patterns[idx].detector;
                if !out.iter().any(|(j, s)| {
                    self.patterns[*j].detector == *family
                        && s.start < orig.end
                        && orig.start < s.end
                }) {
                    out.push((idx, orig));
                }
            }
            out.sort_by_key(|(_, s)| s.start);
        }
        out
    }

    fn scan_exact(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        let hits = self.set.matches(text);
        if !hits.matched_any() {
            return Vec::new();
        }
        let mut out: Vec<(usize, Range<usize>)> = Vec::new();
        for idx in hits.iter() {
            let p = &self.patterns[idx];
            let mut push = |span: Range<usize>| {
                if span.is_empty() || p.validate.is_some_and(|v| !v(text, span.clone())) {
                    return;
                }
                // Overlaps are resolved within a detector family only: a command that
                // contains an IP address is both an unsafe command and personal data.
                let family = &self.patterns[idx].detector;
                if out.iter().any(|(j, s)| {
                    self.patterns[*j].detector == *family
                        && s.start < span.end
                        && span.start < s.end
                }) {
                    return;
                }
                out.push((idx, span));
            };
            if p.has_v {
                for caps in p.regex.captures_iter(text) {
                    if let Some(m) = caps.name("v").or_else(|| caps.get(0)) {
                        push(m.range());
                    }
                }
            } else {
                for m in p.regex.find_iter(text) {
                    push(m.range());
                }
            }
        }
        out.sort_by_key(|(_, s)| s.start);
        out
    }

    /// Every finding in the string values of `json` (a JSON text), with its location.
    ///
    /// Instructions or commands split across several short strings (`{"a": "ignore all
    /// previous", "b": "instructions"}`) are caught too: the short strings are also scanned
    /// joined, for the prompt-injection and unsafe-command detectors; such a finding is
    /// reported at `$` with its span in the joined text, and cannot be redacted (no single
    /// string holds it), only denied or escalated.
    pub fn scan_json(&self, json: &[u8]) -> Vec<Located> {
        let mut out = Vec::new();
        let mut joined = String::new();
        let mut short = 0;
        for_each_string(json, |path, value| {
            for (idx, span) in self.scan_text(&value.text) {
                out.push(self.located(idx, span, path, value.raw.clone()));
            }
            if value.text.len() <= MAX_JOINED_PART && joined.len() < MAX_JOINED {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(&value.text);
                short += 1;
            }
            true
        });
        if short >= 2 {
            for (idx, span) in self.scan_text(&joined) {
                let p = &self.patterns[idx];
                let splittable = matches!(&*p.detector, "prompt_injection" | "unsafe_command");
                if splittable && !out.iter().any(|l| l.finding.kind == p.kind) {
                    out.push(self.located(idx, span, &[], 0..0));
                }
            }
        }
        out
    }

    fn located(
        &self,
        idx: usize,
        span: Range<usize>,
        path: &[Segment<'_>],
        raw: Range<usize>,
    ) -> Located {
        let p = &self.patterns[idx];
        Located {
            finding: Finding {
                detector: p.detector.clone(),
                kind: p.kind.clone(),
                severity: p.severity,
                path: render_path(path),
                span: (span.start, span.end),
                redactable: !raw.is_empty(),
            },
            raw,
        }
    }

    /// Findings in plain text (not JSON), reported at `path`.
    pub fn scan_plain(&self, text: &str, path: &str) -> Vec<Finding> {
        self.scan_text(text)
            .into_iter()
            .map(|(idx, span)| {
                let p = &self.patterns[idx];
                Finding {
                    detector: p.detector.clone(),
                    kind: p.kind.clone(),
                    severity: p.severity,
                    path: path.to_string(),
                    span: (span.start, span.end),
                    redactable: true,
                }
            })
            .collect()
    }
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Replace the spans of `findings` (all in `text`) with `[REDACTED:<type>]`. Overlapping
/// findings (of different detectors) merge into one replacement named after the first;
/// spans that do not fit `text` are skipped, never a panic.
pub fn redact_text(text: &mut String, findings: &[&Finding]) {
    let mut spans: Vec<(usize, usize, &str)> = findings
        .iter()
        .map(|f| (f.span.0, f.span.1, &*f.kind))
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut merged: Vec<(usize, usize, &str)> = Vec::new();
    for (a, b, kind) in spans {
        match merged.last_mut() {
            Some(last) if a < last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b, kind)),
        }
    }
    // From the end, so earlier spans stay valid.
    for (a, b, kind) in merged.into_iter().rev() {
        if a <= b && b <= text.len() && text.is_char_boundary(a) && text.is_char_boundary(b) {
            text.replace_range(a..b, &format!("[REDACTED:{kind}]"));
        }
    }
}

/// `json` with the spans of `findings` (from [`Guard::scan_json`] on this same text)
/// replaced by `[REDACTED:<type>]`; everything else byte for byte. The result is valid JSON
/// whenever `json` was.
pub fn redact_json(json: &[u8], findings: &[&Located]) -> Vec<u8> {
    let mut by_token: Vec<(Range<usize>, Vec<&Finding>)> = Vec::new();
    for l in findings {
        match by_token.iter_mut().find(|(r, _)| *r == l.raw) {
            Some((_, v)) => v.push(&l.finding),
            None => by_token.push((l.raw.clone(), vec![&l.finding])),
        }
    }
    by_token.sort_by_key(|(r, _)| r.start);
    let mut replacements = Vec::with_capacity(by_token.len());
    for (raw, fs) in by_token {
        let Some(token) = json.get(raw.clone()) else {
            continue;
        };
        let Ok(mut text) = serde_json::from_slice::<String>(token) else {
            continue;
        };
        redact_text(&mut text, &fs);
        replacements.push((raw, text));
    }
    splice(json, &replacements)
}

/// Which findings a rule's `findings` condition looks at.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingsFilter {
    /// Detector families, finding types or custom detector names (any-of); all when absent.
    #[serde(default)]
    pub detectors: Option<crate::policy::model::OneOrMany<String>>,
    /// Lowest severity that counts.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Which way the data travels: `request` (default), `response` or `both`.
    #[serde(default)]
    pub direction: Direction,
}

/// Which way data travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Arguments and bodies going to the upstream.
    #[default]
    Request,
    /// Results, events and tool descriptors coming back.
    Response,
    /// Either.
    Both,
}

impl Direction {
    /// The name used in rules and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
            Direction::Both => "both",
        }
    }

    /// Whether this direction covers `phase`.
    pub fn covers(self, phase: Direction) -> bool {
        self == Direction::Both || self == phase
    }
}

#[cfg(test)]
mod tests;

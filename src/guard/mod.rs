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

pub mod classifier;
pub mod command;
pub mod detectors;
pub mod engine;
pub mod fold;
pub mod gitleaks;
pub mod json_walk;
mod lanes;
pub mod views;

use std::ops::Range;
use std::sync::Arc;

use regex::Regex;
use serde::{Deserialize, Serialize};

use engine::{Engine, Families, RuleSource};
use json_walk::{Segment, for_each_string, render_path, splice};

pub use crate::vocab::Direction;
pub use classifier::OnError;

/// How bad a finding is. Ordered: `low < medium < high < critical`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (e.g. an IP address).
    Low,
    /// Personal data, text addressed to an AI.
    Medium,
    /// Credentials, card numbers, injection phrasing.
    #[default]
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

/// What a custom detector is: patterns and keywords scanned with the built-in rules
/// (`regex`, the default), a gitleaks rules file (`gitleaks`), or an HTTP classifier
/// (`classifier`) asked about text fields over a size floor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorType {
    /// Regex patterns and keywords.
    #[default]
    Regex,
    /// Rules of a gitleaks-format TOML file (`file:`), each a finding type of its own.
    Gitleaks,
    /// An HTTP prompt-injection classifier (`url:`; see [`classifier`]).
    Classifier,
}

/// A custom detector declared in a rules file: named regex patterns and/or keywords, the
/// rules of a gitleaks TOML file, or an HTTP classifier.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetector {
    /// Its name: the finding type and what `when.findings.detectors` names.
    pub name: String,
    /// What it is (default `regex`).
    #[serde(default, rename = "type")]
    pub kind: DetectorType,
    /// How bad a finding is (default `high`).
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Regexes (a group named `v` narrows the finding to that group).
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Words or phrases, matched case-insensitively anywhere.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Lowest Shannon entropy (bits per character) a match must have (generic token
    /// shapes); none when absent.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// `gitleaks`: the TOML rules file (relative paths from the working directory).
    #[serde(default)]
    pub file: Option<std::path::PathBuf>,
    /// `classifier`: the endpoint (`http://…/predict` of a text-classification server).
    #[serde(default)]
    pub url: Option<String>,
    /// `classifier`: longest wait for an answer (default 2s).
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<std::time::Duration>,
    /// `classifier`: shortest text field sent (default 64 characters).
    #[serde(default)]
    pub min_chars: Option<usize>,
    /// `classifier`: answers kept by content hash (default 10000; 0 keeps none).
    #[serde(default)]
    pub cache: Option<usize>,
    /// `classifier`: requests in flight at most (default 16; more wait within `timeout`).
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// `classifier`: what an error or a timeout counts as (default `allow`).
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// `classifier`: lowest score of an injection label that counts (default 0.5).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `classifier`: the wire format (`hf`, the default, or `llm_guard`).
    #[serde(default)]
    pub format: Option<classifier::Format>,
}

fn default_severity() -> Severity {
    Severity::High
}

/// One thing found: what, how bad, where. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Detector family (`secrets`, `pii`, `prompt_injection`, `unsafe_command`,
    /// `network`) or the custom detector's name.
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

/// The compiled detectors (built-in plus custom), immutable and shared.
pub struct Guard {
    engine: Engine,
    classifiers: Vec<Arc<classifier::Classifier>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("rules", &self.engine.rules.len())
            .field("classifiers", &self.classifiers.len())
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
    /// The built-in detectors alone, compiled once per process on first use (compiling
    /// costs some CPU; policies without custom detectors share it across reloads). `Err`
    /// only if a built-in pattern does not compile, which the tests rule out; a policy that
    /// needs the guard then refuses to load (fail closed).
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
            // An engine without rules always compiles.
            engine: Engine::new(Vec::new()).unwrap_or_else(|_| unreachable!("no rules")),
            classifiers: Vec::new(),
        })
    }

    /// The built-in detectors plus `custom`.
    pub fn new(custom: &[CustomDetector]) -> Result<Self, GuardError> {
        let mut sources: Vec<RuleSource> =
            detectors::built_in().map(RuleSource::from_spec).collect();
        let mut classifiers = Vec::new();
        for c in custom {
            match c.kind {
                DetectorType::Classifier => {
                    let cl =
                        classifier::Classifier::new(c).map_err(|detail| GuardError::Detector {
                            name: c.name.clone(),
                            detail,
                        })?;
                    classifiers.push(Arc::new(cl));
                }
                DetectorType::Gitleaks => sources.extend(gitleaks::load(c)?),
                DetectorType::Regex => sources.extend(Self::custom_sources(c)?),
            }
        }
        let engine =
            Engine::new(sources).map_err(|(name, detail)| GuardError::Detector { name, detail })?;
        Ok(Self {
            engine,
            classifiers,
        })
    }

    /// The HTTP classifiers declared by custom detectors: [`classifier::prefetch`] asks
    /// them, the scans here read their cached answers.
    pub fn classifiers(&self) -> &[Arc<classifier::Classifier>] {
        &self.classifiers
    }

    fn custom_sources(c: &CustomDetector) -> Result<Vec<RuleSource>, GuardError> {
        let mut out = Vec::new();
        for (i, (p, _)) in Self::compile_custom(c)?.into_iter().enumerate() {
            let keywords = if i >= c.patterns.len() {
                c.keywords.clone()
            } else {
                Vec::new()
            };
            out.push(RuleSource {
                detector: Arc::from(c.name.as_str()),
                kind: Arc::from(c.name.as_str()),
                severity: c.severity,
                pattern: p,
                keywords,
                validate: None,
                reach: 0,
                checks_until: None,
                min_entropy: c.entropy,
                group: None,
                allow: None,
                built_in: false,
            });
        }
        Ok(out)
    }

    /// A custom detector's patterns (keywords become one case-insensitive alternation),
    /// compiled; an error names the detector and what is wrong with it. Classifier and
    /// gitleaks detectors are checked here too (their settings, their file).
    pub fn compile_custom(c: &CustomDetector) -> Result<Vec<(String, Regex)>, GuardError> {
        let bad = |detail: String| GuardError::Detector {
            name: c.name.clone(),
            detail,
        };
        match c.kind {
            DetectorType::Classifier => {
                classifier::Classifier::new(c).map_err(bad)?;
                return Ok(Vec::new());
            }
            DetectorType::Gitleaks => {
                gitleaks::load(c)?;
                return Ok(Vec::new());
            }
            DetectorType::Regex => {}
        }
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

    /// Findings in one piece of text: (rule index, byte span), overlaps within a family
    /// resolved in favour of the earlier rule. The text is read as written and in its
    /// derived views (escapes undone, lookalikes folded, spacing, leetspeak, ROT13 and
    /// hinted base64 decoded); findings of a view report the original span.
    fn scan_text(&self, text: &str) -> Vec<(usize, Range<usize>)> {
        let text = cut(text, MAX_SCANNED_STRING);
        let (mut out, hints) = self.engine.scan_hinted(text, Families::ALL);
        for view in views::derived(text, hints) {
            for (idx, span) in self.engine.scan(&view.text, view.families) {
                let orig = view.original(&span);
                let orig = engine::floor_char(text, orig.start)..engine::ceil_char(text, orig.end);
                if orig.is_empty() {
                    continue;
                }
                let rules = &self.engine.rules;
                let family = &rules[idx].detector;
                let overlaps = |(j, s): &(usize, Range<usize>)| {
                    rules[*j].detector == *family && s.start < orig.end && orig.start < s.end
                };
                // A rule's finding in a view says more than the classifier's on the text
                // as written (`Іgnоrе` in Cyrillic letters: an instruction override).
                let classified = |j: usize| &*rules[j].kind == detectors::injection_model::KIND;
                if !classified(idx)
                    && out.iter().any(overlaps)
                    && out
                        .iter()
                        .filter(|x| overlaps(x))
                        .all(|(j, _)| classified(*j))
                {
                    out.retain(|x| !overlaps(x));
                }
                if !out.iter().any(overlaps) {
                    out.push((idx, orig));
                }
            }
        }
        out.sort_by_key(|(_, s)| s.start);
        self.drop_incidental_pii(text, &mut out);
        out
    }

    /// Personal-data findings that are something else: characters of a secret (a token
    /// that holds a phone-shaped run), values the line calls examples or test values, and
    /// e-mail addresses in a prompt injection (where they name the destination of an
    /// exfiltration, not a person whose data is in the text).
    fn drop_incidental_pii(&self, text: &str, out: &mut Vec<(usize, Range<usize>)>) {
        let rules = &self.engine.rules;
        let family = |i: usize| &*rules[i].detector;
        if !out.iter().any(|(i, _)| family(*i) == "pii") {
            return;
        }
        let secrets: Vec<Range<usize>> = out
            .iter()
            .filter(|(i, _)| family(*i) == "secrets")
            .map(|(_, s)| s.clone())
            .collect();
        let injection = out.iter().any(|(i, _)| family(*i) == "prompt_injection");
        out.retain(|(i, span)| {
            if family(*i) != "pii" {
                return true;
            }
            let in_secret = secrets
                .iter()
                .any(|s| s.start < span.end && span.start < s.end);
            let exfiltration = injection && &*rules[*i].kind == "email";
            !in_secret && !exfiltration && !detectors::pii_context::example_context(text, span)
        });
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
            if !self.classifiers.is_empty() {
                out.extend(classifier::cached_findings(
                    self,
                    &value.text,
                    path,
                    value.raw.clone(),
                ));
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
                let r = &self.engine.rules[idx];
                // The lexical classifier is not asked about the joined text: it would read
                // field names and unrelated values as one sentence.
                let splittable = matches!(&*r.detector, "prompt_injection" | "unsafe_command")
                    && &*r.kind != detectors::injection_model::KIND;
                if splittable && !out.iter().any(|l| l.finding.kind == r.kind) {
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
        let r = &self.engine.rules[idx];
        Located {
            finding: Finding {
                detector: r.detector.clone(),
                kind: r.kind.clone(),
                severity: r.severity,
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
                let r = &self.engine.rules[idx];
                Finding {
                    detector: r.detector.clone(),
                    kind: r.kind.clone(),
                    severity: r.severity,
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
    &text[..engine::floor_char(text, max)]
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
    pub detectors: Option<crate::vocab::OneOrMany<String>>,
    /// Lowest severity that counts.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Which way the data travels: `request` (default), `response` or `both`.
    #[serde(default)]
    pub direction: Direction,
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

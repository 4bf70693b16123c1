//! The built-in detectors: what each finds, how bad it is, the keywords that make the
//! engine look, and the checks that keep false positives down (checksums, entropy floors,
//! allow-lists of documented example values and placeholders, shell and SQL parses).
//!
//! Rules are structured the way secret scanners structure theirs: an id (the finding
//! type), keywords (a rule runs only where one occurs; a rule without keywords is a shape,
//! run on every text), a pattern whose group named `v` narrows the reported span, and a
//! validator. One file per family.

pub mod command_checks;
pub mod command_system;
pub mod commands;
pub mod ids;
pub mod injection;
pub mod injection_addressed;
pub mod injection_model;
pub mod injection_more;
mod injection_score;
mod injection_weights;
pub mod pii;
pub mod pii_context;
pub mod secret_assignment;
pub mod secrets;
pub mod secrets_more;

use super::Severity;

/// A check on a candidate match: the whole text and the match's byte range; returns the
/// span to report (the match, or a narrower or wider one), or `None` to drop it.
pub type Validator = fn(&str, std::ops::Range<usize>) -> Option<std::ops::Range<usize>>;

/// One built-in rule.
pub struct Spec {
    /// Detector family (`secrets`, `pii`, `prompt_injection`, `unsafe_command`,
    /// `network`).
    pub detector: &'static str,
    /// What was found (`aws_access_key_id`, `email`, …): the `<type>` in `[REDACTED:<type>]`.
    pub kind: &'static str,
    /// How bad a finding is.
    pub severity: Severity,
    /// Case-insensitive keywords that make the engine run the pattern near them; empty for
    /// a shape run on every text.
    pub keywords: &'static [&'static str],
    /// The regex.
    pub pattern: &'static str,
    /// A check every candidate must pass.
    pub validate: Option<Validator>,
    /// How far after a keyword the pattern may reach (0: the end of the line).
    pub reach: usize,
    /// The rule's check rejects every match starting past this byte offset (the
    /// classifier's bounded work per text), so the engine stops looking for the rule's
    /// keywords where no window around them could start before it. `None`: no bound.
    pub checks_until: Option<usize>,
}

/// A rule within its line.
pub(crate) const fn spec(
    detector: &'static str,
    kind: &'static str,
    severity: Severity,
    keywords: &'static [&'static str],
    pattern: &'static str,
    validate: Option<Validator>,
) -> Spec {
    spec_reach(detector, kind, severity, keywords, pattern, validate, 0)
}

/// A rule whose match may span lines, up to `reach` bytes after its keyword.
pub(crate) const fn spec_reach(
    detector: &'static str,
    kind: &'static str,
    severity: Severity,
    keywords: &'static [&'static str],
    pattern: &'static str,
    validate: Option<Validator>,
    reach: usize,
) -> Spec {
    Spec {
        detector,
        kind,
        severity,
        keywords,
        pattern,
        validate,
        reach,
        checks_until: None,
    }
}

/// The detector families, for rules' `when.findings.detectors`.
pub const FAMILIES: &[&str] = &[
    "secrets",
    "pii",
    "prompt_injection",
    "unsafe_command",
    "network",
];

/// Every built-in rule, in reporting priority (earlier wins when two of a family overlap).
pub fn built_in() -> impl Iterator<Item = &'static Spec> {
    secrets::SPECS
        .iter()
        .chain(secrets_more::SPECS)
        .chain(pii::SPECS)
        .chain(injection::SPECS)
        .chain(injection_more::SPECS)
        .chain(injection_addressed::SPECS)
        .chain(injection_model::SPECS)
        .chain(commands::SPECS)
        .chain(command_system::SPECS)
}

/// The digits of `s`, as numbers.
pub(crate) fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// Whether one of `words` (lower case) occurs in the `before` bytes before `at` or the
/// `after` bytes after `end` (case-insensitive, on char boundaries).
pub(crate) fn context_has(
    text: &str,
    at: usize,
    end: usize,
    before: usize,
    after: usize,
    words: &[&str],
) -> bool {
    let lo = super::engine::floor_char(text, at.saturating_sub(before));
    let hi = super::engine::ceil_char(text, end.saturating_add(after));
    let near = text[lo..hi].to_lowercase();
    words.iter().any(|w| near.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles_and_names_are_unique_per_family() {
        for s in built_in() {
            regex::Regex::new(s.pattern).unwrap_or_else(|e| panic!("{}: {e}", s.kind));
            assert!(FAMILIES.contains(&s.detector), "{}", s.kind);
            for k in s.keywords {
                assert!(!k.is_empty(), "{}", s.kind);
            }
        }
    }
}

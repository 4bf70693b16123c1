//! The scanning engine: one Aho-Corasick pass over a text finds the keywords of every
//! keyword rule (provider prefixes, context words, command names, phrases in many
//! languages); only rules whose keywords occur run their regex, and only on a window around
//! each occurrence. Rules without keywords (number shapes: cards, phones, national ids) are
//! compiled into one small `RegexSet`, so clean text costs one keyword pass and one set pass.
//! Validators (checksums, entropy, allow-lists, shell and SQL parses) run on candidates only.

use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet, RegexSetBuilder};

use super::Severity;
use super::detectors::{Spec, Validator};

/// Which detector families a scan looks for (derived views scan only some).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families(pub u8);

impl Families {
    /// Every family, custom detectors included.
    pub const ALL: Families = Families(0xFF);
    /// Prompt injection only.
    pub const INJECTION: Families = Families(1 << 2);
    /// Prompt injection and unsafe commands (decoded payloads).
    pub const ACTIONS: Families = Families((1 << 2) | (1 << 3));

    /// The bit of a detector family (custom detectors share one).
    pub fn bit(detector: &str) -> u8 {
        match detector {
            "secrets" => 1,
            "pii" => 1 << 1,
            "prompt_injection" => 1 << 2,
            "unsafe_command" => 1 << 3,
            "network" => 1 << 4,
            _ => 1 << 7,
        }
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// One compiled rule.
pub struct Rule {
    /// Detector family or custom detector name.
    pub detector: Arc<str>,
    /// Finding type.
    pub kind: Arc<str>,
    /// Severity.
    pub severity: Severity,
    regex: Regex,
    has_v: bool,
    validate: Option<Validator>,
    /// Bytes after a keyword the regex may need (0: to the end of the line).
    reach: usize,
    /// Lowest Shannon entropy of a reported span.
    min_entropy: Option<f64>,
    /// The capture group reported (a numbered group, or the first group named `v…`).
    group: Option<usize>,
    /// Matches of this regex inside a span drop it (allow-lists).
    allow: Option<Regex>,
    family: u8,
    /// Keywords must start a word (not follow a letter or digit).
    word_start: bool,
}

/// Rules from a spec, or from a custom detector.
pub struct RuleSource {
    /// Detector family or custom name.
    pub detector: Arc<str>,
    /// Finding type.
    pub kind: Arc<str>,
    /// Severity.
    pub severity: Severity,
    /// The regex.
    pub pattern: String,
    /// Keywords (empty: a shape rule run on every text).
    pub keywords: Vec<String>,
    /// Check on each candidate.
    pub validate: Option<Validator>,
    /// Bytes after a keyword the regex may need (0: the line).
    pub reach: usize,
    /// Lowest Shannon entropy of a reported span.
    pub min_entropy: Option<f64>,
    /// The capture group to report (default: the first group named `v…`, else the match).
    pub group: Option<usize>,
    /// Spans this regex matches in are dropped.
    pub allow: Option<Regex>,
}

impl RuleSource {
    /// A built-in spec as a source.
    pub fn from_spec(s: &Spec) -> Self {
        Self {
            detector: Arc::from(s.detector),
            kind: Arc::from(s.kind),
            severity: s.severity,
            pattern: s.pattern.to_string(),
            keywords: s.keywords.iter().map(|k| k.to_string()).collect(),
            validate: s.validate,
            reach: s.reach,
            min_entropy: None,
            group: None,
            allow: None,
        }
    }
}

/// The compiled rules.
pub struct Engine {
    /// The rules, in priority order (earlier wins an overlap within a family).
    pub rules: Vec<Rule>,
    keywords: Option<AhoCorasick>,
    /// Keyword index → rules it triggers.
    triggers: Vec<Vec<u32>>,
    /// Keyword index → whether it starts with a letter or digit (and so must start a word
    /// for the rules that ask for it).
    alnum_start: Vec<bool>,
    shapes: RegexSet,
    shape_rules: Vec<u32>,
}

/// Longest stretch before a keyword that a rule's regex sees.
const BEFORE: usize = 256;
/// Longest line stretch after a keyword that a rule's regex sees.
const LINE_AFTER: usize = 2048;

impl Engine {
    /// Compile `sources`; `Err` names the rule whose regex does not compile.
    pub fn new(sources: Vec<RuleSource>) -> Result<Self, (String, String)> {
        let mut rules = Vec::with_capacity(sources.len());
        let mut words: Vec<String> = Vec::new();
        let mut triggers: Vec<Vec<u32>> = Vec::new();
        let mut shape_patterns = Vec::new();
        let mut shape_rules = Vec::new();
        for (i, s) in sources.into_iter().enumerate() {
            let regex = regex::RegexBuilder::new(&s.pattern)
                .size_limit(32 << 20)
                .build()
                .map_err(|e| (s.kind.to_string(), e.to_string()))?;
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            if s.keywords.is_empty() {
                shape_patterns.push(s.pattern.clone());
                shape_rules.push(idx);
            }
            for k in &s.keywords {
                let k = k.to_ascii_lowercase();
                match words.iter().position(|w| *w == k) {
                    Some(at) => triggers[at].push(idx),
                    None => {
                        words.push(k);
                        triggers.push(vec![idx]);
                    }
                }
            }
            let family = Families::bit(&s.detector);
            let named_v = regex
                .capture_names()
                .position(|n| n.is_some_and(|n| n.starts_with('v')));
            rules.push(Rule {
                word_start: matches!(&*s.detector, "prompt_injection" | "unsafe_command"),
                has_v: named_v.is_some() || s.group.is_some(),
                group: s.group.or(named_v),
                min_entropy: s.min_entropy,
                allow: s.allow,
                detector: s.detector,
                kind: s.kind,
                severity: s.severity,
                regex,
                validate: s.validate,
                reach: s.reach,
                family,
            });
        }
        let keywords = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&words)
                    .or_else(|_| {
                        AhoCorasickBuilder::new()
                            .ascii_case_insensitive(true)
                            .match_kind(MatchKind::Standard)
                            .build(&words)
                    })
                    .map_err(|e| ("(keywords)".to_string(), e.to_string()))?,
            )
        };
        let alnum_start = words
            .iter()
            .map(|w| w.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric))
            .collect();
        let shapes = RegexSetBuilder::new(&shape_patterns)
            .dfa_size_limit(16 << 20)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| ("(shapes)".to_string(), e.to_string()))?;
        Ok(Self {
            rules,
            keywords,
            triggers,
            alnum_start,
            shapes,
            shape_rules,
        })
    }

    /// Findings in `text` of the `families` asked for: (rule index, byte span), overlaps
    /// within a family resolved in favour of the earlier rule, sorted by position.
    pub fn scan(&self, text: &str, families: Families) -> Vec<(usize, Range<usize>)> {
        let mut cands: Vec<(usize, Range<usize>)> = Vec::new();
        // Keyword rules: windows around each keyword, once per rule and position.
        if let Some(ac) = &self.keywords {
            let mut done_until: Vec<(u32, usize)> = Vec::new();
            for m in ac.find_overlapping_iter(text) {
                let hit = m.start();
                let k = m.pattern().as_usize();
                let left_ok = !self.alnum_start[k]
                    || hit == 0
                    || !text.as_bytes()[hit - 1].is_ascii_alphanumeric();
                for &r in &self.triggers[k] {
                    let rule = &self.rules[r as usize];
                    if !families.has(rule.family) || (rule.word_start && !left_ok) {
                        continue;
                    }
                    let slot = done_until.iter_mut().find(|(x, _)| *x == r);
                    if slot.as_ref().is_some_and(|(_, until)| hit < *until) {
                        continue;
                    }
                    let w = window(text, hit, rule.reach);
                    match slot {
                        Some(s) => s.1 = w.end,
                        None => done_until.push((r, w.end)),
                    }
                    self.run(r as usize, text, w, &mut cands);
                }
            }
        }
        if !self.shape_rules.is_empty() {
            let hits = self.shapes.matches(text);
            for i in hits.iter() {
                let r = self.shape_rules[i] as usize;
                if families.has(self.rules[r].family) {
                    self.run(r, text, 0..text.len(), &mut cands);
                }
            }
        }
        resolve(&self.rules, cands)
    }

    fn run(&self, r: usize, text: &str, w: Range<usize>, out: &mut Vec<(usize, Range<usize>)>) {
        let rule = &self.rules[r];
        let Some(hay) = text.get(w.clone()) else {
            return;
        };
        let mut push = |span: Range<usize>| {
            let abs = span.start + w.start..span.end + w.start;
            let checked = match rule.validate {
                Some(v) => v(text, abs),
                None => Some(abs),
            };
            if let Some(s) = checked
                && !s.is_empty()
                && s.end <= text.len()
                && text.is_char_boundary(s.start)
                && text.is_char_boundary(s.end)
                && rule
                    .min_entropy
                    .is_none_or(|e| super::detectors::secrets::entropy(&text[s.clone()]) >= e)
                && rule
                    .allow
                    .as_ref()
                    .is_none_or(|a| !a.is_match(&text[s.clone()]))
                && !out.iter().any(|(j, x)| *j == r && *x == s)
            {
                out.push((r, s));
            }
        };
        if rule.has_v {
            for caps in rule.regex.captures_iter(hay) {
                // The reported group, else the first `v…` group that took part, else all.
                let named = rule.group.and_then(|g| caps.get(g)).or_else(|| {
                    rule.regex
                        .capture_names()
                        .enumerate()
                        .filter(|(_, n)| n.is_some_and(|n| n.starts_with('v')))
                        .find_map(|(i, _)| caps.get(i))
                });
                if let Some(m) = named.or_else(|| caps.get(0)) {
                    push(m.range());
                }
            }
        } else {
            for m in rule.regex.find_iter(hay) {
                push(m.range());
            }
        }
    }
}

/// Keep the earlier rule's finding when two of one family overlap; sort by position.
fn resolve(rules: &[Rule], mut cands: Vec<(usize, Range<usize>)>) -> Vec<(usize, Range<usize>)> {
    cands.sort_by_key(|(r, s)| (*r, s.start));
    let mut out: Vec<(usize, Range<usize>)> = Vec::with_capacity(cands.len());
    for (r, s) in cands {
        let fam = rules[r].family;
        let custom = fam == Families::bit("");
        if out.iter().any(|(j, x)| {
            rules[*j].family == fam
                && (!custom || rules[*j].detector == rules[r].detector)
                && x.start < s.end
                && s.start < x.end
        }) {
            continue;
        }
        out.push((r, s));
    }
    out.sort_by_key(|(_, s)| s.start);
    out
}

/// The part of `text` a rule's regex sees around a keyword at `hit`: from the start of its
/// line (at most [`BEFORE`] bytes back) to the end of the line (at most [`LINE_AFTER`]), or
/// `reach` bytes on for rules that span lines.
fn window(text: &str, hit: usize, reach: usize) -> Range<usize> {
    let b = text.as_bytes();
    let lo = hit.saturating_sub(BEFORE);
    let start = memchr::memrchr(b'\n', &b[lo..hit]).map_or(lo, |k| lo + k + 1);
    let end = if reach > 0 {
        (hit + reach).min(b.len())
    } else {
        let hi = (hit + LINE_AFTER).min(b.len());
        memchr::memchr(b'\n', &b[hit..hi]).map_or(hi, |k| hit + k)
    };
    floor_char(text, start)..ceil_char(text, end)
}

/// The largest char boundary at or before `i`.
pub fn floor_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The smallest char boundary at or after `i`.
pub fn ceil_char(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

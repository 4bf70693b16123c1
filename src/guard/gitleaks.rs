//! Custom detectors from a gitleaks-format TOML rules file (`type: gitleaks`, `file:`), so
//! users bring the secret rules they already maintain. Each `[[rules]]` entry becomes a
//! rule of the engine: `id` is the finding type, `regex` the pattern (gitleaks' Go RE2
//! syntax is what the `regex` crate reads), `keywords` the prefilter, `secretGroup` the
//! reported group, `entropy` the floor, and `[rules.allowlist]` / the global
//! `[allowlist]` regexes and stopwords drop matches. Path-only rules (file names) do not
//! apply to traffic and are skipped.

use std::sync::Arc;

use serde::Deserialize;

use super::engine::RuleSource;
use super::{CustomDetector, GuardError};

/// Largest rules file read.
const MAX_FILE: u64 = 4 << 20;
/// Most rules taken from one file.
const MAX_RULES: usize = 2000;

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    allowlist: Option<Allow>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    secret_group: Option<usize>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    allowlist: Option<Allow>,
    #[serde(default)]
    allowlists: Vec<Allow>,
}

#[derive(Debug, Default, Deserialize)]
struct Allow {
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
}

impl Allow {
    fn patterns(&self) -> impl Iterator<Item = String> + '_ {
        self.regexes.iter().cloned().chain(
            self.stopwords
                .iter()
                .map(|w| format!("(?i){}", regex::escape(w))),
        )
    }
}

/// The rules of `c.file` as engine rules of detector `c.name`.
pub fn load(c: &CustomDetector) -> Result<Vec<RuleSource>, GuardError> {
    let bad = |detail: String| GuardError::Detector {
        name: c.name.clone(),
        detail,
    };
    let path = c
        .file
        .as_ref()
        .ok_or_else(|| bad("a gitleaks detector needs `file`".into()))?;
    let meta = std::fs::metadata(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_FILE {
        return Err(bad(format!(
            "{}: larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    parse(c, &text).map_err(bad)
}

/// The rules of a gitleaks TOML text.
pub fn parse(c: &CustomDetector, text: &str) -> Result<Vec<RuleSource>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
    let global: Vec<String> = file.allowlist.iter().flat_map(Allow::patterns).collect();
    let mut out = Vec::new();
    for r in file.rules.into_iter().take(MAX_RULES) {
        let Some(pattern) = r.regex else { continue };
        let allow: Vec<String> = global
            .iter()
            .cloned()
            .chain(r.allowlist.iter().flat_map(Allow::patterns))
            .chain(r.allowlists.iter().flat_map(Allow::patterns))
            .collect();
        let allow = if allow.is_empty() {
            None
        } else {
            let joined = allow
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|");
            Some(
                regex::Regex::new(&joined)
                    .map_err(|e| format!("rule {:?}: allowlist: {e}", r.id))?,
            )
        };
        regex::Regex::new(&pattern).map_err(|e| format!("rule {:?}: regex: {e}", r.id))?;
        out.push(RuleSource {
            detector: Arc::from(c.name.as_str()),
            kind: Arc::from(r.id.as_str()),
            severity: c.severity,
            pattern,
            keywords: r.keywords,
            validate: None,
            reach: 0,
            checks_until: None,
            min_entropy: r.entropy.or(c.entropy),
            group: r.secret_group,
            allow,
            built_in: false,
        });
    }
    if out.is_empty() {
        return Err("no rule with a `regex`".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gitleaks_rules() {
        let c = CustomDetector {
            name: "team_rules".into(),
            kind: super::super::DetectorType::Gitleaks,
            ..Default::default()
        };
        let toml = r#"
title = "ours"
[allowlist]
stopwords = ["dummy"]
[[rules]]
id = "acme-token"
description = "ACME API token"
regex = '''(?i)\b(acme_[a-z0-9]{24})\b'''
secretGroup = 1
entropy = 3.0
keywords = ["acme_"]
[[rules]]
id = "only-a-path"
path = '''\.pem$'''
"#;
        let rules = parse(&c, toml).expect("parses");
        assert_eq!(rules.len(), 1);
        assert_eq!(&*rules[0].kind, "acme-token");
        let g = super::super::Guard::new(&[]).expect("built-in");
        drop(g);
        assert!(parse(&c, "[[rules]]\nid = 'x'\nregex = '('\n").is_err());
    }
}

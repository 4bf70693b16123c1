//! Loading rules: reading files, parsing YAML with line/column errors, checking rules and
//! custom detectors, compiling the snapshot, and the policy version.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::compile::{CompiledRule, RuleIndex};
use super::model::RuleFile;
use super::{DecisionKind, Mode, Policy};
use crate::config::Protocol;
use crate::guard::{Direction, Guard};

/// Why rules could not be loaded. Every variant names the file; parse and rule errors also
/// the line and column.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A rules file is not valid YAML or does not fit the schema, or a rule is unusable.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The files a rules path stands for, with their text: the file itself, or a directory's
/// `*.yaml`/`*.yml` files in name order (not recursing).
pub fn read_sources(path: &Path) -> Result<Vec<(PathBuf, String)>, PolicyError> {
    let read_err = |p: &Path, source| PolicyError::Read {
        path: p.to_path_buf(),
        source,
    };
    let files = if path.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| read_err(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        v.sort();
        v
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|f| {
            std::fs::read_to_string(&f)
                .map(|t| (f.clone(), t))
                .map_err(|e| read_err(&f, e))
        })
        .collect()
}

/// The policy version of some sources: the first 8 bytes of the SHA-256 over file names and
/// contents, in hex. Equal sources give equal versions on every replica.
pub fn version_of(sources: &[(PathBuf, String)]) -> String {
    let mut hasher = Sha256::new();
    for (path, text) in sources {
        hasher.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Whether `name` is a built-in detector family or finding type.
fn is_built_in_name(name: &str) -> bool {
    crate::guard::detectors::FAMILIES.contains(&name)
        || crate::guard::detectors::built_in().any(|s| s.kind == name)
}

impl Policy {
    /// Load `path` (a `.yaml` file, or a directory whose `*.yaml`/`*.yml` files are loaded in
    /// name order, not recursing). `mode` is the policy-wide mode.
    pub fn load(path: &Path, mode: Mode) -> Result<Self, PolicyError> {
        Self::from_sources(&read_sources(path)?, mode)
    }

    /// Compile rules from `(file name, YAML text)` pairs.
    pub fn from_sources(sources: &[(PathBuf, String)], mode: Mode) -> Result<Self, PolicyError> {
        let mut rules = Vec::new();
        let mut limits = Vec::new();
        let mut default: Option<(DecisionKind, PathBuf)> = None;
        let mut ids: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
        let warnings = Vec::new();
        // First pass: parse every file and gather the custom detectors, so a rule in any
        // file may name a detector declared in any other.
        let mut files = Vec::with_capacity(sources.len());
        let mut custom: Vec<crate::guard::CustomDetector> = Vec::new();
        for (path, text) in sources {
            let at = |line: usize, column: usize, message: String| PolicyError::Invalid {
                path: path.clone(),
                line,
                column,
                message,
            };
            let file: RuleFile = serde_yaml_ng::from_str(text).map_err(|e| {
                let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
                let msg = e.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                at(line, column, msg)
            })?;
            for d in &file.detectors {
                let (l, c) = locate(text, "name", Some(&d.name));
                if custom.iter().any(|x| x.name == d.name) || is_built_in_name(&d.name) {
                    return Err(at(
                        l,
                        c,
                        format!("detector name {:?} is already taken", d.name),
                    ));
                }
                // Compile alone first, to point at the detector that is wrong.
                Guard::compile_custom(d).map_err(|e| at(l, c, e.to_string()))?;
                custom.push(d.clone());
            }
            files.push((path, text, file));
        }
        // Built-in detectors only: the one process-wide set, compiled once on first use.
        let custom_guard = if custom.is_empty() {
            None
        } else {
            Some(Arc::new(Guard::new(&custom).map_err(|e| {
                PolicyError::Invalid {
                    path: sources.first().map(|(p, _)| p.clone()).unwrap_or_default(),
                    line: 1,
                    column: 1,
                    message: e.to_string(),
                }
            })?))
        };
        let known_detector = |n: &str| is_built_in_name(n) || custom.iter().any(|d| d.name == n);
        for (path, text, file) in files {
            let at = |line: usize, column: usize, message: String| PolicyError::Invalid {
                path: path.clone(),
                line,
                column,
                message,
            };
            if file.version != 1 {
                let (l, c) = locate(text, "version", None);
                return Err(at(
                    l,
                    c,
                    format!("unsupported rules version {} (only 1 exists)", file.version),
                ));
            }
            if let Some(d) = file.default_decision {
                if let Some((prev, prev_file)) = &default {
                    if *prev != d {
                        let (l, c) = locate(text, "default_decision", None);
                        return Err(at(
                            l,
                            c,
                            format!(
                                "default_decision {} conflicts with {} in {}",
                                d.as_str(),
                                prev.as_str(),
                                prev_file.display()
                            ),
                        ));
                    }
                }
                default = Some((d, path.clone()));
            }
            let file_mode = file.mode.unwrap_or(mode);
            let mut seen_in_file: std::collections::HashMap<&str, usize> =
                std::collections::HashMap::new();
            for rule in &file.rules {
                let nth = seen_in_file.entry(rule.id.as_str()).or_insert(0);
                let (l, c) = locate_nth(text, "id", Some(&rule.id), *nth);
                *nth += 1;
                if let Some(prev) = ids.insert(rule.id.clone(), path.clone()) {
                    return Err(at(
                        l,
                        c,
                        format!(
                            "duplicate rule id {:?} (also in {})",
                            rule.id,
                            prev.display()
                        ),
                    ));
                }
                if rule.reason.trim().is_empty() {
                    return Err(at(
                        l,
                        c,
                        format!("rule {:?}: reason must not be empty", rule.id),
                    ));
                }
                let effective_mode = if mode == Mode::Observe {
                    Mode::Observe
                } else {
                    file_mode
                };
                let compiled = CompiledRule::compile(rule, effective_mode)
                    .map_err(|m| at(l, c, format!("rule {:?}: {m}", rule.id)))?;
                if let Some(f) = &rule.when.findings {
                    for n in f.detectors.as_ref().map(|d| d.to_vec()).unwrap_or_default() {
                        if !known_detector(&n) {
                            return Err(at(
                                l,
                                c,
                                format!(
                                    "rule {:?}: unknown detector {n:?} (built in: secrets, pii, prompt_injection, unsafe_command, network or one of their types; or a custom detector's name)",
                                    rule.id
                                ),
                            ));
                        }
                    }
                } else if rule.decision == DecisionKind::Redact {
                    return Err(at(
                        l,
                        c,
                        format!(
                            "rule {:?}: redact needs a `findings` condition (it says what to redact)",
                            rule.id
                        ),
                    ));
                }
                rules.push(compiled);
            }
            for limit in &file.limits {
                let (l, c) = locate(text, "id", Some(&limit.id));
                if let Some(prev) = ids.insert(limit.id.clone(), path.clone()) {
                    return Err(at(
                        l,
                        c,
                        format!("duplicate id {:?} (also in {})", limit.id, prev.display()),
                    ));
                }
                if !(limit.rate.is_finite() && limit.rate > 0.0) || limit.burst == 0 {
                    return Err(at(
                        l,
                        c,
                        format!("limit {:?}: rate must be > 0 and burst ≥ 1", limit.id),
                    ));
                }
                let when = crate::policy::compile::Conditions::compile(&limit.when, "when")
                    .map_err(|m| at(l, c, format!("limit {:?}: {m}", limit.id)))?;
                limits.push(crate::policy::CompiledLimit {
                    id: Arc::from(limit.id.as_str()),
                    when,
                    per: limit.per,
                    rate: limit.rate,
                    burst: f64::from(limit.burst),
                });
            }
        }
        let index = RuleIndex::build(&rules).map_err(|m| PolicyError::Invalid {
            path: sources.first().map(|(p, _)| p.clone()).unwrap_or_default(),
            line: 1,
            column: 1,
            message: format!("tool patterns could not be combined: {m}"),
        })?;
        let reads_http_body = rules.iter().any(|r| r.reads_body_on(Protocol::Http));
        let scans = |phase: Direction| {
            rules
                .iter()
                .any(|r| r.findings().is_some_and(|f| f.direction.covers(phase)))
        };
        let scans_requests = scans(Direction::Request) || rules.iter().any(|r| r.precedent);
        let scans_responses = scans(Direction::Response);
        if (scans_requests || scans_responses) && custom_guard.is_none() {
            Guard::built_in().map_err(|e| PolicyError::Invalid {
                path: sources.first().map(|(p, _)| p.clone()).unwrap_or_default(),
                line: 1,
                column: 1,
                message: format!("built-in detectors do not compile: {e}"),
            })?;
        }
        // Precedent rules (`learn export`) match fingerprints, which hold the run's flags and
        // the guard's findings: with such rules, runs are read and requests scanned.
        let precedent_rules = rules.iter().any(|r| r.precedent);
        let reads_runs = precedent_rules || rules.iter().any(|r| r.reads_run());
        let reads_annotations = rules.iter().any(|r| r.reads_annotations());
        let tracks_runs = reads_runs || rules.iter().any(|r| !r.labels.is_empty());
        let escalates = rules
            .iter()
            .any(|r| r.decision == super::model::DecisionKind::Escalate);
        Ok(Self {
            reads_runs,
            reads_annotations,
            tracks_runs,
            escalates,
            limits,
            reads_http_body,
            scans_requests,
            scans_responses,
            custom_guard,
            default_reason: Arc::from("default"),
            observe_reason: Arc::from("observe"),
            unredactable_reason: Arc::from("unredactable_finding"),
            rules,
            index,
            default: default.map_or(DecisionKind::Allow, |(d, _)| d),
            mode,
            version: Arc::from(version_of(sources)),
            files: sources.iter().map(|(p, _)| p.clone()).collect(),
            warnings,
        })
    }
}

/// Line and column (1-based) of the `nth` (0-based) `key:` in `text` whose value is `value`
/// (any value when `None`), block or flow style, for error messages about a parsed rule.
fn locate_nth(text: &str, key: &str, value: Option<&str>, nth: usize) -> (usize, usize) {
    let mut seen = 0;
    for (n, line) in text.lines().enumerate() {
        let mut from = 0;
        while let Some(pos) = line[from..].find(key).map(|p| p + from) {
            from = pos + key.len();
            let before_ok = line[..pos]
                .chars()
                .next_back()
                .is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-');
            let Some(rest) = line[from..].trim_start().strip_prefix(':') else {
                continue;
            };
            if !before_ok {
                continue;
            }
            let v = rest
                .split([',', '}', '#'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(|c| c == '"' || c == '\'');
            if value.is_none_or(|want| v == want) {
                if seen == nth {
                    return (n + 1, pos + 1);
                }
                seen += 1;
            }
        }
    }
    (1, 1)
}

fn locate(text: &str, key: &str, value: Option<&str>) -> (usize, usize) {
    locate_nth(text, key, value, 0)
}

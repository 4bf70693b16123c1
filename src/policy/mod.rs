//! Decide: the rules engine.
//!
//! Rules files ([`model`]) are compiled ([`compile`]) into an immutable [`Policy`] snapshot
//! with a tool-name index. [`Policy::decide`] evaluates one call's facts: every matching rule
//! counts, the most severe decision wins (deny > escalate > redact > allow), the file's
//! `default_decision` applies when nothing matches, and rules in `observe` mode only record
//! what they would have decided. Every decision carries the policy version (a hash of the
//! loaded files) and a decision id.

pub mod args;
pub mod compile;
pub mod model;
pub mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Boundary, Protocol};
use crate::guard::{Direction, Finding, Guard};
use compile::{CompiledRule, RuleIndex};
use model::RuleFile;
pub use model::{DecisionKind, Mode};

/// What a decision looks at: one call (one JSON-RPC message, or one HTTP request).
/// Build it with [`CallFacts::on_route`] and set what the call has, so a new fact does not
/// touch every caller.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// Route boundary.
    pub boundary: Boundary,
    /// Route name.
    pub route: &'a str,
    /// Upstream name.
    pub upstream: &'a str,
    /// Route protocol.
    pub protocol: Protocol,
    /// JSON-RPC method, or the HTTP method on `http` routes.
    pub method: Option<&'a str>,
    /// The same operation's name in the other protocol generation (A2A v0.3 ↔ v1.0), so a
    /// rule naming either holds for both.
    pub method_alias: Option<&'a str>,
    /// MCP tool name.
    pub tool: Option<&'a str>,
    /// MCP resource URI.
    pub resource: Option<&'a str>,
    /// MCP prompt name (`prompts/get`).
    pub prompt: Option<&'a str>,
    /// A2A target agent (the route's `agent`, else its upstream's name).
    pub agent: Option<&'a str>,
    /// The text a message carries (A2A message text parts).
    pub text: Option<&'a str>,
    /// Request host as the client sent it (no port).
    pub host: Option<&'a str>,
    /// Request path as the client sent it (no query).
    pub path: &'a str,
    /// Raw query string (without `?`).
    pub query: Option<&'a str>,
    /// Caller identity.
    pub caller: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Arguments (`tools/call` arguments, else `params`; the JSON body on `http` routes).
    pub args: Option<&'a Value>,
    /// Which way the data being decided on travels: a call going out (`request`), or what
    /// came back for it (`response`).
    pub phase: Direction,
    /// What the guard found in that data.
    pub findings: &'a [Finding],
}

static NO_HEADERS: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);

impl<'a> CallFacts<'a> {
    /// The facts every call on a route has; everything else empty (path `/`, caller
    /// `anonymous`, no headers).
    pub fn on_route(
        boundary: Boundary,
        route: &'a str,
        upstream: &'a str,
        protocol: Protocol,
    ) -> Self {
        Self {
            boundary,
            route,
            upstream,
            protocol,
            method: None,
            method_alias: None,
            tool: None,
            resource: None,
            prompt: None,
            agent: None,
            text: None,
            host: None,
            path: "/",
            query: None,
            caller: "anonymous",
            headers: &NO_HEADERS,
            args: None,
            phase: Direction::Request,
            findings: &[],
        }
    }
}

/// The outcome for one call.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What happens to the call.
    pub decision: DecisionKind,
    /// What would happen if every matching rule were enforced (differs under observe).
    pub would_be: DecisionKind,
    /// `observe` when observe-mode rules would have decided more severely.
    pub mode: Mode,
    /// The reason code of the deciding rule (`default` when no rule matched).
    pub reason: Arc<str>,
    /// Ids of every matching rule.
    pub rules: Vec<Arc<str>>,
    /// For a `redact` decision: the findings (indexes into the decided facts' findings)
    /// to replace.
    pub redact: Vec<usize>,
    /// Unique id of this decision.
    pub decision_id: String,
    /// Version of the policy that decided.
    pub policy_version: Arc<str>,
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
    crate::guard::detectors::BUILT_IN
        .iter()
        .any(|s| s.detector == name || s.kind == name)
}

/// Decision ids: a random per-process prefix and a counter, unique without a system call
/// per decision (a UUIDv4 would ask the kernel for randomness every time).
fn next_decision_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    });
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Hex by hand into a fixed buffer: `format!` costs more than the whole rule evaluation.
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&prefix.to_be_bytes());
    raw[8..].copy_from_slice(&counter.to_be_bytes());
    hex::encode(raw)
}

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

/// A compiled, immutable policy.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<CompiledRule>,
    index: RuleIndex,
    default: DecisionKind,
    mode: Mode,
    /// Hash of the loaded files (names and contents); `none` for the empty policy.
    pub version: Arc<str>,
    /// Files loaded, in order.
    pub files: Vec<PathBuf>,
    /// Things that load but deserve a word (e.g. `redact` before the guard exists).
    pub warnings: Vec<String>,
    /// Whether some rule reads JSON bodies on `http` routes (else they stream unread).
    reads_http_body: bool,
    /// Whether some rule looks at findings in requests / in responses (else no scanning).
    scans_requests: bool,
    scans_responses: bool,
    /// The detectors (built-in plus the custom ones of these files).
    pub guard: Arc<Guard>,
    /// Reason codes of decisions no rule took (shared, so a decision allocates none).
    default_reason: Arc<str>,
    observe_reason: Arc<str>,
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
        let guard = Arc::new(Guard::new(&custom).map_err(|e| PolicyError::Invalid {
            path: sources.first().map(|(p, _)| p.clone()).unwrap_or_default(),
            line: 1,
            column: 1,
            message: e.to_string(),
        })?);
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
                                    "rule {:?}: unknown detector {n:?} (built in: secrets, pii, prompt_injection, unsafe_command or one of their types; or a custom detector's name)",
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
        let scans_requests = scans(Direction::Request);
        let scans_responses = scans(Direction::Response);
        Ok(Self {
            reads_http_body,
            scans_requests,
            scans_responses,
            guard,
            default_reason: Arc::from("default"),
            observe_reason: Arc::from("observe"),
            rules,
            index,
            default: default.map_or(DecisionKind::Allow, |(d, _)| d),
            mode,
            version: Arc::from(version_of(sources)),
            files: sources.iter().map(|(p, _)| p.clone()).collect(),
            warnings,
        })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether some rule looks at findings in what travels in `phase`: only then is that
    /// data scanned.
    pub fn scans(&self, phase: Direction) -> bool {
        match phase {
            Direction::Request => self.scans_requests,
            Direction::Response => self.scans_responses,
            Direction::Both => self.scans_requests || self.scans_responses,
        }
    }

    /// Whether some rule looks at the JSON body of plain HTTP calls, so the proxy must read
    /// (and strictly parse) it before deciding.
    pub fn reads_http_body(&self) -> bool {
        self.reads_http_body
    }

    /// Whether the policy has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule could make a tool never callable (see [`Policy::never_callable`]);
    /// when none can, `tools/list` answers need no filtering.
    pub fn may_hide_tools(&self) -> bool {
        self.mode == Mode::Enforce
            && self.rules.iter().any(|r| {
                r.decision == DecisionKind::Deny && r.mode == Mode::Enforce && r.is_static()
            })
    }

    /// Whether `facts` (a `tools/call` of `facts.tool`) is refused by an enforced deny rule
    /// that depends only on caller, route and tool name: such a call is refused whatever its
    /// arguments, so the tool is removed from `tools/list`.
    pub fn never_callable(&self, facts: &CallFacts<'_>) -> bool {
        if self.mode == Mode::Observe {
            return false;
        }
        self.index.candidates(facts.tool).into_iter().any(|i| {
            let r = &self.rules[i];
            r.decision == DecisionKind::Deny
                && r.mode == Mode::Enforce
                && r.is_static()
                && r.matches(facts)
        })
    }

    /// A decision the gateway takes itself, outside the rules (e.g. a tool withheld because
    /// its descriptor changed): `rule` names the mechanism in the decision's rule list.
    pub fn fixed_decision(&self, kind: DecisionKind, reason: &str, rule: &str) -> Decision {
        Decision {
            decision: kind,
            would_be: kind,
            mode: Mode::Enforce,
            reason: Arc::from(reason),
            redact: Vec::new(),
            rules: vec![Arc::from(rule)],
            decision_id: next_decision_id(),
            policy_version: self.version.clone(),
        }
    }

    /// Decide one call.
    pub fn decide(&self, facts: &CallFacts<'_>) -> Decision {
        let mut enforced: Option<&CompiledRule> = None;
        let mut any: Option<&CompiledRule> = None;
        let mut ids = Vec::new();
        let mut redactors: Vec<&CompiledRule> = Vec::new();
        for i in self.index.candidates(facts.tool) {
            let rule = &self.rules[i];
            if !rule.matches(facts) {
                continue;
            }
            ids.push(rule.id.clone());
            if rule.decision == DecisionKind::Redact && rule.mode == Mode::Enforce {
                redactors.push(rule);
            }
            if any.is_none_or(|a| rule.decision > a.decision) {
                any = Some(rule);
            }
            if rule.mode == Mode::Enforce && enforced.is_none_or(|e| rule.decision > e.decision) {
                enforced = Some(rule);
            }
        }
        let reason_of = |r: Option<&CompiledRule>| {
            r.map_or_else(|| self.default_reason.clone(), |r| r.reason.clone())
        };
        // What happens: enforced rules only (else the default) ...
        let mut decision = enforced.map_or(self.default, |r| r.decision);
        let mut reason = reason_of(enforced);
        // ... and what would happen if every matching rule were enforced.
        let would_be = any.map_or(self.default, |r| r.decision);
        if self.mode == Mode::Observe {
            decision = DecisionKind::Allow;
            reason = self.observe_reason.clone();
        }
        let mode = if would_be != decision {
            Mode::Observe
        } else {
            Mode::Enforce
        };
        let reason = if mode == Mode::Observe {
            reason_of(any)
        } else {
            reason
        };
        // What a redact decision replaces: the findings its rules select.
        let redact = if decision == DecisionKind::Redact {
            (0..facts.findings.len())
                .filter(|&k| {
                    redactors
                        .iter()
                        .any(|r| r.findings().is_some_and(|t| t.selects(&facts.findings[k])))
                })
                .collect()
        } else {
            Vec::new()
        };
        Decision {
            decision,
            would_be,
            mode,
            reason,
            redact,
            rules: ids,
            decision_id: next_decision_id(),
            policy_version: self.version.clone(),
        }
    }
}

impl Decision {
    /// The decision as it is reported: the would-be decision under observe mode.
    pub fn shown(&self) -> DecisionKind {
        if self.mode == Mode::Observe {
            self.would_be
        } else {
            self.decision
        }
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

#[cfg(test)]
mod tests;

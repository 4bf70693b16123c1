//! Rules compiled into matchers: glob sets, regexes and JSONPath queries are built once, and
//! rules naming exact tools are indexed by tool name, so a decision looks only at the rules
//! that can apply instead of scanning all of them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::CallFacts;
use super::args::ArgTest;
use super::model::{DecisionKind, Mode, OneOrMany, Rule, TextCondition, When};
use crate::guard::{Direction, Finding, Severity};

/// A pattern list (any-of): literals compared as strings, globs compiled (by globset's
/// glob syntax) into one regex, so matching a `&str` allocates nothing.
#[derive(Debug)]
pub struct Patterns {
    literals: Vec<String>,
    /// globset's translation is byte-oriented (`(?-u)`), so a bytes regex.
    globs: Option<regex::bytes::Regex>,
}

impl Patterns {
    fn compile(list: &OneOrMany<String>) -> Result<Self, String> {
        let mut literals = Vec::new();
        let mut regexes = Vec::new();
        for p in list.to_vec() {
            if is_literal(&p) {
                literals.push(p);
                continue;
            }
            // `literal_separator(false)`: `*` also crosses `/` (`tools/*`, `file:///etc/*`).
            let g = globset::GlobBuilder::new(&p)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("{p:?} is not a valid glob: {e}"))?;
            regexes.push(format!("(?:{})", g.regex()));
        }
        let globs = if regexes.is_empty() {
            None
        } else {
            Some(regex::bytes::Regex::new(&regexes.join("|")).map_err(|e| e.to_string())?)
        };
        Ok(Self { literals, globs })
    }

    /// One regex (bytes) matching exactly what this list matches.
    fn as_regex(&self) -> String {
        let mut alts: Vec<String> = self
            .literals
            .iter()
            .map(|l| format!("(?:^{}$)", regex::escape(l)))
            .collect();
        if let Some(g) = &self.globs {
            alts.push(format!("(?:{})", g.as_str()));
        }
        alts.join("|")
    }

    fn matches(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| {
            self.literals.iter().any(|l| l == v)
                || self
                    .globs
                    .as_ref()
                    .is_some_and(|r| r.is_match(v.as_bytes()))
        })
    }
}

fn is_literal(p: &str) -> bool {
    !p.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// A compiled `when` (or `unless`) block: all conditions must hold.
#[derive(Debug)]
pub struct Conditions {
    boundary: Option<Patterns>,
    route: Option<Patterns>,
    upstream: Option<Patterns>,
    protocol: Option<Patterns>,
    method: Option<Patterns>,
    tool: Option<Patterns>,
    resource: Option<Patterns>,
    prompt: Option<Patterns>,
    agent: Option<Patterns>,
    host: Option<Patterns>,
    path: Option<Patterns>,
    query: Option<Patterns>,
    caller: Option<Patterns>,
    headers: Vec<(http::HeaderName, Patterns)>,
    args: Vec<ArgTest>,
    /// Regexes the message text must all match (`contains` compiled to escaped `(?i)`).
    text: Vec<regex::Regex>,
    /// The guard findings condition.
    findings: Option<FindingsTest>,
    /// The run-history condition.
    run: Option<RunTest>,
    /// Claim name → patterns.
    claims: Vec<(String, Patterns)>,
    /// Fingerprint ids (`when.fingerprint`).
    fingerprints: Vec<String>,
    /// Annotation hints and the value each must have (`when.annotations`).
    annotations: Vec<(String, bool)>,
}

/// A compiled `run` condition.
#[derive(Debug)]
struct RunTest {
    called: Option<Patterns>,
    read: Option<Patterns>,
    labels: Vec<String>,
    count_gt: Option<u64>,
}

impl RunTest {
    fn holds(&self, run: Option<&crate::context::runs::RunHistory>) -> bool {
        let empty = crate::context::runs::RunHistory::default();
        let h = run.unwrap_or(&empty);
        self.called
            .as_ref()
            .is_none_or(|p| h.called.iter().any(|t| p.matches(Some(t))))
            && self
                .read
                .as_ref()
                .is_none_or(|p| h.read.iter().any(|r| p.matches(Some(r))))
            && (self.labels.is_empty() || self.labels.iter().any(|l| h.labels.contains(l.as_str())))
            && self.count_gt.is_none_or(|n| h.calls > n)
    }
}

/// A compiled `findings` condition.
#[derive(Debug)]
pub struct FindingsTest {
    /// Detector families, types or custom names (any-of); empty: all.
    pub names: Vec<String>,
    /// Lowest severity that counts.
    pub min_severity: Option<Severity>,
    /// Which way the data travels.
    pub direction: Direction,
}

impl FindingsTest {
    /// Whether `f` counts for this condition.
    pub fn selects(&self, f: &Finding) -> bool {
        self.min_severity.is_none_or(|m| f.severity >= m)
            && (self.names.is_empty()
                || self
                    .names
                    .iter()
                    .any(|n| **n == *f.detector || **n == *f.kind))
    }
}

fn text_tests(list: &[TextCondition], prefix: &str) -> Result<Vec<regex::Regex>, String> {
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let at = |e: String| format!("{prefix}.text[{i}]: {e}");
        if c.contains.is_none() && c.matches.is_none() {
            return Err(at("needs `contains` or `matches`".into()));
        }
        if let Some(needle) = &c.contains {
            let r = regex::Regex::new(&format!("(?i){}", regex::escape(needle)));
            out.push(r.map_err(|e| at(e.to_string()))?);
        }
        if let Some(r) = &c.matches {
            out.push(regex::Regex::new(r).map_err(|e| at(format!("matches {r:?}: {e}")))?);
        }
    }
    Ok(out)
}

fn opt(p: &Option<OneOrMany<String>>, prefix: &str, key: &str) -> Result<Option<Patterns>, String> {
    p.as_ref()
        .map(Patterns::compile)
        .transpose()
        .map_err(|e| format!("{prefix}.{key}: {e}"))
}

impl Conditions {
    /// Compile a block; `prefix` (`when`/`unless`) names it in errors.
    pub fn compile(w: &When, prefix: &str) -> Result<Self, String> {
        let mut headers = Vec::new();
        for (name, glob) in &w.headers {
            let n = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{prefix}.headers: {name:?} is not a header name"))?;
            let p = Patterns::compile(&OneOrMany::One(glob.clone()))
                .map_err(|e| format!("{prefix}.headers.{name}: {e}"))?;
            headers.push((n, p));
        }
        let args = w
            .args
            .iter()
            .enumerate()
            .map(|(i, c)| ArgTest::compile(c).map_err(|e| format!("{prefix}.args[{i}]: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            boundary: opt(&w.boundary, prefix, "boundary")?,
            route: opt(&w.route, prefix, "route")?,
            upstream: opt(&w.upstream, prefix, "upstream")?,
            protocol: opt(&w.protocol, prefix, "protocol")?,
            method: opt(&w.method, prefix, "method")?,
            tool: opt(&w.tool, prefix, "tool")?,
            resource: opt(&w.resource, prefix, "resource")?,
            prompt: opt(&w.prompt, prefix, "prompt")?,
            agent: opt(&w.agent, prefix, "agent")?,
            // Hosts arrive lowercased; so are the patterns.
            host: opt(
                &w.host.as_ref().map(|h| match h {
                    OneOrMany::One(v) => OneOrMany::One(v.to_ascii_lowercase()),
                    OneOrMany::Many(v) => {
                        OneOrMany::Many(v.iter().map(|x| x.to_ascii_lowercase()).collect())
                    }
                }),
                prefix,
                "host",
            )?,
            path: opt(&w.path, prefix, "path")?,
            query: opt(&w.query, prefix, "query")?,
            caller: opt(&w.caller, prefix, "caller")?,
            fingerprints: w
                .fingerprint
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default(),
            annotations: w
                .annotations
                .iter()
                .map(|(k, v)| match crate::protocol::mcp::ToolAnnotations::hint(None, k) {
                    Some(_) => Ok((k.clone(), *v)),
                    None => Err(format!(
                        "{prefix}.annotations.{k}: unknown hint (known: readOnlyHint, destructiveHint, idempotentHint, openWorldHint)"
                    )),
                })
                .collect::<Result<_, _>>()?,
            headers,
            args,
            text: text_tests(&w.text, prefix)?,
            claims: w
                .claims
                .iter()
                .map(|(k, v)| {
                    Patterns::compile(v)
                        .map(|p| (k.clone(), p))
                        .map_err(|e| format!("{prefix}.claims.{k}: {e}"))
                })
                .collect::<Result<_, _>>()?,
            run: match &w.run {
                Some(r) => Some(RunTest {
                    called: opt(&r.called, prefix, "run.called")?,
                    read: opt(&r.read, prefix, "run.read")?,
                    labels: r.labels.as_ref().map(OneOrMany::to_vec).unwrap_or_default(),
                    count_gt: r.count_gt,
                }),
                None => None,
            },
            findings: w.findings.as_ref().map(|f| FindingsTest {
                names: f
                    .detectors
                    .as_ref()
                    .map(OneOrMany::to_vec)
                    .unwrap_or_default(),
                min_severity: f.min_severity,
                direction: f.direction,
            }),
        })
    }

    /// Whether the block looks only at who calls which tool where (no headers, arguments
    /// or resources), so its outcome for a tool never changes from call to call.
    fn is_static(&self) -> bool {
        self.headers.is_empty()
            && self.args.is_empty()
            && self.text.is_empty()
            && self.findings.is_none()
            && self.run.is_none()
            && self.claims.is_empty()
            && self.fingerprints.is_empty()
            && self.annotations.is_empty()
            && self.resource.is_none()
            && self.prompt.is_none()
            && self.host.is_none()
            && self.path.is_none()
            && self.query.is_none()
    }

    /// Whether every condition holds for `facts`.
    pub fn hold(&self, f: &CallFacts<'_>) -> bool {
        self.hold_given(f, true)
    }

    /// Whether every condition holds for `facts`; with `history` false the conditions on
    /// the run's history (`run`, `fingerprint`, which holds its labels) count as holding.
    fn hold_given(&self, f: &CallFacts<'_>, history: bool) -> bool {
        let check = |p: &Option<Patterns>, v: Option<&str>| p.as_ref().is_none_or(|p| p.matches(v));
        check(&self.boundary, Some(f.boundary.as_str()))
            && check(&self.route, Some(f.route))
            && check(&self.upstream, Some(f.upstream))
            && check(&self.protocol, Some(f.protocol.as_str()))
            && (check(&self.method, f.method)
                || f.method_alias.is_some() && check(&self.method, f.method_alias))
            && check(&self.tool, f.tool)
            && check(&self.resource, f.resource)
            && check(&self.prompt, f.prompt)
            && check(&self.agent, f.agent)
            && check(&self.host, f.host)
            && check(&self.path, Some(f.path))
            && check(&self.query, f.query)
            && check(&self.caller, Some(f.caller))
            && self.headers.iter().all(|(name, p)| {
                f.headers
                    .get_all(name)
                    .iter()
                    .any(|v| v.to_str().is_ok_and(|s| p.matches(Some(s))))
            })
            && self.args.iter().all(|t| t.holds(f.args))
            && (!history
                || self.fingerprints.is_empty()
                || self.fingerprints.contains(&f.fingerprint_id()))
            && self.annotations.iter().all(|(hint, want)| {
                crate::protocol::mcp::ToolAnnotations::hint(f.annotations, hint) == Some(*want)
            })
            && (self.text.is_empty()
                || f.text
                    .is_some_and(|t| self.text.iter().all(|r| r.is_match(t))))
            && self
                .findings
                .as_ref()
                .is_none_or(|t| f.findings.iter().any(|x| t.selects(x)))
            && (!history || self.run.as_ref().is_none_or(|t| t.holds(f.run)))
            && self
                .claims
                .iter()
                .all(|(name, p)| match f.claims.and_then(|c| c.get(name)) {
                    Some(Value::String(s)) => p.matches(Some(s)),
                    Some(Value::Array(items)) => items
                        .iter()
                        .any(|i| i.as_str().is_some_and(|s| p.matches(Some(s)))),
                    Some(Value::Bool(b)) => p.matches(Some(if *b { "true" } else { "false" })),
                    Some(Value::Number(n)) => p.matches(Some(&n.to_string())),
                    _ => false,
                })
    }
}

/// A compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    /// Rule id.
    pub id: Arc<str>,
    /// Its decision.
    pub decision: DecisionKind,
    /// Its reason code.
    pub reason: Arc<str>,
    /// Effective mode (rule, else file, else policy).
    pub mode: Mode,
    when: Conditions,
    unless: Option<Conditions>,
    /// Exact tool names when every `when.tool` pattern is a literal (for the index).
    pub exact_tools: Option<Vec<String>>,
    /// Labels the rule attaches to the run of a call it matches.
    pub labels: Vec<Arc<str>>,
    /// For `escalate` rules: the flow, when the rule names one.
    pub flow: Option<super::model::EscalationFlow>,
    /// Answers escalations only (`precedent: true`, as `learn export` writes).
    pub precedent: bool,
}

impl CompiledRule {
    /// Compile `rule`; `mode` is the file's (or policy's) mode when the rule sets none.
    pub fn compile(rule: &Rule, mode: Mode) -> Result<Self, String> {
        if rule.precedent && !matches!(rule.decision, DecisionKind::Allow | DecisionKind::Deny) {
            return Err("precedent: a precedent rule decides allow or deny".into());
        }
        let exact_tools = rule
            .when
            .tool
            .as_ref()
            .map(OneOrMany::to_vec)
            .filter(|v| v.iter().all(|p| is_literal(p)));
        Ok(Self {
            id: Arc::from(rule.id.as_str()),
            decision: rule.decision,
            reason: Arc::from(rule.reason.as_str()),
            mode: rule.mode.unwrap_or(mode),
            when: Conditions::compile(&rule.when, "when")?,
            unless: rule
                .unless
                .as_ref()
                .map(|u| Conditions::compile(u, "unless"))
                .transpose()?,
            exact_tools,
            labels: rule
                .label
                .as_ref()
                .map(OneOrMany::to_vec)
                .unwrap_or_default()
                .iter()
                .map(|l| Arc::from(l.as_str()))
                .collect(),
            flow: rule.flow,
            precedent: rule.precedent,
        })
    }

    /// Whether the rule looks at the tool's MCP annotations.
    pub fn reads_annotations(&self) -> bool {
        !self.when.annotations.is_empty()
            || self
                .unless
                .as_ref()
                .is_some_and(|u| !u.annotations.is_empty())
    }

    /// Whether the rule looks at the run's history.
    pub fn reads_run(&self) -> bool {
        self.when.run.is_some() || self.unless.as_ref().is_some_and(|u| u.run.is_some())
    }

    /// Whether the rule may need the run's history to decide `f` (whose run is not read
    /// yet): it reads runs (or is a precedent rule, whose fingerprints hold the run's
    /// labels) and every other condition of its `when` holds, its `unless` too unless that
    /// reads the run.
    pub fn may_need_run(&self, f: &CallFacts<'_>) -> bool {
        (self.reads_run() || self.precedent)
            && self.applies_in(f.phase)
            && self.when.hold_given(f, false)
            && match &self.unless {
                Some(u) if u.run.is_none() && u.fingerprints.is_empty() => !u.hold(f),
                _ => true,
            }
    }

    /// Whether the rule's run conditions read what a forwarded call of `tool` reading
    /// `resource` adds to its run (labels aside: they always count): its calls
    /// (`count_gt`), the tool (`called`) or the resource (`read`).
    pub fn reads_step(&self, tool: Option<&str>, resource: Option<&str>) -> bool {
        let reads = |t: &RunTest| {
            t.count_gt.is_some()
                || t.called.as_ref().is_some_and(|p| p.matches(tool))
                || t.read.as_ref().is_some_and(|p| p.matches(resource))
        };
        self.when.run.as_ref().is_some_and(reads)
            || self
                .unless
                .as_ref()
                .and_then(|u| u.run.as_ref())
                .is_some_and(reads)
    }

    /// Whether the rule reads how many calls a run made (`count_gt`).
    pub fn counts_calls(&self) -> bool {
        let counts = |t: &RunTest| t.count_gt.is_some();
        self.when.run.as_ref().is_some_and(counts)
            || self
                .unless
                .as_ref()
                .and_then(|u| u.run.as_ref())
                .is_some_and(counts)
    }

    /// Whether the rule's outcome for a tool depends only on caller, route and tool name.
    pub fn is_static(&self) -> bool {
        self.when.is_static() && self.unless.as_ref().is_none_or(Conditions::is_static)
    }

    /// Whether the rule looks at request bodies (`args`) on `protocol` routes.
    pub fn reads_body_on(&self, protocol: crate::config::Protocol) -> bool {
        let args =
            !self.when.args.is_empty() || self.unless.as_ref().is_some_and(|u| !u.args.is_empty());
        args && self
            .when
            .protocol
            .as_ref()
            .is_none_or(|p| p.matches(Some(protocol.as_str())))
    }

    /// The rule's findings condition, if it has one.
    pub fn findings(&self) -> Option<&FindingsTest> {
        self.when.findings.as_ref()
    }

    /// Whether the rule is evaluated in `phase`: rules without a findings condition only on
    /// requests; rules with one in the direction they name.
    pub fn applies_in(&self, phase: Direction) -> bool {
        match &self.when.findings {
            None => phase == Direction::Request,
            Some(t) => t.direction.covers(phase),
        }
    }

    /// Whether the rule applies: it is evaluated in this phase, `when` holds and `unless`
    /// (if any) does not.
    pub fn matches(&self, f: &CallFacts<'_>) -> bool {
        self.applies_in(f.phase)
            && self.when.hold(f)
            && !self.unless.as_ref().is_some_and(|u| u.hold(f))
    }
}

/// Rules indexed for lookup, so a decision does not scan every rule: rules naming exact
/// tools sit in a hash map by tool name; the tool globs of all other tool rules form one
/// regex set matched once per decision; only rules without a tool condition are always
/// candidates.
#[derive(Debug, Default)]
pub struct RuleIndex {
    by_tool: HashMap<String, Vec<usize>>,
    glob_set: Option<regex::bytes::RegexSet>,
    /// Rule index for each pattern of `glob_set`.
    glob_rules: Vec<usize>,
    general: Vec<usize>,
}

impl RuleIndex {
    /// Index `rules`.
    pub fn build(rules: &[CompiledRule]) -> Result<Self, String> {
        let mut idx = RuleIndex::default();
        let mut patterns = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match (&r.exact_tools, &r.when.tool) {
                (Some(tools), _) => {
                    for t in tools {
                        idx.by_tool.entry(t.clone()).or_default().push(i);
                    }
                }
                (None, Some(p)) => {
                    patterns.push(p.as_regex());
                    idx.glob_rules.push(i);
                }
                (None, None) => idx.general.push(i),
            }
        }
        if !patterns.is_empty() {
            idx.glob_set = Some(regex::bytes::RegexSet::new(&patterns).map_err(|e| e.to_string())?);
        }
        Ok(idx)
    }

    /// Indexes of the rules that can match a call to `tool`, in rule order.
    pub fn candidates(&self, tool: Option<&str>) -> Vec<usize> {
        let mut out = self.general.clone();
        if let Some(t) = tool {
            if let Some(v) = self.by_tool.get(t) {
                out.extend_from_slice(v);
            }
            if let Some(set) = &self.glob_set {
                out.extend(set.matches(t.as_bytes()).iter().map(|k| self.glob_rules[k]));
            }
        }
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_literals_and_globs() {
        let p = Patterns::compile(&OneOrMany::Many(vec![
            "echo".into(),
            "shell_*".into(),
            "file:///etc/*".into(),
            "{a,b}.txt".into(),
        ]))
        .expect("compiles");
        for yes in ["echo", "shell_exec", "file:///etc/ssh/sshd_config", "a.txt"] {
            assert!(p.matches(Some(yes)), "{yes}");
        }
        for no in ["echo2", "myshell_x", "file:///etc", "c.txt", ""] {
            assert!(!p.matches(Some(no)), "{no}");
        }
        assert!(!p.matches(None));
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::policy::model::RuleFile;

    fn rules(yaml: &str) -> Vec<CompiledRule> {
        let f: RuleFile = serde_yaml_ng::from_str(yaml).expect("yaml");
        f.rules
            .iter()
            .map(|r| CompiledRule::compile(r, Mode::Enforce).expect("compiles"))
            .collect()
    }

    #[test]
    fn candidates_come_from_exact_names_glob_set_and_general_rules() {
        let r = rules(
            "version: 1\nrules:\n  - { id: a, when: { tool: echo }, decision: deny, reason: r }\n  - { id: b, when: { tool: 'sh*' }, decision: deny, reason: r }\n  - { id: c, when: { method: ping }, decision: deny, reason: r }\n  - { id: d, when: { tool: [echo, 'x*'] }, decision: deny, reason: r }\n",
        );
        let idx = RuleIndex::build(&r).expect("index");
        assert_eq!(idx.candidates(Some("echo")), vec![0, 2, 3]);
        assert_eq!(idx.candidates(Some("shell")), vec![1, 2]);
        assert_eq!(idx.candidates(Some("xray")), vec![2, 3]);
        assert_eq!(idx.candidates(Some("other")), vec![2]);
        assert_eq!(idx.candidates(None), vec![2]);
    }
}

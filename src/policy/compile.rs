//! Rules compiled into matchers: glob sets, regexes and JSONPath queries are built once, and
//! rules naming exact tools are indexed by tool name, so a decision looks only at the rules
//! that can apply instead of scanning all of them.

use std::collections::HashMap;
use std::sync::Arc;

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use regex::Regex;
use serde_json::Value;

use super::CallFacts;
use super::model::{ArgCondition, DecisionKind, Mode, OneOrMany, Rule, When};

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

#[derive(Debug)]
enum Test {
    Equals(Value),
    In(Vec<Value>),
    Matches(Regex),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
    Contains(Value),
}

/// One step of a plain path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Any,
}

/// A JSONPath: plain paths (`$.a.b`, `$['k']`, `$.a[0]`, `$.a[*]`) are walked directly;
/// anything else (filters, recursive descent, slices, unions) goes to jsonpath-rust.
#[derive(Debug)]
enum Selector {
    Plain(Vec<Step>),
    Query(Box<JpQuery>),
}

impl Selector {
    fn compile(path: &str) -> Result<Self, String> {
        // Always validate with the full parser, so both forms accept the same language.
        let q = parse_json_path(path).map_err(|e| format!("path {path:?}: {e}"))?;
        Ok(match plain_steps(path) {
            Some(steps) => Selector::Plain(steps),
            None => Selector::Query(Box::new(q)),
        })
    }

    /// Whether any selected value satisfies `pred` (stops at the first that does).
    fn any<F: FnMut(&Value) -> bool>(&self, root: &Value, mut pred: F) -> bool {
        match self {
            Selector::Query(q) => {
                js_path_process(q, root).is_ok_and(|refs| refs.into_iter().any(|r| pred(r.val)))
            }
            Selector::Plain(steps) => walk(root, steps, &mut pred),
        }
    }

    #[cfg(test)]
    fn select<'a>(&self, root: &'a Value, out: &mut Vec<&'a Value>) {
        match self {
            Selector::Query(q) => {
                if let Ok(refs) = js_path_process(q, root) {
                    out.extend(refs.into_iter().map(|r| r.val));
                }
            }
            Selector::Plain(steps) => collect_walk(root, steps, out),
        }
    }
}

/// Walk `steps` from `v`, calling `pred` on each selected value until it says yes.
fn walk<F: FnMut(&Value) -> bool>(v: &Value, steps: &[Step], pred: &mut F) -> bool {
    let Some((step, rest)) = steps.split_first() else {
        return pred(v);
    };
    match (step, v) {
        (Step::Key(k), Value::Object(m)) => m.get(k).is_some_and(|x| walk(x, rest, pred)),
        (Step::Index(i), Value::Array(a)) => a.get(*i).is_some_and(|x| walk(x, rest, pred)),
        (Step::Any, Value::Array(a)) => a.iter().any(|x| walk(x, rest, pred)),
        (Step::Any, Value::Object(m)) => m.values().any(|x| walk(x, rest, pred)),
        _ => false,
    }
}

#[cfg(test)]
fn collect_walk<'a>(v: &'a Value, steps: &[Step], out: &mut Vec<&'a Value>) {
    let Some((step, rest)) = steps.split_first() else {
        out.push(v);
        return;
    };
    match (step, v) {
        (Step::Key(k), Value::Object(m)) => {
            if let Some(x) = m.get(k) {
                collect_walk(x, rest, out)
            }
        }
        (Step::Index(i), Value::Array(a)) => {
            if let Some(x) = a.get(*i) {
                collect_walk(x, rest, out)
            }
        }
        (Step::Any, Value::Array(a)) => a.iter().for_each(|x| collect_walk(x, rest, out)),
        (Step::Any, Value::Object(m)) => m.values().for_each(|x| collect_walk(x, rest, out)),
        _ => {}
    }
}

impl Selector {}

/// The steps of a plain path, or `None` when the path uses anything else.
fn plain_steps(path: &str) -> Option<Vec<Step>> {
    let mut rest = path.strip_prefix('$')?;
    let mut steps = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("..") {
            let _ = r;
            return None; // recursive descent
        } else if let Some(r) = rest.strip_prefix(".*") {
            steps.push(Step::Any);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(|c: char| !ident(c)).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("[*]") {
            steps.push(Step::Any);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find('\'')?;
            let key = &r[..end];
            if key.contains(['\\', '\'']) {
                return None;
            }
            steps.push(Step::Key(key.to_string()));
            rest = r[end..].strip_prefix("']")?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let idx: usize = r[..end].parse().ok()?;
            steps.push(Step::Index(idx));
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

#[derive(Debug)]
struct ArgTest {
    path: Selector,
    test: Test,
}

impl ArgTest {
    fn compile(c: &ArgCondition) -> Result<Self, String> {
        let path = Selector::compile(&c.path)?;
        let mut tests = Vec::new();
        if let Some(v) = &c.equals {
            tests.push(Test::Equals(v.clone()));
        }
        if let Some(v) = &c.one_of {
            tests.push(Test::In(v.clone()));
        }
        if let Some(r) = &c.matches {
            tests.push(Test::Matches(
                Regex::new(r).map_err(|e| format!("matches {r:?}: {e}"))?,
            ));
        }
        if let Some(n) = c.gt {
            tests.push(Test::Gt(n));
        }
        if let Some(n) = c.gte {
            tests.push(Test::Gte(n));
        }
        if let Some(n) = c.lt {
            tests.push(Test::Lt(n));
        }
        if let Some(n) = c.lte {
            tests.push(Test::Lte(n));
        }
        if let Some(b) = c.exists {
            tests.push(Test::Exists(b));
        }
        if let Some(v) = &c.contains {
            tests.push(Test::Contains(v.clone()));
        }
        match tests.len() {
            1 => Ok(Self {
                path,
                test: tests.remove(0),
            }),
            0 => Err(format!(
                "condition on {:?} has no test (equals, in, matches, gt, gte, lt, lte, exists, contains)",
                c.path
            )),
            _ => Err(format!(
                "condition on {:?} has more than one test; write one condition per test",
                c.path
            )),
        }
    }

    fn holds(&self, args: Option<&Value>) -> bool {
        let Some(args) = args else {
            return matches!(self.test, Test::Exists(false));
        };
        let p = &self.path;
        match &self.test {
            Test::Exists(want) => p.any(args, |_| true) == *want,
            Test::Equals(x) => p.any(args, |v| v == x),
            Test::In(xs) => p.any(args, |v| xs.contains(v)),
            Test::Matches(re) => p.any(args, |v| v.as_str().is_some_and(|s| re.is_match(s))),
            Test::Gt(n) => p.any(args, |v| v.as_f64().is_some_and(|x| x > *n)),
            Test::Gte(n) => p.any(args, |v| v.as_f64().is_some_and(|x| x >= *n)),
            Test::Lt(n) => p.any(args, |v| v.as_f64().is_some_and(|x| x < *n)),
            Test::Lte(n) => p.any(args, |v| v.as_f64().is_some_and(|x| x <= *n)),
            Test::Contains(x) => p.any(args, |v| match (v, x) {
                (Value::String(s), Value::String(sub)) => s.contains(sub.as_str()),
                (Value::Array(items), x) => items.contains(x),
                _ => false,
            }),
        }
    }
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
    caller: Option<Patterns>,
    headers: Vec<(http::HeaderName, Patterns)>,
    args: Vec<ArgTest>,
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
            caller: opt(&w.caller, prefix, "caller")?,
            headers,
            args,
        })
    }

    /// Whether the block looks only at who calls which tool where (no headers, arguments
    /// or resources), so its outcome for a tool never changes from call to call.
    fn is_static(&self) -> bool {
        self.headers.is_empty() && self.args.is_empty() && self.resource.is_none()
    }

    /// Whether every condition holds for `facts`.
    pub fn hold(&self, f: &CallFacts<'_>) -> bool {
        let check = |p: &Option<Patterns>, v: Option<&str>| p.as_ref().is_none_or(|p| p.matches(v));
        check(&self.boundary, Some(f.boundary.as_str()))
            && check(&self.route, Some(f.route))
            && check(&self.upstream, Some(f.upstream))
            && check(&self.protocol, Some(f.protocol.as_str()))
            && check(&self.method, f.method)
            && check(&self.tool, f.tool)
            && check(&self.resource, f.resource)
            && check(&self.caller, Some(f.caller))
            && self.headers.iter().all(|(name, p)| {
                f.headers
                    .get_all(name)
                    .iter()
                    .any(|v| v.to_str().is_ok_and(|s| p.matches(Some(s))))
            })
            && self.args.iter().all(|t| t.holds(f.args))
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
}

impl CompiledRule {
    /// Compile `rule`; `mode` is the file's (or policy's) mode when the rule sets none.
    pub fn compile(rule: &Rule, mode: Mode) -> Result<Self, String> {
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
        })
    }

    /// Whether the rule's outcome for a tool depends only on caller, route and tool name.
    pub fn is_static(&self) -> bool {
        self.when.is_static() && self.unless.as_ref().is_none_or(Conditions::is_static)
    }

    /// Whether the rule applies: `when` holds and `unless` (if any) does not.
    pub fn matches(&self, f: &CallFacts<'_>) -> bool {
        self.when.hold(f) && !self.unless.as_ref().is_some_and(|u| u.hold(f))
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
    use serde_json::json;

    #[test]
    fn plain_paths_select_like_jsonpath_rust() {
        let doc =
            json!({"a": {"b": [1, {"c": "x"}, 3], "k-y": true}, "list": [{"n": 1}, {"n": 2}]});
        for path in [
            "$.a",
            "$.a.b",
            "$.a.b[1].c",
            "$.a.b[*]",
            "$['a']['k-y']",
            "$.list[*].n",
            "$.a.*",
            "$.missing.x",
            "$.a.b[9]",
            "$",
        ] {
            assert!(plain_steps(path).is_some(), "{path} is plain");
            let mut fast = Vec::new();
            Selector::compile(path)
                .expect("compiles")
                .select(&doc, &mut fast);
            let q = parse_json_path(path).expect("parses");
            let slow: Vec<&Value> = js_path_process(&q, &doc)
                .expect("runs")
                .into_iter()
                .map(|r| r.val)
                .collect();
            assert_eq!(fast, slow, "{path}");
        }
        for path in ["$..c", "$.list[?(@.n > 1)]", "$.a.b[0:2]", "$.a['b','k-y']"] {
            assert!(plain_steps(path).is_none(), "{path} goes to jsonpath-rust");
        }
    }

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

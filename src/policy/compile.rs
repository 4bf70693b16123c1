//! Rules compiled into matchers: glob sets, regexes and JSONPath queries are built once, and
//! rules naming exact tools are indexed by tool name, so a decision looks only at the rules
//! that can apply instead of scanning all of them.

use std::collections::HashMap;

use globset::{GlobSet, GlobSetBuilder};
use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use regex::Regex;
use serde_json::Value;

use super::CallFacts;
use super::model::{ArgCondition, DecisionKind, Mode, OneOrMany, Rule, When};

/// A pattern list (any-of) compiled to a glob set.
#[derive(Debug)]
pub struct Patterns(GlobSet);

impl Patterns {
    fn compile(list: &OneOrMany<String>) -> Result<Self, String> {
        let mut b = GlobSetBuilder::new();
        for p in list.to_vec() {
            // `literal_separator(false)`: `*` also crosses `/` (`tools/*`, `file:///etc/*`).
            let g = globset::GlobBuilder::new(&p)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!("{p:?} is not a valid glob: {e}"))?;
            b.add(g);
        }
        b.build().map(Patterns).map_err(|e| e.to_string())
    }

    fn matches(&self, value: Option<&str>) -> bool {
        value.is_some_and(|v| self.0.is_match(v))
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

#[derive(Debug)]
struct ArgTest {
    path: JpQuery,
    test: Test,
}

impl ArgTest {
    fn compile(c: &ArgCondition) -> Result<Self, String> {
        let path = parse_json_path(&c.path).map_err(|e| format!("path {:?}: {e}", c.path))?;
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
        let selected: Vec<&Value> = match args {
            Some(a) => js_path_process(&self.path, a)
                .map(|refs| refs.into_iter().map(|r| r.val).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let num = |v: &Value| v.as_f64();
        match &self.test {
            Test::Exists(want) => selected.is_empty() != *want,
            Test::Equals(x) => selected.contains(&x),
            Test::In(xs) => selected.iter().any(|v| xs.contains(v)),
            Test::Matches(re) => selected
                .iter()
                .any(|v| v.as_str().is_some_and(|s| re.is_match(s))),
            Test::Gt(n) => selected.iter().any(|v| num(v).is_some_and(|x| x > *n)),
            Test::Gte(n) => selected.iter().any(|v| num(v).is_some_and(|x| x >= *n)),
            Test::Lt(n) => selected.iter().any(|v| num(v).is_some_and(|x| x < *n)),
            Test::Lte(n) => selected.iter().any(|v| num(v).is_some_and(|x| x <= *n)),
            Test::Contains(x) => selected.iter().any(|v| match (v, x) {
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
    pub id: String,
    /// Its decision.
    pub decision: DecisionKind,
    /// Its reason code.
    pub reason: String,
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
            id: rule.id.clone(),
            decision: rule.decision,
            reason: rule.reason.clone(),
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

    /// Whether the rule applies: `when` holds and `unless` (if any) does not.
    pub fn matches(&self, f: &CallFacts<'_>) -> bool {
        self.when.hold(f) && !self.unless.as_ref().is_some_and(|u| u.hold(f))
    }
}

/// Rules indexed for lookup: by exact tool name, plus the rest.
#[derive(Debug, Default)]
pub struct RuleIndex {
    by_tool: HashMap<String, Vec<usize>>,
    general: Vec<usize>,
}

impl RuleIndex {
    /// Index `rules`.
    pub fn build(rules: &[CompiledRule]) -> Self {
        let mut idx = RuleIndex::default();
        for (i, r) in rules.iter().enumerate() {
            match &r.exact_tools {
                Some(tools) => {
                    for t in tools {
                        idx.by_tool.entry(t.clone()).or_default().push(i);
                    }
                }
                None => idx.general.push(i),
            }
        }
        idx
    }

    /// Indexes of the rules that can match a call to `tool`.
    pub fn candidates<'a>(&'a self, tool: Option<&str>) -> impl Iterator<Item = usize> + 'a {
        let specific = tool
            .and_then(|t| self.by_tool.get(t))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        self.general.iter().chain(specific.iter()).copied()
    }
}

//! Conditions on a call's arguments: a JSONPath selecting values and one test on them.
//! Plain paths (`$.a.b`, `$['k']`, `[n]`, `[*]`) are walked directly without allocating;
//! anything else (filters, recursive descent, slices, unions) goes to jsonpath-rust.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use regex::Regex;
use serde_json::Value;

use super::model::ArgCondition;

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

/// One compiled argument condition.
#[derive(Debug)]
pub struct ArgTest {
    path: Selector,
    test: Test,
}

impl ArgTest {
    /// Compile one condition (exactly one test).
    pub fn compile(c: &ArgCondition) -> Result<Self, String> {
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

    /// Whether any value the path selects in `args` passes the test.
    pub fn holds(&self, args: Option<&Value>) -> bool {
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
}

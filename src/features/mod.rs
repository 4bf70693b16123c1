//! What a call *means*, as learning sees it. Each argument value becomes typed features
//! (see `docs/review.md`, "Features"): a **class** that is never generalised (`url https
//! public`, `path credentials`, `command rm`, `sql update unbounded`, `money`, `id
//! INV-dddd`, `text short`) and, where a reviewer would recognise one, an **identity**
//! (the host, e-mail domain, directory, table, short word, or a number's magnitude) that
//! precedents may generalise ("a host reviewers approved before" vs "a new host"). With the
//! route, tool, caller, the guard's finding types and flags from the run's history, they
//! make the call's fingerprint at every level precedents learn at.
//!
//! Every walk is bounded: depth, elements per array, features per call, and the length of
//! every string analysed.

pub mod effect;
pub mod paths;
pub mod shell;
pub mod sql;
pub mod tokens;
pub mod value;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The run flag of an identifier the run already gave the same tool, in the same place.
pub const REPEAT: &str = "sec0:repeat";
/// Deepest object nesting described (deeper objects are `object`).
const MAX_DEPTH: usize = 4;
/// Most elements of one array described.
const MAX_ELEMENTS: usize = 16;
/// Most features one call keeps (beyond: one `more` feature).
const MAX_FEATURES: usize = 64;
/// Longest key kept in a feature's place (longer keys are cut).
const MAX_KEY: usize = 64;

/// The part of a feature that learning may generalise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// Nothing beyond the class.
    None,
    /// A host, domain, directory, table or short word.
    Name(String),
    /// A number's size: three steps per power of ten (`1e3` for 1,000–1,999, `2e3` for
    /// 2,000–4,999, `5e3` for 5,000–9,999), as `3 × exponent + step`; below one: `-1`.
    Magnitude(i32),
}

impl Identity {
    /// The identity as written in fingerprints.
    pub fn exact(&self) -> String {
        match self {
            Identity::None => String::new(),
            Identity::Name(n) => n.clone(),
            Identity::Magnitude(m) if *m < 0 => "<1".into(),
            Identity::Magnitude(m) => format!("{}e{}", [1, 2, 5][(m % 3) as usize], m / 3),
        }
    }
}

/// One feature of a call's arguments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Feature {
    /// Where: the argument's path (`vendor`, `to[]`, `options.mode`) and, for values that
    /// give several features, a facet (`cmd[kubectl delete]:arg`, `body~url`).
    pub at: String,
    /// What it is; never generalised.
    pub class: String,
    /// Which one; generalised at coarser levels.
    pub identity: Identity,
    /// What whole-call levels compare beyond the identity, never written in a fingerprint:
    /// a number's value (amounts are judged against the range approved before for the
    /// caller and the counterparty), an identifier's hash (`#` and 16 hex digits: an IBAN
    /// or account id is judged as seen approved before or new where such values repeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Feature {
    /// A feature with a class only.
    pub fn class(at: &str, class: &str) -> Self {
        Self {
            at: at.to_string(),
            class: class.to_string(),
            identity: Identity::None,
            value: None,
        }
    }

    /// `at=class identity`, as in fingerprints.
    pub fn describe(&self) -> String {
        self.describe_with(&self.identity.exact())
    }

    /// `at=class identity` for generalised levels: the identity written as `identity`, and
    /// free text's size class dropped (a longer note is not another kind of call).
    pub fn describe_general(&self, identity: &str) -> String {
        let class = if self.class.starts_with("text ") {
            "text"
        } else {
            self.class.as_str()
        };
        if identity.is_empty() {
            format!("{}={class}", self.at)
        } else {
            format!("{}={class} {identity}", self.at)
        }
    }

    /// `at=class identity` with the identity written as `identity`.
    pub fn describe_with(&self, identity: &str) -> String {
        if identity.is_empty() {
            format!("{}={}", self.at, self.class)
        } else {
            format!("{}={} {}", self.at, self.class, identity)
        }
    }
}

/// What feature extraction needs besides the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// The tool called (a shell tool's arguments are commands).
    pub tool: &'a str,
    /// E-mail domains that are the organisation's own (`email internal` vs `external`).
    pub internal_domains: &'a [String],
}

impl Hints<'_> {
    /// Whether `domain` is one of the organisation's own (or below one).
    pub fn is_internal(&self, domain: &str) -> bool {
        self.internal_domains.iter().any(|d| {
            let d = d.trim_start_matches('@').to_ascii_lowercase();
            domain == d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|p| p.ends_with('.'))
        })
    }
}

/// Everything a precedent may key on for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFeatures {
    /// The route.
    pub route: String,
    /// The tool (or the method when there is no tool).
    pub tool: String,
    /// The verified caller.
    pub caller: String,
    /// The arguments' features, sorted, without duplicates.
    pub features: Vec<Feature>,
    /// The guard's findings in the arguments as `detector/type`, sorted, without duplicates.
    pub findings: Vec<String>,
    /// Some finding is a secret, or personal data of high severity (card, id number…):
    /// the call handles something sensitive (marks its run).
    #[serde(default)]
    pub sensitive_findings: bool,
    /// Flags from the run's history (`refused`, `sensitive`, labels rules attached), sorted.
    pub context: Vec<String>,
}

impl CallFeatures {
    /// The features of a call.
    pub fn of(
        route: &str,
        tool: &str,
        caller: &str,
        args: Option<&Value>,
        findings: &[crate::guard::Finding],
        context: &[&str],
        hints: Hints<'_>,
    ) -> Self {
        let mut features = Vec::new();
        if let Some(args) = args {
            walk(&hints, args, "", "", false, 0, &mut features);
        }
        features.sort();
        features.dedup();
        if features.len() > MAX_FEATURES {
            features.truncate(MAX_FEATURES);
            features.push(Feature::class("…", "more"));
        }
        let sensitive_findings = findings.iter().any(|f| {
            &*f.detector == "secrets"
                || (&*f.detector == "pii" && f.severity >= crate::guard::Severity::High)
        });
        let mut findings: Vec<String> = findings
            .iter()
            .map(|f| format!("{}/{}", f.detector, f.kind))
            .collect();
        findings.sort();
        findings.dedup();
        let mut context: Vec<String> = context.iter().map(|s| s.to_string()).collect();
        context.sort();
        context.dedup();
        Self {
            route: route.to_string(),
            tool: tool.to_string(),
            caller: caller.to_string(),
            features,
            findings,
            sensitive_findings,
            context,
        }
    }

    /// The fingerprint text with each feature written by `describe` (the same text twice
    /// counts once) and the caller as `caller`.
    pub fn render(&self, caller: &str, describe: impl Fn(&Feature) -> String) -> String {
        let args: Vec<String> = self.features.iter().map(describe).collect();
        fingerprint_text(
            &self.route,
            &self.tool,
            caller,
            args.iter().map(String::as_str),
            &self.findings,
            &self.context,
        )
    }

    /// Set the findings from their `detector/type` names (a call described by hand, as the
    /// admin API's explain takes it): secrets found make the call sensitive.
    pub fn set_findings(&mut self, names: &[String]) {
        let mut v = names.to_vec();
        v.sort();
        v.dedup();
        self.sensitive_findings = v.iter().any(|n| n.starts_with("secrets/"));
        self.findings = v;
    }

    /// The exact fingerprint: every identity as it is.
    pub fn exact(&self) -> Fingerprint {
        Fingerprint::of_text("exact", self.render(&self.caller, Feature::describe))
    }

    /// Keys of the call's identifier values (an invoice number, an account), one per tool,
    /// place and value — a hash, never the value — for its run to remember.
    pub fn id_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.ids().map(|(_, key)| key).collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The identifier features with their run keys.
    fn ids(&self) -> impl Iterator<Item = (&Feature, String)> {
        self.features.iter().filter_map(|f| {
            let v = f.value.as_deref().filter(|_| f.class == "id")?;
            Some((
                f,
                tokens::value_hash(&format!("{}\0{}\0{v}", self.tool, f.at)),
            ))
        })
    }

    /// Flag the identifiers its run already gave this tool (`seen`: the run's
    /// [`Self::id_keys`] so far): `sec0:repeat <place>` in the call's run flags. Paying an
    /// invoice, refunding an order or sending a record a second time in one run is not the
    /// call that did it the first time.
    pub fn mark_repeats<S: std::borrow::Borrow<str> + Ord>(
        &mut self,
        seen: &std::collections::BTreeSet<S>,
    ) {
        if seen.is_empty() {
            return;
        }
        let repeats: Vec<String> = self
            .ids()
            .filter(|(_, key)| seen.contains(key.as_str()))
            .map(|(f, _)| format!("{REPEAT} {}", f.at))
            .collect();
        self.context.extend(repeats);
        self.context.sort();
        self.context.dedup();
    }

    /// Whether the call touches something sensitive (credentials, keys, system
    /// configuration, or secrets and personal data the guard found): marks its run.
    pub fn is_sensitive(&self) -> bool {
        self.features.iter().any(|f| {
            f.class.ends_with("credentials")
                || f.class.ends_with(" keys")
                || f.class.ends_with("system_config")
                || f.class.contains("userinfo")
        }) || self.sensitive_findings
    }
}

/// `s` cut to at most `max` bytes, at a character boundary (analysis is bounded; a value
/// longer than what is analysed is read up to there).
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A fingerprint: a stable id and the text it is the hash of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Hex of the first 8 bytes of SHA-256 over the level and the text.
    pub id: String,
    /// The fingerprint in words.
    pub text: String,
}

impl Fingerprint {
    /// The fingerprint of `text` at `level`.
    pub fn of_text(level: &str, text: String) -> Self {
        let mut h = Sha256::new();
        if level != "exact" {
            h.update(level.as_bytes());
            h.update(b"\n");
        }
        h.update(text.as_bytes());
        Self {
            id: hex::encode(&h.finalize()[..8]),
            text,
        }
    }
}

fn walk(
    hints: &Hints<'_>,
    v: &Value,
    at: &str,
    key: &str,
    money: bool,
    depth: usize,
    out: &mut Vec<Feature>,
) {
    if out.len() > MAX_FEATURES * 2 {
        return;
    }
    let here = if at.is_empty() { "$" } else { at };
    match v {
        Value::Null => out.push(Feature::class(here, "null")),
        Value::Bool(b) => out.push(Feature::class(here, if *b { "true" } else { "false" })),
        Value::Number(n) => out.push(value::number(here, key, money, n.as_f64().unwrap_or(0.0))),
        Value::String(s) => value::string(hints, key, here, s, out),
        Value::Array(a) if a.is_empty() => out.push(Feature::class(here, "array empty")),
        // A command line given as a list of words (`["get", "pods", "-n", "prod"]`) is one
        // command line.
        Value::Array(a) if value::is_arguments_key(key) && a.iter().all(Value::is_string) => {
            let words: Vec<&str> = a.iter().take(256).filter_map(Value::as_str).collect();
            // A word that cannot be quoted (a NUL) leaves the list as it is: plain text.
            let line = shlex::try_join(words.iter().copied()).unwrap_or_else(|_| words.join(" "));
            value::string(hints, key, here, &line, out);
        }
        // One value or a list of them means the same: `to: "a@x"` and `to: ["a@x", "b@y"]`
        // give features at the same place.
        Value::Array(a) => {
            for x in a.iter().take(MAX_ELEMENTS) {
                walk(hints, x, at, key, money, depth + 1, out);
            }
        }
        Value::Object(m) if m.is_empty() => out.push(Feature::class(here, "object empty")),
        Value::Object(_) if depth >= MAX_DEPTH => out.push(Feature::class(here, "object")),
        Value::Object(m) => {
            let money = m.keys().any(|k| value::is_currency_key(k));
            for (k, x) in m {
                let k: &str = if k.len() > MAX_KEY {
                    cut(k, MAX_KEY)
                } else {
                    k
                };
                let child = if at.is_empty() {
                    k.to_string()
                } else {
                    format!("{at}.{k}")
                };
                walk(hints, x, &child, k, money, depth + 1, out);
            }
        }
    }
}

/// The text a fingerprint is the hash of, one format for every level: route, tool, caller,
/// the arguments' descriptions (sorted, the same text twice counting once), findings and
/// the run's flags.
pub fn fingerprint_text<'a>(
    route: &str,
    tool: &str,
    caller: &str,
    args: impl IntoIterator<Item = &'a str>,
    findings: &[String],
    run: &[String],
) -> String {
    let args: std::collections::BTreeSet<&str> = args.into_iter().collect();
    format!(
        "route {route}, tool {tool}, caller {caller}, args {{{}}}, findings [{}], run [{}]",
        args.into_iter().collect::<Vec<_>>().join(", "),
        findings.join(", "),
        run.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(tool: &str, args: Value, h: Hints<'_>) -> CallFeatures {
        CallFeatures::of("r", tool, "c", Some(&args), &[], &[], h)
    }

    fn described(args: Value) -> Vec<String> {
        CallFeatures::of("r", "t", "c", Some(&args), &[], &[], Hints::default())
            .features
            .iter()
            .map(Feature::describe)
            .collect()
    }

    #[test]
    fn an_identifier_the_run_gave_the_tool_before_is_a_repeat() {
        let pay = |tool: &str, invoice: &str| {
            CallFeatures::of(
                "r",
                tool,
                "c",
                Some(&json!({"invoice": invoice, "vendor": "V-1010", "amount": 20})),
                &[],
                &[],
                Hints::default(),
            )
        };
        let first = pay("pay", "AP-2026-0042");
        let keys: std::collections::BTreeSet<String> = first.id_keys().into_iter().collect();
        // Hashes, never the values.
        assert_eq!(keys.len(), 2);
        assert!(
            keys.iter()
                .all(|k| k.starts_with('#') && !k.contains("0042"))
        );
        // The same invoice again: a repeat of both identifiers.
        let mut again = pay("pay", "AP-2026-0042");
        again.mark_repeats(&keys);
        assert_eq!(again.context, ["sec0:repeat invoice", "sec0:repeat vendor"]);
        // Another invoice of the same vendor: only the vendor repeats.
        let mut next = pay("pay", "AP-2026-0043");
        next.mark_repeats(&keys);
        assert_eq!(next.context, ["sec0:repeat vendor"]);
        // Another tool given the same values: no repeat (keys are per tool).
        let mut other = pay("refund", "AP-2026-0042");
        other.mark_repeats(&keys);
        assert!(other.context.is_empty());
    }

    #[test]
    fn arguments_become_typed_features() {
        let f = described(json!({
            "vendor": "https://pay.acme.test/v1/pay?x=1",
            "amount": 1234.5,
            "currency": "eur",
            "invoice": "INV-0042",
            "to": ["ann@corp.test", "Bob <bob@outside.test>"],
            "path": "/srv/reports/daily-7.csv",
            "when": "2026-12-01T10:00:00Z",
            "id": "8c0e2f4a-1b2c-4d5e-8f90-123456789abc",
            "note": "please pay the invoice, details at https://paste.example/x",
            "dry_run": false,
            "fields": "email, orders",
        }));
        for want in [
            "amount=money 1e3",
            "currency=word eur",
            "invoice=id INV-dddd",
            "to=email corp.test",
            "to=email outside.test",
            "path=path data /srv/reports",
            "path:ext=ext csv",
            "vendor=url https public pay.acme.test",
            "vendor:path=url path v1",
            "vendor:query=query short",
            "when=time",
            "id=id uuid",
            "note=text short",
            "note~url=url public paste.example",
            "dry_run=false",
            "fields=word email",
            "fields=word orders",
        ] {
            assert!(f.contains(&want.to_string()), "{want} not in {f:?}");
        }
    }

    #[test]
    fn meaning_separates_what_shape_would_not() {
        let a = of(
            "shell",
            json!({"cmd": "rm -rf /"}),
            Hints {
                tool: "shell",
                ..Hints::default()
            },
        );
        let b = of(
            "shell",
            json!({"cmd": "ls -la /srv/app"}),
            Hints {
                tool: "shell",
                ..Hints::default()
            },
        );
        assert_ne!(a.exact().id, b.exact().id);
        let c = of(
            "shell",
            json!({"cmd": "ls -la /srv/app"}),
            Hints {
                tool: "shell",
                ..Hints::default()
            },
        );
        assert_eq!(b.exact(), c.exact(), "deterministic");
    }

    #[test]
    fn internal_domains_and_sensitivity() {
        let domains = vec!["corp.test".to_string()];
        let h = Hints {
            tool: "mail",
            internal_domains: &domains,
        };
        let f = of("mail", json!({"to": "a@eu.corp.test"}), h);
        assert_eq!(f.features[0].class, "email internal");
        let f = of("mail", json!({"to": "a@corp-test.example"}), h);
        assert_eq!(f.features[0].class, "email external");
        let f = of("read", json!({"path": "~/.aws/credentials"}), h);
        assert!(f.is_sensitive());
    }

    #[test]
    fn walks_are_bounded() {
        let mut deep = json!("x");
        for _ in 0..100 {
            deep = json!({ "a": deep });
        }
        assert_eq!(described(deep), vec!["a.a.a.a=object"]);
        let wide: serde_json::Map<String, Value> =
            (0..500).map(|i| (format!("k{i}"), json!(i))).collect();
        let f = CallFeatures::of(
            "r",
            "t",
            "c",
            Some(&Value::Object(wide)),
            &[],
            &[],
            Hints::default(),
        );
        assert_eq!(f.features.len(), MAX_FEATURES + 1);
    }
}

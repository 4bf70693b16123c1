//! Learning from answers: each escalated call has a **fingerprint** — route, tool (or
//! method), caller, the *shape* of its arguments (keys, types and coarse value classes: URL
//! host, e-mail domain, path prefix, number magnitude) and the finding types. After
//! `auto_allow_after` approvals and no rejection of a fingerprint within `window`, matching
//! calls are allowed with reason `precedent`; after `auto_deny_after` rejections they are
//! denied. Any rejection revokes an auto-allow. A precedent only ever replaces an
//! escalation: it never overrides a `deny` rule (deny is decided first, and wins).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Learning settings.
#[derive(Debug, Clone, Copy)]
pub struct LearnConfig {
    /// Whether precedents are formed and applied.
    pub enabled: bool,
    /// Approvals (with no rejection) that make a precedent to allow.
    pub auto_allow_after: u32,
    /// Rejections that make a precedent to deny.
    pub auto_deny_after: u32,
    /// Answers older than this do not count.
    pub window: Duration,
}

/// Count one answer for `fp` in `tallies`.
fn count(
    tallies: &mut HashMap<String, (Fingerprint, Tally)>,
    fp: &Fingerprint,
    approved: bool,
    at: Instant,
) {
    let (_, t) = tallies
        .entry(fp.id.clone())
        .or_insert_with(|| (fp.clone(), Tally::default()));
    if approved {
        t.approvals.push(at);
    } else {
        t.rejections.push(at);
    }
}

/// What a precedent decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Allowed without review.
    Allow,
    /// Denied without review.
    Deny,
}

/// The shape of a call that escalations are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Fingerprint {
    /// Stable id (hex of a SHA-256 over the parts).
    pub id: String,
    /// Human-readable form (`route tools, tool pay, caller a, args {amount: number:1e3}`).
    pub text: String,
}

/// Describe `args` by shape: keys, types and coarse value classes (never values).
pub fn shape(args: Option<&Value>) -> String {
    fn class(v: &Value, depth: usize) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => format!("bool:{b}"),
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0).abs();
                if x < 1.0 {
                    "number:<1".into()
                } else {
                    format!("number:1e{}", x.log10().floor() as i64)
                }
            }
            Value::String(s) => string_class(s),
            Value::Array(a) => format!(
                "array[{}]",
                a.first().map_or("".into(), |x| class(x, depth + 1))
            ),
            Value::Object(m) if depth < 2 => {
                let inner: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", class(v, depth + 1)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            Value::Object(_) => "object".into(),
        }
    }
    args.map_or("-".into(), |a| class(a, 0))
}

fn string_class(s: &str) -> String {
    let t = s.trim();
    if let Some(rest) = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
    {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        return format!("url:{}", host.to_ascii_lowercase());
    }
    if let Some((_, domain)) = t
        .split_once('@')
        .filter(|(l, d)| !l.is_empty() && d.contains('.') && !t.contains(' '))
    {
        return format!("email:@{}", domain.to_ascii_lowercase());
    }
    if t.starts_with('/') {
        let prefix: Vec<&str> = t.split('/').filter(|p| !p.is_empty()).take(2).collect();
        return format!("path:/{}", prefix.join("/"));
    }
    if t.len() <= 32
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        // Short identifiers (enums, modes) are part of the shape.
        return format!("word:{}", t.to_ascii_lowercase());
    }
    "text".into()
}

impl Fingerprint {
    /// The fingerprint of the call `facts` describes.
    pub fn of_call(facts: &crate::policy::CallFacts<'_>) -> Self {
        let kinds: Vec<String> = facts.findings.iter().map(|f| f.kind.to_string()).collect();
        Self::of(
            facts.route,
            facts.tool.or(facts.method).unwrap_or("-"),
            facts.caller,
            facts.args,
            &kinds,
        )
    }

    /// The fingerprint of a call.
    pub fn of(
        route: &str,
        tool_or_method: &str,
        caller: &str,
        args: Option<&Value>,
        finding_types: &[String],
    ) -> Self {
        let mut f = finding_types.to_vec();
        f.sort();
        f.dedup();
        let text = format!(
            "route {route}, {tool_or_method}, caller {caller}, args {}, findings [{}]",
            shape(args),
            f.join(", ")
        );
        let id = hex::encode(&Sha256::digest(text.as_bytes())[..8]);
        Self { id, text }
    }
}

#[derive(Debug, Default, Clone)]
struct Tally {
    approvals: Vec<Instant>,
    rejections: Vec<Instant>,
}

/// A precedent, as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Precedent {
    /// `precedent-<fingerprint id>`.
    pub id: String,
    /// The fingerprint it covers.
    pub fingerprint: String,
    /// What it decides.
    pub verdict: Verdict,
    /// Approvals and rejections in the window.
    pub approvals: usize,
    /// Rejections in the window.
    pub rejections: usize,
}

/// Answers by fingerprint, and the precedents they make.
pub struct Precedents {
    cfg: LearnConfig,
    tallies: Mutex<HashMap<String, (Fingerprint, Tally)>>,
}

impl Precedents {
    /// An empty store.
    pub fn new(cfg: LearnConfig) -> Self {
        Self {
            cfg,
            tallies: Mutex::new(HashMap::new()),
        }
    }

    /// Learn from a reviewer's answer to a call with fingerprint `fp`.
    pub fn learn(&self, fp: &Fingerprint, approved: bool, at: Instant) {
        if !self.cfg.enabled {
            return;
        }
        if let Ok(mut m) = self.tallies.lock() {
            count(&mut m, fp, approved, at);
        }
    }

    fn verdict_of(&self, t: &Tally, now: Instant) -> Option<Verdict> {
        let recent = |v: &Vec<Instant>| {
            v.iter()
                .filter(|&&x| now.duration_since(x) <= self.cfg.window)
                .count()
        };
        let (a, r) = (recent(&t.approvals), recent(&t.rejections));
        if self.cfg.auto_deny_after > 0 && r >= self.cfg.auto_deny_after as usize {
            Some(Verdict::Deny)
        } else if self.cfg.auto_allow_after > 0 && r == 0 && a >= self.cfg.auto_allow_after as usize
        {
            Some(Verdict::Allow)
        } else {
            None
        }
    }

    /// The precedent for `fp`, if one decides it now: `(precedent id, verdict)`.
    pub fn decide(&self, fp: &Fingerprint, now: Instant) -> Option<(String, Verdict)> {
        if !self.cfg.enabled {
            return None;
        }
        let m = self.tallies.lock().ok()?;
        let (_, t) = m.get(&fp.id)?;
        self.verdict_of(t, now)
            .map(|v| (format!("precedent-{}", fp.id), v))
    }

    /// Every precedent in force, by id.
    pub fn list(&self, now: Instant) -> Vec<Precedent> {
        let Ok(m) = self.tallies.lock() else {
            return Vec::new();
        };
        let mut v: BTreeMap<String, Precedent> = BTreeMap::new();
        for (fp, t) in m.values() {
            if let Some(verdict) = self.verdict_of(t, now) {
                v.insert(
                    fp.id.clone(),
                    Precedent {
                        id: format!("precedent-{}", fp.id),
                        fingerprint: fp.text.clone(),
                        verdict,
                        approvals: t.approvals.len(),
                        rejections: t.rejections.len(),
                    },
                );
            }
        }
        v.into_values().collect()
    }

    /// The learning window (answers older than it do not count).
    pub fn window(&self) -> Duration {
        self.cfg.window
    }

    /// Forget every answer and learn these instead (a replica loading the shared store's
    /// answers); answers without a time (`None`) are skipped.
    pub fn replace(&self, answers: impl IntoIterator<Item = (Fingerprint, bool, Option<Instant>)>) {
        let mut fresh: HashMap<String, (Fingerprint, Tally)> = HashMap::new();
        for (fp, approved, at) in answers {
            if let Some(at) = at {
                count(&mut fresh, &fp, approved, at);
            }
        }
        if let Ok(mut m) = self.tallies.lock() {
            *m = fresh;
        }
    }

    /// Revoke a precedent (its fingerprint's answers are forgotten).
    pub fn revoke(&self, id: &str) -> bool {
        let key = id.strip_prefix("precedent-").unwrap_or(id);
        self.tallies
            .lock()
            .is_ok_and(|mut m| m.remove(key).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> LearnConfig {
        LearnConfig {
            enabled: true,
            auto_allow_after: 3,
            auto_deny_after: 2,
            window: Duration::from_secs(3600),
        }
    }

    #[test]
    fn shapes_keep_classes_not_values() {
        assert_eq!(
            shape(Some(
                &json!({"to": "https://api.vendor.test/pay?x=1", "amount": 1234.5, "who": "ann@corp.test", "path": "/srv/data/x.csv", "mode": "fast", "note": "pay the invoice please"})
            )),
            "{amount: number:1e3, mode: word:fast, note: text, path: path:/srv/data, to: url:api.vendor.test, who: email:@corp.test}"
        );
        let a = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 120})), &[]);
        let b = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 180})), &[]);
        let c = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 18000})), &[]);
        assert_eq!(a, b, "same magnitude, same fingerprint");
        assert_ne!(a, c, "another magnitude, another fingerprint");
    }

    #[test]
    fn approvals_make_a_precedent_and_one_rejection_revokes_it() {
        let p = Precedents::new(cfg());
        let fp = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 120})), &[]);
        let t = Instant::now();
        for _ in 0..2 {
            p.learn(&fp, true, t);
        }
        assert_eq!(p.decide(&fp, t), None, "two approvals are not enough");
        p.learn(&fp, true, t);
        assert_eq!(p.decide(&fp, t).map(|x| x.1), Some(Verdict::Allow));
        p.learn(&fp, false, t);
        assert_eq!(p.decide(&fp, t), None, "a rejection revokes the auto-allow");
        p.learn(&fp, false, t);
        assert_eq!(p.decide(&fp, t).map(|x| x.1), Some(Verdict::Deny));
        assert_eq!(p.list(t).len(), 1);
        assert!(p.revoke(&format!("precedent-{}", fp.id)));
        assert_eq!(p.decide(&fp, t), None);
    }

    #[test]
    fn answers_loaded_from_the_shared_store_replace_what_was_known() {
        let p = Precedents::new(cfg());
        let fp = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 120})), &[]);
        let other = Fingerprint::of("r", "pay", "c", Some(&json!({"amount": 12_000})), &[]);
        let t = Instant::now();
        p.learn(&other, false, t);
        p.learn(&other, false, t);
        assert!(p.decide(&other, t).is_some());
        p.replace([
            (fp.clone(), true, Some(t)),
            (fp.clone(), true, Some(t)),
            (fp.clone(), true, None), // no time: skipped
            (fp.clone(), true, Some(t)),
        ]);
        assert_eq!(p.decide(&fp, t).map(|x| x.1), Some(Verdict::Allow));
        assert_eq!(
            p.decide(&other, t),
            None,
            "forgotten: not in the shared store"
        );
        assert_eq!(p.list(t)[0].approvals, 3);
    }
}

//! Retries, only where safe: a call whose connection failed before a byte of it was sent
//! (always), or a call whose methods are all listed as idempotent (then also a broken
//! exchange or a 502/503/504). Every retry goes to another endpoint and spends the
//! upstream's budget: within a second, retries stay under a share of the calls, or a
//! minimum per second. [`Saved`] keeps a request's head to send it again.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use http::request::Parts;
use http::{Method, Request, Uri, Version};
use serde::Deserialize;

use crate::config::RetryConfig;

/// What may be retried on one upstream.
pub struct RetryPolicy {
    /// Tries per call, the first included.
    pub attempts: u32,
    methods: Vec<String>,
    budget: RetryBudget,
}

impl RetryPolicy {
    /// From the config (`None`: the defaults, which retry only failed connects).
    pub fn new(cfg: Option<&RetryConfig>) -> Self {
        let d = RetryConfig::default();
        let cfg = cfg.unwrap_or(&d);
        Self {
            attempts: cfg.attempts.max(1),
            methods: cfg.methods.clone(),
            budget: RetryBudget::new(cfg.budget.percent, cfg.budget.min_per_second),
        }
    }

    /// Whether idempotent methods are configured at all.
    pub fn has_methods(&self) -> bool {
        !self.methods.is_empty()
    }

    /// The budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.budget
    }

    /// Whether the call is idempotent: on a JSON-RPC route every message of `body` has a
    /// listed method; elsewhere the HTTP `method` is listed.
    pub fn idempotent(&self, jsonrpc_body: Option<&[u8]>, method: &Method) -> bool {
        if self.methods.is_empty() {
            return false;
        }
        let listed = |m: &str| self.methods.iter().any(|x| x == m);
        match jsonrpc_body {
            Some(b) => jsonrpc_methods(b).is_some_and(|ms| {
                !ms.is_empty() && ms.iter().all(|m| m.as_deref().is_some_and(listed))
            }),
            None => listed(method.as_str()),
        }
    }
}

#[derive(Deserialize)]
struct MethodOnly {
    method: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrBatch {
    One(MethodOnly),
    Batch(Vec<MethodOnly>),
}

/// The `method` of each message of a JSON-RPC body (`None` for a response), or `None`
/// when it does not parse.
fn jsonrpc_methods(body: &[u8]) -> Option<Vec<Option<String>>> {
    match serde_json::from_slice::<OneOrBatch>(body).ok()? {
        OneOrBatch::One(m) => Some(vec![m.method]),
        OneOrBatch::Batch(v) => Some(v.into_iter().map(|m| m.method).collect()),
    }
}

/// Retries per second as a share of calls, with a floor. Counted in one-second windows,
/// shared by every worker (atomics; a window's reset may race, which only blurs a count).
pub struct RetryBudget {
    percent: u32,
    min_per_second: u32,
    window: AtomicU64,
    calls: AtomicU32,
    retries: AtomicU32,
}

impl RetryBudget {
    /// A budget of `percent` % of calls, at least `min_per_second`.
    pub fn new(percent: u32, min_per_second: u32) -> Self {
        Self {
            percent,
            min_per_second,
            window: AtomicU64::new(0),
            calls: AtomicU32::new(0),
            retries: AtomicU32::new(0),
        }
    }

    fn roll(&self, now_ms: u64) {
        let second = now_ms / 1000;
        let w = self.window.load(Ordering::Relaxed);
        if w != second
            && self
                .window
                .compare_exchange(w, second, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.calls.store(0, Ordering::Relaxed);
            self.retries.store(0, Ordering::Relaxed);
        }
    }

    /// Count a call at `now_ms`.
    pub fn note_call(&self, now_ms: u64) {
        self.roll(now_ms);
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Spend one retry at `now_ms`, if the budget has one.
    pub fn try_retry(&self, now_ms: u64) -> bool {
        self.roll(now_ms);
        let calls = u64::from(self.calls.load(Ordering::Relaxed));
        let share = calls * u64::from(self.percent) / 100;
        let allowed = share.max(u64::from(self.min_per_second));
        let mut cur = self.retries.load(Ordering::Relaxed);
        loop {
            if u64::from(cur) >= allowed {
                return false;
            }
            match self.retries.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => cur = seen,
            }
        }
    }
}

/// A request head kept to send the call again.
pub struct Saved {
    method: Method,
    uri: Uri,
    version: Version,
    headers: http::HeaderMap,
}

impl Saved {
    /// The head of `p`, kept.
    pub fn of(p: &Parts) -> Self {
        Self {
            method: p.method.clone(),
            uri: p.uri.clone(),
            version: p.version,
            headers: p.headers.clone(),
        }
    }

    /// A copy of the kept head.
    pub fn parts(&self) -> Parts {
        let (mut p, ()) = Request::new(()).into_parts();
        p.method = self.method.clone();
        p.uri = self.uri.clone();
        p.version = self.version;
        p.headers = self.headers.clone();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RetryBudgetConfig;

    #[test]
    fn budget_is_a_share_of_calls_with_a_floor() {
        let b = RetryBudget::new(20, 2);
        let t = 5_000;
        assert!(b.try_retry(t) && b.try_retry(t), "the floor");
        assert!(!b.try_retry(t));
        for _ in 0..50 {
            b.note_call(t);
        }
        // 20% of 50 = 10 retries in this second, 2 spent.
        let more = (0..20).filter(|_| b.try_retry(t + 10)).count();
        assert_eq!(more, 8);
        // A new second, a new budget.
        assert!(b.try_retry(t + 1_000));
    }

    #[test]
    fn zero_budget_retries_nothing() {
        let b = RetryBudget::new(0, 0);
        b.note_call(1);
        assert!(!b.try_retry(1));
    }

    fn policy(methods: &[&str]) -> RetryPolicy {
        RetryPolicy::new(Some(&RetryConfig {
            methods: methods.iter().map(|s| s.to_string()).collect(),
            attempts: 3,
            budget: RetryBudgetConfig::default(),
        }))
    }

    #[test]
    fn only_listed_methods_are_idempotent() {
        let p = policy(&["tools/list", "resources/read", "GET"]);
        let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}}"#;
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"resources/read"}]"#;
        let mixed = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call"}]"#;
        assert!(p.idempotent(Some(list), &Method::POST));
        assert!(!p.idempotent(Some(call), &Method::POST));
        assert!(p.idempotent(Some(batch), &Method::POST));
        assert!(
            !p.idempotent(Some(mixed), &Method::POST),
            "one tools/call spoils it"
        );
        assert!(!p.idempotent(Some(b"[]"), &Method::POST));
        assert!(!p.idempotent(Some(b"not json"), &Method::POST));
        assert!(p.idempotent(None, &Method::GET));
        assert!(!p.idempotent(None, &Method::POST));
    }

    #[test]
    fn by_default_nothing_is_idempotent() {
        let p = RetryPolicy::new(None);
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#;
        assert!(!p.idempotent(Some(call), &Method::POST));
        assert!(!p.idempotent(None, &Method::GET));
        assert_eq!(p.attempts, 3);
    }
}

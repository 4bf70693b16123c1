//! An upstream served by several endpoints: the endpoint list (or a DNS name resolved and
//! refreshed, as a Kubernetes headless Service gives), how calls are balanced over them,
//! active health checks, passive outlier ejection, the circuit breaker and safe retries.
//! Checked in `validate.rs` (`check_fleet`); run by `crate::forward::fleet`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `upstreams.<name>.dns`: endpoints are the addresses `name` resolves to, re-resolved
/// every `refresh` (a headless Service's pod addresses).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The name to resolve (`tools.default.svc.cluster.local`).
    pub name: String,
    /// The port every address is reached on.
    pub port: u16,
    /// `http` (default) or `https` (then set `tls.server_name`: the certificate names the
    /// service, not a pod address).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// A base path prepended to every forwarded path, as a `url`'s path is.
    #[serde(default)]
    pub path: String,
    /// How often the name is resolved again.
    #[serde(default = "default_refresh", with = "humantime_serde")]
    pub refresh: Duration,
}

fn default_scheme() -> String {
    "http".into()
}
fn default_refresh() -> Duration {
    Duration::from_secs(5)
}

/// `upstreams.<name>.balance`: which endpoint a call goes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balance {
    /// Each endpoint in turn (default).
    #[default]
    RoundRobin,
    /// The endpoint with the fewest calls waiting for their answer.
    LeastRequest,
    /// MCP sessions stay where they were created: the `Mcp-Session-Id` an answer gives is
    /// remembered with its endpoint; calls without a session go round robin, and a session
    /// this replica does not know is placed by its hash (the same on every replica). With
    /// `sessions.affinity_key_*`, the id is sealed to its endpoint instead (any replica).
    Session,
}

/// `upstreams.<name>.sessions`: how `balance: session` finds a session's endpoint. Without
/// an affinity key, a map in each replica (sessions another replica created are placed by
/// hash, which may miss); with one, the session id handed to the client names its endpoint,
/// authenticated by the key every replica shares (`crate::forward::affinity`), and no map is
/// kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionMapConfig {
    /// Sessions remembered at most (least recently used forgotten first).
    pub max: usize,
    /// A session unused this long is forgotten.
    #[serde(with = "humantime_serde")]
    pub idle_ttl: Duration,
    /// A file holding the affinity key (at least 32 bytes; surrounding whitespace is
    /// ignored), the same on every replica. Read when the upstream is set up: a gateway
    /// whose key cannot be read does not start (a reload keeps the running config).
    pub affinity_key_file: Option<PathBuf>,
    /// An environment variable holding the affinity key (instead of a file).
    pub affinity_key_env: Option<String>,
}

impl Default for SessionMapConfig {
    fn default() -> Self {
        Self {
            max: 100_000,
            idle_ttl: Duration::from_secs(3600),
            affinity_key_file: None,
            affinity_key_env: None,
        }
    }
}

/// The shortest affinity key accepted, in bytes (HMAC-SHA-256 wants at least its output).
pub const MIN_AFFINITY_KEY: usize = 32;
/// The longest affinity key read, in bytes (a size cap on what is read).
const MAX_AFFINITY_KEY: usize = 4096;

impl SessionMapConfig {
    /// Whether an affinity key is configured.
    pub fn has_affinity_key(&self) -> bool {
        self.affinity_key_file.is_some() || self.affinity_key_env.is_some()
    }

    /// The affinity key's bytes (`None`: none configured), or why it cannot be had. The
    /// message names the file or variable, never the value.
    pub fn affinity_key(&self) -> Result<Option<Vec<u8>>, String> {
        let raw = match (&self.affinity_key_file, &self.affinity_key_env) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err("give affinity_key_file or affinity_key_env, not both".into());
            }
            (Some(path), None) => {
                let meta =
                    std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
                if meta.len() > MAX_AFFINITY_KEY as u64 {
                    return Err(format!(
                        "{}: longer than {MAX_AFFINITY_KEY} bytes",
                        path.display()
                    ));
                }
                std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            (None, Some(var)) => std::env::var_os(var)
                .ok_or_else(|| format!("environment variable {var} is not set"))?
                .into_encoded_bytes(),
        };
        let key = raw.trim_ascii();
        if key.len() < MIN_AFFINITY_KEY || key.len() > MAX_AFFINITY_KEY {
            return Err(format!(
                "the affinity key must be {MIN_AFFINITY_KEY} to {MAX_AFFINITY_KEY} bytes"
            ));
        }
        Ok(Some(key.to_vec()))
    }
}

/// `upstreams.<name>.health_check`: an active probe of every endpoint (optional).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// The path probed with GET; a 2xx or 3xx answer is healthy.
    pub path: String,
    /// Time between probes of one endpoint.
    #[serde(default = "default_hc_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// A probe without an answer head this soon has failed.
    #[serde(default = "default_hc_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive good probes that bring an unhealthy endpoint back.
    #[serde(default = "default_two")]
    pub healthy_threshold: u32,
    /// Consecutive failed probes that take an endpoint out.
    #[serde(default = "default_three")]
    pub unhealthy_threshold: u32,
}

fn default_hc_interval() -> Duration {
    Duration::from_secs(10)
}
fn default_hc_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_two() -> u32 {
    2
}
fn default_three() -> u32 {
    3
}

/// `upstreams.<name>.outlier`: passive ejection of an endpoint that keeps failing. On by
/// default for an upstream with several endpoints; a threshold of 0 turns its check off.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutlierConfig {
    /// Consecutive failed connects that eject an endpoint.
    pub consecutive_connect_failures: u32,
    /// Consecutive 5xx answers that eject an endpoint.
    pub consecutive_5xx: u32,
    /// An ejection lasts this long times the endpoint's ejections so far.
    #[serde(with = "humantime_serde")]
    pub base_ejection_time: Duration,
    /// The longest one ejection lasts.
    #[serde(with = "humantime_serde")]
    pub max_ejection_time: Duration,
    /// At most this share of the endpoints is ejected at once (at least one may be, when
    /// there are two or more).
    pub max_ejection_percent: u32,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            consecutive_connect_failures: 3,
            consecutive_5xx: 5,
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 50,
        }
    }
}

/// `upstreams.<name>.circuit_breaker`: limits past which calls are refused at once with
/// 503 (a JSON-RPC error on JSON-RPC routes) instead of piling onto a slow upstream.
/// Counted over all endpoints and all workers of this replica. Unset limits do not apply.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitBreakerConfig {
    /// Open connections to the upstream; a call that needs one more waits (pending).
    pub max_connections: Option<usize>,
    /// Calls waiting for a connection under `max_connections`; one more is refused.
    pub max_pending: Option<usize>,
    /// Calls sent and waiting for their answer's head; one more is refused.
    pub max_requests: Option<usize>,
}

/// `upstreams.<name>.retry`: which failed calls are sent again, to another endpoint. A call
/// whose connection failed before a byte of it was sent is always safe; other failures
/// (the connection broke, 502/503/504) only for the `methods` listed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Idempotent methods: JSON-RPC methods on JSON-RPC routes (every message of a batch
    /// must be one), HTTP methods on `http` routes. Empty by default; `tools/call` has side
    /// effects and is never retried unless listed.
    pub methods: Vec<String>,
    /// Tries per call, the first included.
    pub attempts: u32,
    /// How many retries the upstream may get.
    pub budget: RetryBudgetConfig,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            methods: Vec::new(),
            attempts: 3,
            budget: RetryBudgetConfig::default(),
        }
    }
}

/// `retry.budget`: retries within a second stay under `percent` of that second's calls, or
/// `min_per_second`, whichever is more — a failing fleet is not hit twice as hard.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryBudgetConfig {
    /// Retries as a share of calls, in percent.
    pub percent: u32,
    /// Retries allowed per second whatever the traffic.
    pub min_per_second: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self {
            percent: 20,
            min_per_second: 3,
        }
    }
}

/// The problems of upstream `name` (key path, message): where its endpoints come from and
/// the settings of several endpoints.
pub(super) fn check(name: &str, up: &super::UpstreamConfig) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let key = |k: &str| format!("upstreams.{name}.{k}");
    let mut bad = |k: String, m: String| out.push((k, m));
    let sources = usize::from(up.url.is_some())
        + usize::from(!up.endpoints.is_empty())
        + usize::from(up.dns.is_some());
    match sources {
        0 => bad(
            format!("upstreams.{name}"),
            "one of `url`, `endpoints` or `dns` is required".into(),
        ),
        1 => {}
        _ => bad(
            format!("upstreams.{name}"),
            "only one of `url`, `endpoints` and `dns` may be set".into(),
        ),
    }
    if let Some(url) = &up.url {
        if let Err(m) = super::validate::check_upstream_url(url) {
            bad(key("url"), m);
        }
    }
    let mut base: Option<(String, String)> = None;
    let mut seen = std::collections::HashSet::new();
    for (i, url) in up.endpoints.iter().enumerate() {
        let k = format!("upstreams.{name}.endpoints[{i}]");
        if let Err(m) = super::validate::check_upstream_url(url) {
            bad(k, m);
            continue;
        }
        let Ok(uri) = url.parse::<http::Uri>() else {
            continue;
        };
        let here = (
            uri.scheme_str().unwrap_or("").to_string(),
            uri.path().trim_end_matches('/').to_string(),
        );
        if !seen.insert(uri.authority().map(|a| a.as_str().to_ascii_lowercase())) {
            bad(k.clone(), format!("{url:?} is listed twice"));
        }
        match &base {
            None => base = Some(here),
            Some(b) if *b != here => bad(
                k,
                format!(
                    "every endpoint must have the same scheme and path as the first ({}://…{})",
                    b.0, b.1
                ),
            ),
            Some(_) => {}
        }
    }
    if let Some(d) = &up.dns {
        if d.name.trim().is_empty() || d.name.contains(['/', ':', ' ']) {
            bad(key("dns.name"), format!("{:?} is not a host name", d.name));
        }
        if d.port == 0 {
            bad(key("dns.port"), "must be a port above 0".into());
        }
        if d.scheme != "http" && d.scheme != "https" {
            bad(key("dns.scheme"), "must be http or https".into());
        }
        if !d.path.is_empty() && !d.path.starts_with('/') {
            bad(key("dns.path"), "must start with /".into());
        }
        if d.refresh < Duration::from_millis(100) {
            bad(key("dns.refresh"), "must be at least 100ms".into());
        }
    }
    if let Some(h) = &up.health_check {
        if !h.path.starts_with('/') {
            bad(key("health_check.path"), "must start with /".into());
        }
        if h.interval.is_zero() || h.timeout.is_zero() {
            bad(
                key("health_check"),
                "interval and timeout must be greater than 0".into(),
            );
        }
        if h.healthy_threshold == 0 || h.unhealthy_threshold == 0 {
            bad(
                key("health_check"),
                "healthy_threshold and unhealthy_threshold must be at least 1".into(),
            );
        }
    }
    if let Some(o) = &up.outlier {
        if o.max_ejection_percent > 100 {
            bad(
                key("outlier.max_ejection_percent"),
                "must be between 0 and 100".into(),
            );
        }
        if o.base_ejection_time.is_zero() || o.max_ejection_time < o.base_ejection_time {
            bad(
                key("outlier"),
                "base_ejection_time must be greater than 0 and at most max_ejection_time".into(),
            );
        }
    }
    if let Some(c) = &up.circuit_breaker {
        for (k, v) in [
            ("max_connections", c.max_connections),
            ("max_pending", c.max_pending),
            ("max_requests", c.max_requests),
        ] {
            if v == Some(0) {
                bad(
                    key(&format!("circuit_breaker.{k}")),
                    "must be at least 1 (leave it out for no limit)".into(),
                );
            }
        }
        if c.max_pending.is_some() && c.max_connections.is_none() {
            bad(
                key("circuit_breaker.max_pending"),
                "counts calls waiting for a connection under max_connections, which is not set"
                    .into(),
            );
        }
    }
    if let Some(r) = &up.retry {
        if !(1..=5).contains(&r.attempts) {
            bad(key("retry.attempts"), "must be between 1 and 5".into());
        }
        if r.budget.percent > 100 {
            bad(
                key("retry.budget.percent"),
                "must be between 0 and 100".into(),
            );
        }
        if r.methods.iter().any(|m| m.trim().is_empty()) {
            bad(key("retry.methods"), "a method name is empty".into());
        }
    }
    if up.balance == Balance::Session && (up.sessions.max == 0 || up.sessions.idle_ttl.is_zero()) {
        bad(
            key("sessions"),
            "max and idle_ttl must be greater than 0".into(),
        );
    }
    // The key itself is read when the upstream is set up (start, reload), where it is
    // used: `check` on another machine has neither the Secret's file nor its variable.
    if up.sessions.has_affinity_key() {
        if up.balance != Balance::Session {
            bad(
                key("sessions"),
                "an affinity key places calls by MCP session: it needs `balance: session`".into(),
            );
        }
        if up.sessions.affinity_key_file.is_some() && up.sessions.affinity_key_env.is_some() {
            bad(
                key("sessions"),
                "give affinity_key_file or affinity_key_env, not both".into(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::load_from_str;
    use std::collections::HashMap;

    fn problems(upstream: &str) -> String {
        let y = format!(
            "listen: 127.0.0.1:8080\nadmin: {{ listen: 127.0.0.1:9090 }}\nupstreams:\n  a: {upstream}\nroutes:\n  - {{ upstream: a, protocol: mcp, boundary: agent_to_tool }}\n"
        );
        match load_from_str(&y, "t.yaml", Some(HashMap::new())) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn one_source_of_endpoints() {
        let e = problems("{ connect_timeout: 1s }");
        assert!(
            e.contains("upstreams.a: one of `url`, `endpoints` or `dns` is required"),
            "{e}"
        );
        let e = problems("{ url: 'http://h:1', endpoints: ['http://h:2'] }");
        assert!(
            e.contains("only one of `url`, `endpoints` and `dns`"),
            "{e}"
        );
        assert_eq!(problems("{ endpoints: ['http://h:1', 'http://h:2'] }"), "");
        assert_eq!(problems("{ dns: { name: tools.svc, port: 8080 } }"), "");
    }

    #[test]
    fn endpoints_are_checked_one_by_one() {
        let e = problems("{ endpoints: ['http://h:1', 'ftp://h:2', 'http://h:1'] }");
        assert!(e.contains("upstreams.a.endpoints[1]"), "{e}");
        assert!(
            e.contains("upstreams.a.endpoints[2]: \"http://h:1\" is listed twice"),
            "{e}"
        );
        let e = problems("{ endpoints: ['http://h:1/mcp', 'https://h:2/mcp'] }");
        assert!(e.contains("same scheme and path"), "{e}");
        let e = problems("{ endpoints: ['http://h:1/mcp', 'http://h:2/other'] }");
        assert!(e.contains("endpoints[1]: every endpoint"), "{e}");
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = problems("{ dns: { name: 'a b', port: 0, scheme: ftp, refresh: 1ms } }");
        for k in ["dns.name", "dns.port", "dns.scheme", "dns.refresh"] {
            assert!(e.contains(&format!("upstreams.a.{k}")), "{k}: {e}");
        }
        let e = problems(
            "{ endpoints: ['http://h:1'], health_check: { path: health, healthy_threshold: 0 } }",
        );
        assert!(e.contains("health_check.path: must start with /"), "{e}");
        assert!(
            e.contains("healthy_threshold and unhealthy_threshold"),
            "{e}"
        );
        let e = problems("{ url: 'http://h:1', outlier: { max_ejection_percent: 150 } }");
        assert!(e.contains("outlier.max_ejection_percent"), "{e}");
        let e =
            problems("{ url: 'http://h:1', circuit_breaker: { max_requests: 0, max_pending: 3 } }");
        assert!(
            e.contains("circuit_breaker.max_requests: must be at least 1"),
            "{e}"
        );
        assert!(
            e.contains("circuit_breaker.max_pending: counts calls"),
            "{e}"
        );
        let e = problems("{ url: 'http://h:1', retry: { attempts: 9, budget: { percent: 101 } } }");
        assert!(e.contains("retry.attempts"), "{e}");
        assert!(e.contains("retry.budget.percent"), "{e}");
        let e = problems("{ url: 'http://h:1', balance: sticky }");
        assert!(e.contains("sticky"), "unknown balance is refused: {e}");
    }

    #[test]
    fn an_affinity_key_is_read_and_checked_without_showing_it() {
        let dir = tempfile::tempdir().expect("dir");
        let sessions = |file: &std::path::Path| super::SessionMapConfig {
            affinity_key_file: Some(file.to_path_buf()),
            ..Default::default()
        };
        let short = dir.path().join("short");
        std::fs::write(&short, "not-a-long-secret\n").expect("write");
        let e = sessions(&short).affinity_key().expect_err("short");
        assert!(e.contains("must be 32"), "{e}");
        assert!(!e.contains("not-a-long-secret"), "never the value: {e}");
        let long = dir.path().join("long");
        std::fs::write(&long, format!("  {}\n", "k".repeat(40))).expect("write");
        assert_eq!(
            sessions(&long).affinity_key().expect("key"),
            Some(b"k".repeat(40)),
            "whitespace around it is not part of it"
        );
        let huge = dir.path().join("huge");
        std::fs::write(&huge, "k".repeat(5000)).expect("write");
        assert!(sessions(&huge).affinity_key().is_err(), "size cap");
        let e = sessions(&dir.path().join("missing"))
            .affinity_key()
            .expect_err("missing");
        assert!(e.contains("missing"), "{e}");
        let env = super::SessionMapConfig {
            affinity_key_env: Some("SEC0_TEST_NO_SUCH_VAR_20".into()),
            ..Default::default()
        };
        let e = env.affinity_key().expect_err("unset");
        assert!(e.contains("SEC0_TEST_NO_SUCH_VAR_20 is not set"), "{e}");
        assert_eq!(super::SessionMapConfig::default().affinity_key(), Ok(None));

        let eps = "endpoints: ['http://h:1', 'http://h:2']";
        assert_eq!(
            problems(&format!(
                "{{ {eps}, balance: session, sessions: {{ affinity_key_env: K }} }}"
            )),
            "",
            "the key is read at start, not by `check`"
        );
        let e = problems(&format!(
            "{{ {eps}, sessions: {{ affinity_key_env: K, affinity_key_file: /k }} }}"
        ));
        assert!(e.contains("needs `balance: session`"), "{e}");
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn retries_never_include_tools_call_by_default() {
        let r = super::RetryConfig::default();
        assert!(r.methods.is_empty());
    }
}

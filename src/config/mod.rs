//! Typed gateway configuration.
//!
//! One YAML file (default `config/gateway.yaml`) read with the `config` crate, every key
//! overridable from the environment as `SEC0_GATEWAY__<KEY>` (double underscore nests).
//! Unknown keys are errors (`deny_unknown_fields`) so a typo never silently falls back to a
//! default. [`load`] reads and validates; `validate` holds the cross-field checks.

mod audit;
mod load;
mod oauth;
mod policy;
mod review;
mod security;
mod store;
mod telemetry;
mod upstream;
mod validate;
mod workers;

pub use audit::*;
pub use oauth::*;
pub use policy::*;
pub use review::*;
pub use security::*;
pub use store::*;
pub use telemetry::*;
pub use upstream::*;
pub use workers::Workers;

pub use crate::vocab::{Boundary, Protocol};
pub use load::{ConfigError, load, load_from_str};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytesize::ByteSize;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The whole gateway configuration, as the YAML file spells it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address of the proxy listener (HTTP/1.1 and h2c with prior knowledge).
    pub listen: SocketAddr,
    /// The separate admin listener (health, readiness, metrics).
    pub admin: AdminConfig,
    /// TLS on the proxy listener (plain HTTP without it).
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// How callers prove who they are.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// Run and trace context: who may continue a run, context header limits.
    #[serde(default)]
    pub context: ContextConfig,
    /// Limits and timeouts applied to every downstream connection and request.
    #[serde(default)]
    pub limits: Limits,
    /// Peers whose `X-Forwarded-*` / `Forwarded` headers are kept (and appended to); from
    /// anyone else those headers are replaced, because a caller could forge them.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Named upstreams that routes point at.
    pub upstreams: BTreeMap<String, UpstreamConfig>,
    /// Routes, matched by host and longest path prefix.
    pub routes: Vec<RouteConfig>,
    /// The rules that decide each call; without it every routed call is forwarded.
    #[serde(default)]
    pub policy: Option<PolicyConfig>,
    /// What happens to escalated calls: how long they wait for a reviewer.
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// Learning from reviewers' answers.
    #[serde(default)]
    pub learn: LearnConfig,
    /// Where state shared by replicas lives (memory, or Redis for several replicas).
    #[serde(default)]
    pub store: StoreConfig,
    /// OpenTelemetry trace export (OTLP/HTTP); off unless set.
    #[serde(default)]
    pub otlp: Option<OtlpConfig>,
    /// The guard's settings that are not rules.
    #[serde(default)]
    pub guard: GuardConfig,
    /// Where the audit trail goes (nothing is recorded without it).
    #[serde(default)]
    pub audit: AuditConfig,
    /// How the proxy listener is served: `auto` (one single-threaded worker per core, the
    /// default), a number of such workers, or `shared` (one multi-threaded runtime).
    #[serde(default)]
    pub workers: Workers,
    /// The answers the gateway writes itself: the JSON-RPC codes it invents.
    #[serde(default)]
    pub answers: AnswersConfig,
}

/// `answers:` — how the gateway's own answers look.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswersConfig {
    /// The JSON-RPC codes for refusals and failed authentication.
    pub codes: RefusalCodes,
}

/// `answers.codes`: the JSON-RPC codes the gateway invents (its application range
/// 4010–4039 by default), configurable for teams whose clients already expect others. They
/// must lie outside the range JSON-RPC reserves (-32768…-32000, where MCP defines its own
/// codes) and differ from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefusalCodes {
    /// No or bad credentials where the route needs them (with HTTP 401).
    pub unauthenticated: i64,
    /// Denied by policy (also a rate limit, and an escalation the review store could not
    /// take).
    pub denied: i64,
    /// Escalated and not approved: in time, or not yet (`defer`).
    pub escalated: i64,
    /// Escalated and rejected by a reviewer.
    pub rejected: i64,
    /// A bearer token without a scope the call needs (with HTTP 403 `insufficient_scope`,
    /// on routes where the gateway is the OAuth resource server).
    pub insufficient_scope: i64,
}

impl Default for RefusalCodes {
    fn default() -> Self {
        Self {
            unauthenticated: 4010,
            denied: 4030,
            escalated: 4031,
            rejected: 4032,
            insufficient_scope: 4033,
        }
    }
}

/// Guard settings outside the rules files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// What a tool descriptor that changed since it was first seen gets: `escalate`
    /// (default; until a reviewer exists the tool is withheld like `deny`), `deny`, or
    /// `allow` (only logged and counted).
    pub on_descriptor_change: crate::vocab::DecisionKind,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            on_descriptor_change: crate::vocab::DecisionKind::Escalate,
        }
    }
}

/// Escalated calls: held for a reviewer's answer (admin API, docs/review.md) up to
/// `hold_timeout`, then `on_timeout`; or answered at once and allowed once when approved
/// (`flow: defer`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// How long an escalated call is held before `on_timeout` applies.
    #[serde(with = "humantime_serde")]
    pub hold_timeout: Duration,
    /// `deny` (default, fail closed) or `allow`.
    pub on_timeout: crate::vocab::DecisionKind,
    /// `hold` (default) or `defer`, for rules that name none.
    pub flow: crate::vocab::EscalationFlow,
    /// How long a deferred escalation waits for an answer, and an approval for its call.
    #[serde(with = "humantime_serde")]
    pub defer_ttl: Duration,
    /// Where every new escalation is announced.
    pub webhooks: Vec<Webhook>,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            hold_timeout: Duration::ZERO,
            on_timeout: crate::vocab::DecisionKind::Deny,
            flow: crate::vocab::EscalationFlow::Hold,
            defer_ttl: Duration::from_secs(3600),
            webhooks: Vec::new(),
        }
    }
}

/// The admin listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener; keep it off the public interface.
    pub listen: SocketAddr,
    /// Bearer token required for everything except `/healthz` and `/readyz`. Read from the
    /// file named here; unset means the admin API is open (bind it to loopback then).
    #[serde(default)]
    pub token_file: Option<std::path::PathBuf>,
}

/// Downstream limits and timeouts, all with defaults a public listener can live with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Time a client has to send the complete request head (slowloris defence).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Largest request body accepted (413 above it). Routes may lower or raise it.
    pub max_request_body: ByteSize,
    /// Longest silence on a request or response body stream before it is cut.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the accept backlog.
    pub max_connections: usize,
    /// On SIGTERM/SIGINT: how long in-flight requests and open streams may run on.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Compressed request bodies on routes whose bodies are inspected: `refuse` (415) or
    /// `decode` (gzip/deflate, decoded size capped by the route's body limit; the decoded
    /// body is what is inspected and forwarded).
    pub compressed_requests: CompressedRequests,
}

/// What happens to a compressed request body that the gateway must inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressedRequests {
    /// Answer 415: the client must send the body uncompressed.
    #[default]
    Refuse,
    /// Decode gzip or deflate under the body limit; forward the decoded body.
    Decode,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_request_body: ByteSize::mib(8),
            idle_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(30),
            compressed_requests: CompressedRequests::Refuse,
        }
    }
}

/// One upstream server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// `http://` or `https://` base URL; a path here is prepended to every forwarded path.
    /// One endpoint; `endpoints` or `dns` name several (exactly one of the three is set).
    #[serde(default)]
    pub url: Option<String>,
    /// Several base URLs of one service (same scheme and path), balanced and ejected when
    /// sick.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Endpoints from a DNS name, resolved again and again (a headless Service).
    #[serde(default)]
    pub dns: Option<DnsConfig>,
    /// How calls are spread over the endpoints.
    #[serde(default)]
    pub balance: Balance,
    /// The session map of `balance: session`.
    #[serde(default)]
    pub sessions: SessionMapConfig,
    /// Active health checks (off unless set).
    #[serde(default)]
    pub health_check: Option<HealthCheckConfig>,
    /// Passive outlier ejection (defaults apply when there are several endpoints).
    #[serde(default)]
    pub outlier: Option<OutlierConfig>,
    /// Limits past which calls are refused with 503.
    #[serde(default)]
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    /// Which failed calls are retried on another endpoint, and how often.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Which `Host` the upstream sees (several MCP servers reject a foreign one).
    #[serde(default)]
    pub host_header: HostHeader,
    /// TCP (and TLS) connect timeout; past it the caller gets 502.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time from sending the request to the upstream's response head; past it, 504.
    #[serde(default = "default_response_header_timeout", with = "humantime_serde")]
    pub response_header_timeout: Duration,
    /// Speak HTTP/2 with prior knowledge to this upstream (h2c on plain http).
    #[serde(default)]
    pub http2: bool,
    /// How long an idle pooled connection is kept.
    #[serde(default = "default_pool_idle_timeout", with = "humantime_serde")]
    pub pool_idle_timeout: Duration,
    /// Idle pooled connections kept per upstream host.
    #[serde(default = "default_pool_max_idle")]
    pub pool_max_idle_per_host: usize,
    /// TLS settings for an `https://` upstream.
    #[serde(default)]
    pub tls: UpstreamTlsConfig,
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_response_header_timeout() -> Duration {
    Duration::from_secs(120)
}
fn default_pool_idle_timeout() -> Duration {
    Duration::from_secs(90)
}
fn default_pool_max_idle() -> usize {
    256
}

/// What to send as `Host` upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostHeader {
    /// The upstream URL's own authority (default; passes DNS-rebinding guards).
    #[default]
    Upstream,
    /// The client's `Host`, unchanged (for name-based virtual hosting upstream).
    Preserve,
    /// A fixed value.
    Fixed(String),
}

/// One route: which requests it takes and where they go.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Name used in metrics, logs and (later) audit records; defaults to `route-<index>`.
    #[serde(default)]
    pub name: Option<String>,
    /// Host to match (exact, or `*.example.com`); case-insensitive, port ignored.
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix to match at a segment boundary; the longest matching prefix wins.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Name of the upstream in `upstreams`.
    pub upstream: String,
    /// What the traffic on this route speaks.
    pub protocol: Protocol,
    /// Which boundary the route crosses.
    pub boundary: Boundary,
    /// Remove the matched prefix before forwarding.
    #[serde(default)]
    pub strip_prefix: bool,
    /// Replace the matched prefix with this one before forwarding.
    #[serde(default)]
    pub rewrite_prefix: Option<String>,
    /// Per-route request body limit; defaults to `limits.max_request_body`.
    #[serde(default)]
    pub max_request_body: Option<ByteSize>,
    /// `a2a` routes: the name of the agent behind the route, for `when.agent` rules;
    /// defaults to the upstream's name.
    #[serde(default)]
    pub agent: Option<String>,
    /// Which proofs of identity the route accepts and whether anonymous callers pass
    /// (default: all configured ones, anonymous allowed). Not with `oauth.mode:
    /// resource_server`, where the OAuth bearer token is the only proof.
    #[serde(default)]
    pub auth: Option<RouteAuth>,
    /// Which context headers the route's answers carry back to the client.
    #[serde(default)]
    pub client_context: ClientContext,
    /// `mcp` routes: a refused `tools/call` is answered as a tool result with
    /// `isError: true` and the reason as its text (the model reads why and can change
    /// course) instead of a JSON-RPC error; the decision is in the result's `_meta`.
    #[serde(default)]
    pub soft_deny: bool,
    /// `mcp` routes: MCP authorization (OAuth 2.1 resource server: the upstream, with the
    /// gateway passing discovery through, or the gateway itself).
    #[serde(default)]
    pub oauth: Option<RouteOAuth>,
}

/// `routes[].client_context`: the context headers added to answers. Every one is work on
/// every call, for the gateway and for whoever reads the answer, so a route whose clients
/// never read them can drop them; the upstream-side headers are not affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientContext {
    /// `x-sec0-decision-id`, `x-sec0-trace-id`, `x-sec0-run-id`, and the sec0 bridge
    /// client's `x-trace-id` and `x-span-id` (which it requires on every answer).
    #[default]
    Full,
    /// Only `x-sec0-decision-id` (the key to the call's audit record).
    DecisionId,
    /// None of them.
    None,
}

impl RouteConfig {
    /// The route's name for metrics and logs.
    pub fn display_name(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("route-{index}"))
    }
}

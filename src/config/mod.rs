//! Typed gateway configuration.
//!
//! One YAML file (default `config/gateway.yaml`) read with the `config` crate, every key
//! overridable from the environment as `SEC0_GATEWAY__<KEY>` (double underscore nests).
//! Unknown keys are errors (`deny_unknown_fields`) so a typo never silently falls back to a
//! default. [`load`] reads and validates; [`validate`] holds the cross-field checks.

mod load;
mod validate;

pub use load::{ConfigError, load, load_from_str};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
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
    /// What happens to escalated calls (until the review flow exists).
    #[serde(default)]
    pub escalation: EscalationConfig,
    /// The guard's settings that are not rules.
    #[serde(default)]
    pub guard: GuardConfig,
    /// Where the audit trail goes (nothing is recorded without it).
    #[serde(default)]
    pub audit: AuditConfig,
}

/// The audit trail: settings shared by every sink, and the sinks (any combination; nothing
/// is recorded without one).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Records queued at most before `on_full` applies.
    pub queue: usize,
    /// `block` (calls wait for the audit trail) or `fail_closed` (calls are refused while
    /// the queue is full).
    pub on_full: AuditOnFull,
    /// A signed checkpoint after this many records…
    pub checkpoint_every: u64,
    /// …and at least this often while records arrive.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// A new chain (and file) when one passes this size, and at each UTC day.
    pub max_file_size: ByteSize,
    /// When files and the spool reach the disk: `every_batch` (default), `never` (the OS
    /// decides), or a duration such as `100ms` (group commit).
    pub fsync: AuditFsync,
    /// Ed25519 private key (PKCS#8 PEM) that signs checkpoints; unsigned without.
    pub signing_key: Option<PathBuf>,
    /// Key id written into checkpoints (default: the key file's name without extension).
    pub key_id: Option<String>,
    /// Hash-chained NDJSON files.
    pub file: Option<FileAuditConfig>,
    /// A collector that takes NDJSON batches over HTTP, through a durable spool.
    pub http: Option<HttpAuditConfig>,
    /// Records on standard output (containers); logs stay on standard error.
    pub stdout: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            queue: 65_536,
            on_full: AuditOnFull::Block,
            checkpoint_every: 1_000,
            checkpoint_interval: Duration::from_secs(10),
            max_file_size: ByteSize::mib(256),
            fsync: AuditFsync::EveryBatch,
            signing_key: None,
            key_id: None,
            file: None,
            http: None,
            stdout: false,
        }
    }
}

impl AuditConfig {
    /// Whether any sink is configured.
    pub fn enabled(&self) -> bool {
        self.file.is_some() || self.http.is_some() || self.stdout
    }
}

/// The file sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileAuditConfig {
    /// Directory of the audit files (created if missing).
    pub dir: PathBuf,
}

/// The collector sink.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAuditConfig {
    /// Where NDJSON batches are POSTed (`http://` or `https://`).
    pub url: String,
    /// Directory of the durable spool (created if missing; one per gateway instance).
    pub spool_dir: PathBuf,
    /// Undelivered bytes kept at most; when full, `on_full` applies to new calls.
    #[serde(default = "default_spool_max")]
    pub spool_max_size: ByteSize,
    /// Compress batches (`Content-Encoding: gzip`).
    #[serde(default = "yes")]
    pub gzip: bool,
    /// `ndjson` (default; one record per line) or `json_array` (one JSON array per batch,
    /// what Fluent Bit's `http` input reads).
    #[serde(default)]
    pub format: AuditBatchFormat,
    /// Records per batch at most.
    #[serde(default = "default_batch_records")]
    pub batch_records: u64,
    /// Bytes per batch before compression, about.
    #[serde(default = "default_batch_size")]
    pub batch_size: ByteSize,
    /// One POST's time limit.
    #[serde(default = "default_http_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// First retry delay (doubles up to `retry_max`).
    #[serde(default = "default_retry_initial", with = "humantime_serde")]
    pub retry_initial: Duration,
    /// Longest retry delay.
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub retry_max: Duration,
    /// How long shutdown keeps delivering before leaving the rest for the next start.
    #[serde(default = "default_http_shutdown", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
    /// File holding the `Authorization` header value (e.g. `Bearer …`), if the collector
    /// needs one; kept out of the config so it is never printed with it.
    #[serde(default)]
    pub authorization_file: Option<PathBuf>,
}

/// How the collector sink frames a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditBatchFormat {
    /// One record per line, `application/x-ndjson`.
    #[default]
    Ndjson,
    /// One JSON array, `application/json`.
    JsonArray,
}

/// What happens when the audit queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditOnFull {
    /// Calls wait until their record is queued.
    #[default]
    Block,
    /// Calls are refused while records cannot be queued.
    FailClosed,
}

/// When audit files reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditFsync {
    /// After every batch the writer takes from the queue.
    #[default]
    EveryBatch,
    /// Within this long of a write (one sync for many batches).
    Every(Duration),
    /// Never explicitly.
    Never,
}

impl<'de> Deserialize<'de> for AuditFsync {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "every_batch" => Ok(Self::EveryBatch),
            "never" => Ok(Self::Never),
            other => humantime::parse_duration(other)
                .map(Self::Every)
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "fsync: expected `every_batch`, `never` or a duration such as `100ms`, got {other:?}"
                    ))
                }),
        }
    }
}

impl Serialize for AuditFsync {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::EveryBatch => s.serialize_str("every_batch"),
            Self::Never => s.serialize_str("never"),
            Self::Every(d) => s.collect_str(&humantime::format_duration(*d)),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_spool_max() -> ByteSize {
    ByteSize::gib(1)
}
fn default_batch_records() -> u64 {
    1_000
}
fn default_batch_size() -> ByteSize {
    ByteSize::mib(1)
}
fn default_http_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_retry_initial() -> Duration {
    Duration::from_millis(200)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(30)
}
fn default_http_shutdown() -> Duration {
    Duration::from_secs(10)
}

/// Guard settings outside the rules files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// What a tool descriptor that changed since it was first seen gets: `escalate`
    /// (default; until a reviewer exists the tool is withheld like `deny`), `deny`, or
    /// `allow` (only logged and counted).
    pub on_descriptor_change: crate::policy::DecisionKind,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            on_descriptor_change: crate::policy::DecisionKind::Escalate,
        }
    }
}

/// Where the rules are and how they apply.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A rules file, or a directory whose `*.yaml` files are loaded in name order.
    pub rules: std::path::PathBuf,
    /// `observe`: record what every rule would decide, let all calls through.
    #[serde(default)]
    pub mode: crate::policy::Mode,
    /// How often the rules files are checked for changes (`0s`: only on SIGHUP or
    /// `POST /v1/reload`).
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(5)
}

/// Escalated calls. No reviewer can answer yet (the review flow is its own piece of work),
/// so an escalated call is held for `hold_timeout` and then gets `on_timeout`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationConfig {
    /// How long an escalated call is held before `on_timeout` applies.
    #[serde(with = "humantime_serde")]
    pub hold_timeout: Duration,
    /// `deny` (default, fail closed) or `allow`.
    pub on_timeout: crate::policy::DecisionKind,
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            hold_timeout: Duration::ZERO,
            on_timeout: crate::policy::DecisionKind::Deny,
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
    pub url: String,
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
}

/// Protocol carried on a route. The gateway never guesses it from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Model Context Protocol (Streamable HTTP or legacy HTTP+SSE).
    Mcp,
    /// Agent2Agent (JSON-RPC binding).
    A2a,
    /// Plain JSON-RPC 2.0 over HTTP.
    Jsonrpc,
    /// Plain HTTP.
    Http,
}

impl Protocol {
    /// Whether request bodies are JSON-RPC envelopes (errors are answered as JSON-RPC).
    pub fn is_jsonrpc(self) -> bool {
        !matches!(self, Protocol::Http)
    }

    /// The name used in config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Mcp => "mcp",
            Protocol::A2a => "a2a",
            Protocol::Jsonrpc => "jsonrpc",
            Protocol::Http => "http",
        }
    }
}

/// The trust boundary a route crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Orchestrator calling an agent.
    OrchestratorToAgent,
    /// Agent calling another agent.
    AgentToAgent,
    /// Agent calling a tool server.
    AgentToTool,
    /// Tool server calling an external API (egress).
    ToolToApi,
}

impl Boundary {
    /// The name used in config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Boundary::OrchestratorToAgent => "orchestrator_to_agent",
            Boundary::AgentToAgent => "agent_to_agent",
            Boundary::AgentToTool => "agent_to_tool",
            Boundary::ToolToApi => "tool_to_api",
        }
    }
}

impl RouteConfig {
    /// The route's name for metrics and logs.
    pub fn display_name(&self, index: usize) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("route-{index}"))
    }
}

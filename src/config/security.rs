//! TLS and identity configuration: TLS on the proxy listener (`tls:`), TLS to upstreams
//! (`upstreams.<name>.tls`), how callers prove who they are (`identity:`) and what each route
//! accepts (`routes[].auth`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// TLS termination on the proxy listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates must chain to.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// `none` (default), `optional` (a presented certificate must verify; none is fine) or
    /// `required` (no certificate, no connection). `optional`/`required` need `client_ca`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// How often the files are checked; changed files are loaded for new connections, open
    /// connections keep theirs. `0s`: never.
    #[serde(default = "default_tls_reload", with = "humantime_serde")]
    pub reload_interval: Duration,
}

fn default_tls_reload() -> Duration {
    Duration::from_secs(5)
}

/// Whether clients present certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// Not asked for.
    #[default]
    None,
    /// Asked for; verified when presented.
    Optional,
    /// Required and verified.
    Required,
}

/// TLS to one `https://` upstream.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// CA certificates (PEM) the upstream's certificate must chain to; default: the
    /// system's trust store.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM) presented to the upstream (mTLS).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Name sent as SNI and checked against the certificate (default: the URL's host).
    #[serde(default)]
    pub server_name: Option<String>,
}

/// How callers prove who they are. A verified identity becomes the `caller` that rules and
/// audit records see; without one a caller is `anonymous`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Bearer JWTs.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
    /// API keys, stored as SHA-256 hashes.
    #[serde(default)]
    pub api_keys: Option<ApiKeysConfig>,
}

/// Bearer JWT verification.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// JWKS file (RS256, ES256, EdDSA keys, picked by `kid`).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// JWKS URL, fetched at start and every `jwks_refresh`, and again (at most every 30 s)
    /// when a token names an unknown `kid` (key rotation).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// How often the JWKS is re-read.
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// File holding an HS256 shared secret (for tokens without a JWKS key).
    #[serde(default)]
    pub hs256_secret_file: Option<PathBuf>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (one of).
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// Claim that names the caller.
    #[serde(default = "default_caller_claim")]
    pub caller_claim: String,
    /// Claims exposed to rules as `when.claims`.
    #[serde(default)]
    pub claims: Vec<String>,
}

pub(super) fn default_jwks_refresh() -> Duration {
    Duration::from_secs(300)
}
pub(super) fn default_leeway() -> Duration {
    Duration::from_secs(30)
}
pub(super) fn default_caller_claim() -> String {
    "sub".into()
}

/// API keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// File of `<sha256 hex of the key> <caller name>` lines (`#` comments allowed).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Or: the name of an environment variable holding the same lines (`;` or newlines
    /// between entries), e.g. from a Kubernetes Secret.
    #[serde(default)]
    pub env: Option<String>,
    /// Header carrying the key (default `x-api-key`; `Authorization: ApiKey <key>` also works).
    #[serde(default = "default_api_key_header")]
    pub header: String,
}

fn default_api_key_header() -> String {
    "x-api-key".into()
}

/// Who may continue a run and how context headers are checked.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContextConfig {
    /// Callers with a verified identity may continue a run (`x-sec0-run-id`, `x-agent-ref`)
    /// and name their hop as the parent.
    pub trust_verified_callers: bool,
    /// Peers in these networks may too (e.g. the orchestrator's subnet).
    pub trusted_networks: Vec<ipnet::IpNet>,
    /// Largest `x-agent-state` accepted.
    pub max_agent_state: bytesize::ByteSize,
    /// How long a run's history is kept after its last call.
    #[serde(with = "humantime_serde")]
    pub run_ttl: std::time::Duration,
    /// Runs tracked at most (the least recently active go first).
    pub max_runs: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        Self {
            trust_verified_callers: true,
            trusted_networks: Vec::new(),
            max_agent_state: bytesize::ByteSize::kib(8),
            run_ttl: std::time::Duration::from_secs(3600),
            max_runs: 100_000,
        }
    }
}

/// What a route accepts.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteAuth {
    /// Accepted proofs of identity, tried in this order.
    #[serde(default = "all_methods")]
    pub methods: Vec<AuthMethod>,
    /// Whether callers without a verified identity may pass (as `anonymous`).
    #[serde(default = "yes")]
    pub anonymous: bool,
}

impl Default for RouteAuth {
    fn default() -> Self {
        Self {
            methods: all_methods(),
            anonymous: true,
        }
    }
}

fn all_methods() -> Vec<AuthMethod> {
    vec![AuthMethod::Mtls, AuthMethod::Jwt, AuthMethod::ApiKey]
}

fn yes() -> bool {
    true
}

/// A proof of identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A verified client certificate.
    Mtls,
    /// A bearer JWT.
    Jwt,
    /// An API key.
    ApiKey,
}

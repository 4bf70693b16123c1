//! Where the state that replicas share lives: escalations, approvals, precedents and
//! rate-limit buckets.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shared-state store.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `memory` (default: one replica, nothing to install) or `redis` (several replicas).
    pub backend: StoreBackend,
    /// The Redis server, for `backend: redis`.
    pub redis: Option<RedisConfig>,
    /// What a replica does while Redis cannot be reached.
    pub on_unavailable: OnUnavailable,
}

/// Which store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreBackend {
    /// In this process only.
    #[default]
    Memory,
    /// A Redis server shared by every replica.
    Redis,
}

/// The answer to an unreachable Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnUnavailable {
    /// Escalations become denials (reason `review_store_unavailable`), approvals and
    /// precedents are not used, rate-limited calls are refused. The default: a replica that
    /// cannot see the others' answers must not act on stale ones.
    #[default]
    FailClosed,
    /// Fall back to this replica's memory until Redis is back.
    Local,
}

/// A Redis server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). Prefer
    /// `SEC0_GATEWAY__STORE__REDIS__URL` to keep a password out of the file.
    pub url: String,
    /// Prefix of every key and of the event channel, so several gateways can share a
    /// server.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Longest wait for one Redis operation; past it Redis counts as unavailable.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_prefix() -> String {
    "sec0:".into()
}

fn default_timeout() -> Duration {
    Duration::from_millis(500)
}

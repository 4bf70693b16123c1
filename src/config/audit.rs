//! The audit trail's configuration (`audit:`): settings shared by every sink, and the sinks.

use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use serde::{Deserialize, Serialize};

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

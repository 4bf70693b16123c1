//! OpenTelemetry trace export.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// OTLP trace export: one span per hop (a call through the gateway), in the call's W3C
/// trace, with the decision as attributes. Off unless configured.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's OTLP/HTTP traces URL, e.g. `http://otel-collector:4318/v1/traces`.
    pub endpoint: String,
    /// `service.name` of the spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
    /// Extra request headers (e.g. an API key for a hosted collector).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Longest wait for one export.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Spans waiting for export at most; past it new spans are dropped (and counted), never
    /// slowing calls.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Spans per export request at most.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Longest a span waits for a fuller batch.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
}

fn default_service_name() -> String {
    "sec0-gateway".into()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_queue() -> usize {
    4096
}

fn default_batch() -> usize {
    512
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}

//! Delivery to a collector: POST batches of NDJSON lines from the spool ([`super::spool`]),
//! optionally gzip-compressed, in order, one batch at a time; a batch leaves the spool only
//! when the collector answered 2xx. Failures (connection refused, timeouts, any other status)
//! are retried with exponential backoff (with jitter) for as long as it takes; records wait
//! on disk meanwhile. At shutdown delivery goes on until the spool is empty or
//! `shutdown_timeout` has passed; what is left is sent by the next start.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::spool::{Batch, SpoolReader};
use crate::metrics::AuditMetrics;

/// How to reach the collector.
#[derive(Debug, Clone)]
pub struct Collector {
    /// Where batches are POSTed.
    pub url: Uri,
    /// Compress batches (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// How a batch is framed.
    pub format: BatchFormat,
    /// Records per batch at most.
    pub batch_records: u64,
    /// Bytes per batch (before compression), about.
    pub batch_bytes: u64,
    /// One POST's time limit (connect to answer).
    pub timeout: Duration,
    /// First retry delay; doubles up to `retry_max`.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long shutdown keeps delivering.
    pub shutdown_timeout: Duration,
    /// `Authorization` header value, if the collector needs one (never logged).
    pub authorization: Option<http::HeaderValue>,
}

/// How a batch of records is framed in the POST body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// One record per line (`application/x-ndjson`): Vector's `http_server` source with
    /// newline-delimited framing, Loki, most collectors.
    Ndjson,
    /// One JSON array of records (`application/json`): Fluent Bit's `http` input.
    JsonArray,
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Why a POST failed (logged, then retried).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The collector did not answer in time.
    #[error("collector timed out after {0:?}")]
    Timeout(Duration),
    /// Connection or protocol failure.
    #[error("collector unreachable: {0}")]
    Transport(String),
    /// The collector answered, but not with 2xx.
    #[error("collector answered {0}")]
    Status(http::StatusCode),
    /// Reading the spool failed.
    #[error("audit spool: {0}")]
    Spool(#[from] std::io::Error),
    /// The HTTPS client could not be set up.
    #[error("TLS setup: {0}")]
    Tls(String),
}

fn client() -> Result<HttpsClient, DeliveryError> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| DeliveryError::Tls(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector))
}

/// Deliver the spool to `collector` until the spool is closed (shutdown) and empty, or the
/// shutdown timeout passes.
pub async fn run(
    reader: SpoolReader,
    collector: Collector,
    metrics: Arc<AuditMetrics>,
) -> Result<(), DeliveryError> {
    let client = client()?;
    let shared = reader.shared();
    let reader = Arc::new(std::sync::Mutex::new(reader));
    let mut backoff = collector.retry_initial;
    let mut closed_at: Option<tokio::time::Instant> = None;
    let mut failures = 0u64;
    loop {
        metrics
            .spool_bytes
            .set(shared.bytes.load(Ordering::Acquire) as i64);
        metrics
            .spool_records
            .set(shared.records.load(Ordering::Acquire) as i64);
        if closed_at.is_none() && shared.closed.load(Ordering::Acquire) {
            closed_at = Some(tokio::time::Instant::now());
        }
        if let Some(t) = closed_at {
            if t.elapsed() >= collector.shutdown_timeout {
                let left = shared.records.load(Ordering::Acquire);
                if left > 0 {
                    tracing::warn!(
                        records = left,
                        "audit spool not empty at shutdown; the next start delivers it"
                    );
                }
                shared.abandon.store(true, Ordering::Release);
                return Ok(());
            }
        }
        let (max_r, max_b) = (collector.batch_records, collector.batch_bytes);
        let r = reader.clone();
        let batch = tokio::task::spawn_blocking(move || {
            r.lock()
                .map_err(|_| std::io::Error::other("spool reader poisoned"))?
                .next_batch(max_r, max_b)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        let Some(batch) = batch else {
            if closed_at.is_some() {
                return Ok(());
            }
            // Woken by new lines; the timeout re-checks `closed`.
            let _ = tokio::time::timeout(Duration::from_secs(1), shared.wake.notified()).await;
            continue;
        };
        match post(&client, &collector, &batch).await {
            Ok(()) => {
                let records = batch.records;
                let r = reader.clone();
                tokio::task::spawn_blocking(move || {
                    r.lock()
                        .map_err(|_| std::io::Error::other("spool reader poisoned"))?
                        .commit(&batch)
                })
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))??;
                metrics.written("http", records);
                metrics.last_delivery.with_label_values(&["http"]).set(
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                );
                if failures > 0 {
                    tracing::info!(after_failures = failures, "audit collector reachable again");
                }
                failures = 0;
                backoff = collector.retry_initial;
            }
            Err(e) => {
                failures += 1;
                metrics.delivery_failures.inc();
                // Log the first failure and then every 10th, not every retry.
                if failures == 1 || failures % 10 == 0 {
                    tracing::warn!(error = %e, failures, retry_in = ?backoff, "audit batch not delivered; kept in the spool");
                }
                let jitter = backoff.mul_f64(0.2 * pseudo_random());
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(collector.retry_max);
            }
        }
    }
}

async fn post(
    client: &HttpsClient,
    collector: &Collector,
    batch: &Batch,
) -> Result<(), DeliveryError> {
    let framed;
    let (content_type, payload): (&str, &[u8]) = match collector.format {
        BatchFormat::Ndjson => ("application/x-ndjson", &batch.lines),
        BatchFormat::JsonArray => {
            framed = json_array(&batch.lines);
            ("application/json", &framed)
        }
    };
    let mut req = Request::post(collector.url.clone()).header(header::CONTENT_TYPE, content_type);
    let body = if collector.gzip {
        req = req.header(header::CONTENT_ENCODING, "gzip");
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(batch.lines.len() / 4),
            flate2::Compression::fast(),
        );
        enc.write_all(payload)?;
        Bytes::from(enc.finish()?)
    } else {
        Bytes::copy_from_slice(payload)
    };
    if let Some(auth) = &collector.authorization {
        req = req.header(header::AUTHORIZATION, auth.clone());
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| DeliveryError::Transport(e.to_string()))?;
    let resp = tokio::time::timeout(collector.timeout, client.request(req))
        .await
        .map_err(|_| DeliveryError::Timeout(collector.timeout))?
        .map_err(|e| DeliveryError::Transport(e.to_string()))?;
    let status = resp.status();
    // Drain the answer so the connection can be reused.
    let _ = tokio::time::timeout(
        collector.timeout,
        http_body_util::BodyExt::collect(resp.into_body()),
    )
    .await;
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status))
    }
}

/// `[line,line,…]` from newline-terminated lines (each a JSON object).
fn json_array(lines: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + 2);
    out.push(b'[');
    for (i, line) in lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(line);
    }
    out.push(b']');
    out
}

/// A number in [0, 1) that differs between calls (backoff jitter; not security relevant).
fn pseudo_random() -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_json_array_batch_holds_every_line() {
        let v: serde_json::Value =
            serde_json::from_slice(&super::json_array(b"{\"a\":1}\n{\"b\":2}\n")).expect("json");
        assert_eq!(v, serde_json::json!([{"a": 1}, {"b": 2}]));
        assert_eq!(super::json_array(b""), b"[]");
    }
}

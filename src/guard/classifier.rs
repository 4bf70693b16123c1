//! The classifier hook: a custom detector of `type: classifier` sends text fields over a
//! size floor to an HTTP prompt-injection classifier and reports a finding when it says
//! injection. Deterministic rules catch known phrasings and structures; a model catches
//! paraphrases they cannot. The wire formats are those of common open-source services:
//!
//! - `hf` (default): a Hugging Face text-classification server — text-embeddings-inference
//!   `POST /predict` or the transformers pipeline behind it — with a model such as
//!   `protectai/deberta-v3-base-prompt-injection-v2` or `meta-llama/Prompt-Guard-86M`:
//!   request `{"inputs": "…"}`, answer `[{"label": "INJECTION", "score": 0.99}, …]`.
//! - `llm_guard`: LLM Guard API `POST /analyze/prompt`: request `{"prompt": "…"}`, answer
//!   `{"is_valid": false, "scanners": {…}}`.
//!
//! Each classifier has a timeout, a cache of answers by content hash (SHA-256), a cap on
//! requests in flight, and `on_error: allow | deny` for when it cannot answer in time.
//! Only the text is sent; findings carry the detector's name, never the text.
//!
//! The proxy asks before it scans ([`prefetch`], one async call on the request side and
//! one on the response side); the synchronous scan ([`Guard::scan_json`]) then reads the
//! answers from the cache by content hash, so classifier findings are decided on with the
//! deterministic ones and never block a scan. Text no classifier was asked about (paths
//! that do not prefetch) yields no classifier finding.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::json_walk::{for_each_string, render_path};
use super::{CustomDetector, Finding, Guard, Located, Severity};

/// What an unanswered question counts as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// No finding (fail open): the deterministic detectors still apply.
    #[default]
    Allow,
    /// A finding of type `classifier_unavailable` (fail closed when a rule denies it).
    Deny,
}

/// The classifier's wire format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Hugging Face text classification (`{"inputs"}` → `[{label, score}]`).
    #[default]
    Hf,
    /// LLM Guard API (`{"prompt"}` → `{"is_valid"}`).
    LlmGuard,
}

/// Longest text sent (classifiers read a few hundred tokens anyway).
const MAX_SENT: usize = 16 << 10;
/// Answers kept at least (per classifier), whatever `cache` says.
const MIN_KEPT: usize = 1024;
/// A failed question is asked again after this long.
const RETRY_FAILED: Duration = Duration::from_secs(10);
/// Largest answer read.
const MAX_ANSWER: usize = 64 << 10;

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One configured classifier.
pub struct Classifier {
    /// The detector's name (finding detector and type).
    pub name: Arc<str>,
    severity: Severity,
    uri: http::Uri,
    timeout: Duration,
    /// Shortest text sent.
    pub min_chars: usize,
    threshold: f64,
    format: Format,
    on_error: OnError,
    cache: Mutex<lru::LruCache<[u8; 32], (Verdict, std::time::Instant)>>,
    permits: tokio::sync::Semaphore,
    client: std::sync::OnceLock<Option<HttpClient>>,
    /// Requests sent (for tests and metrics).
    pub sent: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("name", &self.name)
            .field("uri", &self.uri)
            .finish()
    }
}

/// What the classifier said about one text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Injection.
    Injection,
    /// Not injection.
    Clean,
    /// No usable answer in time.
    Failed,
}

impl Classifier {
    /// A classifier from its detector declaration; `Err` says which setting is wrong.
    pub fn new(c: &CustomDetector) -> Result<Self, String> {
        let url = c.url.as_deref().ok_or("a classifier needs `url`")?;
        let uri: http::Uri = url.parse().map_err(|e| format!("url {url:?}: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!("url {url:?}: needs http:// or https:// and a host"));
        }
        if !c.patterns.is_empty() || !c.keywords.is_empty() {
            return Err("a classifier takes no `patterns` or `keywords`".into());
        }
        let threshold = c.threshold.unwrap_or(0.5);
        if !(0.0..=1.0).contains(&threshold) {
            return Err("threshold must be between 0 and 1".into());
        }
        let cache = c.cache.unwrap_or(10_000);
        let concurrency = c.max_concurrency.unwrap_or(16);
        if concurrency == 0 {
            return Err("max_concurrency must be at least 1".into());
        }
        Ok(Self {
            name: Arc::from(c.name.as_str()),
            severity: c.severity,
            uri,
            timeout: c.timeout.unwrap_or(Duration::from_secs(2)),
            min_chars: c.min_chars.unwrap_or(64),
            threshold,
            format: c.format.unwrap_or_default(),
            on_error: c.on_error.unwrap_or_default(),
            // Answers must outlive the scan that follows the question, so some are kept even
            // with `cache: 0`.
            cache: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(cache.max(MIN_KEPT)).unwrap_or(NonZeroUsize::MIN),
            )),
            permits: tokio::sync::Semaphore::new(concurrency),
            client: std::sync::OnceLock::new(),
            sent: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn client(&self) -> Option<&HttpClient> {
        self.client
            .get_or_init(|| {
                let b = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
                    .ok()?;
                Some(
                    Client::builder(TokioExecutor::new())
                        .build(b.https_or_http().enable_http1().build()),
                )
            })
            .as_ref()
    }

    /// The cached answer for text of this SHA-256, if any.
    pub fn cached(&self, key: &[u8; 32]) -> Option<Verdict> {
        self.cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(key).map(|(v, _)| *v))
    }

    /// Ask about `text` unless a usable answer is cached (cached by its SHA-256; at most
    /// `max_concurrency` in flight; the whole question bounded by `timeout`).
    pub async fn classify(&self, text: &str) -> Verdict {
        let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        if let Some((v, at)) = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(&key).copied())
            && (v != Verdict::Failed || at.elapsed() < RETRY_FAILED)
        {
            return v;
        }
        let verdict = match tokio::time::timeout(self.timeout, self.ask(text)).await {
            Ok(Some(true)) => Verdict::Injection,
            Ok(Some(false)) => Verdict::Clean,
            _ => Verdict::Failed,
        };
        if let Ok(mut c) = self.cache.lock() {
            c.put(key, (verdict, std::time::Instant::now()));
        }
        verdict
    }

    async fn ask(&self, text: &str) -> Option<bool> {
        let _permit = self.permits.acquire().await.ok()?;
        let text = &text[..super::engine::floor_char(text, MAX_SENT)];
        let body = match self.format {
            Format::Hf => serde_json::json!({ "inputs": text }),
            Format::LlmGuard => serde_json::json!({ "prompt": text }),
        };
        let req = http::Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .ok()?;
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self.client()?.request(req).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .ok()?
            .to_bytes();
        parse_answer(self.format, self.threshold, &bytes)
    }
}

/// Whether an answer says injection; `None` when it cannot be read.
pub fn parse_answer(format: Format, threshold: f64, body: &[u8]) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match format {
        Format::LlmGuard => v.get("is_valid")?.as_bool().map(|ok| !ok),
        Format::Hf => {
            // `[{label, score}]`, `[[{label, score}]]` (batched) or `{label, score}`.
            let first = match &v {
                serde_json::Value::Array(a) => match a.first() {
                    Some(serde_json::Value::Array(inner)) => inner.clone(),
                    _ => a.clone(),
                },
                o @ serde_json::Value::Object(_) => vec![o.clone()],
                _ => return None,
            };
            let mut read = false;
            for item in &first {
                let label = item.get("label")?.as_str()?.to_ascii_uppercase();
                let score = item.get("score")?.as_f64()?;
                read = true;
                let bad = matches!(
                    label.as_str(),
                    "INJECTION"
                        | "JAILBREAK"
                        | "MALICIOUS"
                        | "UNSAFE"
                        | "LABEL_1"
                        | "PROMPT_INJECTION"
                        | "INJECTED"
                );
                if bad && score >= threshold {
                    return Some(true);
                }
            }
            read.then_some(false)
        }
    }
}

/// Ask `guard`'s classifiers about every string value of `json` at least as long as their
/// `min_chars` (at most 256 per message), concurrently within each classifier's cap, so
/// the scan that follows finds the answers in the cache. Costs nothing without
/// classifiers.
pub async fn prefetch(guard: &Guard, json: &[u8]) {
    let classifiers = guard.classifiers();
    if classifiers.is_empty() {
        return;
    }
    let floor = classifiers.iter().map(|c| c.min_chars).min().unwrap_or(0);
    let mut texts: Vec<String> = Vec::new();
    for_each_string(json, |_, v| {
        if v.text.chars().count() >= floor && texts.len() < 256 {
            texts.push(v.text.into_owned());
        }
        true
    });
    let mut asks = Vec::new();
    for c in classifiers {
        for text in &texts {
            if text.chars().count() >= c.min_chars {
                asks.push(c.classify(text));
            }
        }
    }
    futures_util::future::join_all(asks).await;
}

/// The classifier findings for one string value, from the answers [`prefetch`] left in the
/// cache: the detector's name when it said injection, `classifier_unavailable` when it
/// failed and `on_error: deny`. Covers the whole string.
pub fn cached_findings(
    guard: &Guard,
    text: &str,
    path: &[super::json_walk::Segment<'_>],
    raw: std::ops::Range<usize>,
) -> Vec<Located> {
    let classifiers = guard.classifiers();
    if classifiers.is_empty()
        || text.chars().count() < classifiers.iter().map(|c| c.min_chars).min().unwrap_or(0)
    {
        return Vec::new();
    }
    let key: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let mut out = Vec::new();
    for c in classifiers {
        if text.chars().count() < c.min_chars {
            continue;
        }
        let kind: Option<Arc<str>> = match (c.cached(&key), c.on_error) {
            (Some(Verdict::Injection), _) => Some(c.name.clone()),
            (Some(Verdict::Failed), OnError::Deny) => Some(Arc::from("classifier_unavailable")),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(Located {
                finding: Finding {
                    detector: c.name.clone(),
                    kind,
                    severity: c.severity,
                    path: render_path(path),
                    span: (0, text.len()),
                    redactable: !raw.is_empty(),
                },
                raw: raw.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_common_services() {
        let hf = br#"[{"label":"INJECTION","score":0.98},{"label":"SAFE","score":0.02}]"#;
        assert_eq!(parse_answer(Format::Hf, 0.5, hf), Some(true));
        let hf = br#"[[{"label":"SAFE","score":0.97},{"label":"INJECTION","score":0.03}]]"#;
        assert_eq!(parse_answer(Format::Hf, 0.5, hf), Some(false));
        let single = br#"{"label":"JAILBREAK","score":0.7}"#;
        assert_eq!(parse_answer(Format::Hf, 0.5, single), Some(true));
        let lg = br#"{"is_valid":false,"scanners":{"PromptInjection":1.0}}"#;
        assert_eq!(parse_answer(Format::LlmGuard, 0.5, lg), Some(true));
        assert_eq!(parse_answer(Format::Hf, 0.5, b"oops"), None);
        assert_eq!(parse_answer(Format::Hf, 0.5, b"[]"), None);
    }

    #[test]
    fn settings_are_checked() {
        let mut c = CustomDetector {
            name: "pi".into(),
            kind: super::super::DetectorType::Classifier,
            ..Default::default()
        };
        assert!(Classifier::new(&c).is_err(), "needs a url");
        c.url = Some("ftp://x".into());
        assert!(Classifier::new(&c).is_err());
        c.url = Some("http://127.0.0.1:9/predict".into());
        assert!(Classifier::new(&c).is_ok());
        c.max_concurrency = Some(0);
        assert!(Classifier::new(&c).is_err());
    }
}

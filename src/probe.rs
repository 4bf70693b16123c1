//! A small plain-HTTP GET for the command line: container health probes (`probe`; the
//! runtime image has no curl) and asking a gateway's admin listener (`learn export`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The URL is unusable.
    #[error("{0}: {1}")]
    Url(String, String),
    /// No answer (refused, reset, timed out).
    #[error("GET {0}: {1}")]
    Unreachable(String, String),
    /// An answer that is not 2xx.
    #[error("GET {0}: {1}")]
    Status(String, String),
}

/// Largest answer read.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// GET `url` (with a bearer `token`), the body of a 2xx answer within `timeout`.
pub async fn get(url: &str, token: Option<&str>, timeout: Duration) -> Result<Bytes, ProbeError> {
    send(http::Method::GET, url, token, None, timeout).await
}

/// POST the JSON `body` to `url` (with a bearer `token`), the body of a 2xx answer within
/// `timeout`.
pub async fn post_json(
    url: &str,
    token: Option<&str>,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Bytes, ProbeError> {
    send(http::Method::POST, url, token, Some(body), timeout).await
}

async fn send(
    method: http::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
    timeout: Duration,
) -> Result<Bytes, ProbeError> {
    let mut req = http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {}", t.trim()));
    }
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(http_body_util::Full::new(Bytes::from(
            body.unwrap_or_default(),
        )))
        .map_err(|e| ProbeError::Url(url.to_string(), e.to_string()))?;
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let answer = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| ProbeError::Unreachable(url.to_string(), e.to_string()))?;
        let status = resp.status();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| ProbeError::Unreachable(url.to_string(), e.to_string()))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            Err(ProbeError::Status(
                url.to_string(),
                format!("{status}: {}", String::from_utf8_lossy(&body)),
            ))
        }
    };
    tokio::time::timeout(timeout, answer).await.map_err(|_| {
        ProbeError::Unreachable(url.to_string(), format!("no answer within {timeout:?}"))
    })?
}

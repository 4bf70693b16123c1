//! Downloading a bundle: one GET with the `ETag` of the bundle already held
//! (`If-None-Match`), so an unchanged bundle costs a 304; a timeout over the whole
//! download; a size cap on the body (and on a `Content-Length` announcing more).
//!
//! `Last-Modified` is deliberately not used: it has one-second resolution, so a bundle
//! replaced within the second of the last fetch would be answered 304 until it changes
//! again (Python's `http.server` is such a server). From a server without ETags every poll
//! downloads the bundle; the source recognises the same bytes by their hash and does not
//! verify them again. `https://` checks the server against
//! the system's trust store (the Mozilla roots where there is none), as upstreams do.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No answer: refused, reset, DNS, TLS, or the timeout.
    #[error("GET {url}: {detail}")]
    Unreachable {
        /// The source.
        url: String,
        /// What happened.
        detail: String,
    },
    /// An answer that is neither 200 nor 304.
    #[error("GET {url}: answered {status}")]
    Status {
        /// The source.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// A body larger than `policy.max_bundle_size`.
    #[error(
        "GET {url}: the bundle is larger than the {limit} bytes allowed (policy.max_bundle_size)"
    )]
    TooLarge {
        /// The source.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The client could not be set up (TLS roots).
    #[error("policy.source {url}: {detail}")]
    Setup {
        /// The source.
        url: String,
        /// Why.
        detail: String,
    },
}

impl FetchError {
    /// The `reason` label of `sec0_gateway_policy_bundle_fetch_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::Unreachable { .. } | Self::Status { .. } | Self::Setup { .. } => "unreachable",
        }
    }
}

/// What a server said about the bundle last time (sent back to get a 304 when unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    /// The `ETag` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Validators {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.etag.is_none()
    }
}

/// The result of one GET.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the bundle held is still the source's.
    NotModified,
    /// 200: a bundle (maybe the same one, from a server without validators).
    New {
        /// Its bytes.
        body: Bytes,
        /// What to send next time.
        validators: Validators,
    },
}

/// Downloads one URL.
pub struct Fetcher {
    url: Uri,
    timeout: Duration,
    max_size: u64,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Fetcher {
    /// A fetcher for `url` (`http://` or `https://`, checked by config validation).
    pub fn new(url: &str, timeout: Duration, max_size: u64) -> Result<Self, FetchError> {
        let setup = |detail: String| FetchError::Setup {
            url: url.to_string(),
            detail,
        };
        let parsed: Uri = url.parse().map_err(|e| setup(format!("{e}")))?;
        let tls = crate::forward::tls::client_config(&crate::config::UpstreamTlsConfig::default())
            .map_err(setup)?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            url: parsed,
            timeout,
            max_size,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// The URL, for logs.
    pub fn url(&self) -> String {
        self.url.to_string()
    }

    /// GET the bundle, sending `held`'s validators.
    pub async fn get(&self, held: &Validators) -> Result<Fetched, FetchError> {
        match tokio::time::timeout(self.timeout, self.get_inner(held)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Unreachable {
                url: self.url(),
                detail: format!("no complete answer within {:?}", self.timeout),
            }),
        }
    }

    async fn get_inner(&self, held: &Validators) -> Result<Fetched, FetchError> {
        let unreachable = |detail: String| FetchError::Unreachable {
            url: self.url(),
            detail,
        };
        let mut req = http::Request::get(self.url.clone());
        if let Some(v) = held
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            req = req.header(header::IF_NONE_MATCH, v);
        }
        let req = req
            .header(
                header::USER_AGENT,
                concat!("sec0-gateway/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| unreachable(e.to_string()))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED && !held.is_empty() {
            return Ok(Fetched::NotModified);
        }
        if status != StatusCode::OK {
            return Err(FetchError::Status {
                url: self.url(),
                status,
            });
        }
        let too_large = || FetchError::TooLarge {
            url: self.url(),
            limit: self.max_size,
        };
        let announced = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > self.max_size) {
            return Err(too_large());
        }
        let validators = Validators {
            etag: resp
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        };
        let limit = usize::try_from(self.max_size).unwrap_or(usize::MAX);
        let body = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    too_large()
                } else {
                    unreachable(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Fetched::New { body, validators })
    }
}

/// An error with its causes ("connection refused" sits below hyper-util's "client error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

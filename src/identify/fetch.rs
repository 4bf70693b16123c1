//! A small HTTPS GET for key sets (JWKS URLs): system trust roots, a timeout, a size cap.

use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::IdentityError;

/// Largest key set accepted.
const MAX_BODY: usize = 1 << 20;

/// Fetches one URL.
pub struct Fetcher {
    url: Uri,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Fetcher {
    /// A fetcher for `url` (`https://`, or `http://` for tests and sidecars).
    pub fn new(url: &str) -> Result<Self, IdentityError> {
        let url: Uri = url
            .parse()
            .map_err(|e| IdentityError::Setup(format!("JWKS URL {url:?}: {e}")))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| IdentityError::Setup(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            url,
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// GET the URL: its body as text, or why not.
    pub async fn get(&self) -> Result<String, IdentityError> {
        let fail = |what: String| IdentityError::Setup(format!("JWKS {}: {what}", self.url));
        let resp = tokio::time::timeout(Duration::from_secs(5), self.client.get(self.url.clone()))
            .await
            .map_err(|_| fail("timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("answered {}", resp.status())));
        }
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| fail("not UTF-8".into()))
    }
}

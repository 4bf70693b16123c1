//! The gateway's own OAuth client towards an upstream (`upstream_credential:
//! client_credentials` of a `resource_server` route): a token from the authorization server
//! by the client-credentials grant (OAuth 2.1 §4.2, with an RFC 8707 `resource` when
//! configured), cached and shared by every call until `refresh_before` its expiry, fetched
//! again by one call at a time (the others wait for it rather than stampede the server).
//! Without a token the call is not forwarded: the upstream never sees it unauthenticated,
//! and the client gets a 502 saying the upstream credential is unavailable.

use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::form_urlencoded;

use crate::config::{ClientCredentials, TokenEndpointAuth};

/// Largest token answer read.
const MAX_ANSWER: usize = 64 << 10;
/// How long the token endpoint may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Lifetime assumed when the server names none (`expires_in` is only recommended).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Longest lifetime believed (a year-long token is refreshed hourly anyway).
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// Why no upstream token could be had (for the log; the client sees only that it failed).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The client secret could not be read at start.
    #[error("client secret: {0}")]
    Secret(String),
    /// The token endpoint URL or the HTTPS client could not be set up.
    #[error("token endpoint: {0}")]
    Setup(String),
    /// The token endpoint did not answer in time, or the connection failed.
    #[error("token endpoint unreachable: {0}")]
    Unreachable(String),
    /// It answered, but not with a token (an OAuth error, a non-2xx status, bad JSON).
    #[error("token endpoint refused: {0}")]
    Refused(String),
}

/// A cached bearer token.
struct Cached {
    header: HeaderValue,
    refresh_at: Instant,
}

/// Obtains and caches the upstream token of one route.
pub struct TokenSource {
    cfg: ClientCredentials,
    url: http::Uri,
    secret: String,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    cached: Mutex<Option<Cached>>,
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// An OAuth error answer (RFC 6749 §5.2): only its code is logged.
#[derive(Deserialize)]
struct OAuthError {
    error: String,
}

impl TokenSource {
    /// Read the secret and set up the client (no request yet: the first call fetches).
    pub fn new(cfg: &ClientCredentials) -> Result<Self, CredentialError> {
        let secret = match (&cfg.client_secret_file, &cfg.client_secret_env) {
            (Some(p), _) => std::fs::read_to_string(p)
                .map_err(|e| CredentialError::Secret(format!("{}: {e}", p.display())))?,
            (None, Some(v)) => {
                std::env::var(v).map_err(|_| CredentialError::Secret(format!("${v} is not set")))?
            }
            (None, None) => return Err(CredentialError::Secret("none configured".into())),
        };
        let secret = secret.trim().to_string();
        if secret.is_empty() {
            return Err(CredentialError::Secret("empty".into()));
        }
        let url: http::Uri = cfg
            .token_url
            .parse()
            .map_err(|e| CredentialError::Setup(format!("{}: {e}", cfg.token_url)))?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| CredentialError::Setup(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            cfg: cfg.clone(),
            url,
            secret,
            client: Client::builder(TokioExecutor::new()).build(connector),
            cached: Mutex::new(None),
        })
    }

    /// The `Authorization` value for the upstream: the cached token, or a new one.
    pub async fn authorization(&self) -> Result<HeaderValue, CredentialError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.header.clone());
        }
        let (header, lifetime) = self.fetch().await?;
        let refresh_at = Instant::now() + lifetime.saturating_sub(self.cfg.refresh_before);
        *cached = Some(Cached {
            header: header.clone(),
            refresh_at,
        });
        Ok(header)
    }

    /// The form body of the token request (RFC 6749 §4.4.2, §2.3.1).
    fn form(&self) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(s) = &self.cfg.scope {
            form.append_pair("scope", s);
        }
        if let Some(r) = &self.cfg.resource {
            form.append_pair("resource", r);
        }
        if self.cfg.auth == TokenEndpointAuth::Post {
            form.append_pair("client_id", &self.cfg.client_id);
            form.append_pair("client_secret", &self.secret);
        }
        form.finish()
    }

    async fn fetch(&self) -> Result<(HeaderValue, Duration), CredentialError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if self.cfg.auth == TokenEndpointAuth::Basic {
            // RFC 6749 §2.3.1: id and secret form-encoded before Basic encoding.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&self.cfg.client_id), enc(&self.secret));
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            let mut v = HeaderValue::from_str(&format!("Basic {b64}"))
                .map_err(|_| CredentialError::Setup("client id not usable in a header".into()))?;
            v.set_sensitive(true);
            req = req.header(header::AUTHORIZATION, v);
        }
        let req = req
            .body(Full::new(Bytes::from(self.form())))
            .map_err(|e| CredentialError::Setup(e.to_string()))?;
        let resp = tokio::time::timeout(TIMEOUT, self.client.request(req))
            .await
            .map_err(|_| CredentialError::Unreachable("timed out".into()))?
            .map_err(|e| CredentialError::Unreachable(e.to_string()))?;
        let status = resp.status();
        let body = tokio::time::timeout(
            TIMEOUT,
            Limited::new(resp.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| CredentialError::Unreachable("answer timed out".into()))?
        .map_err(|e| CredentialError::Refused(format!("answer unreadable: {e}")))?
        .to_bytes();
        if !status.is_success() {
            let code = serde_json::from_slice::<OAuthError>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| "no OAuth error code".into());
            return Err(CredentialError::Refused(format!("{status}: {code}")));
        }
        parse_answer(&body)
    }
}

/// The bearer header and its lifetime from a token answer; never echoes the token.
fn parse_answer(body: &[u8]) -> Result<(HeaderValue, Duration), CredentialError> {
    let t: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
        CredentialError::Refused(format!("not a token answer: {}", e.classify_name()))
    })?;
    if !t.token_type.eq_ignore_ascii_case("bearer") {
        return Err(CredentialError::Refused(format!(
            "token type {:?} is not Bearer",
            t.token_type
        )));
    }
    if t.access_token.is_empty() {
        return Err(CredentialError::Refused("empty access token".into()));
    }
    let mut header = HeaderValue::from_str(&format!("Bearer {}", t.access_token))
        .map_err(|_| CredentialError::Refused("access token not usable in a header".into()))?;
    header.set_sensitive(true);
    let lifetime = t
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    Ok((header, lifetime))
}

/// A JSON error's category, never its text (which may quote the token).
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "missing or mistyped fields",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_become_bearer_headers_with_bounded_lifetimes() {
        let (h, life) =
            parse_answer(br#"{"access_token":"abc","token_type":"bearer","expires_in":120}"#)
                .expect("answer");
        assert_eq!(h, "Bearer abc");
        assert!(h.is_sensitive());
        assert_eq!(life, Duration::from_secs(120));
        let (_, life) =
            parse_answer(br#"{"access_token":"abc","token_type":"Bearer"}"#).expect("answer");
        assert_eq!(life, DEFAULT_LIFETIME);
        let (_, life) =
            parse_answer(br#"{"access_token":"abc","token_type":"Bearer","expires_in":999999999}"#)
                .expect("answer");
        assert_eq!(life, MAX_LIFETIME);
    }

    #[test]
    fn what_is_not_a_bearer_token_is_refused_without_quoting_it() {
        for (body, why) in [
            (
                &br#"{"access_token":"abc","token_type":"mac"}"#[..],
                "not Bearer",
            ),
            (br#"{"access_token":"","token_type":"Bearer"}"#, "empty"),
            (br#"{"token_type":"Bearer"}"#, "missing or mistyped"),
            (
                br#"{"access_token":"se\ncret","token_type":"Bearer"}"#,
                "not usable",
            ),
            (b"<html>", "invalid JSON"),
        ] {
            let e = parse_answer(body).expect_err("refused").to_string();
            assert!(e.contains(why), "{e}");
            assert!(!e.contains("se\ncret") && !e.contains("cret"), "{e}");
        }
    }

    fn cfg(auth: TokenEndpointAuth) -> ClientCredentials {
        ClientCredentials {
            token_url: "http://127.0.0.1:1/token".into(),
            client_id: "gate way".into(),
            client_secret_file: None,
            client_secret_env: Some("SEC0_TEST_CC_SECRET_FORM".into()),
            scope: Some("mcp:tools notes".into()),
            resource: Some("https://up.example/mcp".into()),
            auth,
            refresh_before: Duration::from_secs(30),
        }
    }

    #[test]
    fn the_form_names_the_grant_scope_and_resource_and_the_secret_only_when_posted() {
        // SAFETY of the test: a variable only this test reads.
        unsafe { std::env::set_var("SEC0_TEST_CC_SECRET_FORM", "s3cret") };
        let basic = TokenSource::new(&cfg(TokenEndpointAuth::Basic)).expect("source");
        assert_eq!(
            basic.form(),
            "grant_type=client_credentials&scope=mcp%3Atools+notes&resource=https%3A%2F%2Fup.example%2Fmcp"
        );
        let post = TokenSource::new(&cfg(TokenEndpointAuth::Post)).expect("source");
        assert!(
            post.form()
                .ends_with("&client_id=gate+way&client_secret=s3cret")
        );
    }

    #[test]
    fn a_missing_secret_stops_start_up() {
        let mut c = cfg(TokenEndpointAuth::Basic);
        c.client_secret_env = Some("SEC0_TEST_CC_SECRET_NEVER_SET".into());
        assert!(matches!(
            TokenSource::new(&c),
            Err(CredentialError::Secret(_))
        ));
    }

    #[tokio::test]
    async fn an_unreachable_token_endpoint_is_an_error_not_a_token() {
        unsafe { std::env::set_var("SEC0_TEST_CC_SECRET_FORM", "s3cret") };
        let s = TokenSource::new(&cfg(TokenEndpointAuth::Basic)).expect("source");
        assert!(matches!(
            s.authorization().await,
            Err(CredentialError::Unreachable(_))
        ));
    }
}

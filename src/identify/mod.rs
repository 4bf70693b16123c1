//! Identify: who is calling, verified — never claimed. A caller proves its identity with a
//! client certificate (mTLS), a bearer JWT or an API key; each route says which proofs it
//! accepts and whether anonymous callers pass. The verified name becomes the `caller` that
//! rules match and audit records carry. A credential that is presented but does not verify is
//! refused (401), never downgraded to anonymous.

pub mod apikey;
pub mod fetch;
pub mod jwt;
pub mod mtls;

use std::sync::Arc;

use http::{HeaderMap, HeaderName, header};
use serde_json::{Map, Value};

use crate::config::{AuthMethod, IdentityConfig, RouteAuth};

/// Why a caller could not be identified (or identity could not be set up).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Keys, secrets or key files could not be loaded.
    #[error("identity setup: {0}")]
    Setup(String),
    /// A presented credential does not verify.
    #[error("credentials do not verify: {0}")]
    Invalid(String),
    /// The route needs a verified identity and none was presented.
    #[error("this route needs a verified caller")]
    Required,
}

/// A caller as the gateway knows it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The caller's name (`anonymous` without a verified identity).
    pub caller: Arc<str>,
    /// How it was verified (`None`: anonymous).
    pub method: Option<AuthMethod>,
    /// JWT claims exposed to rules (`when.claims`).
    pub claims: Arc<Map<String, Value>>,
}

impl Identity {
    /// The unverified caller.
    pub fn anonymous() -> Self {
        static ANON: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
        Self {
            caller: ANON.get_or_init(|| Arc::from("anonymous")).clone(),
            method: None,
            claims: Arc::default(),
        }
    }

    /// Whether the identity was verified.
    pub fn is_verified(&self) -> bool {
        self.method.is_some()
    }
}

/// The configured verifiers.
pub struct Identifier {
    jwt: Option<Arc<jwt::JwtVerifier>>,
    api_keys: Option<apikey::ApiKeys>,
    api_key_header: HeaderName,
}

impl Identifier {
    /// Load keys, secrets and key files (an error stops start-up).
    pub async fn new(cfg: &IdentityConfig) -> Result<Self, IdentityError> {
        let jwt = match &cfg.jwt {
            Some(j) => Some(Arc::new(jwt::JwtVerifier::new(j).await?)),
            None => None,
        };
        let (api_keys, api_key_header) = match &cfg.api_keys {
            Some(k) => (
                Some(apikey::ApiKeys::from_config(k)?),
                HeaderName::from_bytes(k.header.as_bytes())
                    .map_err(|e| IdentityError::Setup(format!("api_keys.header: {e}")))?,
            ),
            None => (None, HeaderName::from_static("x-api-key")),
        };
        Ok(Self {
            jwt,
            api_keys,
            api_key_header,
        })
    }

    /// The JWT verifier (for its refresh task).
    pub fn jwt(&self) -> Option<&Arc<jwt::JwtVerifier>> {
        self.jwt.as_ref()
    }

    /// Whether bearer tokens are verified here (401 answers then carry a Bearer challenge).
    pub fn takes_bearer(&self) -> bool {
        self.jwt.is_some()
    }

    /// Identify the caller of a request on a route with `auth`. `conn_caller` is the name in
    /// the connection's verified client certificate. Credentials the gateway verified are
    /// removed from `headers`: they were meant for the gateway, and passing them on would let
    /// the upstream act with the caller's credentials (token passthrough).
    pub async fn identify(
        &self,
        headers: &mut HeaderMap,
        conn_caller: Option<&Arc<str>>,
        auth: &RouteAuth,
    ) -> Result<Identity, IdentityError> {
        for method in &auth.methods {
            match method {
                AuthMethod::Mtls => {
                    if let Some(c) = conn_caller {
                        return Ok(Identity {
                            caller: c.clone(),
                            method: Some(AuthMethod::Mtls),
                            claims: Arc::default(),
                        });
                    }
                }
                AuthMethod::Jwt => {
                    let (Some(v), Some(token)) = (&self.jwt, bearer(headers)) else {
                        continue;
                    };
                    let verified = v.verify(token).await?;
                    headers.remove(header::AUTHORIZATION);
                    return Ok(Identity {
                        caller: Arc::from(verified.caller),
                        method: Some(AuthMethod::Jwt),
                        claims: Arc::new(verified.claims),
                    });
                }
                AuthMethod::ApiKey => {
                    let Some(keys) = &self.api_keys else {
                        continue;
                    };
                    let (presented, from_auth) = match headers
                        .get(&self.api_key_header)
                        .and_then(|v| v.to_str().ok())
                    {
                        Some(k) => (k, false),
                        None => match headers
                            .get(header::AUTHORIZATION)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.strip_prefix("ApiKey "))
                        {
                            Some(k) => (k, true),
                            None => continue,
                        },
                    };
                    let caller = keys
                        .caller_of(presented)
                        .map(Arc::<str>::from)
                        .ok_or_else(|| IdentityError::Invalid("unknown API key".into()))?;
                    if from_auth {
                        headers.remove(header::AUTHORIZATION);
                    } else {
                        headers.remove(&self.api_key_header);
                    }
                    return Ok(Identity {
                        caller,
                        method: Some(AuthMethod::ApiKey),
                        claims: Arc::default(),
                    });
                }
            }
        }
        if auth.anonymous {
            Ok(Identity::anonymous())
        } else {
            Err(IdentityError::Required)
        }
    }
}

/// The bearer token of `Authorization: Bearer …`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

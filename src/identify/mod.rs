//! Identify: who is calling, verified — never claimed. A caller proves its identity with a
//! client certificate (mTLS), a bearer JWT or an API key; each route says which proofs it
//! accepts and whether anonymous callers pass. The verified name becomes the `caller` that
//! rules match and audit records carry. A credential that is presented but does not verify is
//! refused (401), never downgraded to anonymous.

pub mod apikey;
pub mod client_credentials;
pub mod fetch;
pub mod jwt;
pub mod mtls;
pub mod oauth;

use std::sync::Arc;

use http::{HeaderMap, HeaderName, header};
use serde_json::{Map, Value};

use crate::config::{AuthMethod, IdentityConfig, OAuthMode, RouteAuth, RouteConfig};

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
    /// The bearer token verifies but lacks scopes the call needs (answered 403
    /// `insufficient_scope`: the client may re-authorise with more scope).
    #[error("the token lacks a scope this call needs (needs {scope:?})")]
    InsufficientScope {
        /// Every scope the call needs, with those the token has, space-separated.
        scope: String,
    },
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
    /// Per route (by index): the gateway as its OAuth resource server.
    resource_servers: Vec<Option<Arc<oauth::ResourceServer>>>,
}

impl Identifier {
    /// Load keys, secrets and key files, for `cfg` and the `resource_server` routes of
    /// `routes` (an error stops start-up).
    pub async fn new(cfg: &IdentityConfig, routes: &[RouteConfig]) -> Result<Self, IdentityError> {
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
        let mut resource_servers = Vec::with_capacity(routes.len());
        for (i, r) in routes.iter().enumerate() {
            resource_servers.push(match &r.oauth {
                Some(o) if o.mode == OAuthMode::ResourceServer => {
                    Some(Arc::new(oauth::ResourceServer::new(o).await.map_err(
                        |e| IdentityError::Setup(format!("routes[{i}].oauth: {e}")),
                    )?))
                }
                _ => None,
            });
        }
        Ok(Self {
            jwt,
            api_keys,
            api_key_header,
            resource_servers,
        })
    }

    /// The resource server of route `index`, when the gateway is one there.
    pub fn resource_server(&self, index: usize) -> Option<&Arc<oauth::ResourceServer>> {
        self.resource_servers.get(index).and_then(Option::as_ref)
    }

    /// Every route's resource server (for their JWKS refresh tasks).
    pub fn resource_servers(&self) -> impl Iterator<Item = &Arc<oauth::ResourceServer>> {
        self.resource_servers.iter().flatten()
    }

    /// The JWT verifier (for its refresh task).
    pub fn jwt(&self) -> Option<&Arc<jwt::JwtVerifier>> {
        self.jwt.as_ref()
    }

    /// Whether bearer tokens are verified here (401 answers then carry a Bearer challenge).
    pub fn takes_bearer(&self) -> bool {
        self.jwt.is_some()
    }

    /// Identify the caller of a request on route number `route` accepting `auth`.
    /// `conn_caller` is the name in the connection's verified client certificate. Credentials
    /// the gateway verified are removed from `headers`: they were meant for the gateway, and
    /// passing them on would let the upstream act with the caller's credentials (token
    /// passthrough). The exception is `keep_bearer` (a pass-through OAuth route), whose bearer
    /// token is meant for the upstream, the resource server there. On a route where the
    /// gateway is the resource server, the bearer token is the only proof accepted.
    pub async fn identify(
        &self,
        headers: &mut HeaderMap,
        conn_caller: Option<&Arc<str>>,
        route: usize,
        auth: &RouteAuth,
        keep_bearer: bool,
    ) -> Result<Identity, IdentityError> {
        if let Some(rs) = self.resource_server(route) {
            return rs.identify(headers).await;
        }
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
                    if !keep_bearer {
                        headers.remove(header::AUTHORIZATION);
                    }
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

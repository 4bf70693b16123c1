//! Bearer JWTs: RS256, ES256 and EdDSA with keys from a JWKS (file or URL, picked by `kid`,
//! refreshed, an unknown `kid` fetched again at most every 30 s so rotated keys are found),
//! and HS256 with a shared secret. `iss` and `aud` must match, `exp` is required, `nbf` is
//! honoured, both with a small leeway. The algorithm comes from the key, never from the token
//! alone: a JWKS public key is never used as an HMAC secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::IdentityError;
use crate::config::JwtConfig;

/// Longest token accepted (a header is capped anyway; this keeps parsing cheap).
const MAX_TOKEN: usize = 16 << 10;

/// Least time between two JWKS fetches caused by unknown `kid`s: 30 s for a URL (never
/// hammer the identity provider), 1 s for a file.
fn refetch_gap(from_url: bool) -> Duration {
    if from_url {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(1)
    }
}

/// A verified token: the caller and the claims rules may see.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The caller claim's value.
    pub caller: String,
    /// The configured claims that were present.
    pub claims: Map<String, Value>,
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
}

/// The verifier with its key cache.
pub struct JwtVerifier {
    cfg: JwtConfig,
    keys: ArcSwap<Keys>,
    hs256: Option<DecodingKey>,
    last_fetch: std::sync::Mutex<Instant>,
    client: Option<super::fetch::Fetcher>,
}

impl JwtVerifier {
    /// Load the keys now (a missing or bad JWKS or secret stops start-up).
    pub async fn new(cfg: &JwtConfig) -> Result<Self, IdentityError> {
        let hs256 = match &cfg.hs256_secret_file {
            Some(p) => {
                let secret = std::fs::read(p)
                    .map_err(|e| IdentityError::Setup(format!("{}: {e}", p.display())))?;
                let secret = secret.trim_ascii();
                if secret.len() < 32 {
                    return Err(IdentityError::Setup(format!(
                        "{}: an HS256 secret needs at least 32 bytes",
                        p.display()
                    )));
                }
                Some(DecodingKey::from_secret(secret))
            }
            None => None,
        };
        let client = cfg
            .jwks_url
            .as_ref()
            .map(|u| super::fetch::Fetcher::new(u))
            .transpose()?;
        let v = Self {
            cfg: cfg.clone(),
            keys: ArcSwap::from_pointee(Keys {
                by_kid: HashMap::new(),
            }),
            hs256,
            last_fetch: std::sync::Mutex::new(Instant::now()),
            client,
        };
        if v.cfg.jwks_file.is_some() || v.cfg.jwks_url.is_some() {
            v.refresh().await?;
        }
        Ok(v)
    }

    /// Read the JWKS again (file or URL).
    pub async fn refresh(&self) -> Result<usize, IdentityError> {
        let text = match (&self.cfg.jwks_file, &self.client) {
            (Some(p), _) => std::fs::read_to_string(p)
                .map_err(|e| IdentityError::Setup(format!("{}: {e}", p.display())))?,
            (None, Some(c)) => c.get().await?,
            (None, None) => return Ok(0),
        };
        if let Ok(mut t) = self.last_fetch.lock() {
            *t = Instant::now();
        }
        let set: JwkSet =
            serde_json::from_str(&text).map_err(|e| IdentityError::Setup(format!("JWKS: {e}")))?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue; // keys are picked by kid
            };
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                // A symmetric key in a JWKS would let anyone with the JWKS sign: refused.
                AlgorithmParameters::OctetKey(_) => continue,
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                by_kid.insert(kid, (key, alg));
            }
        }
        let n = by_kid.len();
        self.keys.store(Arc::new(Keys { by_kid }));
        Ok(n)
    }

    /// Re-read the JWKS every `jwks_refresh` until `stop`.
    pub async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.cfg.jwks_file.is_none() && self.cfg.jwks_url.is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.jwks_refresh) => {}
                _ = stop.changed() => return,
            }
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "JWKS refresh failed; keeping the keys we have");
            }
        }
    }

    /// Verify `token`.
    pub async fn verify(&self, token: &str) -> Result<Verified, IdentityError> {
        if token.len() > MAX_TOKEN {
            return Err(IdentityError::Invalid("token too long".into()));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| IdentityError::Invalid(format!("malformed token: {e}")))?;
        let (key, alg) = match header.alg {
            Algorithm::HS256 => match &self.hs256 {
                Some(k) => (k.clone(), Algorithm::HS256),
                None => {
                    return Err(IdentityError::Invalid(
                        "HS256 tokens are not accepted".into(),
                    ));
                }
            },
            Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| IdentityError::Invalid("token has no kid".into()))?;
                match self.key(kid) {
                    Some(k) => k,
                    None => {
                        self.refetch_for_unknown_kid().await;
                        self.key(kid).ok_or_else(|| {
                            IdentityError::Invalid(format!("unknown key id {kid:?}"))
                        })?
                    }
                }
            }
            other => {
                return Err(IdentityError::Invalid(format!(
                    "algorithm {other:?} is not accepted"
                )));
            }
        };
        if alg != header.alg {
            return Err(IdentityError::Invalid(format!(
                "token says {:?}, its key is {alg:?}",
                header.alg
            )));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.cfg.issuer]);
        v.set_audience(&self.cfg.audience);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = self.cfg.leeway.as_secs();
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
            .map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let caller = data
            .claims
            .get(&self.cfg.caller_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                IdentityError::Invalid(format!(
                    "claim {:?} missing or not a plain name",
                    self.cfg.caller_claim
                ))
            })?
            .to_string();
        let claims = self
            .cfg
            .claims
            .iter()
            .filter_map(|c| data.claims.get(c).map(|v| (c.clone(), v.clone())))
            .collect();
        Ok(Verified { caller, claims })
    }

    fn key(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.keys.load().by_kid.get(kid).cloned()
    }

    async fn refetch_for_unknown_kid(&self) {
        let due = self
            .last_fetch
            .lock()
            .map(|t| t.elapsed() >= refetch_gap(self.cfg.jwks_file.is_none()))
            .unwrap_or(false);
        if due {
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %e, "JWKS refetch for an unknown kid failed");
            }
        }
    }
}

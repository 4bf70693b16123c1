//! Bearer JWTs: RS256, ES256 and EdDSA with keys from a JWKS (file or URL, picked by `kid`,
//! refreshed, an unknown `kid` fetched again at most every 30 s so rotated keys are found),
//! and HS256 with a shared secret. `iss` and `aud` must match, `exp` is required, `nbf` is
//! honoured, both with a small leeway. The algorithm comes from the key, never from the token
//! alone: a JWKS public key is never used as an HMAC secret.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, OctetKeyPairParameters};
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

/// Whether an OKP key is a well-formed Ed25519 public key: curve `Ed25519` and `x` exactly
/// 32 bytes (base64url without padding, as jsonwebtoken decodes it) that are a curve point.
fn is_ed25519_key(p: &OctetKeyPairParameters) -> bool {
    use base64::Engine;
    p.curve == EllipticCurve::Ed25519
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&p.x)
            .ok()
            .and_then(|x| <[u8; 32]>::try_from(x.as_slice()).ok())
            .is_some_and(|x| ed25519_dalek::VerifyingKey::from_bytes(&x).is_ok())
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
        self.load_jwks(&text)
    }

    /// Replace the keys with those of the JWKS document `text`; returns how many were
    /// usable. Keys without a `kid` (tokens pick keys by it), symmetric keys (anyone
    /// holding the JWKS could sign with them) and keys that do not decode are skipped; a
    /// document that is not a JWKS is an error and the keys held stay as they were.
    pub fn load_jwks(&self, text: &str) -> Result<usize, IdentityError> {
        let set: JwkSet =
            serde_json::from_str(text).map_err(|e| IdentityError::Setup(format!("JWKS: {e}")))?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue; // keys are picked by kid
            };
            let alg = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                AlgorithmParameters::OctetKeyPair(p) if is_ed25519_key(p) => Algorithm::EdDSA,
                // jsonwebtoken (10.4) reads an OKP key's first 32 bytes without checking its
                // length: a shorter `x` panics when a token names the key, a longer one is
                // cut to 32 bytes, and the curve is not checked. Only a real Ed25519 key is
                // kept.
                AlgorithmParameters::OctetKeyPair(_) => continue,
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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn verifier() -> JwtVerifier {
        JwtVerifier {
            cfg: JwtConfig {
                jwks_file: None,
                jwks_url: None,
                jwks_refresh: Duration::from_secs(300),
                hs256_secret_file: None,
                issuer: "https://idp.test".into(),
                audience: vec!["gw".into()],
                leeway: Duration::from_secs(30),
                caller_claim: "sub".into(),
                claims: vec![],
            },
            keys: ArcSwap::from_pointee(Keys {
                by_kid: HashMap::new(),
            }),
            hs256: None,
            last_fetch: std::sync::Mutex::new(Instant::now()),
            client: None,
        }
    }

    /// Found by the `jwks_document` fuzz target: an Ed25519 key whose `x` is shorter than
    /// 32 bytes made jsonwebtoken panic (slice out of range) on the first token naming it.
    #[tokio::test]
    async fn a_short_or_foreign_okp_key_is_skipped_not_a_panic() {
        let v = verifier();
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","kid":"ed"}"#),
            URL_SAFE_NO_PAD
                .encode(r#"{"sub":"a","iss":"https://idp.test","aud":"gw","exp":4102444800}"#),
            URL_SAFE_NO_PAD.encode([0u8; 64]),
        );
        let good = URL_SAFE_NO_PAD.encode(
            ed25519_dalek::SigningKey::from_bytes(&[5; 32])
                .verifying_key()
                .as_bytes(),
        );
        for (crv, x) in [
            ("Ed25519", "bnoc3Smwt4_RzYBQW_E".to_string()), // the fuzzer's input: 14 bytes
            ("Ed25519", URL_SAFE_NO_PAD.encode([1u8; 40])),
            ("P-256", good.clone()), // a real key, the wrong curve
        ] {
            let jwks =
                format!(r#"{{"keys":[{{"kty":"OKP","crv":"{crv}","kid":"ed","x":"{x}"}}]}}"#);
            assert_eq!(v.load_jwks(&jwks).expect("a JWKS"), 0, "{jwks}");
            assert!(v.verify(&token).await.is_err());
        }
        let jwks =
            format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"{good}"}}]}}"#);
        assert_eq!(v.load_jwks(&jwks).expect("a JWKS"), 1);
        // A real key: the (zero) signature is checked and refused.
        assert!(v.verify(&token).await.is_err());
    }
}

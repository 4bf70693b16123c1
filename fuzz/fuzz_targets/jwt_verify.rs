//! Bearer-token verification (`identify::jwt`): any bytes as the token, against a fixed key
//! set (an Ed25519 key in a JWKS, picked by `kid`, and an HS256 secret). No panic, and only
//! a token signed by one of those keys is accepted, with exactly the claims signed: the
//! first byte chooses raw input, or a valid EdDSA or HS256 token with the rest of the input
//! XOR-ed into it from an offset. An accepted mutant names the same caller and claims as
//! the token it came from (base64url that decodes the same way is the only room left).
#![no_main]

use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use sec0_gateway::config::JwtConfig;
use sec0_gateway::identify::jwt::{JwtVerifier, Verified};
use serde_json::json;

const SECRET: &[u8] = b"fuzz-hs256-secret-of-at-least-32-bytes!";

struct Fixture {
    verifier: JwtVerifier,
    tokens: [String; 2],
}

/// Run a future that never waits (nothing here does I/O: no JWKS URL, the file is read at
/// start-up only).
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the verifier waited on something"),
    }
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://idp.test", "aud": "gw", "sub": "alice", "tenant": "t1",
           "exp": 4_102_444_800u64, "nbf": 0})
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let secret = std::env::temp_dir().join(format!("sec0-fuzz-hs256-{}", std::process::id()));
        std::fs::write(&secret, SECRET).expect("write the HS256 secret");
        let cfg = JwtConfig {
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: std::time::Duration::from_secs(300),
            hs256_secret_file: Some(secret.clone()),
            issuer: "https://idp.test".into(),
            audience: vec!["gw".into()],
            leeway: std::time::Duration::from_secs(30),
            caller_claim: "sub".into(),
            claims: vec!["tenant".into()],
        };
        let verifier = now(JwtVerifier::new(&cfg)).expect("the verifier");
        let _ = std::fs::remove_file(&secret);
        let key = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let jwks = json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": x},
            {"kty": "oct", "kid": "sym", "k": URL_SAFE_NO_PAD.encode(SECRET)}
        ]});
        assert_eq!(verifier.load_jwks(&jwks.to_string()).expect("the JWKS"), 1);
        let head =
            URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed"}).to_string());
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let signing_input = format!("{head}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes()).to_bytes());
        let ed = format!("{signing_input}.{sig}");
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(SECRET),
        )
        .expect("an HS256 token");
        for t in [&ed, &hs] {
            let v = now(verifier.verify(t)).expect("the fixture's tokens verify");
            check(&v);
        }
        Fixture {
            verifier,
            tokens: [ed, hs],
        }
    })
}

fn check(v: &Verified) {
    assert_eq!(v.caller, "alice");
    assert_eq!(v.claims.len(), 1);
    assert_eq!(v.claims.get("tenant"), Some(&json!("t1")));
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match data.split_first() {
        Some((pick @ (0 | 1), rest)) if rest.len() >= 2 => {
            let valid = f.tokens[usize::from(*pick)].as_bytes();
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % valid.len();
            let mut b = valid.to_vec();
            for (i, x) in rest[2..].iter().enumerate() {
                if let Some(byte) = b.get_mut(at + i) {
                    *byte ^= x;
                }
            }
            let Ok(token) = std::str::from_utf8(&b) else {
                return;
            };
            if let Ok(v) = now(f.verifier.verify(token)) {
                check(&v);
            }
        }
        _ => {
            let token = String::from_utf8_lossy(data);
            if let Ok(v) = now(f.verifier.verify(&token)) {
                // Forging a signature is out of reach; raw input verifies only by
                // rebuilding a valid token.
                check(&v);
            }
        }
    }
});

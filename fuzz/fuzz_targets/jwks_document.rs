//! JWKS documents (`identify::jwt::JwtVerifier::load_jwks`): the key set an identity
//! provider serves (or the operator's file), read from any text. No panic; the keys kept
//! are at most the document's keys; a document that is not JSON is refused; and a token
//! signed with the fixture's Ed25519 key is accepted only when the document holds that very
//! public key under the token's `kid` (never through a symmetric `oct` key, which the
//! loader refuses).
#![no_main]

use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use libfuzzer_sys::fuzz_target;
use sec0_gateway::config::JwtConfig;
use sec0_gateway::identify::jwt::JwtVerifier;
use serde_json::{Value, json};

struct Fixture {
    verifier: JwtVerifier,
    token: String,
    x: String,
}

fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the verifier waited on something"),
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let cfg = JwtConfig {
            jwks_file: None,
            jwks_url: None,
            jwks_refresh: std::time::Duration::from_secs(300),
            hs256_secret_file: None,
            issuer: "https://idp.test".into(),
            audience: vec!["gw".into()],
            leeway: std::time::Duration::from_secs(30),
            caller_claim: "sub".into(),
            claims: vec![],
        };
        let verifier = now(JwtVerifier::new(&cfg)).expect("the verifier");
        let key = ed25519_dalek::SigningKey::from_bytes(&[5u8; 32]);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        let head =
            URL_SAFE_NO_PAD.encode(json!({"alg": "EdDSA", "typ": "JWT", "kid": "ed"}).to_string());
        let body = URL_SAFE_NO_PAD.encode(
            json!({"iss": "https://idp.test", "aud": "gw", "sub": "alice",
                   "exp": 4_102_444_800u64})
            .to_string(),
        );
        let signing_input = format!("{head}.{body}");
        let sig = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes()).to_bytes());
        Fixture {
            verifier,
            token: format!("{signing_input}.{sig}"),
            x,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Start from no keys, so what verifies below comes from this document only.
    f.verifier
        .load_jwks(r#"{"keys":[]}"#)
        .expect("an empty JWKS");
    let parsed = serde_json::from_str::<Value>(text);
    let loaded = f.verifier.load_jwks(text);
    let Ok(n) = loaded else {
        return;
    };
    let doc = parsed.expect("a JWKS the loader read is JSON");
    // `{"keys": [...]}`, or the same as a sequence (`[[...]]`: serde reads a struct from
    // either).
    let keys: &[Value] = match &doc {
        Value::Object(o) => o.get("keys").and_then(Value::as_array),
        Value::Array(a) => a.first().and_then(Value::as_array),
        _ => None,
    }
    .map_or(&[], Vec::as_slice);
    assert!(
        n <= keys.len(),
        "{n} keys from a document of {}",
        keys.len()
    );
    if now(f.verifier.verify(&f.token)).is_ok() {
        let holds = keys.iter().any(|k| {
            k.get("kid") == Some(&json!("ed"))
                && k.get("kty") == Some(&json!("OKP"))
                && k.get("x").and_then(Value::as_str).is_some_and(|x| {
                    URL_SAFE_NO_PAD.decode(x.trim_end_matches('=')).ok()
                        == URL_SAFE_NO_PAD.decode(&f.x).ok()
                })
        });
        assert!(
            holds,
            "a token verified with a key the document does not hold: {text}"
        );
    }
});

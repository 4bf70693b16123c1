//! Tamper evidence: every record carries the hash of the record before it, and checkpoint
//! records are signed with Ed25519.
//!
//! **Canonical form** (what is hashed; any tool can recompute it): the record as a JSON
//! object without its `hash` and `signature` members, keys sorted by their UTF-8 bytes, no
//! insignificant whitespace, strings escaped as RFC 8259 requires (only `"`, `\`, and
//! control characters; non-ASCII written as UTF-8), numbers as integers. `hash` is the
//! lowercase hex SHA-256 of those bytes. The first record of a file has `prev_hash` = 64
//! zeros. A checkpoint's `signature` is the base64 (standard, padded) Ed25519 signature over
//! the 32 raw bytes of its `hash`, made with the key named by its `key_id`.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::record::AuditRecord;

/// `prev_hash` of a file's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not an Ed25519 key in PEM.
    #[error("{path}: not an Ed25519 {what} in PEM ({detail})")]
    Format {
        /// The file.
        path: String,
        /// `private key (PKCS#8)` or `public key (SPKI)`.
        what: &'static str,
        /// The parser's words.
        detail: String,
    },
}

/// The canonical bytes of a record (see the module docs).
pub fn canonical(record: &Value) -> Vec<u8> {
    match record {
        Value::Object(map) => {
            // serde_json's map keeps keys sorted (BTreeMap), so this is the sorted form.
            let mut m = map.clone();
            m.remove("hash");
            m.remove("signature");
            serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
        }
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// The hex SHA-256 of the canonical form.
pub fn hash_of(record: &Value) -> String {
    hex::encode(Sha256::digest(canonical(record)))
}

/// A checkpoint signer: the private key and its id.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
    /// Id written into checkpoints (so a verifier picks the right public key).
    pub key_id: String,
}

impl CheckpointSigner {
    /// Read a PKCS#8 PEM private key (`openssl genpkey -algorithm ed25519`).
    pub fn from_pem_file(path: &Path, key_id: &str) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Format {
            path: path.display().to_string(),
            what: "private key (PKCS#8)",
            detail: e.to_string(),
        })?;
        Ok(Self {
            key,
            key_id: key_id.to_string(),
        })
    }

    /// A signer from a raw 32-byte seed (tests, benchmarks).
    pub fn from_seed(seed: [u8; 32], key_id: &str) -> Self {
        Self {
            key: SigningKey::from_bytes(&seed),
            key_id: key_id.to_string(),
        }
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The signature (base64) over the raw bytes of `hash_hex`.
    pub fn sign_hash(&self, hash_hex: &str) -> String {
        let raw = hex::decode(hash_hex).unwrap_or_default();
        let sig = self.key.sign(&raw);
        base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
    }
}

/// One hash chain: turns records into chained NDJSON lines (record, `hash`, and for
/// checkpoints the `signature`), with a checkpoint every `checkpoint_every` records and on
/// demand. The bytes hashed are the record's serialization, which is its canonical form
/// (see [`super::record::AuditRecord`]); `hash` and `signature` are appended after.
pub struct Chain {
    id: std::sync::Arc<str>,
    prev_hash: String,
    seq: u64,
    since_checkpoint: u64,
    checkpoint_every: u64,
    signer: Option<CheckpointSigner>,
}

impl Chain {
    /// A new chain named `id` (its first record links to [`GENESIS`]).
    pub fn new(id: &str, signer: Option<CheckpointSigner>, checkpoint_every: u64) -> Self {
        Self {
            id: std::sync::Arc::from(id),
            prev_hash: GENESIS.to_string(),
            seq: 0,
            since_checkpoint: 0,
            checkpoint_every: checkpoint_every.max(1),
            signer,
        }
    }

    /// The chain's name (records carry it as `chain`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Lines written so far (checkpoints included).
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Chain `record` and append its line to `out`, then a checkpoint line when one is due.
    /// Returns the lines appended (1 or 2).
    pub fn append(&mut self, record: &mut AuditRecord, out: &mut Vec<u8>) -> u64 {
        self.link(record, out, false);
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.checkpoint_every {
            self.checkpoint("interval", out);
            return 2;
        }
        1
    }

    /// Append a checkpoint line (`reason`: `interval`, `timer`, `rotation`, `shutdown`),
    /// signed when the chain has a key.
    pub fn checkpoint(&mut self, reason: &'static str, out: &mut Vec<u8>) {
        let mut cp = AuditRecord::checkpoint(reason, self.seq);
        cp.key_id = self
            .signer
            .as_ref()
            .map(|s| std::sync::Arc::from(s.key_id.as_str()));
        self.link(&mut cp, out, true);
        self.since_checkpoint = 0;
    }

    fn link(&mut self, record: &mut AuditRecord, out: &mut Vec<u8>, sign: bool) {
        record.chain = self.id.clone();
        record.seq = self.seq;
        record.prev_hash = std::mem::take(&mut self.prev_hash);
        let start = out.len();
        // Serializing a struct of strings, integers and lists into a Vec cannot fail.
        if serde_json::to_writer(&mut *out, record).is_err() {
            out.truncate(start);
            out.extend_from_slice(b"{}");
        }
        let hash = hex::encode(Sha256::digest(&out[start..]));
        out.pop(); // the closing brace; `hash` (and `signature`) go before it
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(hash.as_bytes());
        out.push(b'"');
        if let (true, Some(s)) = (sign, &self.signer) {
            out.extend_from_slice(b",\"signature\":\"");
            out.extend_from_slice(s.sign_hash(&hash).as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
        self.prev_hash = hash;
        self.seq += 1;
    }
}

/// Read an SPKI PEM public key (`openssl pkey -pubout`).
pub fn public_key_from_pem_file(path: &Path) -> Result<VerifyingKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| KeyError::Format {
        path: path.display().to_string(),
        what: "public key (SPKI)",
        detail: e.to_string(),
    })
}

/// Whether `signature_b64` is `key`'s signature over the raw bytes of `hash_hex`.
pub fn signature_holds(key: &VerifyingKey, hash_hex: &str, signature_b64: &str) -> bool {
    let Ok(raw) = hex::decode(hash_hex) else {
        return false;
    };
    let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig) else {
        return false;
    };
    key.verify(&raw, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_is_sorted_compact_and_excludes_hash_and_signature() {
        let r =
            json!({"z": 1, "a": "é\"", "hash": "x", "signature": "y", "m": {"b": 2, "a": [1, 2]}});
        assert_eq!(
            String::from_utf8(canonical(&r)).expect("utf8"),
            r#"{"a":"é\"","m":{"a":[1,2],"b":2},"z":1}"#
        );
        assert_eq!(hash_of(&r).len(), 64);
    }

    #[test]
    fn signatures_verify_and_catch_changes() {
        let s = CheckpointSigner::from_seed([7; 32], "k1");
        let h = hash_of(&json!({"n": 1}));
        let sig = s.sign_hash(&h);
        assert!(signature_holds(&s.verifying_key(), &h, &sig));
        let other = hash_of(&json!({"n": 2}));
        assert!(!signature_holds(&s.verifying_key(), &other, &sig));
        assert!(!signature_holds(&s.verifying_key(), &h, "not base64!"));
        let stranger = CheckpointSigner::from_seed([8; 32], "k2");
        assert!(!signature_holds(&stranger.verifying_key(), &h, &sig));
    }
}

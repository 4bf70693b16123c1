//! Bundle signing keys: the trusted public keys a gateway verifies with (SPKI PEM, inline or
//! in files, several for rotation), the private key `bundle build` signs with (PKCS#8 PEM),
//! and `bundle keygen`. Keys are named in logs only by a fingerprint of the public key,
//! never by key material.

use std::path::Path;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not a key of the expected kind.
    #[error("{what}: not an Ed25519 {kind} in PEM ({detail})")]
    Format {
        /// The file, or `inline key #n`.
        what: String,
        /// `public key (SPKI)` or `private key (PKCS#8)`.
        kind: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// A key pair could not be generated.
    #[error("cannot generate a key pair: {0}")]
    Generate(String),
}

/// The public keys a bundle's signature may be made with.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<(VerifyingKey, String)>,
}

impl TrustedKeys {
    /// Keys from config entries: an entry holding `-----BEGIN` is an inline SPKI PEM text,
    /// any other is the path of a file holding one.
    pub fn load(entries: &[String]) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let (pem, what) = if entry.contains("-----BEGIN") {
                (entry.clone(), format!("inline key #{}", i + 1))
            } else {
                let text = std::fs::read_to_string(entry).map_err(|source| KeyError::Read {
                    path: entry.clone(),
                    source,
                })?;
                (text, entry.clone())
            };
            keys.push(public_key_from_pem(&pem, &what)?);
        }
        Ok(Self::from_keys(keys))
    }

    /// These keys.
    pub fn from_keys(keys: Vec<VerifyingKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|k| (k, fingerprint(&k))).collect(),
        }
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The fingerprint of the trusted key that made `signature` over `message`, if any
    /// (strict verification: no malleable or weak-key signatures).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k.verify_strict(message, signature).is_ok())
            .map(|(_, f)| f.as_str())
    }
}

/// A public key's fingerprint for logs and status: `ed25519:` and the first 8 bytes of the
/// SHA-256 of the raw key, in hex.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("ed25519:{}", hex::encode(&digest[..8]))
}

/// A public key from SPKI PEM text; `what` names it in errors.
pub fn public_key_from_pem(pem: &str, what: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| KeyError::Format {
        what: what.to_string(),
        kind: "public key (SPKI)",
        detail: e.to_string(),
    })
}

/// The signing key in a PKCS#8 PEM file.
pub fn signing_key_from_pem_file(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.display().to_string(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| KeyError::Format {
        what: path.display().to_string(),
        kind: "private key (PKCS#8)",
        detail: e.to_string(),
    })
}

/// A new key pair as PEM texts: (private PKCS#8, public SPKI). The private key comes from
/// the operating system's random source (ring, through rcgen).
pub fn generate() -> Result<(String, String), KeyError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let private = pair.serialize_pem();
    let key = SigningKey::from_pkcs8_pem(&private).map_err(|e| KeyError::Format {
        what: "generated key".into(),
        kind: "private key (PKCS#8)",
        detail: e.to_string(),
    })?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok((private, public))
}

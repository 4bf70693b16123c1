//! API keys, stored only as SHA-256 hashes: a file of `<sha256 hex> <caller>` lines. The
//! presented key is hashed and looked up; the file never holds a usable key.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::IdentityError;

/// The known keys.
pub struct ApiKeys {
    by_hash: HashMap<[u8; 32], String>,
}

impl ApiKeys {
    /// Read the keys from the configured file or environment variable.
    pub fn from_config(cfg: &crate::config::ApiKeysConfig) -> Result<Self, IdentityError> {
        match (&cfg.file, &cfg.env) {
            (Some(p), None) => Self::load(p),
            (None, Some(var)) => {
                let text = std::env::var(var).map_err(|_| {
                    IdentityError::Setup(format!("api_keys.env: ${var} is not set (or not UTF-8)"))
                })?;
                Self::parse(&text.replace(';', "\n")).map_err(|(line, what)| {
                    IdentityError::Setup(format!("${var} entry {line}: {what}"))
                })
            }
            _ => Err(IdentityError::Setup(
                "api_keys: set exactly one of file and env".into(),
            )),
        }
    }

    /// Read the file (an unreadable file or a bad line stops start-up, naming the line).
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| IdentityError::Setup(format!("{}: {e}", path.display())))?;
        Self::parse(&text).map_err(|(line, what)| {
            IdentityError::Setup(format!("{}:{line}: {what}", path.display()))
        })
    }

    fn parse(text: &str) -> Result<Self, (usize, String)> {
        let mut by_hash = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(hash), Some(caller), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err((n + 1, "expected `<sha256 hex> <caller>`".into()));
            };
            let mut digest = [0u8; 32];
            hex::decode_to_slice(hash, &mut digest)
                .map_err(|_| (n + 1, "not a SHA-256 in hex (64 digits)".to_string()))?;
            if by_hash.insert(digest, caller.to_string()).is_some() {
                return Err((n + 1, "the same key hash twice".into()));
            }
        }
        Ok(Self { by_hash })
    }

    /// The caller a presented key belongs to.
    pub fn caller_of(&self, key: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(key.trim().as_bytes()).into();
        self.by_hash.get(&digest).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_by_hash_and_bad_lines_named() {
        let h = hex::encode(Sha256::digest(b"k-123"));
        let keys = ApiKeys::parse(&format!("# ops\n{h} billing-agent\n")).expect("parse");
        assert_eq!(keys.caller_of("k-123"), Some("billing-agent"));
        assert_eq!(keys.caller_of("k-124"), None);
        assert_eq!(ApiKeys::parse("abc x").err().map(|e| e.0), Some(1));
        assert_eq!(
            ApiKeys::parse(&format!("{h} a\n{h} b")).err().map(|e| e.0),
            Some(2)
        );
    }

    #[test]
    fn keys_can_come_from_the_environment() {
        let h = hex::encode(Sha256::digest(b"k-env"));
        // A variable name no other test uses.
        let var = "SEC0_TEST_API_KEYS_7F3A";
        // SAFETY: this test is the only user of this variable.
        unsafe { std::env::set_var(var, format!("{h} env-agent;")) };
        let cfg = crate::config::ApiKeysConfig {
            file: None,
            env: Some(var.into()),
            header: "x-api-key".into(),
        };
        let keys = ApiKeys::from_config(&cfg).expect("keys");
        assert_eq!(keys.caller_of("k-env"), Some("env-agent"));
        let none = crate::config::ApiKeysConfig { env: None, ..cfg };
        assert!(ApiKeys::from_config(&none).is_err(), "one source is needed");
    }
}

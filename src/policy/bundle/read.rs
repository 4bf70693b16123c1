//! Reading a bundle: signature first, then every entry against the manifest, in memory.
//! Nothing is written to disk and no rules file is looked at before the manifest's
//! signature holds (format: the parent module).

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};

use super::keys::TrustedKeys;
use super::{FORMAT, Limits, MANIFEST, Manifest, RULES_DIR, SIGNATURE};

/// Largest manifest read.
const MAX_MANIFEST: u64 = 1024 * 1024;
/// Largest signature entry read (base64 of 64 bytes is 88; whitespace allowed).
const MAX_SIGNATURE: u64 = 1024;

/// Why a bundle is unusable. [`BundleError::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Over a cap: the file, the unpacked stream, the entry count, or one file.
    #[error("too large: {0}")]
    TooLarge(String),
    /// Not a gzip'd tar, or its entries are not in the bundle's order.
    #[error("not a policy bundle: {0}")]
    BadArchive(String),
    /// An entry that must not be in a bundle: a link, a device, an absolute or escaping
    /// path, a name outside `rules/`.
    #[error("unsafe entry {name:?}: {why}")]
    UnsafeEntry {
        /// The entry's name, as the archive spells it (lossy UTF-8).
        name: String,
        /// Why it is refused.
        why: String,
    },
    /// The manifest does not parse or does not fit the format.
    #[error("manifest: {0}")]
    BadManifest(String),
    /// The signature is missing, malformed, or made by no trusted key.
    #[error("signature: {0}")]
    BadSignature(String),
    /// A file whose bytes do not match the manifest, a file not listed, or one missing.
    #[error("{path}: {why}")]
    BadHash {
        /// The entry.
        path: String,
        /// What does not match.
        why: String,
    },
    /// A rules file that is not UTF-8 text.
    #[error("{0}: not UTF-8 text")]
    NotText(String),
}

impl BundleError {
    /// The `reason` label of `sec0_gateway_policy_bundle_fetch_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::BadArchive(_) => "bad_archive",
            Self::UnsafeEntry { .. } => "unsafe_entry",
            Self::BadManifest(_) => "bad_manifest",
            Self::BadSignature(_) => "bad_signature",
            Self::BadHash { .. } => "bad_hash",
            Self::NotText(_) => "bad_rules",
        }
    }
}

/// A bundle whose signature and hashes hold (its rules not yet compiled).
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signed manifest.
    pub manifest: Manifest,
    /// SHA-256 of the manifest's bytes, hex (what a version number stands for).
    pub manifest_sha256: String,
    /// The fingerprint of the key that signed it.
    pub signed_by: String,
    /// The rules files, `(bundle-<version>/rules/<name>, text)`, in name order (as the
    /// loader reads a directory, so the policy version equals that of the same directory).
    pub sources: Vec<(PathBuf, String)>,
}

/// Check `bytes` as a bundle signed by one of `keys`, within `limits`.
pub fn verify(bytes: &[u8], keys: &TrustedKeys, limits: &Limits) -> Result<Verified, BundleError> {
    if bytes.len() as u64 > limits.max_bundle {
        return Err(BundleError::TooLarge(format!(
            "{} bytes, more than the {} allowed",
            bytes.len(),
            limits.max_bundle
        )));
    }
    let over = Arc::new(AtomicBool::new(false));
    let stream = Capped {
        inner: flate2::read::GzDecoder::new(bytes),
        left: limits.max_unpacked,
        over: over.clone(),
    };
    let mut archive = tar::Archive::new(stream);
    let mut entries = archive
        .entries()
        .map_err(|e| archive_error(&over, limits, e))?;
    let mut next = |what: &str| -> Result<tar::Entry<'_, Capped<_>>, BundleError> {
        match entries.next() {
            None => Err(BundleError::BadArchive(format!(
                "ends before {what} (expected {MANIFEST}, {SIGNATURE}, then rules/*.yaml)"
            ))),
            Some(Err(e)) => Err(archive_error(&over, limits, e)),
            Some(Ok(e)) => Ok(e),
        }
    };

    // 1. The manifest and its signature, and nothing else until the signature holds.
    let manifest_bytes = read_fixed(&mut next(MANIFEST)?, MANIFEST, MAX_MANIFEST, &over, limits)?;
    let signature_text = read_fixed(
        &mut next(SIGNATURE)?,
        SIGNATURE,
        MAX_SIGNATURE,
        &over,
        limits,
    )?;
    let signature = parse_signature(&signature_text)?;
    let signed_by = keys
        .verify(&manifest_bytes, &signature)
        .ok_or_else(|| {
            BundleError::BadSignature(format!(
                "made by none of the {} trusted key(s), or the manifest was altered",
                keys.len()
            ))
        })?
        .to_string();
    let manifest = parse_manifest(&manifest_bytes, limits)?;

    // 2. Every other entry: a listed rules file with the listed size and hash.
    let mut want: std::collections::BTreeMap<&str, &super::ManifestFile> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut sources = Vec::with_capacity(manifest.files.len());
    let mut count = 2usize;
    for entry in entries.by_ref() {
        let mut entry = entry.map_err(|e| archive_error(&over, limits, e))?;
        count += 1;
        if count > limits.max_entries {
            return Err(BundleError::TooLarge(format!(
                "more than {} entries",
                limits.max_entries
            )));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() && name.trim_end_matches('/') == RULES_DIR {
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(unsafe_entry(&name, "links are not allowed"));
        }
        if !kind.is_file() {
            return Err(unsafe_entry(&name, "only regular files are allowed"));
        }
        check_entry_name(&name)?;
        let Some(listed) = want.remove(name.as_str()) else {
            return Err(BundleError::BadHash {
                path: name,
                why: "not listed in the manifest (or listed once and present twice)".into(),
            });
        };
        let size = entry
            .header()
            .size()
            .map_err(|e| archive_error(&over, limits, e))?;
        if size > limits.max_file {
            return Err(BundleError::TooLarge(format!(
                "{name}: {size} bytes, more than the {} allowed for one file",
                limits.max_file
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(limits.max_file + 1)
            .read_to_end(&mut data)
            .map_err(|e| archive_error(&over, limits, e))?;
        if data.len() as u64 != listed.size {
            return Err(BundleError::BadHash {
                path: name,
                why: format!("{} bytes, the manifest says {}", data.len(), listed.size),
            });
        }
        let digest = hex::encode(Sha256::digest(&data));
        if digest != listed.sha256 {
            return Err(BundleError::BadHash {
                path: name,
                why: "SHA-256 differs from the manifest's".into(),
            });
        }
        let text = String::from_utf8(data).map_err(|_| BundleError::NotText(name.clone()))?;
        let path = PathBuf::from(format!("bundle-{}", manifest.version)).join(&name);
        sources.push((path, text));
    }
    if let Some(missing) = want.keys().next() {
        return Err(BundleError::BadHash {
            path: (*missing).to_string(),
            why: "listed in the manifest but not in the bundle".into(),
        });
    }
    sources.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Verified {
        manifest_sha256: hex::encode(Sha256::digest(&manifest_bytes)),
        manifest,
        signed_by,
        sources,
    })
}

/// Parse and check a manifest's bytes (not its signature).
pub fn parse_manifest(bytes: &[u8], limits: &Limits) -> Result<Manifest, BundleError> {
    let m: Manifest = serde_json::from_slice(bytes)
        .map_err(|e| BundleError::BadManifest(format!("not the manifest JSON: {e}")))?;
    if m.format != FORMAT {
        return Err(BundleError::BadManifest(format!(
            "format {:?}, expected {FORMAT:?}",
            m.format
        )));
    }
    if m.version == 0 {
        return Err(BundleError::BadManifest("version must be 1 or more".into()));
    }
    if humantime::parse_rfc3339(&m.created_at).is_err() {
        return Err(BundleError::BadManifest(format!(
            "created_at {:?} is not an RFC 3339 UTC time (like 2026-01-31T12:00:00Z)",
            m.created_at
        )));
    }
    if m.files.is_empty() {
        return Err(BundleError::BadManifest("lists no rules file".into()));
    }
    if m.files.len() + 2 > limits.max_entries {
        return Err(BundleError::TooLarge(format!(
            "the manifest lists {} files, more than the {} entries allowed",
            m.files.len(),
            limits.max_entries
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    for f in &m.files {
        check_entry_name(&f.path).map_err(|e| BundleError::BadManifest(e.to_string()))?;
        if !seen.insert(f.path.as_str()) {
            return Err(BundleError::BadManifest(format!(
                "{} is listed twice",
                f.path
            )));
        }
        if f.sha256.len() != 64
            || !f
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(BundleError::BadManifest(format!(
                "{}: sha256 must be 64 lowercase hex digits",
                f.path
            )));
        }
        if f.size > limits.max_file {
            return Err(BundleError::TooLarge(format!(
                "{}: {} bytes, more than the {} allowed for one file",
                f.path, f.size, limits.max_file
            )));
        }
        total = total.saturating_add(f.size);
    }
    if total > limits.max_unpacked {
        return Err(BundleError::TooLarge(format!(
            "the manifest lists {total} bytes, more than the {} allowed unpacked",
            limits.max_unpacked
        )));
    }
    Ok(m)
}

/// Whether `name` is a bundle's rules file: `rules/<name>.yaml|yml`, the name made of
/// letters, digits, `.`, `_` and `-`, not starting with a dot (no `..`, no `/`, no
/// absolute path, no hidden file, nothing the loader would not read).
pub fn check_entry_name(name: &str) -> Result<(), BundleError> {
    let refuse = |why: &str| Err(unsafe_entry(name, why));
    if name.starts_with('/') || name.starts_with('\\') {
        return refuse("absolute paths are not allowed");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return refuse("`..` is not allowed");
    }
    let Some(file) = name.strip_prefix("rules/") else {
        return refuse("rules files live in rules/");
    };
    if file.is_empty()
        || file.len() > 255
        || file.starts_with('.')
        || !file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return refuse(
            "a rules file name is letters, digits, `.`, `_` and `-` (no subdirectory, not hidden)",
        );
    }
    if !(file.ends_with(".yaml") || file.ends_with(".yml")) {
        return refuse("rules files end in .yaml or .yml");
    }
    Ok(())
}

fn unsafe_entry(name: &str, why: &str) -> BundleError {
    BundleError::UnsafeEntry {
        name: name.to_string(),
        why: why.to_string(),
    }
}

fn parse_signature(text: &[u8]) -> Result<Signature, BundleError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| BundleError::BadSignature("not base64 text".into()))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| BundleError::BadSignature("not base64".into()))?;
    Signature::from_slice(&raw).map_err(|_| {
        BundleError::BadSignature(format!("{} bytes, not an Ed25519 signature", raw.len()))
    })
}

/// Read the whole of the entry that must be `name`, at most `max` bytes.
fn read_fixed<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    max: u64,
    over: &AtomicBool,
    limits: &Limits,
) -> Result<Vec<u8>, BundleError> {
    let actual = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    if actual != name {
        return Err(BundleError::BadArchive(format!(
            "entry {actual:?} where {name:?} must be (a bundle starts with {MANIFEST}, then {SIGNATURE})"
        )));
    }
    if !entry.header().entry_type().is_file() {
        return Err(unsafe_entry(&actual, "only regular files are allowed"));
    }
    let size = entry
        .header()
        .size()
        .map_err(|e| archive_error(over, limits, e))?;
    if size > max {
        return Err(BundleError::TooLarge(format!(
            "{name}: {size} bytes, more than the {max} allowed"
        )));
    }
    let mut out = Vec::with_capacity(size as usize);
    entry
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| archive_error(over, limits, e))?;
    Ok(out)
}

fn archive_error(over: &AtomicBool, limits: &Limits, e: std::io::Error) -> BundleError {
    if over.load(Ordering::Relaxed) {
        BundleError::TooLarge(format!(
            "unpacks to more than {} bytes",
            limits.max_unpacked
        ))
    } else {
        BundleError::BadArchive(e.to_string())
    }
}

/// A reader that fails (and says so in `over`) once more than `left` bytes were read: the
/// gzip bomb stops at the cap instead of filling memory.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Arc<AtomicBool>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a stream that ends exactly at the cap from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.over.store(true, Ordering::Relaxed);
                    Err(std::io::Error::other("unpacked size cap reached"))
                }
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

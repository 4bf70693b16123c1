//! Making a bundle (`sec0-gateway bundle build`): the rules files of a directory (those the
//! loader reads: `*.yaml`/`*.yml`, not recursing), a manifest with their hashes, its
//! signature, packed as the format says (parent module).

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

use super::read::check_entry_name;
use super::{FORMAT, MANIFEST, Manifest, ManifestFile, RULES_DIR, SIGNATURE};
use crate::policy::PolicyError;

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The rules could not be read.
    #[error(transparent)]
    Read(#[from] PolicyError),
    /// The directory holds no rules file.
    #[error("{0}: no *.yaml or *.yml rules file")]
    Empty(PathBuf),
    /// A file name a bundle cannot carry.
    #[error("{path}: {why}")]
    Name {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// Version 0 (versions start at 1).
    #[error("the version must be 1 or more")]
    Version,
    /// Writing the archive failed.
    #[error("writing the bundle: {0}")]
    Write(#[from] std::io::Error),
}

/// The rules files of `dir` as the bundle will carry them: `(file name, bytes)`, name order.
pub fn rules_of(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
    if !dir.is_dir() {
        return Err(BuildError::Read(PolicyError::Read {
            path: dir.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        }));
    }
    let sources = crate::policy::read_sources(dir)?;
    if sources.is_empty() {
        return Err(BuildError::Empty(dir.to_path_buf()));
    }
    sources
        .into_iter()
        .map(|(path, text)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            check_entry_name(&format!("{RULES_DIR}/{name}")).map_err(|e| BuildError::Name {
                path: path.clone(),
                why: e.to_string(),
            })?;
            Ok((name, text.into_bytes()))
        })
        .collect()
}

/// A signed bundle (gzip'd tar bytes) of `files` (`(file name, bytes)`) as `version`, made
/// at `created_at` (RFC 3339). No check of the rules themselves: the CLI compiles them
/// first; tests build broken bundles on purpose.
pub fn build(
    files: &[(String, Vec<u8>)],
    version: u64,
    created_at: &str,
    key: &SigningKey,
) -> Result<Vec<u8>, BuildError> {
    if version == 0 {
        return Err(BuildError::Version);
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        version,
        created_at: created_at.to_string(),
        files: files
            .iter()
            .map(|(name, data)| ManifestFile {
                path: format!("{RULES_DIR}/{name}"),
                size: data.len() as u64,
                sha256: hex::encode(Sha256::digest(data)),
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    let signature = key.sign(&manifest_bytes);
    let signature_text = format!(
        "{}\n",
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    );
    let mut entries: Vec<(String, &[u8])> = vec![
        (MANIFEST.to_string(), &manifest_bytes),
        (SIGNATURE.to_string(), signature_text.as_bytes()),
    ];
    for (name, data) in files {
        entries.push((format!("{RULES_DIR}/{name}"), data));
    }
    let mtime = humantime::parse_rfc3339(created_at)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    pack(&entries, mtime)
}

/// A gzip'd tar of regular files `(name, bytes)` in this order, mode 0644, owned by 0:0.
pub fn pack(entries: &[(String, &[u8])], mtime: u64) -> Result<Vec<u8>, BuildError> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, *data)?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    Ok(gz.finish()?)
}

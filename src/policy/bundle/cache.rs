//! The last good bundle on disk (`policy.cache_dir`), for a start while the source is down.
//!
//! Two files: `bundle.tar.gz` (the bundle's bytes as downloaded) and `bundle.json`
//! ([`CacheMeta`]: where it came from, its validators, version and SHA-256). Each is
//! written to a temporary file, synced, then renamed over the old one, so a crash leaves
//! the old or the new file, never half of one. The cache is not trusted: a start verifies
//! the cached bundle like a downloaded one (signature, hashes, rules).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fetch::Validators;

const BUNDLE_FILE: &str = "bundle.tar.gz";
const META_FILE: &str = "bundle.json";

/// Why the cache could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The directory or a file could not be created, read or written.
    #[error("policy.cache_dir {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// What is known about the cached bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheMeta {
    /// The source URL it was downloaded from.
    pub url: String,
    /// The validators the source sent with it.
    #[serde(default)]
    pub validators: Validators,
    /// Its manifest's version.
    pub version: u64,
    /// SHA-256 of the bundle's bytes, hex (a meta file from another bundle is ignored).
    pub sha256: String,
    /// When it was downloaded (RFC 3339).
    pub fetched_at: String,
}

/// A cached bundle's bytes and, when it describes them, its meta.
pub type Cached = (Vec<u8>, Option<CacheMeta>);

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        std::fs::create_dir_all(dir).map_err(|source| CacheError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// The cached bundle and its meta (`None` when nothing was cached yet). A meta file
    /// that is missing, unreadable or about other bytes comes back as `None`: the bundle
    /// is still usable, only without validators.
    pub fn load(&self) -> Result<Option<Cached>, CacheError> {
        let path = self.dir.join(BUNDLE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let meta = std::fs::read(self.dir.join(META_FILE))
            .ok()
            .and_then(|m| serde_json::from_slice::<CacheMeta>(&m).ok())
            .filter(|m| m.sha256 == sha);
        Ok(Some((bytes, meta)))
    }

    /// Keep `bytes` as the last good bundle.
    pub fn store(&self, bytes: &[u8], meta: &CacheMeta) -> Result<(), CacheError> {
        self.write_atomically(BUNDLE_FILE, bytes)?;
        let json = serde_json::to_vec_pretty(meta).unwrap_or_default();
        self.write_atomically(META_FILE, &json)
    }

    fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<(), CacheError> {
        let target = self.dir.join(name);
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        // The rename itself survives a crash only once the directory is synced.
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

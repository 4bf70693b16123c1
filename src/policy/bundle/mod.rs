//! Signed policy bundles: the rules from one place for a whole fleet.
//!
//! A bundle is one `.tar.gz` file that any static file server can serve. Its entries, in
//! this order:
//!
//! 1. `manifest.json` — what the bundle holds ([`Manifest`]): the format
//!    (`sec0-policy-bundle/1`), a `version` (a positive integer; a higher one replaces a
//!    lower one), `created_at` (RFC 3339, UTC), and every rules file with its size and
//!    SHA-256.
//! 2. `manifest.sig` — a detached Ed25519 signature over the exact bytes of
//!    `manifest.json`, base64 (standard alphabet), one line.
//! 3. `rules/<name>.yaml` (or `.yml`) — the rules files, flat (the loader reads one
//!    directory, not recursing). A directory entry `rules/` may precede them.
//!
//! The signature covers the manifest, the manifest covers every file by SHA-256: tar
//! metadata (owners, modes, times) is covered by nothing and is ignored. Reading
//! ([`read::verify`]) happens in memory, never unpacked to disk: the signature is checked
//! against the trusted keys before any other entry is read; then every entry must be a
//! regular file at a safe relative path listed in the manifest with the same hash and size;
//! links, absolute paths, `..`, other entry types, entries not listed, files listed but
//! missing, too many entries and too many bytes (compressed or unpacked) are refused. Only
//! then are the rules compiled with the normal loader, and only a policy that compiles
//! replaces the serving one ([`source`]).
//!
//! `sec0-gateway bundle keygen` writes a key pair (PKCS#8 and SPKI PEM, as
//! `openssl genpkey -algorithm ed25519` does), `sec0-gateway bundle build` makes a bundle
//! ([`build`]), `sec0-gateway check --bundle` validates one.

pub mod build;
pub mod cache;
pub mod fetch;
pub mod keys;
pub mod read;
pub mod source;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_source;

use serde::{Deserialize, Serialize};

use super::PolicyError;

/// The `format` a manifest names; another format is refused.
pub const FORMAT: &str = "sec0-policy-bundle/1";
/// The manifest's entry name (first entry).
pub const MANIFEST: &str = "manifest.json";
/// The signature's entry name (second entry).
pub const SIGNATURE: &str = "manifest.sig";
/// The directory the rules files live in, inside the bundle.
pub const RULES_DIR: &str = "rules";

/// What a bundle holds, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The policy version: a positive integer; higher is newer.
    pub version: u64,
    /// When the bundle was made (RFC 3339, UTC).
    pub created_at: String,
    /// Every rules file in the bundle.
    pub files: Vec<ManifestFile>,
}

/// One rules file as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Its entry name: `rules/<name>`.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes, lowercase hex.
    pub sha256: String,
}

/// Caps on what reading a bundle may cost (tar bombs, gzip bombs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bundle file (compressed), in bytes.
    pub max_bundle: u64,
    /// Largest decompressed tar stream (headers included), in bytes.
    pub max_unpacked: u64,
    /// Most entries (manifest and signature included).
    pub max_entries: usize,
    /// Largest single rules file, in bytes.
    pub max_file: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bundle: crate::config::DEFAULT_MAX_BUNDLE_SIZE,
            max_unpacked: 64 * 1024 * 1024,
            max_entries: 1000,
            max_file: 4 * 1024 * 1024,
        }
    }
}

/// Why a bundle (or a download of one) was not taken. The previous policy keeps serving;
/// [`Refused::reason`] is the metric label.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The source could not be reached, timed out or answered an error status.
    #[error("{0}")]
    Fetch(#[from] fetch::FetchError),
    /// The bundle itself is unusable (size, archive, entry, manifest, signature, hash).
    #[error("{0}")]
    Bundle(#[from] read::BundleError),
    /// Signed and intact, but the rules do not compile.
    #[error("rules: {0}")]
    Rules(#[from] PolicyError),
    /// A lower version than the one serving (`policy.allow_downgrade` is off).
    #[error(
        "version {offered} is older than the serving version {serving} (set policy.allow_downgrade to roll back)"
    )]
    OldVersion {
        /// The bundle's version.
        offered: u64,
        /// The serving version.
        serving: u64,
    },
    /// The serving version number with other content (`policy.allow_downgrade` is off):
    /// a version names one bundle.
    #[error("version {0} is already serving with a different manifest (publish a higher version)")]
    VersionReused(u64),
}

impl Refused {
    /// The `reason` label of `sec0_gateway_policy_bundle_fetch_failures_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Fetch(e) => e.reason(),
            Self::Bundle(e) => e.reason(),
            Self::Rules(_) => "bad_rules",
            Self::OldVersion { .. } | Self::VersionReused(_) => "old_version",
        }
    }
}

/// Every `reason` label value, so the counters exist at zero before the first failure.
pub const REASONS: &[&str] = crate::vocab::BUNDLE_REFUSALS;

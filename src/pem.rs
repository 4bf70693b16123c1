//! PEM files: certificates and private keys, read for TLS on both sides (the listener's
//! certificate and client CA, an upstream's CA and client certificate).

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a PEM file is unusable.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read or holds nothing usable.
    #[error("{path}: {what}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// Read every certificate in a PEM file.
pub fn certs_from(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let bad = |what: String| PemError::File {
        path: path.display().to_string(),
        what,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(certs)
}

/// Read the private key in a PEM file.
pub fn key_from(path: &Path) -> Result<PrivateKeyDer<'static>, PemError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| PemError::File {
        path: path.display().to_string(),
        what: format!("no usable private key ({e})"),
    })
}

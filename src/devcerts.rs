//! `sec0-gateway certs dev`: a development CA, a server certificate for `localhost` and
//! `127.0.0.1`, and a client certificate with a SPIFFE-style URI SAN, so mTLS can be tried in
//! a minute. For development only: the CA key sits next to the certificates.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Why the certificates could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DevCertError {
    /// Generating a key or certificate failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file is already there (never overwritten).
    #[error("{0} exists; remove it or choose another --out")]
    Exists(String),
}

/// The files written.
pub struct DevCerts {
    /// The written paths, in order: CA, server, client (certificate, then key).
    pub files: Vec<PathBuf>,
}

/// The client certificate's identity.
pub const DEV_CLIENT_ID: &str = "spiffe://sec0.dev/agent/dev-client";

/// Write `ca.pem`, `ca-key.pem`, `server.pem`, `server-key.pem`, `client.pem`,
/// `client-key.pem` into `out` (created if missing; existing files are not overwritten).
pub fn write_dev_certs(out: &Path, client_id: &str) -> Result<DevCerts, DevCertError> {
    let names = [
        "ca.pem",
        "ca-key.pem",
        "server.pem",
        "server-key.pem",
        "client.pem",
        "client-key.pem",
    ];
    for n in names {
        let p = out.join(n);
        if p.exists() {
            return Err(DevCertError::Exists(p.display().to_string()));
        }
    }
    std::fs::create_dir_all(out).map_err(|source| DevCertError::Write {
        path: out.display().to_string(),
        source,
    })?;

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "sec0-gateway development CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .subject_alt_names
        .push(SanType::URI(client_id.try_into()?));
    client
        .distinguished_name
        .push(DnType::CommonName, "dev-client");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&client_key, &issuer)?;

    let contents = [
        ca_cert.pem(),
        ca_key.serialize_pem(),
        server_cert.pem(),
        server_key.serialize_pem(),
        client_cert.pem(),
        client_key.serialize_pem(),
    ];
    let mut files = Vec::new();
    for (name, text) in names.iter().zip(contents) {
        let path = out.join(name);
        write_private(&path, text.as_bytes(), name.ends_with("-key.pem")).map_err(|source| {
            DevCertError::Write {
                path: path.display().to_string(),
                source,
            }
        })?;
        files.push(path);
    }
    Ok(DevCerts { files })
}

/// Write a file; keys readable by the owner only.
fn write_private(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certs_form_a_chain_rustls_accepts() {
        let dir = tempfile::tempdir().expect("dir");
        let out = write_dev_certs(dir.path(), DEV_CLIENT_ID).expect("written");
        assert_eq!(out.files.len(), 6);
        let cfg = crate::config::TlsConfig {
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server-key.pem"),
            client_ca: Some(dir.path().join("ca.pem")),
            client_auth: crate::config::ClientAuth::Required,
            reload_interval: std::time::Duration::from_secs(5),
        };
        crate::server::tls::server_config(&cfg).expect("a server config from the dev files");
        let client = crate::pem::certs_from(&dir.path().join("client.pem")).expect("client");
        assert_eq!(
            crate::identify::mtls::caller_of(&client[0]).as_deref(),
            Some(DEV_CLIENT_ID)
        );
        assert!(
            matches!(
                write_dev_certs(dir.path(), DEV_CLIENT_ID),
                Err(DevCertError::Exists(_))
            ),
            "never overwrites"
        );
    }
}

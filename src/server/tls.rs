//! TLS termination on the proxy listener: certificate and key from PEM files, ALPN `h2` and
//! `http/1.1`, optional or required client certificates verified against a configured CA,
//! and reload without a restart: the files are checked every `reload_interval`; changed
//! files are loaded for new connections while open ones keep their session. A file that
//! does not load leaves the working configuration in place (logged, counted).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::pem::{certs_from, key_from};
use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientAuth, TlsConfig};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error(transparent)]
    File(#[from] crate::pem::PemError),
    /// rustls refused the combination (key does not match the certificate, …).
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration from the files `cfg` names.
pub fn server_config(cfg: &TlsConfig) -> Result<ServerConfig, TlsError> {
    let certs = certs_from(&cfg.cert)?;
    let key = key_from(&cfg.key)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = match (&cfg.client_ca, cfg.client_auth) {
        (_, ClientAuth::None) | (None, _) => builder.with_no_client_auth(),
        (Some(ca), auth) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs_from(ca)? {
                roots.add(c).map_err(|e| crate::pem::PemError::File {
                    path: ca.display().to_string(),
                    what: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(
                verifier
                    .build()
                    .map_err(|e| TlsError::Rustls(e.to_string()))?,
            )
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The listener's TLS: the current configuration and what its files looked like.
pub struct TlsTerminator {
    cfg: TlsConfig,
    current: ArcSwap<ServerConfig>,
    stamps: std::sync::Mutex<Vec<Stamp>>,
}

/// A file's identity for change detection: modification time and size.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl TlsTerminator {
    /// Load the files now (an error stops start-up).
    pub fn load(cfg: &TlsConfig) -> Result<Self, TlsError> {
        let config = server_config(cfg)?;
        let t = Self {
            cfg: cfg.clone(),
            current: ArcSwap::from_pointee(config),
            stamps: std::sync::Mutex::new(Vec::new()),
        };
        *t.stamps
            .lock()
            .map_err(|_| TlsError::Rustls("poisoned".into()))? = t.stamps_now();
        Ok(t)
    }

    fn files(&self) -> Vec<&PathBuf> {
        let mut v = vec![&self.cfg.cert, &self.cfg.key];
        v.extend(self.cfg.client_ca.as_ref());
        v
    }

    fn stamps_now(&self) -> Vec<Stamp> {
        self.files().into_iter().map(|p| stamp(p)).collect()
    }

    /// An acceptor with the current configuration (one per connection: cheap).
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Reload when a file changed. `Ok(true)`: new connections get the new files;
    /// `Err`: the files do not load and the old configuration stays.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = self.stamps_now();
        let mut seen = self
            .stamps
            .lock()
            .map_err(|_| TlsError::Rustls("poisoned".into()))?;
        if *seen == now {
            return Ok(false);
        }
        // Remember the new stamps even on failure: a half-written pair is retried when it
        // changes again, not logged every interval.
        *seen = now;
        let config = server_config(&self.cfg)?;
        self.current.store(Arc::new(config));
        Ok(true)
    }

    /// Check the files every `reload_interval` until `stop` turns true.
    pub async fn watch(
        self: Arc<Self>,
        reloads: prometheus::IntCounterVec,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let every = self.cfg.reload_interval;
        if every.is_zero() {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                Ok(Ok(true)) => {
                    tracing::info!(cert = %self.cfg.cert.display(), "TLS certificate reloaded");
                    reloads.with_label_values(&["ok"]).inc();
                }
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "TLS files changed but do not load; keeping the previous ones");
                    reloads.with_label_values(&["error"]).inc();
                }
                Err(e) => tracing::error!(error = %e, "TLS reload task failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_do_not_load_leave_the_working_configuration() {
        let dir = tempfile::tempdir().expect("dir");
        crate::devcerts::write_dev_certs(dir.path(), crate::devcerts::DEV_CLIENT_ID)
            .expect("certs");
        let cfg = TlsConfig {
            cert: dir.path().join("server.pem"),
            key: dir.path().join("server-key.pem"),
            client_ca: None,
            client_auth: ClientAuth::None,
            reload_interval: std::time::Duration::from_secs(5),
        };
        let t = TlsTerminator::load(&cfg).expect("loads");
        assert!(
            !t.reload_if_changed().expect("unchanged"),
            "nothing changed"
        );
        let before = t.current.load_full();
        std::fs::write(
            &cfg.cert,
            "-----BEGIN CERTIFICATE-----\nnot a certificate\n",
        )
        .expect("write");
        assert!(t.reload_if_changed().is_err(), "a broken file is reported");
        assert!(
            Arc::ptr_eq(&before, &t.current.load_full()),
            "and the old configuration keeps serving"
        );
        assert!(
            !t.reload_if_changed().expect("same broken file"),
            "not retried until it changes again"
        );
        assert!(
            TlsTerminator::load(&cfg).is_err(),
            "at start-up the same file is an error"
        );
    }
}

//! TLS to upstreams: which roots an `https://` upstream's certificate must chain to (the
//! system's trust store, or a configured CA), an optional client certificate (mTLS to the
//! upstream). SNI is the URL's host unless
//! `server_name` overrides it (set on the connector).

use std::sync::Arc;

use rustls::ClientConfig;

use crate::config::UpstreamTlsConfig;
use crate::pem::{certs_from, key_from};

/// A rustls client configuration for one upstream.
/// ALPN is left empty: the connector sets it from the HTTP versions it enables.
pub fn client_config(cfg: &UpstreamTlsConfig) -> Result<ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match &cfg.ca {
        Some(ca) => {
            for c in certs_from(ca).map_err(|e| e.to_string())? {
                roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "a system trust store certificate could not be read");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                // No system store (minimal images): fall back to the Mozilla roots.
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
        }
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
    let config = match (&cfg.client_cert, &cfg.client_key) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(
                certs_from(c).map_err(|e| e.to_string())?,
                key_from(k).map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("client certificate: {e}"))?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("client_cert and client_key go together".into()),
    };
    Ok(config)
}

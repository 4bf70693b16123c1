//! The caller named by a verified client certificate: its URI SAN (a SPIFFE id such as
//! `spiffe://example.org/agent/planner`), else its first DNS SAN, else its subject CN.
//! The certificate was verified by rustls against the configured CA during the handshake;
//! this only reads the name.

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The caller name in `cert`, if it names one.
pub fn caller_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x509) = X509Certificate::from_der(cert.as_ref()).ok()?;
    if let Ok(Some(san)) = x509.subject_alternative_name() {
        let names = &san.value.general_names;
        let uri = names.iter().find_map(|n| match n {
            GeneralName::URI(u) => Some(*u),
            _ => None,
        });
        let dns = names.iter().find_map(|n| match n {
            GeneralName::DNSName(d) => Some(*d),
            _ => None,
        });
        if let Some(name) = uri.or(dns).filter(|s| is_clean(s)) {
            return Some(name.to_string());
        }
    }
    x509.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|s| is_clean(s))
        .map(str::to_string)
}

/// Printable ASCII without spaces, at most 256 bytes: a name that fits a header and a log
/// line as it is.
fn is_clean(s: &str) -> bool {
    !s.is_empty() && s.len() <= 256 && s.bytes().all(|b| b.is_ascii_graphic())
}

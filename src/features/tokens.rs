//! Small readings of one token that learning needs beside its features: a list given as
//! one comma-separated string, and an identifier's value kept as a hash.

/// The words of a comma-separated list (`email, orders`): at most 16 parts, each one token
/// and one of them with a letter (`1,000` is a number).
pub(super) fn comma_list(t: &str) -> Option<Vec<&str>> {
    if !t.contains(',') {
        return None;
    }
    let parts: Vec<&str> = t.split(',').map(str::trim).collect();
    let ok = parts.len() <= 16
        && parts.iter().all(|p| {
            !p.is_empty() && p.len() <= super::value::MAX_TOKEN && !p.contains(char::is_whitespace)
        })
        && parts.iter().any(|p| p.chars().any(char::is_alphabetic));
    ok.then_some(parts)
}

/// An identifier's value as learning keeps it: `#` and the first 8 bytes of its SHA-256 in
/// hex (whether it was seen approved before matters, the value itself need not be stored).
pub fn value_hash(t: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("#{}", hex::encode(&Sha256::digest(t.as_bytes())[..8]))
}

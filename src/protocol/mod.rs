//! Protocol knowledge: what the bytes of a call mean.
//!
//! On JSON-RPC routes (`mcp`, `jsonrpc`, `a2a`) every POST body is checked before anything
//! else sees it: it must be declared as JSON, arrive uncompressed, and parse strictly
//! ([`json`]) into a valid JSON-RPC envelope ([`jsonrpc`]). What could be read two ways is
//! refused, never forwarded.

pub mod a2a;
pub mod json;
pub mod jsonrpc;
pub mod mcp;
pub mod sse;

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

pub use jsonrpc::{Envelope, EnvelopeError};

/// Why a call's body cannot be accepted on a JSON-RPC route.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// `Content-Type` is missing or not `application/json` (UTF-8).
    #[error("content type {0:?} is not application/json")]
    NotJson(String),
    /// `Content-Encoding` other than identity: the gateway inspects what it forwards, and
    /// does not decode request bodies.
    #[error("compressed request bodies ({0}) are refused")]
    Compressed(String),
    /// The body is not a valid, unambiguous JSON-RPC envelope.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A valid JSON-RPC message that MCP does not allow (e.g. a `tools/call` whose
    /// `params.name` is not a string: no tool rule could ever match it).
    #[error("{0}")]
    Mcp(String),
}

/// Check the headers of a JSON-RPC POST before its body is read.
pub fn check_json_request_headers(headers: &HeaderMap) -> Result<(), ProtocolError> {
    let ct = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    if !is_json_utf8(&ct) {
        return Err(ProtocolError::NotJson(ct));
    }
    for v in headers.get_all(CONTENT_ENCODING) {
        let enc = String::from_utf8_lossy(v.as_bytes());
        if enc
            .split(',')
            .any(|t| !t.trim().eq_ignore_ascii_case("identity"))
        {
            return Err(ProtocolError::Compressed(enc.into_owned()));
        }
    }
    Ok(())
}

/// `application/json`, any case, optionally with `charset=utf-8`; nothing else.
fn is_json_utf8(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let v = v.trim().trim_matches('"');
        !k.trim().eq_ignore_ascii_case("charset")
            || v.eq_ignore_ascii_case("utf-8")
            || v.eq_ignore_ascii_case("utf8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(ct: Option<&str>, ce: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).expect("hv"));
        }
        if let Some(ce) = ce {
            h.insert(CONTENT_ENCODING, HeaderValue::from_str(ce).expect("hv"));
        }
        h
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert!(
                check_json_request_headers(&headers(Some(ok), None)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=utf-16",
            "application/jsonx",
            "",
        ] {
            assert!(
                matches!(
                    check_json_request_headers(&headers(Some(bad), None)),
                    Err(ProtocolError::NotJson(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            check_json_request_headers(&headers(None, None)),
            Err(ProtocolError::NotJson(_))
        ));
    }

    #[test]
    fn compressed_bodies_are_refused() {
        let j = Some("application/json");
        assert!(check_json_request_headers(&headers(j, Some("identity"))).is_ok());
        for enc in ["gzip", "deflate", "br", "identity, gzip", "zstd"] {
            assert!(
                matches!(
                    check_json_request_headers(&headers(j, Some(enc))),
                    Err(ProtocolError::Compressed(_))
                ),
                "{enc}"
            );
        }
    }
}

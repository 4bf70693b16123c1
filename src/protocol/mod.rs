//! Protocol knowledge: what the bytes of a call mean.
//!
//! On JSON-RPC routes (`mcp`, `jsonrpc`, `a2a`) every POST body is checked before anything
//! else sees it: it must be declared as JSON, arrive uncompressed, and parse strictly
//! ([`json`]) into a valid JSON-RPC envelope ([`jsonrpc`]). What could be read two ways is
//! refused, never forwarded.

pub mod a2a;
pub mod encoding;
pub mod json;
pub mod jsonrpc;
pub mod mcp;
pub mod sse;

#[cfg(test)]
mod properties;

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::CompressedRequests;
use encoding::Coding;

pub use jsonrpc::{Envelope, EnvelopeError};

/// Why a call's body cannot be accepted on a JSON-RPC route.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// `Content-Type` is missing or not `application/json` (UTF-8).
    #[error("content type {0:?} is not application/json")]
    NotJson(String),
    /// `Content-Encoding` the gateway will not undo: any, when `limits.compressed_requests`
    /// is `refuse`; unknown or stacked codings otherwise.
    #[error("compressed request body ({0}) refused")]
    Compressed(String),
    /// A compressed body that does not decode.
    #[error("compressed request body does not decode: {0}")]
    Undecodable(String),
    /// A compressed body that decodes to more than the body limit.
    #[error("decoded request body exceeds {limit} bytes")]
    DecodedTooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A 2026-07-28 MCP request whose mirrored header (`Mcp-Method`, `Mcp-Name`,
    /// `MCP-Protocol-Version`) says something else than its body.
    #[error("header {header} does not match the body: {detail}")]
    HeaderMismatch {
        /// The header.
        header: &'static str,
        /// What differs.
        detail: String,
    },
    /// The body is not a valid, unambiguous JSON-RPC envelope.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// A valid JSON-RPC message that MCP does not allow (e.g. a `tools/call` whose
    /// `params.name` is not a string: no tool rule could ever match it).
    #[error("{0}")]
    Mcp(String),
}

/// Check the headers of a JSON-RPC POST before its body is read; the codings to undo on its
/// body (empty unless `compressed` is `decode`).
pub fn check_json_request_headers(
    headers: &HeaderMap,
    compressed: CompressedRequests,
) -> Result<Vec<Coding>, ProtocolError> {
    if !declares_json(headers) {
        let ct = headers
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        return Err(ProtocolError::NotJson(ct));
    }
    body_codings(headers, compressed)
}

/// The codings to undo on an inspected body, or the refusal `compressed` asks for.
pub fn body_codings(
    headers: &HeaderMap,
    compressed: CompressedRequests,
) -> Result<Vec<Coding>, ProtocolError> {
    let codings = encoding::request_codings(headers)?;
    if !codings.is_empty() && compressed == CompressedRequests::Refuse {
        let enc = headers
            .get(CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        return Err(ProtocolError::Compressed(enc));
    }
    Ok(codings)
}

/// Whether the request declares a JSON body in UTF-8.
pub fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_utf8)
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

    const REFUSE: CompressedRequests = CompressedRequests::Refuse;

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
                check_json_request_headers(&headers(Some(ok), None), REFUSE).is_ok(),
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
                    check_json_request_headers(&headers(Some(bad), None), REFUSE),
                    Err(ProtocolError::NotJson(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            check_json_request_headers(&headers(None, None), REFUSE),
            Err(ProtocolError::NotJson(_))
        ));
    }

    #[test]
    fn compressed_bodies_are_refused() {
        let j = Some("application/json");
        assert!(check_json_request_headers(&headers(j, Some("identity")), REFUSE).is_ok());
        for enc in ["gzip", "deflate", "br", "identity, gzip", "zstd"] {
            assert!(
                matches!(
                    check_json_request_headers(&headers(j, Some(enc)), REFUSE),
                    Err(ProtocolError::Compressed(_))
                ),
                "{enc}"
            );
        }
        // Decoding on: gzip and deflate are undone, the rest still refused.
        let decode = CompressedRequests::Decode;
        assert_eq!(
            check_json_request_headers(&headers(j, Some("gzip")), decode).expect("gzip"),
            vec![Coding::Gzip]
        );
        assert!(check_json_request_headers(&headers(j, Some("br")), decode).is_err());
    }
}

//! JSON-RPC 2.0 envelope facts the gateway needs when it answers a call itself.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
}

/// The raw `id` token of a single JSON-RPC message, byte for byte (so `1`, `"1"` and large
/// integers echo exactly as sent). `None` for batches, notifications, `null` ids and bodies
/// that are not JSON objects; a string or integer id is the only kind returned.
pub fn peek_id(body: &[u8]) -> Option<&RawValue> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let msg: IdOnly<'_> = serde_json::from_slice(body).ok()?;
    let id = msg.id?;
    let token = id.get().as_bytes().first()?;
    (*token == b'"' || *token == b'-' || token.is_ascii_digit()).then_some(id)
}

/// A JSON-RPC error response the gateway writes itself.
#[derive(Serialize)]
pub struct ErrorResponse<'a, D: Serialize> {
    jsonrpc: &'static str,
    id: Option<&'a RawValue>,
    error: ErrorObject<'a, D>,
}

#[derive(Serialize)]
struct ErrorObject<'a, D: Serialize> {
    code: i64,
    message: &'a str,
    data: D,
}

impl<'a, D: Serialize> ErrorResponse<'a, D> {
    /// An error echoing `id` (`null` when unknown).
    pub fn new(id: Option<&'a RawValue>, code: i64, message: &'a str, data: D) -> Self {
        Self {
            jsonrpc: "2.0",
            id,
            error: ErrorObject {
                code,
                message,
                data,
            },
        }
    }
}

/// Standard JSON-RPC codes the gateway uses.
pub mod codes {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid request (also: too large to accept).
    pub const INVALID_REQUEST: i64 = -32600;
    /// Internal error (the gateway could not get an answer from the upstream).
    pub const INTERNAL_ERROR: i64 = -32603;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(body: &str) -> Option<String> {
        peek_id(body.as_bytes()).map(|r| r.get().to_string())
    }

    #[test]
    fn ids_echo_byte_for_byte() {
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id":7,"method":"x"}"#).as_deref(),
            Some("7")
        );
        assert_eq!(id(r#" {"id":"7"}"#).as_deref(), Some(r#""7""#));
        assert_eq!(id(r#"{"id":0}"#).as_deref(), Some("0"));
        assert_eq!(
            id(r#"{"id":123456789012345678901234567890}"#).as_deref(),
            Some("123456789012345678901234567890")
        );
        assert_eq!(id(r#"{"id":"a\"b"}"#).as_deref(), Some(r#""a\"b""#));
    }

    #[test]
    fn no_id_for_notifications_batches_and_garbage() {
        assert_eq!(id(r#"{"method":"notifications/initialized"}"#), None);
        assert_eq!(id(r#"[{"id":1}]"#), None);
        assert_eq!(id(r#"{"id":null}"#), None);
        assert_eq!(id(r#"{"id":{"x":1}}"#), None);
        assert_eq!(id("not json"), None);
        assert_eq!(id(""), None);
    }

    #[test]
    fn error_response_shape() {
        let raw = RawValue::from_string("\"abc\"".into()).expect("raw");
        let s = serde_json::to_string(&ErrorResponse::new(
            Some(&raw),
            -32603,
            "m",
            serde_json::json!({"k":1}),
        ))
        .expect("json");
        assert_eq!(
            s,
            r#"{"jsonrpc":"2.0","id":"abc","error":{"code":-32603,"message":"m","data":{"k":1}}}"#
        );
        let s = serde_json::to_string(&ErrorResponse::new(None, -32700, "m", ())).expect("json");
        assert_eq!(
            s,
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"m","data":null}}"#
        );
    }
}

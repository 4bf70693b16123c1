//! JSON-RPC 2.0 envelopes: validation and classification of what a client POSTs, and the
//! error objects the gateway writes itself.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::json::{JsonError, parse_strict};

/// What one JSON-RPC message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// Has `method` and `id`: expects an answer.
    Request,
    /// Has `method`, no `id`: must not be answered.
    Notification,
    /// Has `id` and `result` or `error`, no `method`: a client's answer to a server request.
    Response,
}

/// One validated message of a body.
#[derive(Debug, Clone)]
pub struct Message {
    /// Request, notification or response.
    pub kind: MessageKind,
    /// The message as parsed (strictly).
    pub value: Value,
}

impl Message {
    /// The method name (requests and notifications).
    pub fn method(&self) -> Option<&str> {
        self.value.get("method").and_then(Value::as_str)
    }
}

/// A validated body: one message, or a batch.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The messages, in body order.
    pub messages: Vec<Message>,
    /// Whether the body was an array.
    pub batch: bool,
}

/// Why a body is not a valid JSON-RPC envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not acceptable JSON (syntax, duplicate keys, depth).
    #[error(transparent)]
    Json(#[from] JsonError),
    /// `[]`.
    #[error("empty batch")]
    EmptyBatch,
    /// A message (or the body) is not a JSON object.
    #[error("message {0} is not an object")]
    NotAnObject(usize),
    /// `jsonrpc` is missing or not exactly `"2.0"`.
    #[error("message {0}: \"jsonrpc\" must be \"2.0\"")]
    Version(usize),
    /// `method` is not a non-empty string.
    #[error("message {0}: \"method\" must be a non-empty string")]
    Method(usize),
    /// `id` is not a string or an integer.
    #[error("message {0}: \"id\" must be a string or an integer")]
    Id(usize),
    /// `params` is neither an object nor an array.
    #[error("message {0}: \"params\" must be an object or an array")]
    Params(usize),
    /// Neither a request, a notification nor a response.
    #[error("message {0} is neither a request, a notification nor a response")]
    Shape(usize),
}

/// Parse and validate a JSON-RPC body (single message or batch).
pub fn parse_envelope(body: &[u8], max_depth: usize) -> Result<Envelope, EnvelopeError> {
    let value = parse_strict(body, max_depth)?;
    let (items, batch) = match value {
        Value::Array(items) if items.is_empty() => return Err(EnvelopeError::EmptyBatch),
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    let messages = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| classify(i, v))
        .collect::<Result<_, _>>()?;
    Ok(Envelope { messages, batch })
}

fn classify(i: usize, value: Value) -> Result<Message, EnvelopeError> {
    let Some(obj) = value.as_object() else {
        return Err(EnvelopeError::NotAnObject(i));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(EnvelopeError::Version(i));
    }
    let id_ok = match obj.get("id") {
        None => true,
        Some(Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_i64() || n.is_u64(),
        Some(_) => false,
    };
    if !id_ok {
        return Err(EnvelopeError::Id(i));
    }
    let kind = match obj.get("method") {
        Some(Value::String(m)) if !m.is_empty() => {
            if !matches!(
                obj.get("params"),
                None | Some(Value::Object(_)) | Some(Value::Array(_))
            ) {
                return Err(EnvelopeError::Params(i));
            }
            if obj.contains_key("result") || obj.contains_key("error") {
                return Err(EnvelopeError::Shape(i));
            }
            if obj.contains_key("id") {
                MessageKind::Request
            } else {
                MessageKind::Notification
            }
        }
        Some(_) => return Err(EnvelopeError::Method(i)),
        None => {
            let answers =
                usize::from(obj.contains_key("result")) + usize::from(obj.contains_key("error"));
            if !obj.contains_key("id") || answers != 1 {
                return Err(EnvelopeError::Shape(i));
            }
            MessageKind::Response
        }
    };
    Ok(Message { kind, value })
}

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

/// The elements of a batch body at positions `keep` (ascending), as a new batch body. Each
/// element keeps its exact bytes: the upstream reads what the policy read, nothing
/// re-serialised. `None` when `body` is not a JSON array (callers pass only bodies that
/// [`parse_envelope`] accepted as a batch).
pub fn select_batch(body: &[u8], keep: &[usize]) -> Option<Vec<u8>> {
    let items: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
    let mut out = Vec::with_capacity(body.len());
    out.push(b'[');
    for (n, &i) in keep.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(items.get(i)?.get().as_bytes());
    }
    out.push(b']');
    Some(out)
}

/// Each message of a body as (byte offset, its exact bytes): the body itself for a single
/// message, each element for a batch. `None` when a batch body is not a JSON array.
pub fn message_slices(body: &[u8], batch: bool) -> Option<Vec<(usize, &[u8])>> {
    if !batch {
        return Some(vec![(0, body)]);
    }
    let items: Vec<&RawValue> = serde_json::from_slice(body).ok()?;
    let base = body.as_ptr() as usize;
    Some(
        items
            .into_iter()
            .map(|r| {
                let bytes = r.get().as_bytes();
                // The raw value borrows from `body`: its address minus the body's is its offset.
                (bytes.as_ptr() as usize - base, bytes)
            })
            .collect(),
    )
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
    /// MCP 2026-07-28 `HeaderMismatch`: a mirrored header disagrees with the body.
    pub const HEADER_MISMATCH: i64 = -32020;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(body: &str) -> Result<Envelope, EnvelopeError> {
        parse_envelope(body.as_bytes(), 16)
    }

    #[test]
    fn classifies_messages() {
        let e = env(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}"#)
            .expect("ok");
        assert!(!e.batch);
        assert_eq!(e.messages[0].kind, MessageKind::Request);
        assert_eq!(e.messages[0].method(), Some("tools/call"));
        let e = env(r#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":0,"result":{}}]"#).expect("ok");
        assert!(e.batch);
        assert_eq!(e.messages[0].kind, MessageKind::Notification);
        assert_eq!(e.messages[1].kind, MessageKind::Response);
    }

    #[test]
    fn refuses_invalid_envelopes() {
        let cases: [(&str, EnvelopeError); 10] = [
            ("[]", EnvelopeError::EmptyBatch),
            ("[1]", EnvelopeError::NotAnObject(0)),
            (r#""x""#, EnvelopeError::NotAnObject(0)),
            (
                r#"{"jsonrpc":"1.0","id":1,"method":"m"}"#,
                EnvelopeError::Version(0),
            ),
            (r#"{"id":1,"method":"m"}"#, EnvelopeError::Version(0)),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
                EnvelopeError::Id(0),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
                EnvelopeError::Id(0),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
                EnvelopeError::Method(0),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"method":"m","params":"x"}"#,
                EnvelopeError::Params(0),
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
                EnvelopeError::Shape(0),
            ),
        ];
        for (body, want) in cases {
            assert_eq!(env(body).expect_err(body), want, "{body}");
        }
        assert!(matches!(
            env(r#"{"jsonrpc":"2.0","id":1,"method":"a","method":"b"}"#),
            Err(EnvelopeError::Json(JsonError::DuplicateKey(_)))
        ));
    }

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
    fn batch_selection_keeps_element_bytes() {
        let body = br#"[ {"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1.50}} , {"jsonrpc":"2.0","id":2,"method":"b"},{"jsonrpc":"2.0","method":"n","params":[123456789012345678901234567890]} ]"#;
        let out = select_batch(body, &[0, 2]).expect("batch");
        assert_eq!(
            std::str::from_utf8(&out).expect("utf8"),
            r#"[{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":1.50}},{"jsonrpc":"2.0","method":"n","params":[123456789012345678901234567890]}]"#
        );
        assert_eq!(select_batch(body, &[5]), None);
        assert_eq!(select_batch(br#"{"id":1}"#, &[0]), None);
    }

    #[test]
    fn message_slices_point_into_the_body() {
        let body = br#"[ {"id":1} ,{"id":2}]"#;
        let s = message_slices(body, true).expect("batch");
        assert_eq!(s.len(), 2);
        for (off, bytes) in s {
            assert_eq!(&body[off..off + bytes.len()], bytes);
        }
        assert_eq!(message_slices(b"{}", false), Some(vec![(0, &b"{}"[..])]));
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

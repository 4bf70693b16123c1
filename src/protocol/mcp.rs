//! What rules need from an MCP (or any JSON-RPC) message: the method, the tool or resource
//! it names, and the arguments.

use serde_json::Value;

use super::ProtocolError;
use super::jsonrpc::Message;

/// The policy-relevant parts of one message, borrowed from it.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallParts<'a> {
    /// `method` (absent for responses).
    pub method: Option<&'a str>,
    /// `tools/call` → `params.name`.
    pub tool: Option<&'a str>,
    /// `resources/read` → `params.uri`.
    pub resource: Option<&'a str>,
    /// `prompts/get` → `params.name`.
    pub prompt: Option<&'a str>,
    /// `tools/call` and `prompts/get` → `params.arguments`; otherwise `params`.
    pub args: Option<&'a Value>,
}

/// A tool's MCP annotations, as its server declares them in `tools/list` (hints, not
/// guarantees: they come from the server). Absent hints take the specification's defaults:
/// not read-only, destructive, open-world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// `readOnlyHint`: the tool changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// `destructiveHint`: its changes may destroy (meaningful when not read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// `idempotentHint`: calling it twice does no more than once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// `openWorldHint`: it reaches outside (the internet, other systems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl ToolAnnotations {
    /// The annotations of a tool descriptor (`{"name": …, "annotations": {…}}`); `None`
    /// when it declares none.
    pub fn of_descriptor(tool: &Value) -> Option<Self> {
        tool.get("annotations")
            .filter(|a| a.is_object())
            .and_then(|a| serde_json::from_value(a.clone()).ok())
    }

    /// Whether the tool is read-only (default no).
    pub fn read_only(&self) -> bool {
        self.read_only_hint.unwrap_or(false)
    }

    /// Whether the tool may destroy (default yes unless read-only).
    pub fn destructive(&self) -> bool {
        !self.read_only() && self.destructive_hint.unwrap_or(true)
    }

    /// Whether the tool reaches the open world (default yes).
    pub fn open_world(&self) -> bool {
        self.open_world_hint.unwrap_or(true)
    }

    /// Whether learning treats the tool strictly: destructive or open-world, as declared
    /// or presumed (`None`: the tool declared nothing, which the defaults make strict).
    pub fn strict(a: Option<&Self>) -> bool {
        a.is_none_or(|a| a.destructive() || a.open_world())
    }

    /// The hint named `name` (`readOnlyHint`, …) after defaults, for `when.annotations`.
    pub fn hint(a: Option<&Self>, name: &str) -> Option<bool> {
        let d = Self::default();
        let a = a.unwrap_or(&d);
        match name {
            "readOnlyHint" => Some(a.read_only()),
            "destructiveHint" => Some(a.destructive()),
            "idempotentHint" => Some(a.idempotent_hint.unwrap_or(false)),
            "openWorldHint" => Some(a.open_world()),
            _ => None,
        }
    }
}

/// Extract the parts of `msg`.
pub fn call_parts(msg: &Message) -> CallParts<'_> {
    let method = msg.method();
    let params = msg.value.get("params");
    let field = |name: &str| params.and_then(|p| p.get(name));
    match method {
        Some("tools/call") => CallParts {
            method,
            tool: field("name").and_then(Value::as_str),
            args: field("arguments"),
            ..CallParts::default()
        },
        Some("prompts/get") => CallParts {
            method,
            prompt: field("name").and_then(Value::as_str),
            args: field("arguments"),
            ..CallParts::default()
        },
        Some("resources/read") | Some("resources/subscribe") => CallParts {
            method,
            resource: field("uri").and_then(Value::as_str),
            args: params,
            ..CallParts::default()
        },
        _ => CallParts {
            method,
            args: params,
            ..CallParts::default()
        },
    }
}

/// `_meta` key carrying the protocol version on every 2026-07-28 request.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// Check the headers a 2026-07-28 client mirrors from the body for intermediaries
/// (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`, SEP-2243) against the body: the
/// gateway decides on the body, so a header saying something else could steer whatever
/// routes or filters on headers (including `when.headers` rules) around the decision. A
/// header that is present must agree; values in the `=?base64?…?=` form are decoded first.
/// `msg` is the only message of the body; batches never carry mirrored headers.
pub fn check_mirrored_headers(
    headers: &http::HeaderMap,
    msg: Option<&Message>,
) -> Result<(), ProtocolError> {
    let mismatch =
        |header: &'static str, detail: String| ProtocolError::HeaderMismatch { header, detail };
    let method_h = mirrored(headers, "mcp-method", "Mcp-Method")?;
    let name_h = mirrored(headers, "mcp-name", "Mcp-Name")?;
    let Some(msg) = msg else {
        return match (method_h, name_h) {
            (None, None) => Ok(()),
            _ => Err(mismatch(
                "Mcp-Method",
                "a batch has no single method".into(),
            )),
        };
    };
    let method = msg.method();
    if let Some(h) = &method_h {
        if method != Some(h.as_str()) {
            return Err(mismatch(
                "Mcp-Method",
                format!("header {h:?}, body {:?}", method.unwrap_or("")),
            ));
        }
    }
    let params = msg.value.get("params");
    let named = match method {
        Some("tools/call") | Some("prompts/get") => params.and_then(|p| p.get("name")),
        Some("resources/read") => params.and_then(|p| p.get("uri")),
        _ => None,
    };
    if let Some(h) = &name_h {
        if named.and_then(Value::as_str) != Some(h.as_str()) {
            return Err(mismatch(
                "Mcp-Name",
                format!("header {h:?}, body {}", named.unwrap_or(&Value::Null)),
            ));
        }
    }
    let body_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    if let Some(bv) = body_version {
        if let Some(h) = mirrored(headers, "mcp-protocol-version", "MCP-Protocol-Version")? {
            if bv.as_str() != Some(h.as_str()) {
                return Err(mismatch(
                    "MCP-Protocol-Version",
                    format!("header {h:?}, body {bv}"),
                ));
            }
        }
    }
    Ok(())
}

/// A mirrored header's value (one occurrence at most), base64 sentinel decoded.
fn mirrored(
    headers: &http::HeaderMap,
    name: &str,
    shown: &'static str,
) -> Result<Option<String>, ProtocolError> {
    let bad = |detail: &str| ProtocolError::HeaderMismatch {
        header: shown,
        detail: detail.into(),
    };
    let mut values = headers.get_all(name).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(bad("sent more than once"));
    }
    let text = v.to_str().map_err(|_| bad("not visible ASCII"))?;
    match text
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| bad("invalid base64 value"))?;
            String::from_utf8(raw)
                .map(Some)
                .map_err(|_| bad("base64 value is not UTF-8"))
        }
        None => Ok(Some(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::parse_envelope;

    fn parts_of(
        body: &str,
    ) -> (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<Value>,
    ) {
        let env = parse_envelope(body.as_bytes(), 16).expect("valid");
        let p = call_parts(&env.messages[0]);
        (
            p.method.map(str::to_string),
            p.tool.map(str::to_string),
            p.resource.map(str::to_string),
            p.args.cloned(),
        )
    }

    #[test]
    fn extracts_tool_resource_and_arguments() {
        let (m, t, r, a) = parts_of(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"send_email","arguments":{"to":"x"}}}"#,
        );
        assert_eq!(
            (m.as_deref(), t.as_deref(), r),
            (Some("tools/call"), Some("send_email"), None)
        );
        assert_eq!(a, Some(serde_json::json!({"to":"x"})));
        let env = parse_envelope(
            br#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarise","arguments":{"x":"1"}}}"#,
            16,
        )
        .expect("valid");
        let p = call_parts(&env.messages[0]);
        assert_eq!((p.prompt, p.tool), (Some("summarise"), None));
        assert_eq!(p.args, Some(&serde_json::json!({"x": "1"})));
        let (_, t, r, _) = parts_of(
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}"#,
        );
        assert_eq!((t, r.as_deref()), (None, Some("file:///etc/passwd")));
        let (m, t, _, a) = parts_of(
            r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[]}}}"#,
        );
        assert_eq!((m.as_deref(), t), (Some("message/send"), None));
        assert!(a.is_some());
        // A tool name that is not a string names no tool (and matches no tool rule).
        let (_, t, _, _) = parts_of(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["shell"]}}"#,
        );
        assert_eq!(t, None);
    }
}

#[cfg(test)]
mod mirrored_tests {
    use super::*;
    use crate::protocol::jsonrpc::parse_envelope;
    use http::{HeaderMap, HeaderValue};

    const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_weather","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

    fn check(body: &str, hs: &[(&'static str, &str)]) -> Result<(), ProtocolError> {
        let env = parse_envelope(body.as_bytes(), 16).expect("valid");
        let mut h = HeaderMap::new();
        for (k, v) in hs {
            h.append(*k, HeaderValue::from_str(v).expect("hv"));
        }
        check_mirrored_headers(&h, (!env.batch).then(|| &env.messages[0]))
    }

    #[test]
    fn agreeing_headers_pass() {
        check(CALL, &[]).expect("no headers");
        check(
            CALL,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "get_weather"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .expect("agree");
        // "get_weather" as a base64 sentinel.
        check(CALL, &[("mcp-name", "=?base64?Z2V0X3dlYXRoZXI=?=")]).expect("base64");
        let read =
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}"#;
        check(read, &[("mcp-name", "file:///a")]).expect("uri");
        // Session-era requests carry a handshake version header and no `_meta` version.
        check(read, &[("mcp-protocol-version", "2025-06-18")]).expect("session era");
    }

    #[test]
    fn disagreeing_headers_are_refused() {
        for (what, hs) in [
            ("method", vec![("mcp-method", "tools/list")]),
            ("name", vec![("mcp-name", "echo")]),
            ("base64 name", vec![("mcp-name", "=?base64?ZWNobw==?=")]),
            ("bad base64", vec![("mcp-name", "=?base64?***?=")]),
            (
                "twice",
                vec![("mcp-name", "get_weather"), ("mcp-name", "echo")],
            ),
            ("version", vec![("mcp-protocol-version", "2025-11-25")]),
        ] {
            assert!(
                matches!(check(CALL, &hs), Err(ProtocolError::HeaderMismatch { .. })),
                "{what}"
            );
        }
        let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert!(
            check(list, &[("mcp-name", "x")]).is_err(),
            "a name where the method has none"
        );
        let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#;
        assert!(check(batch, &[("mcp-method", "ping")]).is_err());
        check(batch, &[]).expect("batches without mirrored headers");
    }
}

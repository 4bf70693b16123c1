//! What rules need from an MCP (or any JSON-RPC) message: the method, the tool or resource
//! it names, and the arguments.

use serde_json::Value;

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
    /// `tools/call` and `prompts/get` → `params.arguments`; otherwise `params`.
    pub args: Option<&'a Value>,
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
            resource: None,
            args: field("arguments"),
        },
        Some("prompts/get") => CallParts {
            method,
            tool: None,
            resource: None,
            args: field("arguments"),
        },
        Some("resources/read") | Some("resources/subscribe") => CallParts {
            method,
            tool: None,
            resource: field("uri").and_then(Value::as_str),
            args: params,
        },
        _ => CallParts {
            method,
            tool: None,
            resource: None,
            args: params,
        },
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

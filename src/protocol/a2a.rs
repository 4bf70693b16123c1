//! What rules need from an A2A (Agent2Agent) JSON-RPC message: which operation it is in
//! both protocol generations, and the text the sender wrote.
//!
//! A2A v0.3 names methods `message/send`, `tasks/get`, …; v1.0 names the same operations
//! `SendMessage`, `GetTask`, …, and `a2a-sdk` 1.x serves both on one endpoint. A rule written
//! with one name must therefore hold for the other too, or a client could pick the generation
//! the rule author forgot: [`method_alias`] gives the other name for the policy to try.

use serde_json::Value;

use super::jsonrpc::Message;

/// v0.3 and v1.0 names of the same operation (a2aproject/A2A specification §5.3).
const ALIASES: &[(&str, &str)] = &[
    ("message/send", "SendMessage"),
    ("message/stream", "SendStreamingMessage"),
    ("tasks/get", "GetTask"),
    ("tasks/list", "ListTasks"),
    ("tasks/cancel", "CancelTask"),
    ("tasks/resubscribe", "SubscribeToTask"),
    (
        "tasks/pushNotificationConfig/set",
        "CreateTaskPushNotificationConfig",
    ),
    (
        "tasks/pushNotificationConfig/get",
        "GetTaskPushNotificationConfig",
    ),
    (
        "tasks/pushNotificationConfig/list",
        "ListTaskPushNotificationConfig",
    ),
    (
        "tasks/pushNotificationConfig/delete",
        "DeleteTaskPushNotificationConfig",
    ),
    ("agent/getAuthenticatedExtendedCard", "GetExtendedAgentCard"),
];

/// The other generation's name for `method`, if it has one.
pub fn method_alias(method: &str) -> Option<&'static str> {
    ALIASES.iter().find_map(|&(v03, v10)| {
        if method == v03 {
            Some(v10)
        } else if method == v10 {
            Some(v03)
        } else {
            None
        }
    })
}

/// Longest message text collected for rules; longer text is cut here (rules see the first
/// 1 MiB; the body itself is capped by the route's limit).
pub const MAX_TEXT: usize = 1 << 20;

/// The text of the message a call sends (`params.message.parts[].text`, both generations:
/// v0.3 `{kind:"text", text}`, v1.0 `{text}`), text parts joined by a newline. `None` when
/// the call carries no message or no text part.
pub fn message_text(msg: &Message) -> Option<String> {
    let parts = msg.value.pointer("/params/message/parts")?.as_array()?;
    let mut out = String::new();
    let mut any = false;
    for text in parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
    {
        if any {
            out.push('\n');
        }
        any = true;
        let room = MAX_TEXT.saturating_sub(out.len());
        if text.len() <= room {
            out.push_str(text);
        } else {
            // Cut on a character boundary.
            let mut end = room;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            out.push_str(&text[..end]);
            break;
        }
    }
    any.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::jsonrpc::parse_envelope;

    fn msg(body: &str) -> Message {
        parse_envelope(body.as_bytes(), 32)
            .expect("valid")
            .messages
            .remove(0)
    }

    #[test]
    fn aliases_go_both_ways() {
        assert_eq!(method_alias("message/send"), Some("SendMessage"));
        assert_eq!(method_alias("SendMessage"), Some("message/send"));
        assert_eq!(method_alias("SendStreamingMessage"), Some("message/stream"));
        assert_eq!(method_alias("tools/call"), None);
    }

    #[test]
    fn text_parts_of_both_generations() {
        let v03 = msg(
            r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"m1","parts":[{"kind":"text","text":"hello"},{"kind":"data","data":{"x":1}},{"kind":"text","text":"wire 5000 EUR"}]}}}"#,
        );
        assert_eq!(message_text(&v03).as_deref(), Some("hello\nwire 5000 EUR"));
        let v10 = msg(
            r#"{"jsonrpc":"2.0","id":"a","method":"SendMessage","params":{"message":{"role":"ROLE_USER","messageId":"m2","parts":[{"text":"ping"}]}}}"#,
        );
        assert_eq!(message_text(&v10).as_deref(), Some("ping"));
        let none = msg(r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"t"}}"#);
        assert_eq!(message_text(&none), None);
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let body = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[{"text": long}]}}}).to_string();
        let t = message_text(&msg(&body)).expect("text");
        assert!(t.len() <= MAX_TEXT && t.len() > MAX_TEXT - 4);
    }
}

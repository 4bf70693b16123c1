//! Inspect: what comes back from the upstream, before it reaches the client.
//!
//! - `tools/list` results lose the tools the caller can never call (an enforced deny rule
//!   that depends only on caller, route and tool name), so agents do not plan with them
//!   (this module);
//! - the response guard scans results and events, redacts or refuses what rules say, checks
//!   tool descriptors for poisoning and remembers them and their annotations (rug pulls,
//!   learning's strictness): [`guarded`], [`descriptors`];
//! - a batch answer is merged with the gateway's own refusals: [`batch`];
//! - the legacy HTTP+SSE session stream is tapped: [`legacy_sse`].
//!
//! JSON answers are read whole (capped); SSE answers are parsed event by event
//! ([`events`]) and only the events that must change are rewritten; everything else passes
//! on byte for byte, at once.

use std::sync::Arc;

use bytes::Bytes;
use prometheus::IntCounter;
use serde_json::Value;

use crate::protocol::sse::Event;

pub mod batch;
pub mod descriptors;
pub mod events;
pub mod guarded;
pub mod legacy_sse;

pub use events::{EventHook, SseEvents};

/// Decides whether a tool is hidden.
pub type HideTool = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Largest single SSE event (or JSON answer) the filter reads.
pub const MAX_INSPECTED: usize = 8 << 20;

/// Filtering of one `tools/list` answer.
#[derive(Clone)]
pub struct ToolsListFilter {
    /// The request id the answer carries.
    pub id: Value,
    /// Which tools to remove.
    pub hide: HideTool,
    /// Counts removed tools.
    pub hidden: IntCounter,
}

impl ToolsListFilter {
    /// Filter `msg` if it answers our request with a tools list; `true` when tools were
    /// removed.
    pub fn apply(&self, msg: &mut Value) -> bool {
        if msg.get("id") != Some(&self.id) {
            return false;
        }
        let Some(tools) = msg
            .pointer_mut("/result/tools")
            .and_then(Value::as_array_mut)
        else {
            return false;
        };
        let before = tools.len();
        tools.retain(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| !(self.hide)(n))
        });
        let removed = before - tools.len();
        self.hidden.inc_by(removed as u64);
        removed > 0
    }

    /// Filter a whole JSON answer body; unchanged bytes when nothing is removed.
    pub fn apply_to_json(&self, body: Bytes) -> Bytes {
        let Ok(mut v) = serde_json::from_slice::<Value>(&body) else {
            return body;
        };
        if self.apply(&mut v) {
            serde_json::to_vec(&v).map(Bytes::from).unwrap_or(body)
        } else {
            body
        }
    }
}

/// An SSE body whose `tools/list` result event is filtered on the way through.
pub type SseToolsList<B> = SseEvents<B, ToolsListFilter>;

impl EventHook for ToolsListFilter {
    fn on_event(&mut self, event: Event) -> Bytes {
        let rewritten = event.data.as_deref().and_then(|d| {
            let mut v: Value = serde_json::from_str(d).ok()?;
            if !self.apply(&mut v) {
                return None;
            }
            serde_json::to_string(&v).ok().map(|s| event.with_data(&s))
        });
        rewritten.unwrap_or(event.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::body::BoxError;
    use http_body::Frame;
    use http_body_util::{BodyExt, StreamBody};
    use serde_json::json;

    fn filter() -> ToolsListFilter {
        ToolsListFilter {
            id: json!(1),
            hide: Arc::new(|n: &str| n.starts_with("shell")),
            hidden: IntCounter::new("h", "h").expect("counter"),
        }
    }

    #[test]
    fn json_answers_lose_hidden_tools_and_keep_the_rest() {
        let f = filter();
        let body = Bytes::from(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"echo"},{"name":"shell_exec"}],"nextCursor":"c2"}}"#,
        );
        let out: Value = serde_json::from_slice(&f.apply_to_json(body)).expect("json");
        assert_eq!(out["result"]["tools"], json!([{"name": "echo"}]));
        assert_eq!(out["result"]["nextCursor"], "c2");
        assert_eq!(f.hidden.get(), 1);
        // Another id, or nothing to hide: bytes unchanged.
        let other =
            Bytes::from(r#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"shell"}]}}"#);
        assert_eq!(f.apply_to_json(other.clone()), other);
    }

    #[tokio::test]
    async fn sse_answers_are_filtered_event_by_event() {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = vec![
            Ok(Frame::data(Bytes::from_static(b": ping\r\n\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\r\n\r\nevent: mess"))),
            Ok(Frame::data(Bytes::from_static(b"age\r\nid: 9\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"shell\"},{\"name\":\"echo\"}]}}\r\n\r\n"))),
        ];
        let body = SseToolsList::new(
            StreamBody::new(futures_util::stream::iter(chunks)),
            filter(),
        );
        let out = body.collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with(": ping\r\n\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\r\n\r\n"), "untouched events pass byte for byte: {text}");
        assert!(text.ends_with("event: message\nid: 9\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"tools\":[{\"name\":\"echo\"}]}}\n\n"), "{text}");
    }
}

//! Merging the gateway's refusals into the upstream's answer to a partly forwarded batch.
//!
//! The client sent one batch and gets one answer. When some elements were refused, the
//! upstream saw only the rest; its answer is completed with the gateway's error objects:
//! - a JSON answer (array, or a single object) gets the refusals added and is put back in
//!   the client's order of request ids (answers with unknown ids go last, as they came);
//! - no answer (202/204: the upstream got only notifications) becomes a 200 with the
//!   refusals alone;
//! - an SSE answer (2025-03-26 servers may stream a batch's answers) gets one event per
//!   refusal before the upstream's first event; the events themselves pass unchanged.

use std::collections::VecDeque;
use std::task::{Context, Poll};

use bytes::Bytes;
use serde_json::Value;

use super::events::EventHook;
use crate::act::PartialBatch;
use crate::protocol::sse::Event;

/// Put `answers` in the order of `order` (request ids in the client's batch).
fn sort_by_request_order(answers: &mut [Value], order: &[Value]) {
    let rank = |a: &Value| {
        a.get("id")
            .and_then(|id| order.iter().position(|o| o == id))
            .unwrap_or(usize::MAX)
    };
    // Stable: equal ranks (unknown ids) keep the upstream's order.
    answers.sort_by_key(rank);
}

/// The merged JSON body: upstream answers plus refusals, in request order. `None` when the
/// upstream's body is not a JSON object or array (then it is passed on unchanged, and the
/// refusals are lost with it: the log says so).
pub fn merge_json(upstream: &[u8], part: &PartialBatch) -> Option<Vec<u8>> {
    let mut answers = match serde_json::from_slice::<Value>(upstream).ok()? {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return None,
    };
    answers.extend(part.refusals.iter().cloned());
    sort_by_request_order(&mut answers, &part.order);
    serde_json::to_vec(&Value::Array(answers)).ok()
}

/// The body when the upstream had nothing to say (it got only notifications or responses).
pub fn refusals_only(part: &PartialBatch) -> Vec<u8> {
    serde_json::to_vec(&Value::Array(part.refusals.clone())).unwrap_or_default()
}

/// Sends the refusals as SSE `message` events ahead of the upstream's events.
pub struct RefusalEvents {
    pending: VecDeque<Bytes>,
}

impl RefusalEvents {
    /// One event per refusal of `part`.
    pub fn new(part: &PartialBatch) -> Self {
        Self {
            pending: refusal_events(part),
        }
    }
}

/// The refusals of `part` as SSE `message` events.
pub fn refusal_events(part: &PartialBatch) -> VecDeque<Bytes> {
    part.refusals
        .iter()
        .map(|r| Bytes::from(format!("event: message\ndata: {r}\n\n")))
        .collect()
}

impl EventHook for RefusalEvents {
    fn on_event(&mut self, event: Event) -> Bytes {
        event.raw
    }

    fn poll_injected(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        match self.pending.pop_front() {
            Some(ev) => Poll::Ready(Some(ev)),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::body::BoxError;
    use crate::inspect::SseEvents;
    use http_body::Frame;
    use http_body_util::{BodyExt, StreamBody};
    use serde_json::json;

    fn part() -> PartialBatch {
        PartialBatch {
            keep: vec![0, 2],
            refusals: vec![json!({"jsonrpc":"2.0","id":"b","error":{"code":4030}})],
            order: vec![json!(1), json!("b"), json!(3)],
        }
    }

    #[test]
    fn json_answers_are_completed_in_request_order() {
        let up = br#"[{"jsonrpc":"2.0","id":3,"result":{}},{"jsonrpc":"2.0","id":1,"result":{}}]"#;
        let merged: Value =
            serde_json::from_slice(&merge_json(up, &part()).expect("merged")).expect("json");
        let ids: Vec<Value> = merged
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["id"].clone())
            .collect();
        assert_eq!(ids, vec![json!(1), json!("b"), json!(3)]);
        // A single object (a server answering a one-element batch unwrapped) is merged too.
        let one = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        let merged: Value =
            serde_json::from_slice(&merge_json(one, &part()).expect("merged")).expect("json");
        assert_eq!(merged.as_array().map(Vec::len), Some(2));
        // Unknown ids keep their place after the known ones; garbage is not merged.
        let odd =
            br#"[{"jsonrpc":"2.0","id":99,"result":{}},{"jsonrpc":"2.0","id":1,"result":{}}]"#;
        let merged: Value =
            serde_json::from_slice(&merge_json(odd, &part()).expect("merged")).expect("json");
        assert_eq!(merged[2]["id"], 99);
        assert_eq!(merge_json(b"not json", &part()), None);
        assert_eq!(merge_json(b"42", &part()), None);
        assert_eq!(
            serde_json::from_slice::<Value>(&refusals_only(&part())).expect("json")[0]["id"],
            "b"
        );
    }

    #[tokio::test]
    async fn sse_answers_get_the_refusals_first() {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> =
            vec![Ok(Frame::data(Bytes::from_static(
                b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
            )))];
        let body = SseEvents::new(
            StreamBody::new(futures_util::stream::iter(chunks)),
            RefusalEvents::new(&part()),
        );
        let out = body.collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("event: message\ndata: {\"error\":{\"code\":4030},\"id\":\"b\""),
            "{text}"
        );
        assert!(
            text.ends_with("data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"),
            "{text}"
        );
    }
}

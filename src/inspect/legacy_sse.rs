//! Legacy HTTP+SSE transport (MCP 2024-11-05): the answer to a POST to the message endpoint
//! arrives on the session's GET stream, not on the POST. So a refusal must be delivered as
//! an event on that stream. The gateway taps every SSE stream on an MCP route: the first
//! `endpoint` event names the session (`session_id`/`sessionId` query parameter of the URI
//! it carries), the stream registers an injection channel under that id, and the POST side
//! looks it up. Injected events go out only between complete upstream events.
//!
//! A `tools/list` answer travels on that stream too, so a POSTed `tools/list` hands its
//! filter to the session's tap before it is forwarded; the tap applies it to the event that
//! answers the request's id.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::mpsc;

use super::guarded::{Asked, ResponseGuard, Verdict};
use super::{EventHook, ToolsListFilter};
use crate::protocol::sse::Event;

/// What the POST side sends to a session's stream.
enum Injection {
    /// An event to deliver (a refusal).
    Event(Bytes),
    /// Filter the answer to this `tools/list` request.
    FilterToolsList(ToolsListFilter),
    /// Requests whose answers the stream will carry (for the guard to judge them).
    Asked(Vec<Asked>),
}

/// Most `tools/list` answers a session waits for at once; older ones are forgotten (their
/// answer then passes unfiltered: calls to hidden tools are still denied).
const MAX_WATCHED: usize = 16;

/// Injection channels of live legacy sessions, keyed by `<upstream index>:<session id>`:
/// the upstream mints the session, and the stream and the POSTs usually come through two
/// different routes (`/sse`, `/messages`) to it.
#[derive(Default)]
pub struct LegacySessions {
    streams: DashMap<String, mpsc::Sender<Injection>>,
}

fn key(upstream: usize, session: &str) -> String {
    format!("{upstream}:{session}")
}

/// The session id in a legacy endpoint URI or a POST's query (`session_id` or `sessionId`).
pub fn session_from_query(query: &str) -> Option<&str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "session_id" || k == "sessionId")
            .then_some(v)
            .filter(|v| !v.is_empty())
    })
}

impl LegacySessions {
    /// Deliver `event` (a complete SSE event) on the session's stream; `false` when no
    /// such session is live on this upstream.
    pub fn inject(&self, upstream: usize, session: &str, event: Bytes) -> bool {
        self.send(upstream, session, Injection::Event(event))
    }

    /// Have the session's stream filter the answer to a `tools/list` request; `false` when
    /// no such session is live on this upstream.
    pub fn watch_tools_list(
        &self,
        upstream: usize,
        session: &str,
        filter: ToolsListFilter,
    ) -> bool {
        self.send(upstream, session, Injection::FilterToolsList(filter))
    }

    /// Tell the session's stream which requests it will answer (its guard judges the
    /// answers with their facts); `false` when no such session is live.
    pub fn expect_answers(&self, upstream: usize, session: &str, asked: Vec<Asked>) -> bool {
        !asked.is_empty() && self.send(upstream, session, Injection::Asked(asked))
    }

    fn send(&self, upstream: usize, session: &str, what: Injection) -> bool {
        match self.streams.get(&key(upstream, session)) {
            Some(tx) => tx.try_send(what).is_ok(),
            None => false,
        }
    }

    /// Whether a legacy session with this id is live on this upstream.
    #[cfg(test)]
    pub fn is_live(&self, upstream: usize, session: &str) -> bool {
        self.streams.contains_key(&key(upstream, session))
    }
}

/// The hook that learns a stream's legacy session from its `endpoint` event and injects
/// refusals into it; use it with `SseEvents`.
pub struct LegacyTap {
    sessions: Arc<LegacySessions>,
    upstream: usize,
    registered: Option<String>,
    injected: Option<mpsc::Receiver<Injection>>,
    watching: Vec<ToolsListFilter>,
    guard: Option<ResponseGuard>,
}

impl LegacyTap {
    /// A tap for a stream from upstream number `upstream`.
    pub fn new(sessions: Arc<LegacySessions>, upstream: usize) -> Self {
        Self {
            sessions,
            upstream,
            registered: None,
            injected: None,
            watching: Vec::new(),
            guard: None,
        }
    }

    /// Also guard the answers on this stream.
    pub fn with_guard(mut self, guard: Option<ResponseGuard>) -> Self {
        self.guard = guard;
        self
    }

    /// The data with a watched `tools/list` answer filtered, when it is one.
    fn filter_tools_list(&mut self, data: &str) -> Option<String> {
        let mut msg = serde_json::from_str::<serde_json::Value>(data).ok()?;
        let at = self
            .watching
            .iter()
            .position(|f| msg.get("id") == Some(&f.id) && msg.get("result").is_some())?;
        let filter = self.watching.remove(at);
        if filter.apply(&mut msg) {
            serde_json::to_string(&msg).ok()
        } else {
            None
        }
    }

    fn learn(&mut self, event: &Event) {
        if self.registered.is_some() || event.event.as_deref() != Some("endpoint") {
            return;
        }
        let Some(uri) = event.data.as_deref() else {
            return;
        };
        let Some(session) = uri.split_once('?').and_then(|(_, q)| session_from_query(q)) else {
            return;
        };
        if let Some(g) = &mut self.guard {
            g.route.session = Some(session.to_string());
        }
        let (tx, rx) = mpsc::channel(16);
        let k = key(self.upstream, session);
        self.sessions.streams.insert(k.clone(), tx);
        self.registered = Some(k);
        self.injected = Some(rx);
    }
}

impl EventHook for LegacyTap {
    fn on_event(&mut self, event: Event) -> Bytes {
        self.learn(&event);
        let Some(data) = event.data.clone() else {
            return event.raw;
        };
        let mut text = std::borrow::Cow::Borrowed(data.as_str());
        if !self.watching.is_empty() {
            if let Some(filtered) = self.filter_tools_list(&data) {
                text = std::borrow::Cow::Owned(filtered);
            }
        }
        if let Some(g) = &self.guard {
            match g.inspect(text.as_bytes()) {
                Verdict::Pass => {}
                Verdict::Replace(b) => {
                    text = std::borrow::Cow::Owned(String::from_utf8_lossy(&b).into_owned());
                }
                Verdict::Drop => return Bytes::new(),
            }
        }
        match text {
            std::borrow::Cow::Borrowed(_) => event.raw,
            std::borrow::Cow::Owned(t) => event.with_data(&t),
        }
    }

    fn poll_injected(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let Some(rx) = &mut self.injected else {
            return Poll::Pending;
        };
        loop {
            match rx.poll_recv(cx) {
                Poll::Ready(Some(Injection::Event(ev))) => return Poll::Ready(Some(ev)),
                Poll::Ready(Some(Injection::Asked(asked))) => {
                    if let Some(g) = &mut self.guard {
                        g.remember(asked);
                    }
                }
                Poll::Ready(Some(Injection::FilterToolsList(f))) => {
                    if self.watching.len() == MAX_WATCHED {
                        self.watching.remove(0);
                    }
                    self.watching.push(f);
                }
                other @ (Poll::Ready(None) | Poll::Pending) => {
                    return other.map(|_| None);
                }
            }
        }
    }
}

impl Drop for LegacyTap {
    fn drop(&mut self) {
        if let Some(k) = self.registered.take() {
            self.sessions.streams.remove(&k);
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

    type Upstream = mpsc::Sender<Result<Frame<Bytes>, BoxError>>;
    type Tapped = SseEvents<StreamBody<BoxStream>, LegacyTap>;
    type BoxStream =
        std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send>>;

    /// A legacy SSE stream from upstream `upstream` through a tap: the sender plays the
    /// upstream, the body is what the client reads.
    fn tapped(sessions: &Arc<LegacySessions>, upstream: usize) -> (Upstream, Tapped) {
        let (up_tx, up_rx) = mpsc::channel(4);
        let stream = futures_util::stream::unfold(up_rx, |mut rx| async move {
            rx.recv().await.map(|x| (x, rx))
        });
        let body = SseEvents::new(
            StreamBody::new(Box::pin(stream) as BoxStream),
            LegacyTap::new(sessions.clone(), upstream),
        );
        (up_tx, body)
    }

    #[test]
    fn session_ids_from_both_sdk_spellings() {
        assert_eq!(session_from_query("session_id=abc"), Some("abc"));
        assert_eq!(session_from_query("x=1&sessionId=f00"), Some("f00"));
        assert_eq!(session_from_query("session_id="), None);
        assert_eq!(session_from_query("other=1"), None);
    }

    #[tokio::test]
    async fn endpoint_event_registers_and_injected_events_arrive_between_events() {
        let sessions = Arc::new(LegacySessions::default());
        let (up_tx, mut body) = tapped(&sessions, 3);
        up_tx
            .send(Ok(Frame::data(Bytes::from_static(
                b"event: endpoint\r\ndata: /messages/?session_id=s1\r\n\r\nevent: mess",
            ))))
            .await
            .expect("send");
        let first = body
            .frame()
            .await
            .expect("frame")
            .expect("ok")
            .into_data()
            .expect("data");
        assert!(first.starts_with(b"event: endpoint"));
        assert!(sessions.is_live(3, "s1"));
        assert!(!sessions.is_live(4, "s1"), "sessions are per upstream");
        // Half an upstream event is buffered; the injected one must not split it.
        assert!(sessions.inject(
            3,
            "s1",
            Bytes::from_static(b"event: message\ndata: {\"injected\":1}\n\n")
        ));
        let next = body
            .frame()
            .await
            .expect("frame")
            .expect("ok")
            .into_data()
            .expect("data");
        assert_eq!(&next[..], b"event: message\ndata: {\"injected\":1}\n\n");
        up_tx
            .send(Ok(Frame::data(Bytes::from_static(
                b"age\r\ndata: {}\r\n\r\n",
            ))))
            .await
            .expect("send");
        let next = body
            .frame()
            .await
            .expect("frame")
            .expect("ok")
            .into_data()
            .expect("data");
        assert_eq!(&next[..], b"event: message\r\ndata: {}\r\n\r\n");
        drop(body);
        assert!(!sessions.is_live(3, "s1"), "closed streams unregister");
    }

    #[tokio::test]
    async fn watched_tools_list_answers_are_filtered_on_the_stream() {
        let sessions = Arc::new(LegacySessions::default());
        let (up_tx, mut body) = tapped(&sessions, 0);
        let mut next = async || {
            body.frame()
                .await
                .expect("frame")
                .expect("ok")
                .into_data()
                .expect("data")
        };
        up_tx
            .send(Ok(Frame::data(Bytes::from_static(
                b"event: endpoint\ndata: /messages/?session_id=s\n\n",
            ))))
            .await
            .expect("send");
        next().await;
        let filter = crate::inspect::ToolsListFilter {
            id: serde_json::json!(7),
            hide: Arc::new(|n: &str| n == "shell"),
            hidden: prometheus::IntCounter::new("h", "h").expect("counter"),
        };
        assert!(sessions.watch_tools_list(0, "s", filter));
        assert!(!sessions.watch_tools_list(
            1,
            "s",
            crate::inspect::ToolsListFilter {
                id: serde_json::json!(7),
                hide: Arc::new(|_: &str| true),
                hidden: prometheus::IntCounter::new("h", "h").expect("counter"),
            }
        ));
        // Another id passes untouched; the watched id is filtered once.
        let other = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[{\"name\":\"shell\"}]}}\n\n";
        let watched = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[{\"name\":\"shell\"},{\"name\":\"echo\"}]}}\n\n";
        for ev in [other, watched, watched] {
            up_tx
                .send(Ok(Frame::data(Bytes::from(ev))))
                .await
                .expect("send");
        }
        assert_eq!(&next().await[..], other.as_bytes());
        let filtered = next().await;
        let text = String::from_utf8_lossy(&filtered);
        assert!(text.contains("echo") && !text.contains("shell"), "{text}");
        assert_eq!(
            &next().await[..],
            watched.as_bytes(),
            "a filter applies once"
        );
    }
}

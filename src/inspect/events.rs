//! An SSE response body passed through event by event: the one mechanism behind every
//! SSE inspection. Upstream bytes are parsed into complete events ([`Parser`]); each goes
//! to an [`EventHook`], which returns the bytes to send (the event's own raw bytes to pass
//! it unchanged). A hook may also inject events of the gateway's own; those go out only
//! between complete upstream events. A trailing incomplete event is passed on as it is.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::MAX_INSPECTED;
use crate::forward::body::BoxError;
use crate::protocol::sse::{Event, Parser};

/// What an inspection does with the events of one stream.
pub trait EventHook: Unpin {
    /// The bytes to send for `event` (`event.raw` passes it unchanged).
    fn on_event(&mut self, event: Event) -> Bytes;

    /// An event of the gateway's own to send now (called only between upstream events).
    fn poll_injected(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        Poll::Pending
    }

    /// Whether the hook still holds events to send (the stream does not end before).
    fn holding(&self) -> bool {
        false
    }
}

/// An SSE body whose events go through `H` on the way to the client.
pub struct SseEvents<B, H> {
    inner: B,
    parser: Parser,
    out: VecDeque<Bytes>,
    hook: H,
    ended: bool,
    /// A trailing incomplete event, sent after everything the hook still holds.
    rest: Bytes,
}

impl<B, H: EventHook> SseEvents<B, H> {
    /// Pass `inner`'s events through `hook`.
    pub fn new(inner: B, hook: H) -> Self {
        Self {
            inner,
            parser: Parser::new(MAX_INSPECTED),
            out: VecDeque::new(),
            hook,
            ended: false,
            rest: Bytes::new(),
        }
    }
}

impl<B, H> Body for SseEvents<B, H>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    H: EventHook,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(b) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
            if this.ended {
                if let Poll::Ready(Some(ev)) = this.hook.poll_injected(cx) {
                    return Poll::Ready(Some(Ok(Frame::data(ev))));
                }
                if this.hook.holding() {
                    return Poll::Pending;
                }
                if !this.rest.is_empty() {
                    return Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut this.rest)))));
                }
                return Poll::Ready(None);
            }
            // `out` is empty, so this is a boundary between upstream events.
            if let Poll::Ready(Some(ev)) = this.hook.poll_injected(cx) {
                return Poll::Ready(Some(Ok(Frame::data(ev))));
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    this.rest = this.parser.take_rest();
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                Poll::Ready(Some(Ok(frame))) => {
                    let data = match frame.into_data() {
                        Ok(d) => d,
                        Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                    };
                    let events = match this.parser.push(&data) {
                        Ok(ev) => ev,
                        Err(e) => return Poll::Ready(Some(Err(Box::new(e)))),
                    };
                    for ev in events {
                        let bytes = this.hook.on_event(ev);
                        this.out.push_back(bytes);
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.out.is_empty() && self.rest.is_empty() && !self.hook.holding()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

//! Bodies inside the gateway, and the one wrapper that watches a body stream to its end.
//!
//! The audit (hashes and counts both bodies, sends the records when the answer ends), the
//! hop's span (ends with the answer) and the request tally (hashes a streamed upload) all
//! need the same thing: see every data frame, and learn once how the stream ended —
//! completely, with an error, or cut short (dropped before its end: the client went away).
//! [`Watched`] does that for any [`StreamWatch`].

use std::cell::Cell;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

/// Error type carried by every body inside the gateway.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the gateway sends (to clients and upstreams).
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// How a body stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOutcome {
    /// Every byte went through.
    Complete,
    /// The stream failed (upstream error, size cap, idle timeout).
    Failed,
    /// It was dropped before its end (the client went away, the connection was cut).
    Cut,
}

/// What watches a body: its data frames as they pass, then how it ended (once).
pub trait StreamWatch: Send + Unpin + 'static {
    /// A data frame passed.
    fn data(&mut self, _chunk: &Bytes) {}
    /// The stream ended.
    fn end(self, outcome: StreamOutcome);
}

/// `inner`, watched by `W`.
pub struct Watched<B, W: StreamWatch> {
    inner: B,
    // In a `Cell` so that `is_end_stream(&self)` can end the watch: hyper may ask whether a
    // body is over and never poll it again.
    watch: Cell<Option<W>>,
}

impl<B: Body, W: StreamWatch> Watched<B, W> {
    /// Watch `inner` with `watch`.
    pub fn new(inner: B, watch: W) -> Self {
        Self {
            inner,
            watch: Cell::new(Some(watch)),
        }
    }

    fn end(&self, outcome: StreamOutcome) {
        if let Some(w) = self.watch.take() {
            w.end(outcome);
        }
    }
}

impl<B, W> Body for Watched<B, W>
where
    B: Body<Data = Bytes> + Unpin,
    W: StreamWatch,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(w)) = (frame.data_ref(), this.watch.get_mut()) {
                    w.data(data);
                }
                if this.inner.is_end_stream() {
                    this.end(StreamOutcome::Complete);
                }
            }
            Poll::Ready(Some(Err(_))) => this.end(StreamOutcome::Failed),
            Poll::Ready(None) => this.end(StreamOutcome::Complete),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.end(StreamOutcome::Complete);
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B, W: StreamWatch> Drop for Watched<B, W> {
    fn drop(&mut self) {
        // Dropped before its end: the client went away or the stream was cut.
        if let Some(w) = self.watch.take() {
            w.end(StreamOutcome::Cut);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<(usize, Vec<StreamOutcome>)>>);

    impl StreamWatch for Seen {
        fn data(&mut self, chunk: &Bytes) {
            if let Ok(mut s) = self.0.lock() {
                s.0 += chunk.len();
            }
        }
        fn end(self, outcome: StreamOutcome) {
            if let Ok(mut s) = self.0.lock() {
                s.1.push(outcome);
            }
        }
    }

    fn frames(
        items: Vec<Result<&'static str, &'static str>>,
    ) -> impl Body<Data = Bytes, Error = BoxError> + Unpin {
        StreamBody::new(futures_util::stream::iter(items.into_iter().map(|i| {
            i.map(|s| Frame::data(Bytes::from(s)))
                .map_err(BoxError::from)
        })))
    }

    #[tokio::test]
    async fn each_ending_is_seen_once() {
        let seen = Seen::default();
        let body = Watched::new(frames(vec![Ok("ab"), Ok("cde")]), seen.clone());
        assert_eq!(body.collect().await.expect("body").to_bytes(), "abcde");
        assert_eq!(
            *seen.0.lock().expect("lock"),
            (5, vec![StreamOutcome::Complete])
        );

        let seen = Seen::default();
        let body = Watched::new(frames(vec![Ok("ab"), Err("boom")]), seen.clone());
        assert!(body.collect().await.is_err());
        assert_eq!(seen.0.lock().expect("lock").1, vec![StreamOutcome::Failed]);

        let seen = Seen::default();
        let mut body = Watched::new(frames(vec![Ok("ab"), Ok("cd")]), seen.clone());
        let _ = body.frame().await;
        drop(body);
        assert_eq!(*seen.0.lock().expect("lock"), (2, vec![StreamOutcome::Cut]));

        let seen = Seen::default();
        let full = http_body_util::Full::new(Bytes::from_static(b"x"));
        let body = Watched::new(full, seen.clone());
        let _ = body.is_end_stream();
        drop(body);
        assert_eq!(
            seen.0.lock().expect("lock").1,
            vec![StreamOutcome::Cut],
            "not over yet"
        );
    }
}

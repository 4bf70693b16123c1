//! Streaming bodies through the proxy with guard rails.
//!
//! [`GuardedBody`] wraps any body and, frame by frame and without buffering: counts bytes
//! into a metric, cuts the stream when it passes a size limit or stays silent longer than
//! the idle timeout, and keeps a gauge guard alive until the body is finished or dropped
//! (in-flight requests, open SSE streams). Request and response bodies use the same type.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use prometheus::{IntCounter, IntGauge};
use tokio::time::{Instant, Sleep};

pub use crate::vocab::{BoxError, ProxyBody};

/// Why a guarded body stream was cut.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes arrived than the limit allows.
    #[error("body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// No bytes for longer than the idle timeout.
    #[error("body stream idle for more than {0:?}")]
    Idle(Duration),
}

/// Decrements a gauge when dropped; increments it when created.
#[derive(Debug)]
pub struct GaugeGuard(IntGauge);

impl GaugeGuard {
    /// Increment `gauge` now, decrement it when the guard goes away.
    pub fn new(gauge: &IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Idle tracking without touching the timer wheel per frame: frames only record the time;
/// the timer is created the first time the stream waits and, when it fires, re-armed to
/// `last_activity + timeout` if there was activity since.
struct Idle {
    timeout: Duration,
    last_activity: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Idle {
    /// `true` when the stream has been silent for the whole timeout.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            let deadline = self.last_activity + self.timeout;
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            if sleep.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= self.last_activity + self.timeout {
                return true;
            }
        }
    }
}

/// A body with a byte counter, an optional size limit, an idle timeout and gauge guards.
pub struct GuardedBody<B> {
    /// `None` once handed to a lingering drain.
    inner: Option<B>,
    limit: Option<u64>,
    /// What happens to the rest of an oversized body (see [`GuardedBody::linger`]).
    linger: Option<fn(B)>,
    seen: u64,
    counter: Option<IntCounter>,
    idle: Option<Idle>,
    guards: [Option<GaugeGuard>; 2],
    done: bool,
}

impl<B> GuardedBody<B> {
    /// Wrap `inner` with no limits.
    pub fn new(inner: B) -> Self {
        Self {
            inner: Some(inner),
            limit: None,
            linger: None,
            seen: 0,
            counter: None,
            idle: None,
            guards: [None, None],
            done: false,
        }
    }

    /// Cut the stream with [`BodyError::TooLarge`] once more than `limit` bytes passed.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// When the limit is passed, keep reading and discarding what the client still sends
    /// (at most [`LINGER_BYTES`] for [`LINGER_TIME`], in a task of its own) instead of
    /// dropping the stream: a client still uploading then reads the 413 instead of a
    /// reset connection (nginx's lingering close does the same).
    pub fn linger(mut self) -> Self
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
    {
        self.linger = Some(drain_rest::<B>);
        self
    }

    /// Add every data byte to `counter`.
    pub fn count_into(mut self, counter: IntCounter) -> Self {
        self.counter = Some(counter);
        self
    }

    /// Cut the stream with [`BodyError::Idle`] after `timeout` without a frame.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle = Some(Idle {
            timeout,
            last_activity: Instant::now(),
            sleep: None,
        });
        self
    }

    /// Keep `guard` alive until the body ends or is dropped (at most two guards).
    pub fn guard(mut self, guard: GaugeGuard) -> Self {
        match self.guards.iter_mut().find(|g| g.is_none()) {
            Some(slot) => *slot = Some(guard),
            None => debug_assert!(false, "GuardedBody holds at most two guards"),
        }
        self
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    this.seen += n;
                    if let Some(limit) = this.limit {
                        if this.seen > limit {
                            this.finish();
                            if let (Some(drain), Some(rest)) = (this.linger, this.inner.take()) {
                                drain(rest);
                            }
                            return Poll::Ready(Some(Err(Box::new(BodyError::TooLarge { limit }))));
                        }
                    }
                    if let Some(c) = &this.counter {
                        c.inc_by(n);
                    }
                }
                if let Some(idle) = &mut this.idle {
                    if idle.sleep.is_some() {
                        idle.last_activity = Instant::now();
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish();
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(idle) = &mut this.idle {
                    if idle.sleep.is_none() {
                        // First wait: the silence starts now, not when the body was built.
                        idle.last_activity = Instant::now();
                    }
                    if idle.expired(cx) {
                        let timeout = idle.timeout;
                        this.finish();
                        return Poll::Ready(Some(Err(Box::new(BodyError::Idle(timeout)))));
                    }
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

/// The most of an oversized body read and discarded after the refusal.
pub const LINGER_BYTES: u64 = 8 << 20;
/// The longest an oversized body is read and discarded after the refusal.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// Read and discard the rest of `body` (bounded by [`LINGER_BYTES`] and [`LINGER_TIME`]) on
/// a task of its own, outside any runtime doing nothing.
fn drain_rest<B>(body: B)
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
{
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    rt.spawn(async move {
        use http_body_util::BodyExt;
        let mut body = body;
        let mut left = LINGER_BYTES;
        let _ = tokio::time::timeout(LINGER_TIME, async {
            while let Some(Ok(frame)) = body.frame().await {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                match left.checked_sub(n) {
                    Some(l) => left = l,
                    None => break,
                }
            }
        })
        .await;
    });
}

impl<B> GuardedBody<B> {
    fn finish(&mut self) {
        self.done = true;
        self.idle = None;
        self.guards = [None, None];
    }
}

/// Find a [`BodyError`] anywhere in an error's source chain (hyper wraps body errors).
pub fn find_body_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<BodyError>() {
            return Some(b);
        }
        cur = e.source();
    }
    None
}

/// A body of these bytes, sent whole.
pub fn full(bytes: Bytes) -> ProxyBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    #[tokio::test]
    async fn an_oversized_body_is_refused_then_drained_within_bounds() {
        // A sender with room for one frame at a time: it can only finish if someone keeps
        // reading after the refusal.
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let stream =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|f| (f, rx)) },
            );
        let mut body = GuardedBody::new(StreamBody::new(Box::pin(stream)))
            .limit(1000)
            .linger();
        let sender = tokio::spawn(async move {
            for _ in 0..64 {
                if tx
                    .send(Ok(Frame::data(Bytes::from(vec![b'x'; 512]))))
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            true
        });
        let mut refused = false;
        while let Some(f) = body.frame().await {
            if let Err(e) = f {
                refused = e.downcast_ref::<BodyError>().is_some();
                break;
            }
        }
        assert!(refused, "the limit refuses the body");
        let all_sent = tokio::time::timeout(Duration::from_secs(5), sender)
            .await
            .expect("the rest is drained, not left blocked")
            .expect("sender");
        assert!(
            all_sent,
            "the drain read to the end (32 KiB, within the bound)"
        );
    }

    #[tokio::test]
    async fn counts_and_passes_through() {
        let c = IntCounter::new("c", "c").expect("counter");
        let g = IntGauge::new("g", "g").expect("gauge");
        let body = GuardedBody::new(Full::new(Bytes::from_static(b"hello")))
            .count_into(c.clone())
            .guard(GaugeGuard::new(&g));
        assert_eq!(g.get(), 1);
        let out = body.collect().await.expect("body").to_bytes();
        assert_eq!(&out[..], b"hello");
        assert_eq!(c.get(), 5);
        assert_eq!(g.get(), 0, "guard released at end of stream");
    }

    #[tokio::test]
    async fn limit_cuts_the_stream() {
        let chunks = (0..10).map(|_| Ok::<_, BoxError>(Frame::data(Bytes::from(vec![0u8; 100]))));
        let body = GuardedBody::new(StreamBody::new(futures_util::stream::iter(chunks))).limit(250);
        let err = body.collect().await.expect_err("must be cut");
        assert!(matches!(
            find_body_error(&*err),
            Some(BodyError::TooLarge { limit: 250 })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_cuts_a_silent_stream() {
        let silent = futures_util::stream::pending::<Result<Frame<Bytes>, BoxError>>();
        let body = GuardedBody::new(StreamBody::new(silent)).idle_timeout(Duration::from_secs(5));
        let err = body.collect().await.expect_err("must time out");
        assert!(matches!(find_body_error(&*err), Some(BodyError::Idle(_))));
    }

    #[tokio::test]
    async fn dropping_releases_guards() {
        let g = IntGauge::new("g", "g").expect("gauge");
        let body = GuardedBody::new(Full::new(Bytes::new())).guard(GaugeGuard::new(&g));
        assert_eq!(g.get(), 1);
        drop(body);
        assert_eq!(g.get(), 0);
    }
}

//! The circuit breaker of one upstream: calls in flight (`max_requests`), open connections
//! (`max_connections`, enforced in the connector: a call that needs one more connection
//! waits for one to close) and calls waiting for a connection (`max_pending`). Past a limit
//! a call is refused at once ([`CircuitError`], answered 503 by `crate::error`) rather than
//! piling onto a slow upstream. Counters are shared by every worker of the replica.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use prometheus::{IntCounter, IntGauge};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CircuitError {
    /// `max_requests` calls were already waiting for their answers.
    #[error("max_requests reached")]
    Requests,
    /// `max_pending` calls were already waiting for a connection.
    #[error("max_pending reached")]
    Pending,
    /// No connection under `max_connections` came free within the connect timeout.
    #[error("no connection came free under max_connections")]
    Connections,
}

impl CircuitError {
    /// The limit's name, for metrics and logs.
    pub fn limit(self) -> &'static str {
        match self {
            CircuitError::Requests => "requests",
            CircuitError::Pending => "pending",
            CircuitError::Connections => "connections",
        }
    }
}

/// Gauges and counters of one limit.
#[derive(Clone)]
pub struct LimitMetrics {
    /// 1 while the limit is reached.
    pub open: IntGauge,
    /// Calls refused by it.
    pub rejected: IntCounter,
}

/// A counter with a ceiling; its gauge says whether the ceiling is reached.
struct Limit {
    max: usize,
    now: AtomicUsize,
    metrics: LimitMetrics,
}

impl Limit {
    fn new(max: usize, metrics: LimitMetrics) -> Self {
        Self {
            max,
            now: AtomicUsize::new(0),
            metrics,
        }
    }

    /// Take a slot, or refuse (counted) when all are taken.
    fn try_take(&self) -> bool {
        let mut cur = self.now.load(Ordering::Relaxed);
        loop {
            if cur >= self.max {
                self.metrics.rejected.inc();
                self.metrics.open.set(1);
                return false;
            }
            match self
                .now
                .compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if cur + 1 == self.max {
                        self.metrics.open.set(1);
                    }
                    return true;
                }
                Err(seen) => cur = seen,
            }
        }
    }

    fn give_back(&self) {
        let before = self.now.fetch_sub(1, Ordering::AcqRel);
        if before >= self.max {
            self.metrics.open.set(0);
        }
    }
}

/// The in-flight limit of one upstream (`max_requests`).
pub struct RequestLimit(Limit);

impl RequestLimit {
    /// A limit of `max` calls in flight.
    pub fn new(max: usize, metrics: LimitMetrics) -> Arc<Self> {
        Arc::new(Self(Limit::new(max, metrics)))
    }

    /// A slot for one call, held until dropped; `Err` when the limit is reached.
    pub fn acquire(self: &Arc<Self>) -> Result<RequestSlot, CircuitError> {
        if self.0.try_take() {
            Ok(RequestSlot(self.clone()))
        } else {
            Err(CircuitError::Requests)
        }
    }
}

/// One call's place under `max_requests`.
pub struct RequestSlot(Arc<RequestLimit>);

impl Drop for RequestSlot {
    fn drop(&mut self) {
        self.0.0.give_back();
    }
}

/// The connection limit of one upstream (`max_connections`, `max_pending`).
pub struct ConnLimit {
    permits: Arc<Semaphore>,
    max: usize,
    pending: Option<Limit>,
    open: LimitMetrics,
    /// How long a call waits for a connection to come free.
    wait: Duration,
}

impl ConnLimit {
    /// At most `max` connections; at most `max_pending` waiting for one (unbounded when
    /// `None`), each for at most `wait`.
    pub fn new(
        max: usize,
        max_pending: Option<(usize, LimitMetrics)>,
        open: LimitMetrics,
        wait: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(max)),
            max,
            pending: max_pending.map(|(n, m)| Limit::new(n, m)),
            open,
            wait,
        })
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, CircuitError> {
        if let Ok(p) = self.permits.clone().try_acquire_owned() {
            self.note_open();
            return Ok(p);
        }
        self.open.open.set(1);
        if let Some(p) = &self.pending {
            if !p.try_take() {
                return Err(CircuitError::Pending);
            }
        }
        let got = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
        if let Some(p) = &self.pending {
            p.give_back();
        }
        match got {
            Ok(Ok(p)) => {
                self.note_open();
                Ok(p)
            }
            _ => {
                self.open.rejected.inc();
                Err(CircuitError::Connections)
            }
        }
    }

    fn note_open(&self) {
        let full = self.permits.available_permits() == 0;
        self.open.open.set(i64::from(full));
    }

    /// A connection is closing: its place comes free (the permit is released right after).
    fn closed(&self) {
        if self.max > 0 {
            self.open.open.set(0);
        }
    }
}

/// The TCP connector, counting connections under an optional [`ConnLimit`]. Without a
/// limit it is the plain connector with one branch per new connection.
#[derive(Clone)]
pub struct LimitedConnector {
    inner: HttpConnector,
    limit: Option<Arc<ConnLimit>>,
}

impl LimitedConnector {
    /// Wrap `inner`, limited by `limit` when set.
    pub fn new(inner: HttpConnector, limit: Option<Arc<ConnLimit>>) -> Self {
        Self { inner, limit }
    }
}

type ConnectFuture =
    Pin<Box<dyn Future<Output = Result<Counted, Box<dyn std::error::Error + Send + Sync>>> + Send>>;

impl tower_service::Service<Uri> for LimitedConnector {
    type Response = Counted;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower_service::Service::<Uri>::poll_ready(&mut self.inner, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut inner = self.inner.clone();
        let limit = self.limit.clone();
        Box::pin(async move {
            let permit = match &limit {
                Some(l) => Some((l.permit().await?, l.clone())),
                None => None,
            };
            let io = tower_service::Service::<Uri>::call(&mut inner, uri).await?;
            Ok(Counted { io, permit })
        })
    }
}

/// A TCP connection holding its place under `max_connections` until it closes.
pub struct Counted {
    io: TokioIo<TcpStream>,
    permit: Option<(OwnedSemaphorePermit, Arc<ConnLimit>)>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some((_, l)) = &self.permit {
            l.closed();
        }
    }
}

impl Connection for Counted {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl hyper::rt::Read for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

/// The circuit error somewhere in `err`'s sources (a refused connect).
pub fn find_circuit_error(err: &(dyn std::error::Error + 'static)) -> Option<CircuitError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(c) = e.downcast_ref::<CircuitError>() {
            return Some(*c);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> LimitMetrics {
        LimitMetrics {
            open: IntGauge::new("g", "g").expect("gauge"),
            rejected: IntCounter::new("c", "c").expect("counter"),
        }
    }

    #[test]
    fn request_limit_opens_at_max_and_closes_below() {
        let m = metrics();
        let l = RequestLimit::new(2, m.clone());
        let a = l.acquire().expect("first");
        assert_eq!(m.open.get(), 0);
        let b = l.acquire().expect("second");
        assert_eq!(m.open.get(), 1, "open at the limit");
        assert_eq!(l.acquire().err(), Some(CircuitError::Requests));
        assert_eq!(m.rejected.get(), 1);
        drop(a);
        assert_eq!(m.open.get(), 0, "closed again");
        let _c = l.acquire().expect("a slot came free");
        drop(b);
    }

    #[tokio::test]
    async fn connections_wait_then_pending_overflows() {
        let pend = metrics();
        let l = ConnLimit::new(
            1,
            Some((1, pend.clone())),
            metrics(),
            Duration::from_millis(200),
        );
        let first = l.permit().await.expect("one connection");
        // The second waits (pending) and times out; meanwhile a third finds pending full.
        let l2 = l.clone();
        let waiting = tokio::spawn(async move { l2.permit().await.err() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(l.permit().await.err(), Some(CircuitError::Pending));
        assert_eq!(
            waiting.await.expect("task"),
            Some(CircuitError::Connections)
        );
        drop(first);
        assert!(
            l.permit().await.is_ok(),
            "a closed connection frees its place"
        );
    }

    #[test]
    fn circuit_errors_are_found_in_a_chain() {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(CircuitError::Pending);
        assert_eq!(find_circuit_error(&*boxed), Some(CircuitError::Pending));
    }
}

//! Accept loop shared by the proxy and admin listeners: connection cap, optional TLS (the
//! handshake runs in the connection's own task, under the header read timeout), HTTP/1.1 and
//! HTTP/2 on one port (ALPN with TLS, prior knowledge without), slowloris defence, graceful
//! drain. Plain connections are served one HTTP/1.1 exchange at a time (`exchange.rs`), so
//! that a waiting connection holds no buffers.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use prometheus::{IntCounter, IntGauge};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};

use super::exchange::{Plain, serve_plain};
use super::tls::TlsTerminator;
use crate::forward::body::{GaugeGuard, ProxyBody};

/// What is known about a connection before its first request.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The client's verified certificate (leaf), when it presented one.
    pub client_cert: Option<CertificateDer<'static>>,
}

/// Connection-level settings of one listener.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Connections served at once (shared by the per-core workers of one listener).
    pub connections: Arc<Semaphore>,
    /// Time to receive a complete request head.
    pub header_read_timeout: Duration,
    /// How long open connections may finish after shutdown begins.
    pub drain_timeout: Duration,
    /// Label for logs.
    pub name: &'static str,
}

/// Connection counters (proxy listener only).
#[derive(Clone)]
pub struct ConnectionMetrics {
    /// Open connections.
    pub open: IntGauge,
    /// Accepted connections.
    pub accepted: IntCounter,
    /// TLS handshakes that failed (bad certificate, timeout, not TLS).
    pub tls_failures: IntCounter,
}

/// Serve `listener` until `shutdown` turns true, then drain: stop accepting, let open
/// connections finish their requests (streams included) for up to `drain_timeout`, then
/// cut what is left. `per_connection` is called once per connection (after the TLS
/// handshake) and returns that connection's request handler, so per-connection facts are
/// computed once, not per request.
pub async fn serve<M, H, Fut>(
    listener: TcpListener,
    per_connection: M,
    opts: ListenerOptions,
    conn_metrics: Option<ConnectionMetrics>,
    tls: Option<Arc<TlsTerminator>>,
    mut shutdown: watch::Receiver<bool>,
) where
    M: Fn(ConnInfo) -> H + Send + Sync + 'static,
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + Unpin + 'static,
{
    let per_connection = Arc::new(per_connection);
    // Plain connections are served one exchange at a time (`exchange.rs`): hyper is
    // given a whole head, so its own header timeout is not needed there.
    let mut one = http1::Builder::new();
    one.header_read_timeout(None).keep_alive(true);
    let mut rest = http1::Builder::new();
    rest.timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .keep_alive(true);
    let plain_builders = Arc::new((one, rest));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .max_concurrent_streams(512);
    let builder = Arc::new(builder);
    let permits = opts.connections.clone();
    let graceful = GracefulShutdown::new();
    let mut conns = JoinSet::new();

    loop {
        while conns.try_join_next().is_some() {}
        if *shutdown.borrow() {
            break;
        }
        // Accept first, then wait for a slot: with several workers sharing one cap, a
        // worker holding a slot must never sit in `accept` while the connection that could
        // use it waits in another worker's queue. Each worker holds at most one accepted
        // connection waiting for a slot.
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(listener = opts.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // semaphore closed: never happens, we own it
            },
            _ = shutdown.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let guard = conn_metrics.as_ref().map(|m| {
            m.accepted.inc();
            GaugeGuard::new(&m.open)
        });
        let name = opts.name;
        let (builder, watcher, per_connection) =
            (builder.clone(), graceful.watcher(), per_connection.clone());
        let (plain_builders, conn_shutdown) = (plain_builders.clone(), shutdown.clone());
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        let (handshake_timeout, tls_failures) = (
            opts.header_read_timeout,
            conn_metrics.as_ref().map(|m| m.tls_failures.clone()),
        );
        let task = async move {
            match acceptor {
                None => {
                    let info = ConnInfo {
                        peer,
                        tls: false,
                        client_cert: None,
                    };
                    let h = per_connection(info);
                    let plain = Plain {
                        exchange: &plain_builders.0,
                        http1: &plain_builders.1,
                        auto: &builder,
                        header_read_timeout: handshake_timeout,
                        name,
                    };
                    serve_plain(plain, stream, peer, h, watcher, conn_shutdown).await;
                }
                // Boxed: a TLS session's state is kilobytes, and an async block is as
                // large as its largest branch; unboxed, every plain connection (idle
                // keep-alive ones included) would carry that much for nothing.
                Some(acceptor) => {
                    Box::pin(serve_tls(
                        acceptor,
                        stream,
                        peer,
                        handshake_timeout,
                        tls_failures,
                        &builder,
                        watcher,
                        &*per_connection,
                        name,
                    ))
                    .await;
                }
            }
            drop(permit);
            drop(guard);
        };
        conns.spawn(task);
    }

    drop(listener);
    tracing::info!(
        listener = opts.name,
        open = conns.len(),
        "draining connections"
    );
    match tokio::time::timeout(opts.drain_timeout, graceful.shutdown()).await {
        Ok(()) => tracing::info!(listener = opts.name, "drained"),
        Err(_) => {
            tracing::warn!(
                listener = opts.name,
                open = conns.len(),
                "drain timeout passed; closing remaining connections"
            );
            conns.abort_all();
        }
    }
    while conns.join_next().await.is_some() {}
}

/// Complete the TLS handshake within `handshake_timeout` (a failure is counted and the
/// connection dropped), then serve the connection like a plain one, with the client's
/// certificate in its [`ConnInfo`].
#[allow(clippy::too_many_arguments)]
async fn serve_tls<M, H, Fut>(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    handshake_timeout: Duration,
    tls_failures: Option<IntCounter>,
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    per_connection: &M,
    name: &'static str,
) where
    M: Fn(ConnInfo) -> H + Send + Sync + 'static,
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => {
            let client_cert = tls_stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.clone().into_owned());
            let info = ConnInfo {
                peer,
                tls: true,
                client_cert,
            };
            let h = per_connection(info);
            serve_one(builder, watcher, tls_stream, h, name, peer).await;
        }
        Ok(Err(e)) => {
            tls_failures.iter().for_each(IntCounter::inc);
            tracing::debug!(listener = name, %peer, error = %e, "TLS handshake failed");
        }
        Err(_) => {
            tls_failures.iter().for_each(IntCounter::inc);
            tracing::debug!(listener = name, %peer, "TLS handshake timed out");
        }
    }
}

/// Serve one connection's requests with `handler`, watched for graceful shutdown.
async fn serve_one<S, H, Fut>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    stream: S,
    handler: H,
    name: &'static str,
    peer: SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let svc = service_fn(move |req| {
        let fut = handler(req);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let conn = builder
        .serve_connection(TokioIo::new(stream), svc)
        .into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(listener = name, %peer, error = %e, "connection ended with error");
    }
}

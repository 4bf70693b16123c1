//! Plain (non-TLS) connections served one HTTP/1.1 exchange at a time, so that what a
//! connection costs while it waits — for its first byte, for the rest of a head, for its
//! next request — is the socket and a few hundred bytes, not hyper's buffers.
//!
//! hyper keeps an 8 KiB read buffer and an 8 KiB write buffer for a connection's whole life,
//! idle or not, and has no setting to shrink them. So the connection's task owns the socket
//! between requests: it waits for the socket to be readable, reads the head into a buffer of
//! exactly the bytes received ([`head::assess`] says when the head is whole), and only then
//! gives hyper the socket, behind [`OneMessage`], for that one request. hyper parses the head
//! again, reads the body, calls the service and writes the answer as it always did;
//! `OneMessage` shows it no byte past the request's end, and once hyper has written and
//! flushed the whole answer it sees the end of input where it looks for the next request —
//! which it takes, at a message boundary, as the client closing. The connection ends
//! (`poll_without_shutdown`, so the socket stays open), hyper's buffers are freed, and the
//! task takes the socket and any pipelined bytes back and waits again.
//!
//! Anything hyper might not end cleanly this way stays with hyper: requests of another
//! framing ([`head::Head::Other`]) are handed to hyper for the rest of the connection, as
//! before; an exchange hyper ends itself (`Connection: close`, a refused request, the body
//! left unread, drain) is closed as hyper closes it. The header read timeout is this task's
//! (from the end of the previous answer, or the connection's start, to a whole head), as
//! hyper's was.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::head::{self, Head};
use crate::forward::body::ProxyBody;

/// The builders and settings a plain connection is served with.
pub(super) struct Plain<'a> {
    /// One exchange (no header read timeout: the head is whole before hyper sees it).
    pub exchange: &'a http1::Builder,
    /// HTTP/1.1 for the rest of a connection, after exchanges served one at a time.
    pub http1: &'a http1::Builder,
    /// HTTP/1.1 or HTTP/2 for a whole connection.
    pub auto: &'a auto::Builder<TokioExecutor>,
    /// Time from the end of an answer (or the connection's start) to a whole head.
    pub header_read_timeout: Duration,
    /// Listener name, for logs.
    pub name: &'static str,
}

/// Serve a plain connection's requests with `handler` until it closes, times out, or the
/// gateway drains (`shutdown`; `watcher` keeps the drain waiting for this connection).
pub(super) async fn serve_plain<H, Fut>(
    plain: Plain<'_>,
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: H,
    watcher: Watcher,
    mut shutdown: watch::Receiver<bool>,
) where
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + Unpin + 'static,
{
    let mut received = Vec::new();
    let mut first = true;
    loop {
        let timeout = plain.header_read_timeout;
        let Some(head) = read_head(&stream, &mut received, timeout, &mut shutdown).await else {
            return;
        };
        // Both hyper branches are boxed: hyper's connection state is large, and a waiting
        // connection should not carry its room.
        let Head::One { len } = head else {
            let rest = Box::pin(hand_over(&plain, stream, received, first, handler, watcher));
            return ended(plain.name, peer, rest.await);
        };
        let next = Box::pin(one_exchange(
            plain.exchange,
            stream,
            received,
            len,
            &handler,
            &mut shutdown,
        ))
        .await;
        match next {
            Ok((s, rest)) => (stream, received, first) = (s, rest, false),
            Err(e) => return ended(plain.name, peer, e),
        }
    }
}

/// hyper serves the rest of the connection, from the bytes already `received` on: HTTP/1.1
/// or HTTP/2 when nothing was served yet (`first`), HTTP/1.1 otherwise.
async fn hand_over<H, Fut>(
    plain: &Plain<'_>,
    stream: TcpStream,
    received: Vec<u8>,
    first: bool,
    handler: H,
    watcher: Watcher,
) -> Option<Box<dyn std::error::Error + Send + Sync>>
where
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + Unpin + 'static,
{
    let io = TokioIo::new(OneMessage::rest(stream, received));
    let svc = service_fn(move |req| {
        let fut = handler(req);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    if first {
        let conn = plain.auto.serve_connection(io, svc).into_owned();
        watcher.watch(conn).await.err()
    } else {
        let conn = plain.http1.serve_connection(io, svc);
        watcher.watch(conn).await.err().map(Into::into)
    }
}

fn ended(name: &'static str, peer: SocketAddr, error: Option<impl std::fmt::Display>) {
    if let Some(e) = error {
        tracing::debug!(listener = name, %peer, error = %e, "connection ended with error");
    }
}

/// Read until `received` holds a whole head (or hyper must decide): `None` when the
/// connection closed, failed, timed out, or the gateway drains while it has sent nothing.
async fn read_head(
    stream: &TcpStream,
    received: &mut Vec<u8>,
    timeout: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Head> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut watching = true;
    // Read only once the socket says it is readable (or bytes are already here): a
    // connection waiting for its first byte or its next request allocates nothing.
    let mut readable = !received.is_empty();
    loop {
        match head::assess(received) {
            Head::Partial => {}
            whole => return Some(whole),
        }
        if readable {
            match read_some(stream, received) {
                Ok(0) => return None,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return None,
            }
            // Waiting with part of a head: hold its bytes only.
            received.shrink_to_fit();
        }
        if watching && *shutdown.borrow() {
            watching = false;
        }
        if !watching && received.is_empty() {
            return None;
        }
        tokio::select! {
            ready = tokio::time::timeout_at(deadline, stream.readable()) => match ready {
                Ok(Ok(())) => readable = true,
                _ => return None,
            },
            _ = shutdown.changed(), if watching => watching = false,
        }
    }
}

/// Bytes read at most at once before a head is whole.
const READ_CHUNK: usize = 4096;

/// One read into `received`, straight into its spare room (nothing zeroed); a read that
/// brings nothing leaves `received` without an allocation.
fn read_some(stream: &TcpStream, received: &mut Vec<u8>) -> io::Result<usize> {
    received.reserve(READ_CHUNK);
    let read = stream.try_read_buf(received);
    if received.is_empty() {
        *received = Vec::new();
    }
    read
}

/// hyper serves the one request whose message is the first `len` bytes of `received` (and
/// what follows on the socket). `Ok` with the socket and the bytes received past that
/// message when the connection waits for its next request; `Err` when it is over (hyper's
/// error, if any, inside).
async fn one_exchange<H, Fut>(
    builder: &http1::Builder,
    stream: TcpStream,
    received: Vec<u8>,
    len: u64,
    handler: &H,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(TcpStream, Vec<u8>), Option<hyper::Error>>
where
    H: Fn(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<ProxyBody>> + Send + Unpin + 'static,
{
    let flags = Arc::new(Flags::default());
    let io = OneMessage::message(stream, received, len, flags.clone());
    let svc = OneService {
        handler,
        flags: flags.clone(),
    };
    let mut conn = builder.serve_connection(TokioIo::new(io), svc);
    let mut draining = *shutdown.borrow();
    if draining {
        Pin::new(&mut conn).graceful_shutdown();
    }
    let ended = loop {
        tokio::select! {
            ended = poll_fn(|cx| conn.poll_without_shutdown(cx)) => break ended,
            _ = shutdown.changed(), if !draining => {
                draining = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
        }
    };
    match ended {
        Ok(()) if flags.reusable.load(Ordering::Acquire) => {
            let parts = conn.into_parts();
            let (stream, rest) = parts.io.into_inner().into_parts();
            // hyper was shown the request's bytes only and read them all.
            if parts.read_buf.is_empty() {
                Ok((stream, rest))
            } else {
                Err(None)
            }
        }
        // hyper ended the connection itself: let it flush and shut down as it would have.
        Ok(()) => Err((&mut conn).await.err()),
        Err(e) => Err(Some(e)),
    }
}

/// What an exchange's answer and its socket tell each other.
#[derive(Default)]
struct Flags {
    /// hyper has let go of the answer's body: it has buffered all it will write.
    answered: AtomicBool,
    /// hyper was shown the end of input at the message boundary, after the answer was
    /// flushed: the connection may wait for its next request.
    reusable: AtomicBool,
}

/// The service of one exchange: the handler's answer, its body watched.
struct OneService<'a, H> {
    handler: &'a H,
    flags: Arc<Flags>,
}

impl<H, Fut> Service<Request<Incoming>> for OneService<'_, H>
where
    H: Fn(Request<Incoming>) -> Fut,
    Fut: Future<Output = Response<ProxyBody>> + Send + Unpin + 'static,
{
    type Response = Response<Answer>;
    type Error = Infallible;
    type Future = Answering<Fut>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        Answering {
            fut: (self.handler)(req),
            flags: self.flags.clone(),
        }
    }
}

/// The handler's future, its answer's body wrapped in [`Answer`].
struct Answering<Fut> {
    fut: Fut,
    flags: Arc<Flags>,
}

impl<Fut> Future for Answering<Fut>
where
    Fut: Future<Output = Response<ProxyBody>> + Unpin,
{
    type Output = Result<Response<Answer>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = ready!(Pin::new(&mut self.fut).poll(cx));
        let flags = self.flags.clone();
        Poll::Ready(Ok(answer.map(|inner| Answer { inner, flags })))
    }
}

/// An answer's body, unchanged; hyper drops it when it has buffered the answer's end (or
/// gives up on it), which [`Flags::answered`] records.
struct Answer {
    inner: ProxyBody,
    flags: Arc<Flags>,
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.flags.answered.store(true, Ordering::Release);
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = <ProxyBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket as hyper sees it: first the bytes already received, then the socket; for an
/// exchange (`message`), no byte past the request's end, and past it the end of input once
/// the answer is flushed.
struct OneMessage {
    stream: TcpStream,
    received: Vec<u8>,
    /// How much of `received` hyper has read.
    at: usize,
    /// The exchange's message bytes hyper has not read yet, and its flags (`None`: hyper
    /// serves the rest of the connection).
    message: Option<(u64, Arc<Flags>)>,
    /// hyper flushed after the answer was buffered.
    flushed: bool,
}

impl OneMessage {
    fn message(stream: TcpStream, received: Vec<u8>, len: u64, flags: Arc<Flags>) -> Self {
        OneMessage {
            stream,
            received,
            at: 0,
            message: Some((len, flags)),
            flushed: false,
        }
    }

    fn rest(stream: TcpStream, received: Vec<u8>) -> Self {
        OneMessage {
            stream,
            received,
            at: 0,
            message: None,
            flushed: false,
        }
    }

    /// The socket and the bytes received that hyper did not read.
    fn into_parts(mut self) -> (TcpStream, Vec<u8>) {
        let rest = match self.received.get(self.at..) {
            Some(r) if !r.is_empty() => r.to_vec(),
            _ => Vec::new(),
        };
        self.received = Vec::new();
        (self.stream, rest)
    }

    /// A read once hyper has every byte of the message.
    fn poll_past_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((_, flags)) = &self.message else {
            return Poll::Ready(Ok(()));
        };
        if flags.reusable.load(Ordering::Acquire) {
            return Poll::Ready(Ok(()));
        }
        if flags.answered.load(Ordering::Acquire) {
            // hyper reads past a message only at a message boundary, and after the answer
            // only where it looks for the next request; once what it buffered is flushed,
            // the end of input there ends the connection cleanly, the socket kept. (Until
            // then: the flush wakes the task.)
            if self.flushed {
                flags.reusable.store(true, Ordering::Release);
                return Poll::Ready(Ok(()));
            }
            return Poll::Pending;
        }
        // The answer is not written yet; hyper is watching for the client going away. A
        // next request already here waits (hyper's own answer to bytes it holds).
        if self.at < self.received.len() {
            return Poll::Pending;
        }
        let mut one = [0u8; 1];
        let mut peek = ReadBuf::new(&mut one);
        match ready!(self.stream.poll_peek(cx, &mut peek)) {
            Ok(0) => Poll::Ready(Ok(())),
            Ok(_) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncRead for OneMessage {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let want = match &this.message {
            None => buf.remaining(),
            Some((0, _)) => return this.poll_past_message(cx),
            Some((left, _)) => {
                usize::try_from(*left).map_or(buf.remaining(), |l| l.min(buf.remaining()))
            }
        };
        if want == 0 {
            return Poll::Ready(Ok(()));
        }
        let got = if let Some(held) = this.received.get(this.at..).filter(|h| !h.is_empty()) {
            let n = held.len().min(want);
            buf.put_slice(held.get(..n).unwrap_or(held));
            this.at += n;
            if this.at == this.received.len() {
                (this.received, this.at) = (Vec::new(), 0);
            }
            n
        } else if want == buf.remaining() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
            buf.filled().len() - before
        } else {
            // The message ends before hyper's buffer does: read no further than its end.
            let n = loop {
                ready!(this.stream.poll_read_ready(cx))?;
                match this.stream.try_read(buf.initialize_unfilled_to(want)) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            };
            buf.advance(n);
            n
        };
        if let Some((left, _)) = &mut this.message {
            *left = left.saturating_sub(got as u64);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for OneMessage {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flushed = false;
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flushed = false;
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// hyper flushes the socket only when its own buffer is empty. The first flush after
    /// the answer wakes the task: hyper, now idle, may have last read while the answer was
    /// being written (and be waiting on nothing else), so it is polled once more and reads
    /// where it looks for the next request.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(Pin::new(&mut this.stream).poll_flush(cx))?;
        if let Some((_, flags)) = &this.message
            && flags.answered.load(Ordering::Acquire)
            && !this.flushed
        {
            this.flushed = true;
            cx.waker().wake_by_ref();
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

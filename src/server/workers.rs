//! Per-core serving: one OS thread per worker, each running a single-threaded tokio
//! runtime with its own `SO_REUSEPORT` listener on the proxy address (the kernel spreads
//! new connections across them) and its own upstream connection pools
//! ([`crate::forward::use_pool`]). A call is accepted, decided, forwarded and answered on
//! one core: no work stealing, no cross-thread wake-up on the request path. What is not per
//! call (the audit writer, OTLP export, reloads, the admin listener) stays on the main
//! runtime; workers reach it through channels.
//!
//! Each worker drains on its own when shutdown begins (its accept loop stops, its open
//! connections get `drain_timeout`), and its runtime ends with it.

use std::future::Future;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::task::JoinHandle;

/// Connections waiting to be accepted, per listener (the kernel caps it at `somaxconn`).
const BACKLOG: i32 = 4096;

/// `n` listening sockets on `addr` sharing its port with `SO_REUSEPORT` (port 0: the first
/// one's port). All are listening when this returns, so no connection is refused while
/// the workers start.
pub(super) fn bind(addr: SocketAddr, n: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(n);
    let mut at = addr;
    for _ in 0..n.max(1) {
        let socket = Socket::new(Domain::for_address(at), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&at.into())?;
        socket.listen(BACKLOG)?;
        let l: std::net::TcpListener = socket.into();
        // Later sockets join the port the first one got.
        at = l.local_addr()?;
        listeners.push(l);
    }
    Ok(listeners)
}

/// Start one worker thread per listener; worker `i` (from 1) uses upstream pool `i` and
/// runs `serve(listener)` until it returns. The handle ends when every worker has.
pub(super) fn start<F, Fut>(
    listeners: Vec<std::net::TcpListener>,
    serve: F,
) -> std::io::Result<JoinHandle<()>>
where
    F: Fn(tokio::net::TcpListener) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let mut done = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let serve = serve.clone();
        std::thread::Builder::new()
            .name(format!("sec0-worker-{}", i + 1))
            .spawn(move || {
                crate::forward::use_pool(i + 1);
                rt.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => serve(l).await,
                        Err(e) => {
                            tracing::error!(worker = i + 1, error = %e, "worker cannot listen")
                        }
                    }
                });
                // Tasks still on this runtime (idle upstream connections) end with it.
                drop(rt);
                let _ = tx.send(());
            })?;
        done.push(rx);
    }
    Ok(tokio::spawn(async move {
        for rx in done {
            // An error means the worker thread ended without saying so (it panicked):
            // nothing is left to wait for either way.
            let _ = rx.await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_socket_listens_on_one_port() {
        let ls = bind("127.0.0.1:0".parse().expect("addr"), 3).expect("bind");
        assert_eq!(ls.len(), 3);
        let port = ls[0].local_addr().expect("addr").port();
        assert_ne!(port, 0);
        for l in &ls {
            assert_eq!(l.local_addr().expect("addr").port(), port);
        }
        // Listening already: a connection is queued, not refused.
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    }
}

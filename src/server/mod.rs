//! Accept: the listeners (proxy and admin), their lifecycle and graceful shutdown.
//!
//! [`Gateway::start`] binds both listeners and returns a [`RunningGateway`] handle; the CLI
//! and the tests drive the same code. Shutdown drains the proxy listener first (readiness
//! fails meanwhile), then stops the admin listener.

mod admin;
mod exchange;
mod head;
mod listener;
mod policy;
mod proxy;
pub mod tls;
mod workers;

pub use admin::Health;
pub use proxy::ProxyState;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::forward::UpstreamSetupError;
use crate::metrics::Metrics;
use crate::policy::bundle::source::BundleSource;
use crate::policy::reload::Reloader;
use admin::AdminState;
use listener::{ConnectionMetrics, ListenerOptions, serve};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// An upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamSetupError),
    /// The rules could not be loaded.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// The policy bundle source gave no usable policy (nor did its cache).
    #[error(transparent)]
    PolicySource(#[from] crate::policy::bundle::source::SourceError),
    /// Caller identity could not be set up (JWKS, secrets, API key file).
    #[error("identity: {0}")]
    Identity(String),
    /// OTLP export could not be set up.
    #[error("otlp: {0}")]
    Otlp(String),
    /// The shared store could not be set up.
    #[error("store: {0}")]
    Store(String),
    /// TLS could not be set up (certificate, key, CA).
    #[error("tls: {0}")]
    Tls(String),
    /// The audit trail could not be set up (directory, signing key).
    #[error("audit: {0}")]
    Audit(String),
    /// The admin token file could not be read.
    #[error("admin.token_file {path}: {source}")]
    AdminToken {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Entry point for serving a config.
pub struct Gateway;

/// A started gateway: its bound addresses and the means to stop it.
pub struct RunningGateway {
    /// Where the proxy listener is bound (useful with port 0).
    pub proxy_addr: SocketAddr,
    /// Where the admin listener is bound.
    pub admin_addr: SocketAddr,
    /// The metrics registry (for embedding and tests).
    pub metrics: Metrics,
    health: Arc<Health>,
    reloader: Option<Arc<Reloader>>,
    bundle: Option<Arc<BundleSource>>,
    proxy_stop: watch::Sender<bool>,
    admin_stop: watch::Sender<bool>,
    proxy_task: JoinHandle<()>,
    admin_task: JoinHandle<()>,
    audit_task: Option<AuditClose>,
    /// The OTLP export task and how long its last export may take.
    otlp_task: Option<(JoinHandle<()>, std::time::Duration)>,
}

impl Gateway {
    /// Bind the listeners and start serving `cfg`.
    pub async fn start(cfg: Config) -> Result<RunningGateway, ServerError> {
        let metrics = Metrics::new();
        let health = Arc::new(Health::default());
        let token = match &cfg.admin.token_file {
            None => None,
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|source| ServerError::AdminToken {
                        path: p.display().to_string(),
                        source,
                    })?
                    .trim()
                    .to_string(),
            ),
        };
        let (policy, reloader, bundle) = policy::start(&cfg, &metrics).await?;
        let (audit, audit_task) = if cfg.audit.enabled() {
            let (trail, task) = start_audit(&cfg.audit, metrics.audit.clone())?;
            tracing::info!(
                file = ?cfg.audit.file.as_ref().map(|f| &f.dir),
                collector = ?cfg.audit.http.as_ref().map(|h| &h.url),
                stdout = cfg.audit.stdout,
                signed = cfg.audit.signing_key.is_some(),
                "audit trail on"
            );
            let wait = std::time::Duration::from_secs(30)
                + cfg
                    .audit
                    .http
                    .as_ref()
                    .map_or(std::time::Duration::ZERO, |h| h.shutdown_timeout);
            (Some(trail), Some((task, wait)))
        } else {
            (None, None)
        };
        let admin_audit = audit.as_ref().map(|t| t.downgrade());
        let identifier = Arc::new(
            crate::identify::Identifier::new(&cfg.identity, &cfg.routes)
                .await
                .map_err(|e| ServerError::Identity(e.to_string()))?,
        );
        let store = Arc::new(
            crate::shared::Store::new(&cfg.store, &metrics)
                .map_err(|e| ServerError::Store(e.to_string()))?,
        );
        let reviews = Arc::new(crate::review::ReviewStore::new(store.clone()));
        let precedents = Arc::new(crate::review::learn::Precedents::new(
            crate::review::learn::LearnConfig::from(&cfg.learn),
        ));
        reviews.follow(precedents.clone());
        let (spans, otlp_task) = match &cfg.otlp {
            Some(o) => {
                let (spans, task) =
                    crate::telemetry::otlp::HopSpans::start(o, metrics.otlp_spans.clone())
                        .map_err(|e| ServerError::Otlp(e.to_string()))?;
                (Some(spans), Some((task, o.timeout)))
            }
            None => (None, None),
        };
        let state = Arc::new(
            ProxyState::new(
                &cfg,
                metrics.clone(),
                policy,
                audit,
                identifier.clone(),
                reviews.clone(),
                precedents.clone(),
            )?
            .with_spans(spans),
        );
        let notified: Arc<dyn Fn(&crate::review::Escalation) + Send + Sync> = {
            // Weak: the notifier must not keep the audit trail open past shutdown.
            let state = Arc::downgrade(&state);
            Arc::new(move |e| {
                if let Some(s) = state.upgrade() {
                    s.record_notified(e);
                }
            })
        };
        tokio::spawn(crate::review::notify::run(
            reviews.clone(),
            cfg.escalation.webhooks.clone(),
            metrics.escalation_notifications.clone(),
            notified,
        ));

        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind { addr, source })
        };
        let proxy_listener = ProxyListener::bind(&cfg)?;
        let admin_listener = bind(cfg.admin.listen).await?;
        let proxy_addr = proxy_listener.addr(cfg.listen);
        let admin_addr = local_addr(&admin_listener, cfg.admin.listen);

        let (proxy_stop, proxy_rx) = watch::channel(false);
        let (admin_stop, admin_rx) = watch::channel(false);
        if let Some(j) = identifier.jwt() {
            tokio::spawn(j.clone().watch(proxy_rx.clone()));
        }
        for rs in identifier.resource_servers() {
            tokio::spawn(rs.verifier().clone().watch(proxy_rx.clone()));
        }
        if let (Some(r), Some(p)) = (&reloader, &cfg.policy) {
            if let Some(b) = &bundle {
                tokio::spawn(b.clone().watch(r.clone(), proxy_rx.clone()));
            } else if !p.reload_interval.is_zero() {
                tokio::spawn(r.clone().watch(p.reload_interval, proxy_rx.clone()));
            }
        }

        let proxy_opts = ListenerOptions {
            connections: Arc::new(tokio::sync::Semaphore::new(cfg.limits.max_connections)),
            header_read_timeout: cfg.limits.header_read_timeout,
            drain_timeout: cfg.limits.drain_timeout,
            name: "proxy",
        };
        let conn_metrics = ConnectionMetrics {
            open: metrics.open_connections.clone(),
            accepted: metrics.connections.clone(),
            tls_failures: metrics.tls_handshake_failures.clone(),
        };
        let tls = match &cfg.tls {
            Some(t) => {
                let term = Arc::new(
                    tls::TlsTerminator::load(t).map_err(|e| ServerError::Tls(e.to_string()))?,
                );
                tokio::spawn(
                    term.clone()
                        .watch(metrics.tls_reloads.clone(), proxy_rx.clone()),
                );
                Some(term)
            }
            None => None,
        };
        let proxy_task = start_proxy(
            &cfg,
            proxy_listener,
            state,
            proxy_opts,
            conn_metrics,
            tls,
            proxy_rx,
        )?;

        let admin_state = Arc::new(AdminState {
            health: health.clone(),
            metrics: metrics.clone(),
            token,
            reloader: reloader.clone(),
            bundle: bundle.clone(),
            audit: admin_audit,
            reviews,
            precedents,
            facts: admin::ConsoleFacts {
                audit_dir: cfg.audit.file.as_ref().map(|f| f.dir.clone()),
                hold_timeout: cfg.escalation.hold_timeout,
                on_timeout: cfg.escalation.on_timeout.as_str(),
                flow: cfg.escalation.flow.as_str(),
                policy_mode: cfg.policy.as_ref().map(|p| p.mode.as_str()),
                routes: cfg
                    .routes
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (r.display_name(i), r.boundary.as_str(), r.protocol.as_str()))
                    .collect(),
            },
        });
        let admin_opts = ListenerOptions {
            connections: Arc::new(tokio::sync::Semaphore::new(64)),
            header_read_timeout: cfg.limits.header_read_timeout,
            drain_timeout: std::time::Duration::from_secs(1),
            name: "admin",
        };
        let admin_task = tokio::spawn(serve(
            admin_listener,
            move |conn| {
                let admin_state = admin_state.clone();
                let peer = conn.peer;
                move |req| Box::pin(admin_state.clone().handle(req, peer))
            },
            admin_opts,
            None,
            None,
            admin_rx,
        ));

        health.ready.store(true, Ordering::Release);
        tracing::info!(%proxy_addr, %admin_addr, routes = cfg.routes.len(), "sec0-gateway listening");
        Ok(RunningGateway {
            proxy_addr,
            admin_addr,
            metrics,
            health,
            reloader,
            bundle,
            proxy_stop,
            admin_stop,
            proxy_task,
            admin_task,
            audit_task,
            otlp_task,
        })
    }
}

/// Start the audit trail's writer with the configured sinks, and the collector delivery
/// (reading the signing key and opening the spool now, so a bad key or directory stops
/// start-up).
fn start_audit(
    a: &crate::config::AuditConfig,
    metrics: Arc<crate::metrics::AuditMetrics>,
) -> Result<(crate::audit::writer::AuditTrail, AuditTask), ServerError> {
    use crate::audit::chain::CheckpointSigner;
    use crate::audit::deliver::Collector;
    use crate::audit::file::{FileSink, Fsync};
    use crate::audit::sink::{LineSink, StdoutSink};
    use crate::audit::writer::{OnFull, TrailConfig, start};
    use crate::config::{AuditFsync, AuditOnFull};
    let err = |what: &dyn std::fmt::Display, e: &dyn std::fmt::Display| {
        ServerError::Audit(format!("{what}: {e}"))
    };
    let signer = match &a.signing_key {
        Some(path) => {
            let key_id = a.key_id.clone().unwrap_or_else(|| {
                path.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "audit".into())
            });
            Some(
                CheckpointSigner::from_pem_file(path, &key_id)
                    .map_err(|e| ServerError::Audit(e.to_string()))?,
            )
        }
        None => None,
    };
    let mut sinks: Vec<Box<dyn LineSink>> = Vec::new();
    if let Some(f) = &a.file {
        sinks.push(Box::new(
            FileSink::new(&f.dir).map_err(|e| err(&f.dir.display(), &e))?,
        ));
    }
    let mut delivery = None;
    if let Some(h) = &a.http {
        let (writer, reader) = crate::audit::spool::open(&h.spool_dir, h.spool_max_size.as_u64())
            .map_err(|e| err(&h.spool_dir.display(), &e))?;
        let authorization = match &h.authorization_file {
            Some(p) => {
                let v = std::fs::read_to_string(p).map_err(|e| err(&p.display(), &e))?;
                let mut v =
                    http::HeaderValue::from_str(v.trim()).map_err(|e| err(&p.display(), &e))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let collector = Collector {
            url: h.url.parse().map_err(|e| err(&"audit.http.url", &e))?,
            gzip: h.gzip,
            format: match h.format {
                crate::config::AuditBatchFormat::Ndjson => {
                    crate::audit::deliver::BatchFormat::Ndjson
                }
                crate::config::AuditBatchFormat::JsonArray => {
                    crate::audit::deliver::BatchFormat::JsonArray
                }
            },
            batch_records: h.batch_records.max(1),
            batch_bytes: h.batch_size.as_u64().max(1),
            timeout: h.timeout,
            retry_initial: h.retry_initial,
            retry_max: h.retry_max.max(h.retry_initial),
            shutdown_timeout: h.shutdown_timeout,
            authorization,
        };
        sinks.push(Box::new(writer));
        delivery = Some((reader, collector));
    }
    if a.stdout {
        sinks.push(Box::new(StdoutSink::new()));
    }
    let cfg = TrailConfig {
        queue: a.queue,
        on_full: match a.on_full {
            AuditOnFull::Block => OnFull::Block,
            AuditOnFull::FailClosed => OnFull::FailClosed,
        },
        checkpoint_every: a.checkpoint_every,
        checkpoint_interval: a.checkpoint_interval,
        max_chain_bytes: a.max_file_size.as_u64(),
        fsync: match a.fsync {
            AuditFsync::EveryBatch => Fsync::EveryBatch,
            AuditFsync::Every(d) => Fsync::Every(d),
            AuditFsync::Never => Fsync::Never,
        },
        signer,
    };
    let (trail, writer) = start(cfg, sinks, metrics.clone());
    let delivery = delivery.map(|(r, c)| tokio::spawn(crate::audit::deliver::run(r, c, metrics)));
    let task = tokio::spawn(async move {
        let written = writer.await.map_err(std::io::Error::other)?;
        if let Some(d) = delivery {
            match d.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "audit delivery stopped"),
                Err(e) => tracing::error!(error = %e, "audit delivery failed"),
            }
        }
        written
    });
    Ok((trail, task))
}

/// The audit writer; it ends (final checkpoint written) once the proxy has let go of it.
type AuditTask = JoinHandle<std::io::Result<()>>;

/// The audit task and how long shutdown waits for it.
type AuditClose = (AuditTask, std::time::Duration);

/// The proxy's listening sockets: one per per-core worker, or one for the shared runtime.
enum ProxyListener {
    PerCore(Vec<std::net::TcpListener>),
    Shared(TcpListener),
}

impl ProxyListener {
    fn bind(cfg: &Config) -> Result<Self, ServerError> {
        let addr = cfg.listen;
        let err = |source| ServerError::Bind { addr, source };
        Ok(match cfg.workers.per_core() {
            Some(n) => Self::PerCore(workers::bind(addr, n).map_err(err)?),
            None => {
                // `bind` returns as many sockets as asked for (one), or an error.
                let l = workers::bind(addr, 1).map_err(err)?.remove(0);
                Self::Shared(TcpListener::from_std(l).map_err(err)?)
            }
        })
    }

    fn addr(&self, fallback: SocketAddr) -> SocketAddr {
        match self {
            Self::PerCore(ls) => ls.first().and_then(|l| l.local_addr().ok()),
            Self::Shared(l) => l.local_addr().ok(),
        }
        .unwrap_or(fallback)
    }
}

/// Serve the proxy listener: on per-core workers, or on this runtime. The handle ends
/// when serving has (after the drain).
fn start_proxy(
    cfg: &Config,
    listener: ProxyListener,
    state: Arc<ProxyState>,
    opts: ListenerOptions,
    conn_metrics: ConnectionMetrics,
    tls: Option<Arc<tls::TlsTerminator>>,
    shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, ServerError> {
    let per_connection = move |conn: listener::ConnInfo| {
        let state = state.clone();
        let down = Arc::new(state.downstream(&conn));
        // Boxed here, once: the call's future holds every phase's state (kilobytes), and
        // hyper moves the future it is given; a box moves as a pointer.
        move |req| Box::pin(state.clone().handle(req, down.clone()))
    };
    match listener {
        ProxyListener::Shared(l) => Ok(tokio::spawn(serve(
            l,
            per_connection,
            opts,
            Some(conn_metrics),
            tls,
            shutdown,
        ))),
        ProxyListener::PerCore(ls) => {
            tracing::info!(workers = ls.len(), "serving on per-core workers");
            let serve_one = move |l: TcpListener| {
                serve(
                    l,
                    per_connection.clone(),
                    opts.clone(),
                    Some(conn_metrics.clone()),
                    tls.clone(),
                    shutdown.clone(),
                )
            };
            workers::start(ls, serve_one).map_err(|source| ServerError::Bind {
                addr: cfg.listen,
                source,
            })
        }
    }
}

fn local_addr(l: &TcpListener, fallback: SocketAddr) -> SocketAddr {
    l.local_addr().unwrap_or(fallback)
}

impl RunningGateway {
    /// Reload the rules now (SIGHUP); `None` when no policy is configured.
    pub fn reload_policy(
        &self,
    ) -> Option<Result<crate::policy::reload::Reloaded, crate::policy::PolicyError>> {
        let r = self.reloader.clone()?;
        Some(r.reload())
    }

    /// Ask the policy bundle source now (SIGHUP) without waiting for the outcome (it is
    /// logged, counted and shown in status); `false` when the rules come from files.
    pub fn refresh_policy_source(&self) -> bool {
        match &self.bundle {
            Some(b) => {
                b.wake();
                true
            }
            None => false,
        }
    }

    /// Begin a graceful shutdown: readiness fails, the proxy stops accepting, open
    /// requests and streams may finish within the drain timeout.
    pub fn begin_shutdown(&self) {
        self.health.draining.store(true, Ordering::Release);
        let _ = self.proxy_stop.send(true);
    }

    /// Wait until the proxy has drained, then stop the admin listener.
    pub async fn wait(self) {
        let _ = self.proxy_task.await;
        if let Some((task, within)) = self.audit_task {
            // The proxy's state (and its audit handles) is gone once it drained, so the
            // writer drains its queue and writes the final checkpoint.
            match tokio::time::timeout(within, task).await {
                Ok(Ok(Ok(()))) => tracing::info!("audit trail closed"),
                Ok(Ok(Err(e))) => tracing::error!(error = %e, "audit trail could not be closed"),
                Ok(Err(e)) => tracing::error!(error = %e, "audit writer failed"),
                Err(_) => tracing::error!(?within, "audit trail not closed in time"),
            }
        }
        if let Some((task, within)) = self.otlp_task {
            // Every span's sender is gone with the proxy's state: the task sends what is
            // left and ends.
            if tokio::time::timeout(within, task).await.is_err() {
                tracing::warn!(?within, "OTLP spans not all exported in time");
            }
        }
        let _ = self.admin_stop.send(true);
        let _ = self.admin_task.await;
        tracing::info!("sec0-gateway stopped");
    }

    /// [`begin_shutdown`](Self::begin_shutdown) then [`wait`](Self::wait).
    pub async fn shutdown(self) {
        self.begin_shutdown();
        self.wait().await;
    }
}

/// Wait for SIGTERM or SIGINT; returns the signal's name.
pub async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

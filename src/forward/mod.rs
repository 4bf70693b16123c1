//! Forward: send a request to its upstream over a pooled keep-alive connection and stream
//! the answer back.
//!
//! One [`Upstream`] per configured upstream, each with its own hyper-util client (pool,
//! connect timeout, HTTP/2 choice). Bodies stream both ways through
//! [`body::GuardedBody`]; nothing here buffers a response. An upstream with several
//! endpoints (or a circuit breaker, outlier ejection, retries) has a [`fleet::Fleet`] that
//! places, counts and retries its calls; one with a single `url` and none of that takes
//! the plain path.

pub mod affinity;
pub mod balance;
pub mod body;
pub mod circuit;
pub mod endpoint;
pub mod fleet;
pub mod headers;
pub mod metrics;
pub mod retry;
pub mod tls;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::UpstreamConfig;
use body::{BodyError, ProxyBody, find_body_error};
use headers::UpstreamHost;

type Connector = hyper_rustls::HttpsConnector<circuit::LimitedConnector>;
/// The pooled client of one upstream (one per serving thread).
pub type Client = hyper_util::client::legacy::Client<Connector, ProxyBody>;

pub use fleet::SendHints;

/// Why a request could not be forwarded or answered by its upstream.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No connection could be made (refused, unresolvable, connect timeout, TLS failure).
    #[error("upstream {upstream:?} is unreachable: {detail}")]
    Unreachable {
        /// Upstream name.
        upstream: String,
        /// What failed, for the log (not sent to clients).
        detail: String,
    },
    /// Connected, but no response head within the upstream's `response_header_timeout`.
    #[error("upstream {upstream:?} sent no response within {timeout:?}")]
    Timeout {
        /// Upstream name.
        upstream: String,
        /// The timeout that passed.
        timeout: Duration,
    },
    /// The upstream broke the exchange (closed early, malformed response).
    #[error("upstream {upstream:?} failed: {detail}")]
    Upstream {
        /// Upstream name.
        upstream: String,
        /// What failed, for the log (not sent to clients).
        detail: String,
    },
    /// The client's request body passed the route's limit while streaming.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The client stopped sending its request body.
    #[error("request body idle for more than {0:?}")]
    BodyIdle(Duration),
    /// The client's request body could not be read (connection reset, bad chunking).
    #[error("request body could not be read: {0}")]
    BodyRead(String),
    /// The rewritten target is not a valid URI.
    #[error("cannot build the upstream URI: {0}")]
    BadTarget(String),
    /// The gateway's own credential for the upstream could not be obtained (its token
    /// endpoint is down or refuses): the call is not sent without it.
    #[error("no credential for upstream {upstream:?}: {detail}")]
    Credential {
        /// Upstream name.
        upstream: String,
        /// What failed, for the log (never a secret).
        detail: String,
    },
    /// A circuit-breaker limit of the upstream is reached: refused without trying.
    #[error("upstream {upstream:?} circuit open: {limit} limit reached")]
    CircuitOpen {
        /// Upstream name.
        upstream: String,
        /// Which limit (`requests`, `pending`, `connections`).
        limit: &'static str,
    },
    /// The upstream has no endpoint now (its DNS name resolves to nothing yet).
    #[error("upstream {upstream:?} has no endpoints")]
    NoEndpoints {
        /// Upstream name.
        upstream: String,
    },
    /// The call's MCP session id is not one this upstream's gateways sealed, or names an
    /// endpoint no longer configured: answered as an unknown session (404), never sent on.
    #[error("upstream {upstream:?}: unknown MCP session ({why})")]
    UnknownSession {
        /// Upstream name.
        upstream: String,
        /// Why (for the log; never the key, never the id).
        why: affinity::AffinityError,
    },
    /// The upstream created a session id the gateway cannot seal (too long, not visible
    /// ASCII): the answer is not passed on.
    #[error("upstream {upstream:?} sent a session id that cannot be sealed: {why}")]
    UnsealableSession {
        /// Upstream name.
        upstream: String,
        /// Why.
        why: affinity::AffinityError,
    },
}

impl ForwardError {
    /// Map a body-stream failure (on the request side) to a forward error.
    pub fn from_request_body(err: &(dyn std::error::Error + 'static)) -> Self {
        match find_body_error(err) {
            Some(BodyError::TooLarge { limit }) => ForwardError::BodyTooLarge { limit: *limit },
            Some(BodyError::Idle(d)) => ForwardError::BodyIdle(*d),
            None => ForwardError::BodyRead(err.to_string()),
        }
    }

    /// A short stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ForwardError::Unreachable { .. } => "connect",
            ForwardError::Timeout { .. } => "timeout",
            ForwardError::Upstream { .. } => "protocol",
            ForwardError::BodyTooLarge { .. } => "body_too_large",
            ForwardError::BodyIdle(_) => "body_idle",
            ForwardError::BodyRead(_) => "body_read",
            ForwardError::BadTarget(_) => "bad_target",
            ForwardError::Credential { .. } => "credential",
            ForwardError::CircuitOpen { .. } => "circuit_open",
            ForwardError::NoEndpoints { .. } => "no_endpoints",
            ForwardError::UnknownSession { .. } => "unknown_session",
            ForwardError::UnsealableSession { .. } => "unsealable_session",
        }
    }
}

/// A configured upstream with its connection pool.
pub struct Upstream {
    /// Name from the config.
    pub name: String,
    scheme: Scheme,
    authority: Authority,
    base_path: String,
    host: UpstreamHost,
    response_header_timeout: Duration,
    http2: bool,
    /// One connection pool per serving thread (index [`pool`]): a per-core worker keeps its
    /// upstream connections on its own core, so forwarding wakes no other thread.
    clients: Box<[Client]>,
    /// Several endpoints, or resilience settings; `None`: the plain path.
    fleet: Option<Arc<fleet::Fleet>>,
}

thread_local! {
    static POOL: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Make this thread use upstream pool `n` (each per-core worker calls this once, with
/// 1..=workers; every other thread uses pool 0).
pub fn use_pool(n: usize) {
    POOL.with(|p| p.set(n));
}

/// The pool this thread uses.
fn pool() -> usize {
    POOL.with(std::cell::Cell::get)
}

/// Why an upstream could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamSetupError {
    /// The URL does not parse (config validation should have caught it).
    #[error("upstream {0:?}: invalid url")]
    Url(String),
    /// The TLS client could not be built.
    #[error("upstream {0:?}: TLS setup failed: {1}")]
    Tls(String, String),
    /// The session affinity key could not be read (the message never holds the key).
    #[error("upstream {0:?}: session affinity key: {1}")]
    SessionKey(String, String),
}

impl Upstream {
    /// Build the clients of one upstream: `pools` connection pools (one per serving thread
    /// that calls [`use_pool`], plus pool 0 for every other thread). A fleet's background
    /// task (ejections, DNS, health checks) starts on the current runtime.
    pub fn new(
        name: &str,
        cfg: &UpstreamConfig,
        pools: usize,
        metrics: &metrics::FleetMetrics,
    ) -> Result<Self, UpstreamSetupError> {
        let bad = || UpstreamSetupError::Url(name.to_string());
        let (scheme, authority, base_path) = match (&cfg.url, cfg.endpoints.first(), &cfg.dns) {
            (Some(url), _, _) | (None, Some(url), _) => {
                let uri: Uri = url.parse().map_err(|_| bad())?;
                let (Some(scheme), Some(authority)) =
                    (uri.scheme().cloned(), uri.authority().cloned())
                else {
                    return Err(bad());
                };
                (
                    scheme,
                    authority,
                    uri.path().trim_end_matches('/').to_string(),
                )
            }
            (None, None, Some(d)) => {
                let scheme = if d.scheme == "https" {
                    Scheme::HTTPS
                } else {
                    Scheme::HTTP
                };
                let authority =
                    Authority::try_from(format!("{}:{}", d.name, d.port)).map_err(|_| bad())?;
                (scheme, authority, d.path.trim_end_matches('/').to_string())
            }
            (None, None, None) => return Err(bad()),
        };

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let conn_limit = cfg
            .circuit_breaker
            .as_ref()
            .and_then(|c| c.max_connections)
            .map(|max| {
                let pending = cfg
                    .circuit_breaker
                    .as_ref()
                    .and_then(|c| c.max_pending)
                    .map(|n| (n, metrics.limit(name, "pending")));
                circuit::ConnLimit::new(
                    max,
                    pending,
                    metrics.limit(name, "connections"),
                    cfg.connect_timeout,
                )
            });
        let http = circuit::LimitedConnector::new(http, conn_limit);
        let tls = tls::client_config(&cfg.tls)
            .map_err(|e| UpstreamSetupError::Tls(name.to_string(), e))?;
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let builder = match &cfg.tls.server_name {
            Some(sni) => {
                let sni = rustls_pki_types::ServerName::try_from(sni.clone()).map_err(|e| {
                    UpstreamSetupError::Tls(name.to_string(), format!("server_name: {e}"))
                })?;
                builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(sni))
            }
            None => builder,
        }
        .enable_http1();
        let connector = if cfg.http2 {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.wrap_connector(http)
        };
        let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(cfg.pool_idle_timeout)
            .pool_max_idle_per_host(cfg.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(cfg.http2);
        let clients: Box<[Client]> = (0..pools.max(1))
            .map(|_| builder.build(connector.clone()))
            .collect();
        let seal = cfg
            .sessions
            .affinity_key()
            .map_err(|e| UpstreamSetupError::SessionKey(name.to_string(), e))?
            .map(|k| affinity::SessionSeal::new(name, &k));
        let fleet = fleet::needed(cfg).then(|| {
            let base = (&scheme, &authority, base_path.as_str());
            let f = fleet::Fleet::new(name, cfg, base, metrics, seal);
            f.start(clients[0].clone());
            f
        });
        Ok(Self {
            name: name.to_string(),
            host: UpstreamHost::from_config(&cfg.host_header, &authority),
            scheme,
            authority,
            base_path,
            response_header_timeout: cfg.response_header_timeout,
            http2: cfg.http2,
            clients,
            fleet,
        })
    }

    /// The fleet of endpoints, when the upstream has one.
    pub fn fleet(&self) -> Option<&Arc<fleet::Fleet>> {
        self.fleet.as_ref()
    }

    /// Whether a call could be sent twice, so the caller should say how ([`SendHints`]).
    pub fn may_retry(&self) -> bool {
        self.fleet.is_some()
    }

    /// How `Host` is set for this upstream.
    pub fn host_rule(&self) -> &UpstreamHost {
        &self.host
    }

    /// The absolute upstream URI for `path` (already rewritten by the route) and `query`.
    pub fn target(&self, path: &str, query: Option<&str>) -> Result<Uri, ForwardError> {
        let mut pq = String::with_capacity(
            self.base_path.len() + path.len() + 1 + query.map_or(0, str::len),
        );
        pq.push_str(&self.base_path);
        pq.push_str(path);
        if let Some(q) = query {
            pq.push('?');
            pq.push_str(q);
        }
        let pq = PathAndQuery::try_from(pq).map_err(|e| ForwardError::BadTarget(e.to_string()))?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|e| ForwardError::BadTarget(e.to_string()))
    }

    /// Send `req` (URI and headers already prepared) and wait for the response head: to
    /// the one endpoint, or through the fleet (`hints` say whether it may be sent twice).
    /// Returns the response and the time the upstream took to answer.
    pub async fn send(
        &self,
        req: Request<ProxyBody>,
        hints: &SendHints,
    ) -> Result<(Response<Incoming>, Duration), ForwardError> {
        match &self.fleet {
            None => self.send_once(req).await,
            Some(f) => f.send(self, req, hints).await,
        }
    }

    /// Send `req` to the endpoint its URI names.
    async fn send_once(
        &self,
        mut req: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Duration), ForwardError> {
        if self.http2 {
            // HTTP/2 carries the authority in `:authority` (the upstream's own); a `Host`
            // header next to it must not differ, so none is sent.
            req.headers_mut().remove(http::header::HOST);
        }
        let started = Instant::now();
        // `pool()` is below the pool count on every thread: workers are numbered from the
        // same count the pools were built with; `get` keeps that an invariant, not a panic.
        let client = self.clients.get(pool()).unwrap_or(&self.clients[0]);
        match tokio::time::timeout(self.response_header_timeout, client.request(req)).await {
            Err(_) => Err(ForwardError::Timeout {
                upstream: self.name.clone(),
                timeout: self.response_header_timeout,
            }),
            Ok(Ok(resp)) => Ok((resp, started.elapsed())),
            Ok(Err(e)) => Err(self.classify(e)),
        }
    }

    fn classify(&self, e: hyper_util::client::legacy::Error) -> ForwardError {
        if let Some(body_err) = find_body_error(&e) {
            return match body_err {
                BodyError::TooLarge { limit } => ForwardError::BodyTooLarge { limit: *limit },
                BodyError::Idle(d) => ForwardError::BodyIdle(*d),
            };
        }
        if let Some(c) = circuit::find_circuit_error(&e) {
            return ForwardError::CircuitOpen {
                upstream: self.name.clone(),
                limit: c.limit(),
            };
        }
        let detail = error_chain(&e);
        if e.is_connect() {
            ForwardError::Unreachable {
                upstream: self.name.clone(),
                detail,
            }
        } else {
            ForwardError::Upstream {
                upstream: self.name.clone(),
                detail,
            }
        }
    }
}

/// An error and its sources on one line, for logs.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostHeader;

    fn upstream(url: &str) -> Upstream {
        let cfg = UpstreamConfig {
            url: Some(url.to_string()),
            endpoints: Vec::new(),
            dns: None,
            balance: Default::default(),
            sessions: Default::default(),
            health_check: None,
            outlier: None,
            circuit_breaker: None,
            retry: None,
            host_header: HostHeader::Upstream,
            connect_timeout: Duration::from_secs(1),
            response_header_timeout: Duration::from_secs(1),
            http2: false,
            pool_idle_timeout: Duration::from_secs(1),
            pool_max_idle_per_host: 1,
            tls: Default::default(),
        };
        Upstream::new("u", &cfg, 1, &metrics::FleetMetrics::unregistered()).expect("upstream")
    }

    #[test]
    fn target_joins_base_path_and_query() {
        let u = upstream("http://127.0.0.1:9/base/");
        assert_eq!(
            u.target("/mcp", Some("a=1")).expect("uri").to_string(),
            "http://127.0.0.1:9/base/mcp?a=1"
        );
        let u = upstream("https://api.example.com");
        assert_eq!(
            u.target("/", None).expect("uri").to_string(),
            "https://api.example.com/"
        );
    }

    #[tokio::test]
    async fn refused_connection_is_unreachable() {
        // Bind then drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let u = upstream(&format!("http://127.0.0.1:{port}"));
        let req = Request::builder()
            .uri(u.target("/", None).expect("uri"))
            .body(http_body_util::BodyExt::boxed_unsync(
                http_body_util::BodyExt::map_err(
                    http_body_util::Empty::new(),
                    |e: std::convert::Infallible| match e {},
                ),
            ))
            .expect("request");
        let err = u
            .send(req, &SendHints::default())
            .await
            .expect_err("refused");
        assert!(matches!(err, ForwardError::Unreachable { .. }), "{err}");
    }
}

//! The proxy service: one request's path through the gateway.
//!
//! accept (path sanity) → route → the request side ([`call`]: read what must be inspected,
//! classify, decide, act) → forward → the response side ([`answer`]: stream the upstream's
//! answer back, inspected where needed). Every error answer the gateway writes itself goes
//! through [`crate::error::respond`].

mod answer;
mod call;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ipnet::IpNet;

use arc_swap::ArcSwap;

use crate::audit::writer::AuditSink;
use crate::config::{CompressedRequests, Config, EscalationConfig, Protocol};
use crate::error::{GatewayError, RequestError, respond};
use crate::forward::body::{GaugeGuard, GuardedBody, ProxyBody};
use crate::forward::headers::{Downstream, prepare_upstream_request};
use crate::forward::{Upstream, UpstreamSetupError};
use crate::inspect::descriptors::DescriptorStore;
use crate::inspect::legacy_sse::LegacySessions;
use crate::metrics::{Metrics, RouteMetrics, StatusCounters};
use crate::policy::{CallFacts, Decision, Policy};
use crate::protocol::jsonrpc::peek_id;
use crate::routing::{Route, RouteTable, path_is_unambiguous, request_host};
use call::Prepared;

/// Everything the proxy service needs, built once from the config.
pub struct ProxyState {
    routes: RouteTable,
    /// The compiled rules; `None` when no policy is configured (nothing is decided).
    policy: Option<Arc<ArcSwap<Policy>>>,
    escalation: EscalationConfig,
    /// Live legacy HTTP+SSE session streams (for delivering refusals on them).
    legacy: Arc<LegacySessions>,
    upstreams: Vec<Upstream>,
    route_metrics: Vec<RouteMetrics>,
    unrouted: StatusCounters,
    metrics: Metrics,
    trusted_proxies: Vec<IpNet>,
    idle_timeout: Duration,
    compressed: CompressedRequests,
    /// Tool descriptors seen per upstream (rug-pull defence).
    descriptors: Arc<DescriptorStore>,
    /// Where decision records go (`audit.file`); `None`: nothing is recorded.
    audit: Option<AuditSink>,
}

impl ProxyState {
    /// Compile routes and build one pooled client per upstream.
    pub fn new(
        cfg: &Config,
        metrics: Metrics,
        policy: Option<Arc<ArcSwap<Policy>>>,
        audit: Option<AuditSink>,
    ) -> Result<Self, UpstreamSetupError> {
        let mut upstreams = Vec::with_capacity(cfg.upstreams.len());
        let mut names = Vec::with_capacity(cfg.upstreams.len());
        for (name, up) in &cfg.upstreams {
            upstreams.push(Upstream::new(name, up)?);
            names.push(name.clone());
        }
        // Validation guarantees every route names a known upstream.
        let routes = RouteTable::new(cfg, |n| names.iter().position(|x| x == n).unwrap_or(0));
        let route_metrics = routes
            .routes()
            .iter()
            .map(|r| metrics.route(&r.name))
            .collect();
        if let Some(p) = &policy {
            metrics
                .policy_version
                .with_label_values(&[&p.load().version])
                .set(1);
        }
        Ok(Self {
            routes,
            policy,
            escalation: cfg.escalation.clone(),
            legacy: Arc::new(LegacySessions::default()),
            upstreams,
            route_metrics,
            unrouted: metrics.unrouted(),
            metrics,
            trusted_proxies: cfg.trusted_proxies.clone(),
            idle_timeout: cfg.limits.idle_timeout,
            compressed: cfg.limits.compressed_requests,
            descriptors: Arc::new(DescriptorStore::new(cfg.guard.on_descriptor_change)),
            audit,
        })
    }

    /// Facts of a new downstream connection, computed once for all its requests.
    pub fn downstream(&self, peer: SocketAddr) -> Downstream {
        Downstream::new(peer, "http", self.is_trusted(peer.ip()))
    }

    /// Handle one request arriving on the connection described by `down`.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        down: Arc<Downstream>,
    ) -> Response<ProxyBody> {
        let mut in_flight = Some(GaugeGuard::new(&self.metrics.in_flight));
        if !path_is_unambiguous(req.uri().path()) {
            let err = RequestError::AmbiguousPath.into();
            let resp = respond(&err, None, None);
            self.audit_error(None, resp.status(), &err);
            return self.finish_unrouted(resp, in_flight);
        }
        let host = request_host(&req);
        let Some(route) = self.routes.find(host.as_deref(), req.uri().path()).cloned() else {
            tracing::debug!(?host, path = req.uri().path(), "no route");
            let err = RequestError::NoRoute.into();
            let resp = respond(&err, None, None);
            self.audit_error(None, resp.status(), &err);
            return self.finish_unrouted(resp, in_flight);
        };
        let resp = match self
            .forward(&route, req, host.as_deref(), &down, &mut in_flight)
            .await
        {
            Ok(resp) => resp,
            Err((err, body)) => {
                self.log_failure(&route, &err);
                let id = body.as_deref().and_then(peek_id);
                let resp = respond(&err, Some(route.protocol), id);
                self.audit_error(Some(&route.name), resp.status(), &err);
                resp
            }
        };
        self.route_metrics[route.index].requests.inc(resp.status());
        attach_guard(resp, in_flight)
    }

    fn finish_unrouted(
        &self,
        resp: Response<ProxyBody>,
        in_flight: Option<GaugeGuard>,
    ) -> Response<ProxyBody> {
        self.unrouted.inc(resp.status());
        attach_guard(resp, in_flight)
    }

    fn log_failure(&self, route: &Route, err: &GatewayError) {
        if let GatewayError::Forward(f) = err {
            self.metrics
                .upstream_errors
                .with_label_values(&[route.name.as_str(), f.kind()])
                .inc();
        }
        tracing::warn!(route = %route.name, upstream = %route.upstream_name, error = %err, "request failed");
    }

    /// Forward the request; on failure also hand back the buffered body (if any) so the
    /// error can echo the JSON-RPC id.
    async fn forward(
        &self,
        route: &Route,
        req: Request<Incoming>,
        host: Option<&str>,
        down: &Downstream,
        in_flight: &mut Option<GaugeGuard>,
    ) -> Result<Response<ProxyBody>, Failure> {
        let rm = &self.route_metrics[route.index];
        let upstream = &self.upstreams[route.upstream];
        let (mut parts, body) = req.into_parts();

        if let Some(length) = declared_length(&parts.headers) {
            if length > route.max_request_body {
                let err = RequestError::DeclaredTooLarge {
                    length,
                    limit: route.max_request_body,
                };
                return Err((err.into(), None));
            }
        }
        let body = GuardedBody::new(body)
            .limit(route.max_request_body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_in.clone());
        // JSON-RPC calls are small and must be read whole to be understood; everything
        // else (uploads, egress bodies) streams through under the same cap.
        let prepared = if route.protocol.is_jsonrpc() && parts.method == Method::POST {
            self.jsonrpc_call(route, host, &mut parts, body).await?
        } else {
            self.http_call(route, host, &mut parts, body).await?
        };
        let mut sent = match prepared {
            Prepared::Answered(resp) => return Ok(resp),
            Prepared::Forward(out) => *out,
        };
        let stream_open = route.protocol == Protocol::Mcp && parts.method == Method::GET;

        let client_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let path = route.upstream_path(parts.uri.path());
        let target = match upstream.target(&path, parts.uri.query()) {
            Ok(t) => t,
            Err(e) => return Err((e.into(), sent.buffered)),
        };
        prepare_upstream_request(&mut parts.headers, down, client_host, upstream.host_rule());
        parts.uri = target;
        // The upstream connection decides the wire version; hyper refuses a mismatch.
        parts.version = Version::HTTP_11;

        let body = std::mem::replace(&mut sent.body, empty_body());
        let (resp, took) = match upstream.send(Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(e) => return Err((e.into(), sent.buffered)),
        };
        rm.upstream_latency.observe(took.as_secs_f64());
        self.answer(route, resp, sent, stream_open, in_flight).await
    }

    /// Decide one call, counting and timing the decision.
    fn decide(&self, policy: &Policy, route: &Route, facts: &CallFacts<'_>) -> Decision {
        let started = std::time::Instant::now();
        let d = policy.decide(facts);
        self.metrics
            .policy_eval
            .observe(started.elapsed().as_secs_f64());
        self.metrics.record_decision(&route.name, facts, &d);
        d
    }

    /// Record a decision in the audit trail. Under `fail_closed` a record that cannot be
    /// queued refuses the call; under `block` this waits for room.
    async fn audit_decision(
        &self,
        route: &Route,
        facts: &CallFacts<'_>,
        d: &Decision,
    ) -> Result<(), Failure> {
        let Some(sink) = &self.audit else {
            return Ok(());
        };
        let record = crate::audit::record::decision_record(&route.name, facts, d);
        match sink.record(record).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(route = %route.name, error = %e, "audit record not queued");
                Err((RequestError::AuditUnavailable.into(), None))
            }
        }
    }

    /// Record an answer the gateway wrote itself for a failed call (never waits).
    fn audit_error(&self, route: Option<&str>, status: http::StatusCode, err: &GatewayError) {
        if let Some(sink) = &self.audit {
            let record = crate::audit::record::error_record(
                route,
                status.as_u16(),
                crate::error::reason_of(err),
                &err.to_string(),
            );
            if sink.try_record(record).is_err() {
                tracing::error!("audit record of a failed call not queued");
            }
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// A failure, with the buffered JSON-RPC body (if any) so the answer can echo its id.
type Failure = (GatewayError, Option<Bytes>);

/// A body of these bytes.
fn full(bytes: Bytes) -> ProxyBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn empty_body() -> ProxyBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Keep the in-flight guard alive until the response body ends (when the success path did
/// not already attach it).
fn attach_guard(resp: Response<ProxyBody>, guard: Option<GaugeGuard>) -> Response<ProxyBody> {
    match guard {
        Some(g) => resp.map(|b| GuardedBody::new(b).guard(g).boxed_unsync()),
        None => resp,
    }
}

/// The `Content-Length` the request declares, if any.
fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

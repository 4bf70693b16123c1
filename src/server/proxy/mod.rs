//! The proxy service: one call's path through the gateway, as a list of phases, each in its
//! own file:
//!
//! 1. **admit** ([`admit`]): path sanity, route, identity, run context;
//! 2. **read** ([`read`]): the JSON-RPC envelope read whole and strictly, or the body
//!    streamed (read and parsed only when a rule looks at it); where the gateway is the
//!    OAuth resource server, the tools called checked against the token's scopes
//!    ([`oauth`], which also serves or forwards the OAuth discovery documents);
//! 3. **decide** ([`decide`]): for each message, or the one plain HTTP call, alike: rate
//!    limits, withheld tools, rules, precedents and approvals, metrics, the audit record,
//!    escalations opened and their answers awaited;
//! 4. **act** ([`act`]): forward, forward part of a batch, or answer here (refusals);
//!    redactions applied; the run remembers what it did;
//! 5. **upstream** ([`upstream`]): the request as the upstream gets it, sent;
//! 6. **respond** ([`respond`]): the upstream's answer streamed back, inspected where
//!    needed;
//! 7. **finish** ([`finish`]): one place for what every answer gets — its status counted,
//!    the client's context headers, the hop's span, the audit closed.
//!
//! [`CallState`](state::CallState) is what a call carries through them. Escalations are
//! opened and answered in [`review`]. Every error answer the gateway writes itself goes
//! through [`crate::error::respond`].

mod act;
mod admit;
mod decide;
mod finish;
mod oauth;
mod read;
mod respond;
mod review;
mod state;
#[cfg(test)]
mod tests;
mod upstream;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ipnet::IpNet;

use super::listener::ConnInfo;
use crate::audit::writer::AuditTrail;
use crate::config::{CompressedRequests, Config, EscalationConfig};
use crate::context::ContextPolicy;
use crate::error::GatewayError;
use crate::forward::body::{GuardedBody, ProxyBody};
use crate::forward::headers::Downstream;
use crate::forward::{Upstream, UpstreamSetupError};
use crate::identify::Identifier;
use crate::inspect::descriptors::DescriptorStore;
use crate::inspect::legacy_sse::LegacySessions;
use crate::metrics::{Metrics, RouteMetrics, StatusCounters};
use crate::policy::Policy;
use crate::routing::RouteTable;
use state::{Admitted, CallState};

/// Everything the proxy service needs, built once from the config.
pub struct ProxyState {
    routes: RouteTable,
    /// The compiled rules; `None` when no policy is configured (nothing is decided).
    policy: Option<Arc<ArcSwap<Policy>>>,
    escalation: EscalationConfig,
    /// The JSON-RPC codes of the gateway's refusals (`answers.codes`).
    codes: crate::config::RefusalCodes,
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
    /// Where audit records go; `None`: nothing is recorded.
    audit: Option<AuditTrail>,
    /// Verifies who is calling.
    identifier: Arc<Identifier>,
    /// Who may continue a run; context header limits.
    context: ContextPolicy,
    /// What each run did (for `when.run` rules and labels).
    runs: crate::context::runs::Runs,
    /// Rate-limit buckets (kept across policy reloads; shared by replicas with the store).
    limits: crate::policy::ratelimit::RateLimits,
    /// Escalations waiting for (or answered by) reviewers.
    reviews: Arc<crate::review::ReviewStore>,
    /// What reviewers' answers taught (precedents).
    precedents: Arc<crate::review::learn::Precedents>,
    /// Where hop spans go (OTLP export), when configured.
    spans: Option<Arc<crate::telemetry::otlp::HopSpans>>,
}

impl ProxyState {
    /// Compile routes and build one pooled client per upstream.
    pub fn new(
        cfg: &Config,
        metrics: Metrics,
        policy: Option<Arc<ArcSwap<Policy>>>,
        audit: Option<AuditTrail>,
        identifier: Arc<Identifier>,
        reviews: Arc<crate::review::ReviewStore>,
        precedents: Arc<crate::review::learn::Precedents>,
    ) -> Result<Self, UpstreamSetupError> {
        let mut upstreams = Vec::with_capacity(cfg.upstreams.len());
        let mut names = Vec::with_capacity(cfg.upstreams.len());
        let fleet_metrics = crate::forward::metrics::FleetMetrics::register(metrics.registry())
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "upstream endpoint metrics already registered; not exported twice");
                crate::forward::metrics::FleetMetrics::unregistered()
            });
        for (name, up) in &cfg.upstreams {
            // Pool 0 for the shared runtime, one more per per-core worker.
            let pools = cfg.workers.per_core().map_or(1, |n| n + 1);
            upstreams.push(Upstream::new(name, up, pools, &fleet_metrics)?);
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
        let runs = crate::context::runs::Runs::new(
            cfg.context.run_ttl,
            cfg.context.max_runs,
            reviews.store().clone(),
            &metrics,
        );
        Ok(Self {
            routes,
            policy,
            escalation: cfg.escalation.clone(),
            codes: cfg.answers.codes,
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
            identifier,
            runs,
            limits: crate::policy::ratelimit::RateLimits::new(reviews.store().clone()),
            reviews,
            precedents,
            spans: None,
            context: ContextPolicy {
                trust_verified: cfg.context.trust_verified_callers,
                trusted_networks: cfg.context.trusted_networks.clone(),
                max_agent_state: usize::try_from(cfg.context.max_agent_state.as_u64())
                    .unwrap_or(usize::MAX),
            },
        })
    }

    /// Export a span per hop to `spans`.
    pub fn with_spans(mut self, spans: Option<Arc<crate::telemetry::otlp::HopSpans>>) -> Self {
        self.spans = spans;
        self
    }

    /// Facts of a new downstream connection, computed once for all its requests.
    pub fn downstream(&self, conn: &ConnInfo) -> Downstream {
        let scheme = if conn.tls { "https" } else { "http" };
        let mut down = Downstream::new(conn.peer, scheme, self.is_trusted(conn.peer.ip()));
        down.cert_caller = conn
            .client_cert
            .as_ref()
            .and_then(crate::identify::mtls::caller_of)
            .map(Arc::from);
        down
    }

    /// Handle one request arriving on the connection described by `down`: the phases, in
    /// order.
    pub async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
        down: Arc<Downstream>,
    ) -> Response<ProxyBody> {
        let mut call = CallState::arrive(&self, &req);
        let admitted = match self.admit(&mut call, &mut req, &down).await {
            Ok(a) => a,
            Err(refused) => return self.finish_unadmitted(call, refused).await,
        };
        let answered = match admitted.discovery {
            Some(what) => {
                self.serve_oauth(&mut call, &admitted, req, &down, what)
                    .await
            }
            None => self.serve(&mut call, &admitted, req, &down).await,
        };
        self.finish(call, &admitted, answered).await
    }

    /// Read, decide, act, send upstream, respond.
    async fn serve(
        &self,
        call: &mut CallState,
        a: &Admitted,
        req: Request<Incoming>,
        down: &Downstream,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let read = self.read(call, a, req).await?;
        self.check_scopes(a, &read.body)?;
        let decided = self.decide(call, a, &read.parts, &read.body).await?;
        let out = match self.act(call, a, read, decided).await? {
            act::Acted::Answered(resp) => return Ok(resp),
            act::Acted::Forward(out) => out,
        };
        let (answer, plan) = self.send_upstream(call, a, down, *out).await?;
        self.respond(call, a, answer, plan).await
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// A body of these bytes.
fn full(bytes: Bytes) -> ProxyBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// Keep the in-flight guard alive until the response body ends (when the answer did not
/// already take it).
fn attach_guard(
    resp: Response<ProxyBody>,
    guard: Option<crate::forward::body::GaugeGuard>,
) -> Response<ProxyBody> {
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

//! The proxy service: one request's path through the gateway.
//!
//! accept (path sanity) → route → the request side ([`call`]: read what must be inspected,
//! classify, decide, act) → forward → the response side ([`answer`]: stream the upstream's
//! answer back, inspected where needed). Every error answer the gateway writes itself goes
//! through [`crate::error::respond`].

mod answer;
mod call;
mod review;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use ipnet::IpNet;

use arc_swap::ArcSwap;

use super::listener::ConnInfo;
use crate::audit::exchange::CallAudit;
use crate::audit::exchange::CallIds;
use crate::audit::record::AuditRecord;
use crate::audit::writer::AuditTrail;
use crate::config::{CompressedRequests, Config, EscalationConfig, Protocol};
use crate::context::{CallContext, ContextPolicy, DecisionTag};
use crate::error::{GatewayError, RequestError, respond};
use crate::forward::body::{GaugeGuard, GuardedBody, ProxyBody};
use crate::forward::headers::{Downstream, prepare_upstream_request};
use crate::forward::{Upstream, UpstreamSetupError};
use crate::identify::{Identifier, Identity};
use crate::inspect::descriptors::DescriptorStore;
use crate::inspect::legacy_sse::LegacySessions;
use crate::metrics::{Metrics, RouteMetrics, StatusCounters};
use crate::policy::RecordDecision;
use crate::policy::{CallFacts, Decision, Policy};
use crate::protocol::jsonrpc::peek_id;
use crate::routing::{Route, RouteTable, path_is_unambiguous, request_host};
use crate::telemetry::otlp::HopSpan;
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
    /// Where audit records go; `None`: nothing is recorded.
    audit: Option<AuditTrail>,
    /// Verifies who is calling.
    identifier: Arc<Identifier>,
    /// Who may continue a run; context header limits.
    context: ContextPolicy,
    /// What each run did (for `when.run` rules and labels).
    runs: crate::context::runs::RunStore,
    /// Rate-limit buckets (kept across policy reloads).
    limiter: crate::policy::ratelimit::RateLimiter,
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
        let run_evictions = metrics.run_evictions.clone();
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
            identifier,
            runs: crate::context::runs::RunStore::new(
                cfg.context.run_ttl,
                cfg.context.max_runs,
                run_evictions,
            ),
            limiter: Default::default(),
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

    /// Handle one request arriving on the connection described by `down`.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        down: Arc<Downstream>,
    ) -> Response<ProxyBody> {
        // When the call arrived, for its span (only when spans are exported).
        let arrived = self.spans.as_ref().map(|_| std::time::SystemTime::now());
        let mut in_flight = Some(GaugeGuard::new(&self.metrics.in_flight));
        let mut audit = self
            .audit
            .as_ref()
            .map(|t| CallAudit::new(t.clone(), req.headers()));
        if !path_is_unambiguous(req.uri().path()) {
            let err = RequestError::AmbiguousPath.into();
            let resp = respond(&err, None, None);
            self.unrouted.inc(resp.status());
            let resp = self.close_audit(audit, resp, None, None, Some(&err)).await;
            return attach_guard(resp, in_flight);
        }
        let host = request_host(&req);
        let Some(route) = self.routes.find(host.as_deref(), req.uri().path()).cloned() else {
            tracing::debug!(?host, path = req.uri().path(), "no route");
            let err = RequestError::NoRoute.into();
            let resp = respond(&err, None, None);
            self.unrouted.inc(resp.status());
            let resp = self.close_audit(audit, resp, None, None, Some(&err)).await;
            return attach_guard(resp, in_flight);
        };
        let method = req.method().clone();
        let mut req = req;
        let who = match self
            .identifier
            .identify(req.headers_mut(), down.cert_caller.as_ref(), &route.auth)
            .await
        {
            Ok(who) => who,
            Err(e) => {
                tracing::info!(route = %route.name, peer = %down.peer, error = %e, "call refused: not authenticated");
                let err = RequestError::Unauthenticated(e).into();
                let mut resp = respond(&err, Some(route.protocol), None);
                if self.identifier.takes_bearer() {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Bearer realm=\"sec0-gateway\""),
                    );
                }
                self.route_metrics[route.index].requests.inc(resp.status());
                let resp = self
                    .close_audit(audit, resp, Some(&route), None, Some(&err))
                    .await;
                return attach_guard(resp, in_flight);
            }
        };
        let ctx = match CallContext::establish(req.headers(), &who, down.peer.ip(), &self.context) {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::info!(route = %route.name, error = %e, "call refused: context headers");
                let err = RequestError::BadContext(e).into();
                let resp = respond(&err, Some(route.protocol), None);
                self.route_metrics[route.index].requests.inc(resp.status());
                let resp = self
                    .close_audit(audit, resp, Some(&route), Some(&who.caller), Some(&err))
                    .await;
                return attach_guard(resp, in_flight);
            }
        };
        if let Some(a) = &mut audit {
            a.set_ids(CallIds {
                run_id: Some(ctx.run_id.clone()),
                hop_id: ctx.hop_id,
                parent_hop: ctx.parent_hop.clone(),
                trace_id: Some(ctx.trace_id.clone()),
            });
        }
        let (resp, err) = match self
            .forward(
                &route,
                req,
                host.as_deref(),
                &down,
                &mut in_flight,
                &mut Exchange {
                    audit: &mut audit,
                    who: &who,
                    ctx: &ctx,
                },
            )
            .await
        {
            Ok(resp) => (resp, None),
            Err((err, body)) => {
                self.log_failure(&route, &err);
                let id = body.as_deref().and_then(peek_id);
                (respond(&err, Some(route.protocol), id), Some(err))
            }
        };
        self.route_metrics[route.index].requests.inc(resp.status());
        let mut resp = resp;
        let decision_id = resp
            .extensions()
            .get::<DecisionTag>()
            .map(|d| d.decision_id.clone());
        ctx.to_client(resp.headers_mut(), decision_id.as_deref());
        let resp = match (&self.spans, arrived) {
            (Some(spans), Some(arrived)) => {
                let reason = err.as_ref().map(crate::error::reason_of);
                let span = HopSpan::of(&route, &ctx, &method, &resp, reason, arrived);
                spans.finish_with(span, resp)
            }
            _ => resp,
        };
        let resp = match err {
            Some(err) => {
                self.close_audit(audit, resp, Some(&route), Some(&who.caller), Some(&err))
                    .await
            }
            None => {
                if let Some(a) = &mut audit {
                    if !a.has_records() {
                        // No policy decided this call: it is recorded as allowed anyway.
                        a.failed(unpoliced_record(&route, &method, &who.caller))
                            .await;
                    }
                }
                self.close_audit(audit, resp, Some(&route), Some(&who.caller), None)
                    .await
            }
        };
        attach_guard(resp, in_flight)
    }

    /// Record an error answer (annotating the call's decisions, or as its own record when
    /// nothing was decided) and attach the audit to the answer.
    async fn close_audit(
        &self,
        audit: Option<CallAudit>,
        resp: Response<ProxyBody>,
        route: Option<&Route>,
        caller: Option<&Arc<str>>,
        err: Option<&GatewayError>,
    ) -> Response<ProxyBody> {
        let Some(mut a) = audit else {
            return resp;
        };
        if let Some(err) = err {
            let reason = crate::error::reason_of(err);
            if a.has_records() {
                a.failed_after_decision(reason, err.to_string());
            } else {
                let mut r = AuditRecord::error(
                    route.map(|r| r.name.as_str()),
                    resp.status().as_u16(),
                    reason,
                    err.to_string(),
                );
                r.caller = caller.cloned();
                if let Some(route) = route {
                    r.boundary = Some(route.boundary.as_str());
                    r.protocol = Some(route.protocol.as_str());
                    r.upstream = Some(Arc::from(route.upstream_name.as_str()));
                    if route.protocol.is_jsonrpc() {
                        r.jsonrpc_code = Some(crate::error::rpc_code_of(err));
                    }
                }
                a.failed(r).await;
            }
        }
        a.finish(resp)
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
        ex: &mut Exchange<'_>,
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
            self.jsonrpc_call(route, host, &mut parts, body, ex).await?
        } else {
            self.http_call(route, host, &mut parts, body, ex).await?
        };
        let mut sent = match prepared {
            Prepared::Answered(resp) => return Ok(resp),
            Prepared::Forward(out) => *out,
        };
        sent.stream_open = route.protocol == Protocol::Mcp && parts.method == Method::GET;

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
        ex.ctx
            .to_upstream(&mut parts.headers, sent.decision.as_ref());
        parts.uri = target;
        // The upstream connection decides the wire version; hyper refuses a mismatch.
        parts.version = Version::HTTP_11;

        let body = std::mem::replace(&mut sent.body, empty_body());
        let (resp, took) = match upstream.send(Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(e) => return Err((e.into(), sent.buffered)),
        };
        rm.upstream_latency.observe(took.as_secs_f64());
        if let Some(a) = ex.audit.as_mut() {
            a.upstream_took(took);
        }
        let tag = sent.decision.clone();
        let mut resp = self.answer(route, resp, sent, in_flight).await?;
        if let Some(tag) = tag {
            resp.extensions_mut().insert(tag);
        }
        Ok(resp)
    }

    /// The first rate limit whose bucket for this call is empty: its id and the wait.
    /// Buckets are shared by replicas when the store is (`Err`: it cannot be reached under
    /// `fail_closed`; `crate::error::limit_without_store` says how the call is refused).
    async fn rate_limited(
        &self,
        policy: &Policy,
        facts: &CallFacts<'_>,
        who: &Identity,
        ctx: &CallContext,
    ) -> Result<Option<(Arc<str>, Duration)>, crate::shared::StoreError> {
        for l in policy.limits_for(facts) {
            let key = match l.per {
                crate::policy::model::LimitKey::Caller => &*who.caller,
                crate::policy::model::LimitKey::Run => ctx.run_id.as_str(),
            };
            let bucket = format!("{}:{key}", l.id);
            let verdict = match self
                .reviews
                .store()
                .take_token(&bucket, l.rate, l.burst)
                .await?
            {
                Some(None) => Ok(()),
                Some(Some(wait)) => Err(wait),
                None => self.limiter.take(l, key),
            };
            if let Err(wait) = verdict {
                return Ok(Some((l.id.clone(), wait)));
            }
        }
        Ok(None)
    }

    /// Remember in the run what its forwarded messages did (tools, resources, labels):
    /// messages allowed, redacted, or escalated and approved (`answers`, one per message).
    fn record_run_steps(
        &self,
        route: &Route,
        run: &str,
        decided: &[(&crate::protocol::jsonrpc::Message, Decision)],
        answers: &[Option<crate::review::State>],
    ) {
        for (n, (msg, d)) in decided.iter().enumerate() {
            if passed(d, answers.get(n).copied().flatten()) {
                let call = crate::protocol::mcp::call_parts(msg);
                self.runs.record(
                    run,
                    &crate::context::runs::Step {
                        route: &route.name,
                        tool: call.tool,
                        resource: call.resource,
                        labels: &d.labels,
                    },
                );
            }
        }
    }

    /// Mark the run with what became of its messages: refused (denied or rejected), or
    /// sensitive data handled by a message that went on (`sensitive`, one per message).
    fn mark_run_outcomes(
        &self,
        run: &str,
        decided: &[(&crate::protocol::jsonrpc::Message, Decision)],
        answers: &[Option<crate::review::State>],
        sensitive: &[bool],
    ) {
        for (n, (_, d)) in decided.iter().enumerate() {
            let answer = answers.get(n).copied().flatten();
            let refused = d.decision == crate::policy::DecisionKind::Deny
                || answer == Some(crate::review::State::Rejected);
            let handled = passed(d, answer) && sensitive.get(n).copied().unwrap_or(false);
            self.mark_run(run, refused, handled);
        }
    }

    /// Decide one call, counting and timing the decision. An escalated call is looked at
    /// by learning (its features, and whether a precedent or a deferred approval answers
    /// it); what learning made of it comes back for the escalation.
    async fn decide(
        &self,
        policy: &Policy,
        route: &Route,
        facts: &CallFacts<'_>,
        audit: &mut Option<CallAudit>,
        run: &str,
    ) -> (Decision, Option<review::Learned>) {
        let started = std::time::Instant::now();
        let mut d = policy.decide(facts);
        let mut learned = None;
        if d.decision == crate::policy::DecisionKind::Escalate {
            let mut l = self.learned(policy, route, facts, run);
            let approval = facts
                .headers
                .get("x-sec0-approval")
                .and_then(|v| v.to_str().ok());
            let grant = self
                .reviews
                .take_grant(facts.caller, run, &l.features.exact().id, approval)
                .await;
            if let Some(grant) = grant {
                // A deferred escalation of this very call was approved: allowed once.
                d = policy.fixed_decision(crate::policy::DecisionKind::Allow, "approved", &grant);
            } else if let Some(o) = self.precedents.decide(&l.features, l.strict, started) {
                d = self.apply_precedent(policy, d, &o, &mut l);
            }
            learned = Some(l);
        }
        let took = started.elapsed();
        self.metrics.policy_eval.observe(took.as_secs_f64());
        self.metrics.record_decision(&route.name, facts, &d);
        if let Some(a) = audit {
            a.policy_took(took);
        }
        (d, learned)
    }

    /// Record a decision in the audit trail (its record is completed when the answer ends).
    /// Under `fail_closed` a record that cannot be queued refuses the call; under `block`
    /// this waits for room.
    async fn audit_decision(
        &self,
        audit: &mut Option<CallAudit>,
        route: &Route,
        facts: &CallFacts<'_>,
        d: &Decision,
        refused_code: Option<i64>,
    ) -> Result<(), GatewayError> {
        let Some(a) = audit else {
            return Ok(());
        };
        let mut record = AuditRecord::decision(&route.name, facts, d);
        record.jsonrpc_code = refused_code;
        if d.decision == crate::policy::DecisionKind::Escalate {
            record.escalation = Some(crate::audit::record::Escalation {
                id: d.decision_id.clone(),
                outcome: self.escalation.on_timeout.as_str(),
                state: "expired",
            });
        }
        match a.decided(record).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(route = %route.name, error = %e, "audit record not queued");
                Err(RequestError::AuditUnavailable.into())
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

/// Whether a message decided `d` (answered `answer` if escalated) goes on upstream.
fn passed(d: &Decision, answer: Option<crate::review::State>) -> bool {
    use crate::policy::DecisionKind as K;
    match d.decision {
        K::Allow | K::Redact => true,
        K::Escalate => answer == Some(crate::review::State::Approved),
        K::Deny => false,
    }
}

/// The record of a call forwarded without a policy (nothing decided it).
fn unpoliced_record(route: &Route, method: &Method, caller: &Arc<str>) -> AuditRecord {
    AuditRecord {
        boundary: Some(route.boundary.as_str()),
        caller: Some(caller.clone()),
        decision: Some("allow"),
        enforced: Some("allow"),
        method: Some(method.as_str().to_owned()),
        mode: Some("enforce"),
        protocol: Some(route.protocol.as_str()),
        reason: Some(Arc::from("no_policy")),
        route: Some(Arc::from(route.name.as_str())),
        upstream: Some(Arc::from(route.upstream_name.as_str())),
        ..AuditRecord::new("decision")
    }
}

/// One call's own state on its way through the forward step.
pub(super) struct Exchange<'a> {
    /// Its audit (records completed when the answer ends).
    pub audit: &'a mut Option<CallAudit>,
    /// Its verified caller.
    pub who: &'a Identity,
    /// Its run and trace context.
    pub ctx: &'a CallContext,
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

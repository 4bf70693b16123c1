//! The proxy service: one request's path through the gateway.
//!
//! accept (path sanity) → route → read the body (buffered and capped on JSON-RPC routes,
//! streamed and capped elsewhere) → forward → stream the response back. Every answer the
//! gateway writes itself goes through [`crate::error::respond`].

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Version, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use ipnet::IpNet;

use arc_swap::ArcSwap;

use crate::act::{self, Action, PartialBatch};
use crate::config::{CompressedRequests, Config, EscalationConfig, Protocol};
use crate::error::{GatewayError, RequestError, respond};
use crate::forward::body::BoxError;
use crate::forward::body::{GaugeGuard, GuardedBody, ProxyBody};
use crate::forward::headers::{
    Downstream, is_event_stream, prepare_upstream_request, strip_hop_by_hop,
};
use crate::forward::{ForwardError, Upstream, UpstreamSetupError};
use crate::inspect::batch::{self, RefusalEvents};
use crate::inspect::legacy_sse::{LegacySessions, LegacyTap, session_from_query};
use crate::inspect::{MAX_INSPECTED, SseEvents, SseToolsList, ToolsListFilter};
use crate::metrics::{Metrics, RouteMetrics, StatusCounters};
use crate::policy::{CallFacts, Decision, DecisionKind, Policy};
use crate::protocol::Envelope;
use crate::protocol::a2a::{message_text, method_alias};
use crate::protocol::encoding::{Coding, decode};
use crate::protocol::json::DEFAULT_MAX_DEPTH;
use crate::protocol::json::parse_strict;
use crate::protocol::jsonrpc::{parse_envelope, peek_id, select_batch};
use crate::protocol::mcp::call_parts;
use crate::protocol::mcp::check_mirrored_headers;
use crate::protocol::{ProtocolError, body_codings, check_json_request_headers, declares_json};
use crate::routing::{Route, RouteTable, path_is_unambiguous, request_host};

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
}

impl ProxyState {
    /// Compile routes and build one pooled client per upstream.
    pub fn new(
        cfg: &Config,
        metrics: Metrics,
        policy: Option<Arc<ArcSwap<Policy>>>,
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
            let resp = respond(&RequestError::AmbiguousPath.into(), None, None);
            return self.finish_unrouted(resp, in_flight);
        }
        let host = request_host(&req);
        let Some(route) = self.routes.find(host.as_deref(), req.uri().path()).cloned() else {
            tracing::debug!(?host, path = req.uri().path(), "no route");
            let resp = respond(&RequestError::NoRoute.into(), None, None);
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
                respond(&err, Some(route.protocol), id)
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
    ) -> Result<Response<ProxyBody>, (GatewayError, Option<Bytes>)> {
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
        let inspect = route.protocol.is_jsonrpc() && parts.method == Method::POST;
        let stream_open = route.protocol == Protocol::Mcp && parts.method == Method::GET;
        let mut tools_filter: Option<ToolsListFilter> = None;
        let mut partial: Option<PartialBatch> = None;
        let codings = if inspect {
            match check_json_request_headers(&parts.headers, self.compressed) {
                Ok(c) => c,
                Err(e) => return Err((e.into(), None)),
            }
        } else {
            Vec::new()
        };
        let guarded = GuardedBody::new(body)
            .limit(route.max_request_body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_in.clone());
        // JSON-RPC calls are small and must be read whole to be understood; everything
        // else (uploads, egress bodies) streams through under the same cap.
        let (body, buffered) = if inspect {
            let bytes = self
                .read_body(guarded, &codings, route, &mut parts.headers)
                .await?;
            // Parse once, strictly; what could be read two ways never reaches the upstream.
            // The envelope is what the decision step will look at.
            let envelope = match parse_envelope(&bytes, DEFAULT_MAX_DEPTH) {
                Ok(e) => e,
                Err(e) => return Err((ProtocolError::from(e).into(), Some(bytes))),
            };
            if route.protocol == Protocol::Mcp {
                let single = (!envelope.batch).then(|| &envelope.messages[0]);
                if let Err(e) = check_mirrored_headers(&parts.headers, single) {
                    return Err((e.into(), Some(bytes)));
                }
            }
            tracing::debug!(
                route = %route.name,
                messages = envelope.messages.len(),
                method = envelope.messages.first().and_then(|m| m.method()).unwrap_or("-"),
                "call"
            );
            if let Some(policy) = &self.policy {
                let policy = policy.load();
                let mut decided = Vec::with_capacity(envelope.messages.len());
                for msg in &envelope.messages {
                    let call = call_parts(msg);
                    if route.protocol == Protocol::Mcp
                        && call.method == Some("tools/call")
                        && call.tool.is_none()
                    {
                        let e = ProtocolError::Mcp("tools/call needs a string params.name".into());
                        return Err((e.into(), Some(bytes)));
                    }
                    let a2a = route.protocol == Protocol::A2a;
                    let text = if a2a { message_text(msg) } else { None };
                    let facts = CallFacts {
                        method: call.method,
                        method_alias: call.method.filter(|_| a2a).and_then(method_alias),
                        tool: call.tool,
                        resource: call.resource,
                        agent: route.agent.as_deref(),
                        text: text.as_deref(),
                        host,
                        path: parts.uri.path(),
                        query: parts.uri.query(),
                        headers: &parts.headers,
                        args: call.args,
                        ..route.facts()
                    };
                    decided.push((msg, self.decide(&policy, route, &facts)));
                }
                match act::on_jsonrpc(&decided, envelope.batch, &self.escalation).await {
                    Action::Forward => {}
                    Action::ForwardPart(part) => partial = Some(part),
                    Action::Answer(resp) => return Ok(resp),
                    Action::Refused(answer) => {
                        return Ok(self.deliver_refusal(
                            route,
                            parts.uri.query(),
                            envelope.batch,
                            &answer,
                        ));
                    }
                }
                tools_filter = self.tools_list_filter(&policy, route, &envelope);
            }
            let bytes = match &partial {
                // Only the allowed elements go on, each byte for byte.
                Some(part) => match select_batch(&bytes, &part.keep) {
                    Some(b) => {
                        let b = Bytes::from(b);
                        parts.headers.insert(header::CONTENT_LENGTH, b.len().into());
                        b
                    }
                    None => {
                        let e = ProtocolError::Mcp("batch could not be split".into());
                        return Err((e.into(), None));
                    }
                },
                None => bytes,
            };
            let body = Full::new(bytes.clone())
                .map_err(|never| match never {})
                .boxed_unsync();
            (body, Some(bytes))
        } else {
            let policy = self.policy.as_ref().map(|p| p.load_full());
            // A JSON body is read (capped, strictly parsed) only when a rule looks at it.
            let read_json = route.protocol == Protocol::Http
                && policy.as_ref().is_some_and(|p| p.reads_http_body())
                && declares_json(&parts.headers)
                && may_have_body(&parts.headers);
            let (body, json) = if read_json {
                let codings = match body_codings(&parts.headers, self.compressed) {
                    Ok(c) => c,
                    Err(e) => return Err((e.into(), None)),
                };
                let bytes = self
                    .read_body(guarded, &codings, route, &mut parts.headers)
                    .await?;
                let json = if bytes.is_empty() {
                    None
                } else {
                    match parse_strict(&bytes, DEFAULT_MAX_DEPTH) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            let e = ProtocolError::Envelope(e.into());
                            return Err((e.into(), None));
                        }
                    }
                };
                let body = Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed_unsync();
                (body, json)
            } else {
                (guarded.boxed_unsync(), None)
            };
            if let Some(policy) = &policy {
                let facts = CallFacts {
                    method: Some(parts.method.as_str()),
                    host,
                    path: parts.uri.path(),
                    query: parts.uri.query(),
                    headers: &parts.headers,
                    args: json.as_ref(),
                    ..route.facts()
                };
                let decision = self.decide(policy, route, &facts);
                if let Some(refusal) = act::on_http(&decision, &self.escalation).await {
                    return Ok(refusal);
                }
            }
            // Not a JSON-RPC body: no id to echo on errors.
            (body, None)
        };

        let client_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let path = route.upstream_path(parts.uri.path());
        let target = match upstream.target(&path, parts.uri.query()) {
            Ok(t) => t,
            Err(e) => return Err((e.into(), buffered)),
        };
        prepare_upstream_request(&mut parts.headers, down, client_host, upstream.host_rule());
        parts.uri = target;
        // The upstream connection decides the wire version; hyper refuses a mismatch.
        parts.version = Version::HTTP_11;

        let (resp, took) = match upstream.send(Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(e) => return Err((e.into(), buffered)),
        };
        rm.upstream_latency.observe(took.as_secs_f64());

        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        parts.version = Version::HTTP_11;
        if let Some(part) = &partial {
            return self.merge_batch_answer(route, parts, body, part).await;
        }
        let body: ProxyBody = match tools_filter {
            Some(f) if parts.status == http::StatusCode::OK => {
                if is_event_stream(&parts.headers) {
                    // The rewritten stream's length differs from the upstream's.
                    parts.headers.remove(header::CONTENT_LENGTH);
                    SseToolsList::new(body, f).boxed_unsync()
                } else {
                    let read = GuardedBody::new(body)
                        .limit(MAX_INSPECTED as u64)
                        .idle_timeout(self.idle_timeout)
                        .collect()
                        .await;
                    match read {
                        Ok(c) => {
                            parts.headers.remove(header::CONTENT_LENGTH);
                            Full::new(f.apply_to_json(c.to_bytes()))
                                .map_err(|never| match never {})
                                .boxed_unsync()
                        }
                        Err(e) => {
                            let err = ForwardError::Upstream {
                                upstream: route.upstream_name.clone(),
                                detail: format!("tools/list answer unreadable: {e}"),
                            };
                            return Err((err.into(), buffered));
                        }
                    }
                }
            }
            _ if stream_open && is_event_stream(&parts.headers) => {
                SseEvents::new(body, LegacyTap::new(self.legacy.clone(), route.upstream))
                    .boxed_unsync()
            }
            _ => body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync(),
        };
        let mut out = GuardedBody::new(body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_out.clone());
        if is_event_stream(&parts.headers) {
            out = out.guard(GaugeGuard::new(&self.metrics.open_sse_streams));
        }
        if let Some(g) = in_flight.take() {
            out = out.guard(g);
        }
        Ok(Response::from_parts(parts, out.boxed_unsync()))
    }

    /// Read a body the gateway inspects: whole, under the route's cap, decoded when it is
    /// compressed (the decoded bytes are what is inspected and forwarded, so the headers
    /// then describe them).
    async fn read_body(
        &self,
        guarded: GuardedBody<Incoming>,
        codings: &[Coding],
        route: &Route,
        headers: &mut http::HeaderMap,
    ) -> Result<Bytes, (GatewayError, Option<Bytes>)> {
        let bytes = match guarded.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => return Err((ForwardError::from_request_body(&*e).into(), None)),
        };
        if codings.is_empty() {
            return Ok(bytes);
        }
        let decoded =
            decode(bytes, codings, route.max_request_body).map_err(|e| (e.into(), None))?;
        headers.remove(header::CONTENT_ENCODING);
        headers.insert(header::CONTENT_LENGTH, decoded.len().into());
        Ok(decoded)
    }

    /// Answer a partly forwarded batch: the upstream's answer completed with the gateway's
    /// refusals (see [`crate::inspect::batch`]).
    async fn merge_batch_answer(
        &self,
        route: &Route,
        mut parts: http::response::Parts,
        body: Incoming,
        part: &PartialBatch,
    ) -> Result<Response<ProxyBody>, (GatewayError, Option<Bytes>)> {
        let rm = &self.route_metrics[route.index];
        let status = parts.status;
        let body: ProxyBody = if status == http::StatusCode::ACCEPTED
            || status == http::StatusCode::NO_CONTENT
        {
            return Ok(Action::refused_response(&serde_json::Value::Array(
                part.refusals.clone(),
            )));
        } else if !status.is_success() {
            tracing::warn!(route = %route.name, %status, refused = part.refusals.len(),
                "upstream refused the forwarded part of a batch; its answer is passed on without the gateway's refusals");
            body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync()
        } else if is_event_stream(&parts.headers) {
            parts.headers.remove(header::CONTENT_LENGTH);
            SseEvents::new(body, RefusalEvents::new(part)).boxed_unsync()
        } else {
            let read = GuardedBody::new(body)
                .limit(MAX_INSPECTED as u64)
                .idle_timeout(self.idle_timeout)
                .collect()
                .await;
            let upstream = match read {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    let err = ForwardError::Upstream {
                        upstream: route.upstream_name.clone(),
                        detail: format!("batch answer unreadable: {e}"),
                    };
                    return Err((err.into(), None));
                }
            };
            let merged = match batch::merge_json(&upstream, part) {
                Some(m) => Bytes::from(m),
                None => {
                    tracing::warn!(route = %route.name, "upstream's batch answer is not JSON; passed on without the gateway's refusals");
                    upstream
                }
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            Full::new(merged)
                .map_err(|never| match never {})
                .boxed_unsync()
        };
        let out = GuardedBody::new(body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_out.clone());
        Ok(Response::from_parts(parts, out.boxed_unsync()))
    }

    /// Deliver a JSON-RPC refusal: on a live legacy HTTP+SSE session (the POST names it in
    /// its query) as an event on the session's stream, with 202 for the POST as a legacy
    /// server answers; otherwise as the POST's own HTTP 200 answer.
    fn deliver_refusal(
        &self,
        route: &Route,
        query: Option<&str>,
        batch: bool,
        answer: &serde_json::Value,
    ) -> Response<ProxyBody> {
        if route.protocol == Protocol::Mcp && !batch {
            if let Some(session) = query.and_then(session_from_query) {
                let event = Bytes::from(format!("event: message\ndata: {answer}\n\n"));
                if self.legacy.inject(route.upstream, session, event) {
                    return crate::error::accepted();
                }
            }
        }
        Action::refused_response(answer)
    }

    /// A filter for the answer when the body is a single `tools/list` request and some rule
    /// could hide a tool from this caller on this route.
    fn tools_list_filter(
        &self,
        policy: &Arc<Policy>,
        route: &Route,
        envelope: &Envelope,
    ) -> Option<ToolsListFilter> {
        if envelope.batch || route.protocol != Protocol::Mcp {
            return None;
        }
        let msg = envelope.messages.first()?;
        if msg.method() != Some("tools/list") || !policy.may_hide_tools() {
            return None;
        }
        let snapshot = policy.clone();
        let (boundary, protocol) = (route.boundary, route.protocol);
        let (route_name, upstream_name) = (route.name.clone(), route.upstream_name.clone());
        let hide = move |tool: &str| {
            snapshot.never_callable(&CallFacts {
                method: Some("tools/call"),
                tool: Some(tool),
                ..CallFacts::on_route(boundary, &route_name, &upstream_name, protocol)
            })
        };
        Some(ToolsListFilter {
            id: msg.value.get("id")?.clone(),
            hide: Arc::new(hide),
            hidden: self.metrics.tools_hidden.with_label_values(&[&route.name]),
        })
    }

    /// Decide one call, counting and timing the decision.
    fn decide(&self, policy: &Policy, route: &Route, facts: &CallFacts<'_>) -> Decision {
        let started = std::time::Instant::now();
        let d = policy.decide(facts);
        self.metrics
            .policy_eval
            .observe(started.elapsed().as_secs_f64());
        let shown = if d.mode == crate::policy::Mode::Observe {
            d.would_be
        } else {
            d.decision
        };
        self.metrics
            .decisions
            .with_label_values(&[
                shown.as_str(),
                route.boundary.as_str(),
                &route.name,
                &d.reason,
                d.mode.as_str(),
            ])
            .inc();
        if shown != DecisionKind::Allow {
            tracing::info!(
                route = %route.name,
                method = facts.method.unwrap_or("-"),
                tool = facts.tool.unwrap_or("-"),
                decision = shown.as_str(),
                mode = d.mode.as_str(),
                reason = %d.reason,
                rules = ?d.rules,
                decision_id = %d.decision_id,
                "policy decision"
            );
        }
        d
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// Keep the in-flight guard alive until the response body ends (when the success path did
/// not already attach it).
fn attach_guard(resp: Response<ProxyBody>, guard: Option<GaugeGuard>) -> Response<ProxyBody> {
    match guard {
        Some(g) => resp.map(|b| GuardedBody::new(b).guard(g).boxed_unsync()),
        None => resp,
    }
}

/// Whether the request head announces a body (a length above zero, or chunked).
fn may_have_body(headers: &http::HeaderMap) -> bool {
    declared_length(headers).is_none_or(|n| n > 0)
}

fn declared_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

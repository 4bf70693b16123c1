//! Phase 6, respond: what the client gets back. The upstream's answer streams through
//! unchanged unless something must be inspected: the response guard scans results and
//! events, a `tools/list` result loses tools the caller can never call, a partly forwarded
//! batch gets the gateway's refusals merged in, and a legacy HTTP+SSE stream is tapped so
//! refusals (and filtered lists) can be delivered on it. Refusals the gateway writes itself
//! on such a stream are delivered here too.

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::act::AnswerPlan;
use super::state::{Admitted, CallState};
use super::{ProxyState, full};
use crate::act::{Action, PartialBatch};
use crate::config::Protocol;
use crate::error::GatewayError;
use crate::forward::ForwardError;
use crate::forward::body::{BoxError, GaugeGuard, GuardedBody, ProxyBody};
use crate::forward::headers::is_event_stream;
use crate::inspect::batch::{self, RefusalEvents};
use crate::inspect::guarded::ResponseGuard;
use crate::inspect::legacy_sse::{LegacyTap, session_from_query};
use crate::inspect::{MAX_INSPECTED, SseEvents, SseToolsList, ToolsListFilter};
use crate::policy::{CallFacts, Policy};
use crate::protocol::Envelope;
use crate::routing::Route;

/// Whether the answer says it is JSON (`application/json` or `+json`).
fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let essence = ct.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json")
                || essence.to_ascii_lowercase().ends_with("+json")
        })
}

impl ProxyState {
    /// The client's response for the upstream's answer `upstream` to the call.
    pub(super) async fn respond(
        &self,
        call: &mut CallState,
        a: &Admitted,
        upstream: Response<Incoming>,
        mut plan: AnswerPlan,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let route = &a.route;
        let rm = &self.route_metrics[route.index];
        let (mut parts, body) = upstream.into_parts();
        crate::forward::headers::strip_hop_by_hop(&mut parts.headers);
        parts.version = http::Version::HTTP_11;
        if let Some(part) = &plan.partial {
            let resp = self
                .merge_batch_answer(route, parts, body, part, plan.response_guard)
                .await;
            // The body sent upstream was the allowed part: errors no longer echo the ids.
            call.buffered = None;
            return resp.map(|r| tagged_answer(r, call));
        }
        let body: ProxyBody = match (plan.response_guard.take(), plan.tools_filter.take()) {
            (Some(g), _) if parts.status.is_success() => {
                if is_event_stream(&parts.headers) {
                    parts.headers.remove(header::CONTENT_LENGTH);
                    SseEvents::new(body, g).boxed_unsync()
                } else if is_json(&parts.headers) {
                    let whole = self.read_answer(route, body, "inspected").await?;
                    parts.headers.remove(header::CONTENT_LENGTH);
                    g.prefetch(&whole).await;
                    full(g.apply_to_json(whole))
                } else {
                    body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync()
                }
            }
            (_, tools_filter) => {
                self.plain_answer(
                    route,
                    &mut parts,
                    body,
                    tools_filter,
                    &a.who.caller,
                    plan.stream_open,
                )
                .await?
            }
        };
        let mut out = GuardedBody::new(body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_out.clone());
        if is_event_stream(&parts.headers) {
            out = out.guard(GaugeGuard::new(&self.metrics.open_sse_streams));
        }
        if let Some(g) = call.in_flight.take() {
            out = out.guard(g);
        }
        Ok(tagged_answer(
            Response::from_parts(parts, out.boxed_unsync()),
            call,
        ))
    }

    /// An answer without the guard: the `tools/list` filter, the legacy stream tap, or
    /// nothing at all.
    async fn plain_answer(
        &self,
        route: &Route,
        parts: &mut http::response::Parts,
        body: Incoming,
        tools_filter: Option<ToolsListFilter>,
        caller: &Arc<str>,
        stream_open: bool,
    ) -> Result<ProxyBody, GatewayError> {
        Ok(match tools_filter {
            Some(f) if parts.status == StatusCode::OK => {
                if is_event_stream(&parts.headers) {
                    // The rewritten stream's length differs from the upstream's.
                    parts.headers.remove(header::CONTENT_LENGTH);
                    SseToolsList::new(body, f).boxed_unsync()
                } else {
                    let whole = self.read_answer(route, body, "tools/list").await?;
                    parts.headers.remove(header::CONTENT_LENGTH);
                    full(f.apply_to_json(whole))
                }
            }
            _ if stream_open && is_event_stream(&parts.headers) => {
                // A GET stream may be a legacy HTTP+SSE session: answers to its POSTs arrive
                // here, so the tap guards them (with the policy of the moment it opened).
                let guard = self
                    .policy
                    .as_ref()
                    .map(|p| p.load_full())
                    .map(|p| self.guard_for(p, route, Vec::new(), caller.clone()));
                let tap = LegacyTap::new(self.legacy.clone(), route.upstream).with_guard(guard);
                SseEvents::new(body, tap).boxed_unsync()
            }
            _ => body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync(),
        })
    }

    /// Read a whole JSON answer that must be inspected (capped, with the idle timeout).
    async fn read_answer(
        &self,
        route: &Route,
        body: Incoming,
        what: &str,
    ) -> Result<Bytes, GatewayError> {
        let read = GuardedBody::new(body)
            .limit(MAX_INSPECTED as u64)
            .idle_timeout(self.idle_timeout)
            .collect()
            .await;
        read.map(|c| c.to_bytes()).map_err(|e| {
            ForwardError::Upstream {
                upstream: route.upstream_name.clone(),
                detail: format!("{what} answer unreadable: {e}"),
            }
            .into()
        })
    }

    /// Answer a partly forwarded batch: the upstream's answer completed with the gateway's
    /// refusals (see [`crate::inspect::batch`]).
    async fn merge_batch_answer(
        &self,
        route: &Route,
        mut parts: http::response::Parts,
        body: Incoming,
        part: &PartialBatch,
        guard: Option<ResponseGuard>,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let rm = &self.route_metrics[route.index];
        let status = parts.status;
        let body: ProxyBody = if status == StatusCode::ACCEPTED || status == StatusCode::NO_CONTENT
        {
            let refusals = serde_json::Value::Array(part.refusals.clone());
            return Ok(Action::refused_response(&refusals));
        } else if !status.is_success() {
            tracing::warn!(route = %route.name, %status, refused = part.refusals.len(),
                "upstream refused the forwarded part of a batch; its answer is passed on without the gateway's refusals");
            body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync()
        } else if is_event_stream(&parts.headers) {
            parts.headers.remove(header::CONTENT_LENGTH);
            match guard {
                Some(mut g) => {
                    g.injected = batch::refusal_events(part);
                    SseEvents::new(body, g).boxed_unsync()
                }
                None => SseEvents::new(body, RefusalEvents::new(part)).boxed_unsync(),
            }
        } else {
            let upstream = self.read_answer(route, body, "batch").await?;
            let merged = match batch::merge_json(&upstream, part) {
                Some(m) => Bytes::from(m),
                None => {
                    tracing::warn!(route = %route.name, "upstream's batch answer is not JSON; passed on without the gateway's refusals");
                    upstream
                }
            };
            let merged = match guard {
                Some(g) => {
                    g.prefetch(&merged).await;
                    g.apply_to_json(merged)
                }
                None => merged,
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            full(merged)
        };
        let out = GuardedBody::new(body)
            .idle_timeout(self.idle_timeout)
            .count_into(rm.bytes_out.clone());
        Ok(Response::from_parts(parts, out.boxed_unsync()))
    }

    /// Deliver a JSON-RPC refusal: on a live legacy HTTP+SSE session (the POST names it in
    /// its query) as an event on the session's stream, with 202 for the POST as a legacy
    /// server answers; otherwise as the POST's own HTTP 200 answer.
    pub(super) fn deliver_refusal(
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
    pub(super) fn tools_list_filter(
        &self,
        policy: &Arc<Policy>,
        route: &Route,
        envelope: &Envelope,
        caller: Arc<str>,
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
                caller: &caller,
                ..CallFacts::on_route(boundary, &route_name, &upstream_name, protocol)
            })
        };
        Some(ToolsListFilter {
            id: msg.value.get("id")?.clone(),
            hide: Arc::new(hide),
            hidden: self.metrics.tools_hidden.with_label_values(&[&route.name]),
        })
    }
}

/// The upstream's answer with the call's decision attached (for the client's
/// `x-sec0-decision-id`).
fn tagged_answer(mut resp: Response<ProxyBody>, call: &CallState) -> Response<ProxyBody> {
    if let Some(tag) = &call.decision {
        resp.extensions_mut().insert(tag.clone());
    }
    resp
}

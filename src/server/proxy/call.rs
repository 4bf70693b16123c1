//! The request side of a call: read what must be inspected, classify it, decide, act.
//!
//! JSON-RPC POSTs (mcp, jsonrpc, a2a routes) are read whole under the route's cap, decoded
//! if compressed and allowed, parsed strictly into an envelope, checked against mirrored
//! headers (MCP 2026-07-28), and decided message by message. Everything else streams, unless
//! a rule reads JSON bodies on plain HTTP routes: then a declared-JSON body is read and
//! parsed the same strict way.

use bytes::Bytes;
use http::header;
use http::request::Parts;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Failure, ProxyState, full};
use crate::act::{self, Action, PartialBatch};
use crate::config::Protocol;
use crate::forward::ForwardError;
use crate::forward::body::{GuardedBody, ProxyBody};
use std::sync::Arc;

use super::Exchange;
use crate::context::DecisionTag;
use crate::guard::{Direction, Finding, Located, redact_json};
use crate::inspect::ToolsListFilter;
use crate::inspect::guarded::{Asked, ResponseGuard, RouteInfo};
use crate::inspect::legacy_sse::session_from_query;
use crate::policy::CallFacts;
use crate::policy::RecordDecision;
use crate::policy::{Decision, DecisionKind as Kind};
use crate::policy::{DecisionKind, Policy};
use crate::protocol::Envelope;
use crate::protocol::a2a::{message_text, method_alias};
use crate::protocol::encoding::{Coding, decode};
use crate::protocol::json::{DEFAULT_MAX_DEPTH, parse_strict};
use crate::protocol::jsonrpc::MessageKind;
use crate::protocol::jsonrpc::{message_slices, parse_envelope, select_batch};
use crate::protocol::mcp::{call_parts, check_mirrored_headers};
use crate::protocol::{ProtocolError, body_codings, check_json_request_headers, declares_json};
use crate::routing::Route;

/// The decision a call carries upstream and to the client: the most severe of its
/// messages' decisions (what was enforced).
fn call_decision<'d>(decisions: impl Iterator<Item = &'d Decision>) -> Option<DecisionTag> {
    let severity = |k: Kind| match k {
        Kind::Deny => 3,
        Kind::Escalate => 2,
        Kind::Redact => 1,
        Kind::Allow => 0,
    };
    decisions
        .max_by_key(|d| severity(d.decision))
        .map(|d| DecisionTag {
            decision: d.decision.as_str(),
            decision_id: d.decision_id.clone(),
            policy_version: d.policy_version.clone(),
        })
}

/// `resp` with `Retry-After` when a rate limit refused part of it.
fn with_retry_after(
    mut resp: http::Response<ProxyBody>,
    wait: Option<std::time::Duration>,
) -> http::Response<ProxyBody> {
    if let Some(w) = wait {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, retry_secs(w).into());
    }
    resp
}

fn retry_secs(w: std::time::Duration) -> u64 {
    w.as_secs() + u64::from(w.subsec_nanos() > 0)
}

/// The 429 answer of a plain HTTP call beyond a rate limit.
fn too_many(d: &Decision, wait: std::time::Duration) -> http::Response<ProxyBody> {
    let body = serde_json::json!({"error": {
        "status": 429,
        "reason": "rate_limited",
        "message": "too many calls; retry later",
        "rules": d.rules,
        "decision_id": d.decision_id,
        "retry_after": retry_secs(wait),
    }});
    let resp = crate::error::json_response(
        http::StatusCode::TOO_MANY_REQUESTS,
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    with_retry_after(resp, Some(wait))
}

/// `resp` with the call's decision attached (for the client's `x-sec0-decision-id`).
fn tagged(
    mut resp: http::Response<ProxyBody>,
    tag: &Option<DecisionTag>,
) -> http::Response<ProxyBody> {
    if let Some(t) = tag {
        resp.extensions_mut().insert(t.clone());
    }
    resp
}

/// The JSON-RPC error code a request gets when `d` refuses it (none when it goes on).
fn refusal_code(d: &Decision, on_timeout: Kind) -> Option<i64> {
    match (d.decision, on_timeout) {
        (Kind::Deny, _) => Some(crate::error::CODE_DENIED),
        (Kind::Escalate, Kind::Deny) => Some(crate::error::CODE_ESCALATION_TIMEOUT),
        _ => None,
    }
}

/// What the request side hands to the forward step.
pub(super) enum Prepared {
    /// The gateway answered the call itself (refusal, dropped notification).
    Answered(http::Response<ProxyBody>),
    /// Send this on.
    Forward(Box<Outgoing>),
}

/// A call on its way to the upstream.
pub(super) struct Outgoing {
    /// The body to send.
    pub body: ProxyBody,
    /// The buffered JSON-RPC body (to echo its id on errors).
    pub buffered: Option<Bytes>,
    /// Filter for a `tools/list` answer.
    pub tools_filter: Option<ToolsListFilter>,
    /// The refused part of a batch, to merge into the answer.
    pub partial: Option<PartialBatch>,
    /// The guard for the answer (response-direction rules, tool descriptors).
    pub response_guard: Option<ResponseGuard>,
    /// The verified caller (for guards set up when the answer arrives).
    pub caller: Arc<str>,
    /// An MCP GET: the answer may be a legacy HTTP+SSE session stream.
    pub stream_open: bool,
    /// The call's decision, sent upstream in `x-sec0-decision*` headers.
    pub decision: Option<DecisionTag>,
}

impl ProxyState {
    /// A JSON-RPC POST: read, classify, decide, act.
    pub(super) async fn jsonrpc_call(
        &self,
        route: &Route,
        host: Option<&str>,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
        ex: &mut Exchange<'_>,
    ) -> Result<Prepared, Failure> {
        let (audit, who, ctx) = (&mut *ex.audit, ex.who, ex.ctx);
        let codings = check_json_request_headers(&parts.headers, self.compressed)
            .map_err(|e| (e.into(), None))?;
        let bytes = self
            .read_body(body, &codings, route, &mut parts.headers)
            .await?;
        if let Some(a) = audit {
            a.request_body(&bytes);
        }
        // Parse once, strictly; what could be read two ways never reaches the upstream.
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
        let mut out = Outgoing {
            body: full(bytes.clone()),
            buffered: Some(bytes),
            tools_filter: None,
            partial: None,
            response_guard: None,
            caller: who.caller.clone(),
            stream_open: false,
            decision: None,
        };
        let Some(policy) = &self.policy else {
            return Ok(Prepared::Forward(Box::new(out)));
        };
        let policy = policy.load();
        let a2a = route.protocol == Protocol::A2a;
        // HTTP classifiers (custom detectors), when declared, answer before the scan reads them.
        if policy.scans(Direction::Request) {
            let whole = out.buffered.as_deref().unwrap_or_default();
            crate::guard::classifier::prefetch(policy.guard(), whole).await;
        }
        // What the guard finds in each message, when some rule looks at request findings.
        let scanned: Vec<Vec<Located>> = if policy.scans(Direction::Request) {
            let whole = out.buffered.as_deref().unwrap_or_default();
            let slices = message_slices(whole, envelope.batch).unwrap_or_default();
            slices
                .into_iter()
                .map(|(offset, msg)| {
                    let mut found = policy.guard().scan_json(msg);
                    for l in &mut found {
                        l.raw = l.raw.start + offset..l.raw.end + offset;
                    }
                    found
                })
                .collect()
        } else {
            Vec::new()
        };
        // Only looked up when some descriptor is withheld (rug pull): the usual path pays nothing.
        let session = if self.descriptors.has_changes() {
            session_of(parts)
        } else {
            None
        };
        // The run's history, when some rule reads it.
        let history = policy.reads_runs().then(|| self.runs.history(&ctx.run_id));
        let mut retry_after: Option<std::time::Duration> = None;
        let mut to_redact: Vec<&Located> = Vec::new();
        let mut decided = Vec::with_capacity(envelope.messages.len());
        let mut escalations = Vec::with_capacity(envelope.messages.len());
        // Per message: whether it handles something sensitive (marks its run).
        let mut sensitive: Vec<bool> = Vec::with_capacity(envelope.messages.len());
        for (n, msg) in envelope.messages.iter().enumerate() {
            let located = scanned.get(n).map(Vec::as_slice).unwrap_or_default();
            let findings: Vec<Finding> = located.iter().map(|l| l.finding.clone()).collect();
            let call = call_parts(msg);
            if route.protocol == Protocol::Mcp
                && call.method == Some("tools/call")
                && call.tool.is_none()
            {
                let e = ProtocolError::Mcp("tools/call needs a string params.name".into());
                return Err((e.into(), out.buffered));
            }
            let text = if a2a { message_text(msg) } else { None };
            // Looked up only when some rule reads them (learning looks them up itself).
            let annotations = call
                .tool
                .filter(|_| policy.reads_annotations())
                .and_then(|t| self.descriptors.annotations_of(route.upstream, t));
            let facts = CallFacts {
                method: call.method,
                method_alias: call.method.filter(|_| a2a).and_then(method_alias),
                tool: call.tool,
                resource: call.resource,
                prompt: call.prompt,
                agent: route.agent.as_deref(),
                text: text.as_deref(),
                host,
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                args: call.args,
                findings: &findings,
                run: history.as_ref(),
                claims: Some(&who.claims),
                annotations: annotations.as_ref(),
                internal_domains: &self.precedents.config().internal_domains,
                ..route.facts(&who.caller)
            };
            let limited = self
                .rate_limited(&policy, &facts, who, ctx)
                .await
                .unwrap_or_else(|e| Some(crate::error::limit_without_store(&e)));
            let withheld = route.protocol == Protocol::Mcp
                && self.descriptors.has_changes()
                && call.tool.is_some_and(|t| {
                    self.descriptors
                        .is_withheld(route.upstream, session.as_deref(), t)
                });
            let mut learned = None;
            let decision = if let Some((limit, wait)) = limited {
                retry_after = retry_after.max(Some(wait));
                let d = policy.fixed_decision(DecisionKind::Deny, "rate_limited", &limit);
                self.metrics.record_decision(&route.name, &facts, &d);
                d
            } else if withheld {
                // The tool's descriptor changed since it was first seen (rug pull).
                let d = policy.fixed_decision(
                    DecisionKind::Deny,
                    "tool_descriptor_changed",
                    "guard.on_descriptor_change",
                );
                self.metrics.record_decision(&route.name, &facts, &d);
                d
            } else {
                let (d, l) = self
                    .decide(&policy, route, &facts, audit, &ctx.run_id)
                    .await;
                learned = l;
                d
            };
            sensitive.push(learned.as_ref().is_some_and(|l| l.features.is_sensitive()));
            let refused_code = (msg.kind == MessageKind::Request)
                .then(|| refusal_code(&decision, self.escalation.on_timeout))
                .flatten();
            self.audit_decision(audit, route, &facts, &decision, refused_code)
                .await
                .map_err(|e| (e, out.buffered.clone()))?;
            to_redact.extend(decision.redact.iter().filter_map(|&k| located.get(k)));
            escalations.push(
                super::review::opens_escalation(&decision, learned.as_ref())
                    .then(|| self.escalate(route, &facts, &decision, learned, &ctx.run_id)),
            );
            decided.push((msg, decision));
        }
        if !to_redact.is_empty() {
            // Redacted before anything is forwarded; everything else byte for byte.
            let whole = out.buffered.as_deref().unwrap_or_default();
            let redacted = Bytes::from(redact_json(whole, &to_redact));
            self.metrics
                .redactions
                .with_label_values(&[&route.name, "request"])
                .inc_by(to_redact.len() as u64);
            parts
                .headers
                .insert(header::CONTENT_LENGTH, redacted.len().into());
            // 2026-07-28 clients mirror marked arguments in `Mcp-Param-*` headers; the
            // upstream checks them against the body, so they are redacted the same way.
            let kinds: Vec<&str> = to_redact.iter().map(|l| &*l.finding.kind).collect();
            redact_param_headers(policy.guard(), &mut parts.headers, &kinds);
            out.body = full(redacted.clone());
            out.buffered = Some(redacted);
        }
        out.decision = call_decision(decided.iter().map(|(_, d)| d));
        let answers = self.await_answers(escalations, audit).await;
        // Every run when rules read runs; otherwise, when calls can be escalated, the runs
        // callers continue (a minted run id is new with each call: it has no "so far").
        let remember_run = policy.tracks_runs() || (policy.escalates() && ctx.run_continued);
        if remember_run {
            self.mark_run_outcomes(&ctx.run_id, &decided, &answers, &sensitive);
        }
        match act::on_jsonrpc(&decided, &answers, envelope.batch, &self.escalation) {
            Action::Forward => {}
            Action::Answer(resp) => {
                let resp = with_retry_after(tagged(resp, &out.decision), retry_after);
                return Ok(Prepared::Answered(resp));
            }
            Action::Refused(answer) => {
                let query = parts.uri.query();
                let resp = self.deliver_refusal(route, query, envelope.batch, &answer);
                let resp = with_retry_after(tagged(resp, &out.decision), retry_after);
                return Ok(Prepared::Answered(resp));
            }
            Action::ForwardPart(part) => {
                // Only the allowed elements go on, each byte for byte.
                let whole = out.buffered.as_deref().unwrap_or_default();
                let Some(kept) = select_batch(whole, &part.keep) else {
                    let e = ProtocolError::Mcp("batch could not be split".into());
                    return Err((e.into(), None));
                };
                let kept = Bytes::from(kept);
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, kept.len().into());
                out.body = full(kept);
                out.partial = Some(part);
            }
        }
        if remember_run {
            self.record_run_steps(route, &ctx.run_id, &decided, &answers);
        }
        out.tools_filter = self.tools_list_filter(&policy, route, &envelope, who.caller.clone());
        // Legacy HTTP+SSE: answers arrive on the session's GET stream, not on this POST;
        // the stream's tap filters the tool list and guards the answers there.
        if let Some(session) = parts.uri.query().and_then(session_from_query) {
            if let Some(f) = &out.tools_filter {
                self.legacy
                    .watch_tools_list(route.upstream, session, f.clone());
            }
            self.legacy
                .expect_answers(route.upstream, session, asked_of(&envelope));
        }
        out.response_guard = self.response_guard(
            &policy,
            route,
            &envelope,
            parts,
            &mut out.tools_filter,
            who.caller.clone(),
        );
        if let (Some(g), Some(a)) = (&mut out.response_guard, audit.as_ref()) {
            g.audit = Some((a.trail().clone(), Some(a.ids().clone())));
        }
        Ok(Prepared::Forward(Box::new(out)))
    }

    /// The guard for this call's answer: when rules look at responses, or (MCP) when the
    /// call lists tools, whose descriptors are remembered for the rug-pull defence. It takes
    /// over the `tools/list` filter.
    fn response_guard(
        &self,
        policy: &Arc<Policy>,
        route: &Route,
        envelope: &Envelope,
        parts: &Parts,
        tools_filter: &mut Option<ToolsListFilter>,
        caller: Arc<str>,
    ) -> Option<ResponseGuard> {
        let lists_tools = route.protocol == Protocol::Mcp
            && envelope
                .messages
                .iter()
                .any(|m| m.method() == Some("tools/list"));
        if !policy.scans(Direction::Response) && !lists_tools {
            return None;
        }
        let mut guard = self.guard_for(policy.clone(), route, asked_of(envelope), caller);
        guard.route.session = session_of(parts);
        guard.tools_filter = tools_filter.take();
        Some(guard)
    }

    /// A response guard for `route` knowing the requests `asked`.
    pub(super) fn guard_for(
        &self,
        policy: Arc<Policy>,
        route: &Route,
        asked: Vec<Asked>,
        caller: Arc<str>,
    ) -> ResponseGuard {
        ResponseGuard {
            policy,
            metrics: self.metrics.clone(),
            route: RouteInfo {
                name: route.name.clone(),
                upstream: route.upstream_name.clone(),
                upstream_index: route.upstream,
                boundary: route.boundary,
                protocol: route.protocol,
                agent: route.agent.clone(),
                caller,
                session: None,
            },
            asked,
            on_timeout: self.escalation.on_timeout,
            tools_filter: None,
            descriptors: self.descriptors.clone(),
            injected: Default::default(),
            audit: self.audit.clone().map(|t| (t, None)),
            held: Default::default(),
        }
    }

    /// Any other request: a plain HTTP call, or a non-POST on a JSON-RPC route.
    pub(super) async fn http_call(
        &self,
        route: &Route,
        host: Option<&str>,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
        ex: &mut Exchange<'_>,
    ) -> Result<Prepared, Failure> {
        let (audit, who, ctx) = (&mut *ex.audit, ex.who, ex.ctx);
        let policy = self.policy.as_ref().map(|p| p.load_full());
        // A JSON body is read (capped, strictly parsed) only when a rule looks at it.
        let read_json = route.protocol == Protocol::Http
            && policy.as_ref().is_some_and(|p| p.reads_http_body())
            && declares_json(&parts.headers)
            && may_have_body(&parts.headers);
        let (body, json) = if read_json {
            let codings =
                body_codings(&parts.headers, self.compressed).map_err(|e| (e.into(), None))?;
            let bytes = self
                .read_body(body, &codings, route, &mut parts.headers)
                .await?;
            if let Some(a) = audit {
                a.request_body(&bytes);
            }
            let json = if bytes.is_empty() {
                None
            } else {
                let v = parse_strict(&bytes, DEFAULT_MAX_DEPTH)
                    .map_err(|e| (ProtocolError::Envelope(e.into()).into(), None))?;
                Some(v)
            };
            (full(bytes), json)
        } else {
            match audit {
                Some(a) => (a.tally_request(body).boxed_unsync(), None),
                None => (body.boxed_unsync(), None),
            }
        };
        let mut tag = None;
        if let Some(policy) = &policy {
            let facts = CallFacts {
                method: Some(parts.method.as_str()),
                host,
                path: parts.uri.path(),
                query: parts.uri.query(),
                headers: &parts.headers,
                args: json.as_ref(),
                claims: Some(&who.claims),
                internal_domains: &self.precedents.config().internal_domains,
                ..route.facts(&who.caller)
            };
            let limited = self
                .rate_limited(policy, &facts, who, ctx)
                .await
                .unwrap_or_else(|e| Some(crate::error::limit_without_store(&e)));
            if let Some((limit, wait)) = limited {
                let d = policy.fixed_decision(DecisionKind::Deny, "rate_limited", &limit);
                self.metrics.record_decision(&route.name, &facts, &d);
                self.audit_decision(audit, route, &facts, &d, None)
                    .await
                    .map_err(|e| (e, None))?;
                return Ok(Prepared::Answered(too_many(&d, wait)));
            }
            let (decision, learned) = self.decide(policy, route, &facts, audit, &ctx.run_id).await;
            self.audit_decision(audit, route, &facts, &decision, None)
                .await
                .map_err(|e| (e, None))?;
            tag = call_decision(std::iter::once(&decision));
            let open = super::review::opens_escalation(&decision, learned.as_ref())
                .then(|| self.escalate(route, &facts, &decision, learned, &ctx.run_id));
            let answer = self.await_answers(vec![open], audit).await.pop().flatten();
            if let Some(refusal) = act::on_http(&decision, answer, &self.escalation) {
                return Ok(Prepared::Answered(tagged(refusal, &tag)));
            }
        }
        Ok(Prepared::Forward(Box::new(Outgoing {
            body,
            // Not a JSON-RPC body: no id to echo on errors.
            buffered: None,
            tools_filter: None,
            partial: None,
            response_guard: None,
            caller: who.caller.clone(),
            stream_open: false,
            decision: tag,
        })))
    }

    /// Read a body the gateway inspects: whole, under the route's cap, decoded when it is
    /// compressed (the decoded bytes are what is inspected and forwarded, so the headers
    /// then describe them).
    async fn read_body(
        &self,
        body: GuardedBody<Incoming>,
        codings: &[Coding],
        route: &Route,
        headers: &mut http::HeaderMap,
    ) -> Result<Bytes, Failure> {
        let bytes = match body.collect().await {
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
}

/// The MCP session a request belongs to: `Mcp-Session-Id` (session-era Streamable HTTP) or
/// the legacy transport's `session_id` query parameter.
fn session_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.query().and_then(session_from_query))
        .map(str::to_string)
}

/// What the requests of a body asked (for judging their answers).
fn asked_of(envelope: &Envelope) -> Vec<Asked> {
    envelope
        .messages
        .iter()
        .filter(|m| m.kind == MessageKind::Request)
        .map(|m| {
            let p = call_parts(m);
            Asked {
                id: m.value.get("id").cloned().unwrap_or_default(),
                method: p.method.map(str::to_string),
                tool: p.tool.map(str::to_string),
                resource: p.resource.map(str::to_string),
                prompt: p.prompt.map(str::to_string),
            }
        })
        .collect()
}

/// Redact findings of the given types in `Mcp-Param-*` header values (plain or
/// `=?base64?…?=`), the same way the body was redacted, so header and body still agree.
fn redact_param_headers(
    guard: &crate::guard::Guard,
    headers: &mut http::HeaderMap,
    kinds: &[&str],
) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let names: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("mcp-param-"))
        .cloned()
        .collect();
    for name in names {
        let Some(raw) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let (mut text, encoded) = match raw
            .strip_prefix("=?base64?")
            .and_then(|r| r.strip_suffix("?="))
        {
            Some(b) => match b64.decode(b).ok().and_then(|v| String::from_utf8(v).ok()) {
                Some(t) => (t, true),
                None => continue,
            },
            None => (raw.to_string(), false),
        };
        let all = guard.scan_plain(&text, "");
        let found: Vec<_> = all.iter().filter(|f| kinds.contains(&&*f.kind)).collect();
        if found.is_empty() {
            continue;
        }
        crate::guard::redact_text(&mut text, &found);
        let value = if encoded {
            format!("=?base64?{}?=", b64.encode(text.as_bytes()))
        } else {
            text
        };
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Whether the request head announces a body (a length above zero, or chunked).
fn may_have_body(headers: &http::HeaderMap) -> bool {
    super::declared_length(headers).is_none_or(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_param_headers_are_redacted_like_the_body() {
        use base64::Engine;
        let guard = crate::guard::Guard::new(&[]).expect("guard");
        let mut h = http::HeaderMap::new();
        h.insert("mcp-param-to", "dana@example.com".parse().expect("hv"));
        let b64 = base64::engine::general_purpose::STANDARD.encode("mail dana@example.com");
        h.insert(
            "mcp-param-note",
            format!("=?base64?{b64}?=").parse().expect("hv"),
        );
        h.insert("mcp-param-key", "AKIAQYLPMN5HHHFPZAM2".parse().expect("hv"));
        h.insert("mcp-name", "send".parse().expect("hv"));
        redact_param_headers(&guard, &mut h, &["email"]);
        assert_eq!(h["mcp-param-to"], "[REDACTED:email]");
        let note = h["mcp-param-note"].to_str().expect("ascii");
        let inner = note
            .strip_prefix("=?base64?")
            .and_then(|r| r.strip_suffix("?="))
            .expect("still base64");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(inner)
            .expect("b64");
        assert_eq!(decoded, b"mail [REDACTED:email]");
        assert_eq!(
            h["mcp-param-key"], "AKIAQYLPMN5HHHFPZAM2",
            "only the redacted types"
        );
        assert_eq!(h["mcp-name"], "send");
    }
}

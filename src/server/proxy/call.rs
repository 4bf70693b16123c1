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
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::{Failure, ProxyState};
use crate::act::{self, Action, PartialBatch};
use crate::config::Protocol;
use crate::forward::ForwardError;
use crate::forward::body::{GuardedBody, ProxyBody};
use crate::inspect::ToolsListFilter;
use crate::inspect::legacy_sse::session_from_query;
use crate::policy::CallFacts;
use crate::protocol::a2a::{message_text, method_alias};
use crate::protocol::encoding::{Coding, decode};
use crate::protocol::json::{DEFAULT_MAX_DEPTH, parse_strict};
use crate::protocol::jsonrpc::{parse_envelope, select_batch};
use crate::protocol::mcp::{call_parts, check_mirrored_headers};
use crate::protocol::{ProtocolError, body_codings, check_json_request_headers, declares_json};
use crate::routing::Route;

/// What the request side hands to the forward step.
pub(super) enum Prepared {
    /// The gateway answered the call itself (refusal, dropped notification).
    Answered(http::Response<ProxyBody>),
    /// Send this on.
    Forward(Outgoing),
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
}

fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

impl ProxyState {
    /// A JSON-RPC POST: read, classify, decide, act.
    pub(super) async fn jsonrpc_call(
        &self,
        route: &Route,
        host: Option<&str>,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
    ) -> Result<Prepared, Failure> {
        let codings = check_json_request_headers(&parts.headers, self.compressed)
            .map_err(|e| (e.into(), None))?;
        let bytes = self
            .read_body(body, &codings, route, &mut parts.headers)
            .await?;
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
        };
        let Some(policy) = &self.policy else {
            return Ok(Prepared::Forward(out));
        };
        let policy = policy.load();
        let a2a = route.protocol == Protocol::A2a;
        let mut decided = Vec::with_capacity(envelope.messages.len());
        for msg in &envelope.messages {
            let call = call_parts(msg);
            if route.protocol == Protocol::Mcp
                && call.method == Some("tools/call")
                && call.tool.is_none()
            {
                let e = ProtocolError::Mcp("tools/call needs a string params.name".into());
                return Err((e.into(), out.buffered));
            }
            let text = if a2a { message_text(msg) } else { None };
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
                ..route.facts()
            };
            decided.push((msg, self.decide(&policy, route, &facts)));
        }
        match act::on_jsonrpc(&decided, envelope.batch, &self.escalation).await {
            Action::Forward => {}
            Action::Answer(resp) => return Ok(Prepared::Answered(resp)),
            Action::Refused(answer) => {
                let query = parts.uri.query();
                let resp = self.deliver_refusal(route, query, envelope.batch, &answer);
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
        out.tools_filter = self.tools_list_filter(&policy, route, &envelope);
        if let Some(f) = &out.tools_filter {
            // Legacy HTTP+SSE: the list arrives on the session's GET stream, not on this
            // POST; the stream's tap filters it there.
            if let Some(session) = parts.uri.query().and_then(session_from_query) {
                self.legacy
                    .watch_tools_list(route.upstream, session, f.clone());
            }
        }
        Ok(Prepared::Forward(out))
    }

    /// Any other request: a plain HTTP call, or a non-POST on a JSON-RPC route.
    pub(super) async fn http_call(
        &self,
        route: &Route,
        host: Option<&str>,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
    ) -> Result<Prepared, Failure> {
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
            let json = if bytes.is_empty() {
                None
            } else {
                let v = parse_strict(&bytes, DEFAULT_MAX_DEPTH)
                    .map_err(|e| (ProtocolError::Envelope(e.into()).into(), None))?;
                Some(v)
            };
            (full(bytes), json)
        } else {
            (body.boxed_unsync(), None)
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
                return Ok(Prepared::Answered(refusal));
            }
        }
        Ok(Prepared::Forward(Outgoing {
            body,
            // Not a JSON-RPC body: no id to echo on errors.
            buffered: None,
            tools_filter: None,
            partial: None,
        }))
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

/// Whether the request head announces a body (a length above zero, or chunked).
fn may_have_body(headers: &http::HeaderMap) -> bool {
    super::declared_length(headers).is_none_or(|n| n > 0)
}

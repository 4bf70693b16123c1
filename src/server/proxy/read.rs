//! Phase 2, read: what the decision needs of the request's body. JSON-RPC POSTs (mcp,
//! jsonrpc, a2a routes) are read whole under the route's cap, decoded if compressed and
//! allowed, parsed strictly into an envelope, and checked against mirrored headers (MCP
//! 2026-07-28). Everything else streams under the same cap, unless a rule reads JSON bodies
//! on plain HTTP routes: then a declared-JSON body is read and parsed the same strict way.

use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;

use super::state::{Admitted, CallState};
use super::{ProxyState, declared_length, full};
use crate::config::Protocol;
use crate::error::{GatewayError, RequestError};
use crate::forward::ForwardError;
use crate::forward::body::{GuardedBody, ProxyBody};
use crate::protocol::encoding::{Coding, decode};
use crate::protocol::json::{DEFAULT_MAX_DEPTH, parse_strict};
use crate::protocol::jsonrpc::parse_envelope;
use crate::protocol::mcp::check_mirrored_headers;
use crate::protocol::{
    Envelope, ProtocolError, body_codings, check_json_request_headers, declares_json,
};
use crate::routing::Route;

/// The request as the decision reads it.
pub(super) struct Read {
    /// Its head (headers may have been rewritten: a decoded body's length).
    pub parts: Parts,
    /// What was read of its body.
    pub body: ReadBody,
    /// The plain HTTP body to send on (read bytes, or the stream); `None` for a JSON-RPC
    /// body, whose bytes are in `CallState::buffered`. Kept apart from what the decision
    /// reads because a stream cannot be shared across threads.
    pub send: Option<ProxyBody>,
}

/// A request body, as far as it was read.
pub(super) enum ReadBody {
    /// A JSON-RPC body, read whole and parsed (the bytes are in `CallState::buffered`).
    JsonRpc(Envelope),
    /// Any other body: streamed on, with its JSON when a rule reads it.
    Http {
        /// Its JSON, when it was read.
        json: Option<Value>,
    },
}

impl ProxyState {
    /// Read `req` for route `a.route`.
    pub(super) async fn read(
        &self,
        call: &mut CallState,
        a: &Admitted,
        req: Request<Incoming>,
    ) -> Result<Read, GatewayError> {
        let route = &a.route;
        let (mut parts, body) = req.into_parts();
        if let Some(length) = declared_length(&parts.headers) {
            if length > route.max_request_body {
                return Err(RequestError::DeclaredTooLarge {
                    length,
                    limit: route.max_request_body,
                }
                .into());
            }
        }
        let body = GuardedBody::new(body)
            .limit(route.max_request_body)
            .linger()
            .idle_timeout(self.idle_timeout)
            .count_into(self.route_metrics[route.index].bytes_in.clone());
        // JSON-RPC calls are small and must be read whole to be understood; everything
        // else (uploads, egress bodies) streams through under the same cap.
        let (body, send) = if route.protocol.is_jsonrpc() && parts.method == Method::POST {
            let envelope = self.read_jsonrpc(call, route, &mut parts, body).await?;
            (ReadBody::JsonRpc(envelope), None)
        } else {
            let (json, send) = self.read_http(call, route, &mut parts, body).await?;
            (ReadBody::Http { json }, Some(send))
        };
        Ok(Read { parts, body, send })
    }

    async fn read_jsonrpc(
        &self,
        call: &mut CallState,
        route: &Route,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
    ) -> Result<Envelope, GatewayError> {
        let codings = check_json_request_headers(&parts.headers, self.compressed)?;
        let bytes = self
            .read_body(body, &codings, route, &mut parts.headers)
            .await?;
        if let Some(a) = &mut call.audit {
            a.request_body(&bytes);
        }
        call.buffered = Some(bytes);
        let bytes = call.buffered.as_deref().unwrap_or_default();
        // Parse once, strictly; what could be read two ways never reaches the upstream.
        let envelope = parse_envelope(bytes, DEFAULT_MAX_DEPTH).map_err(ProtocolError::from)?;
        if route.protocol == Protocol::Mcp {
            let single = (!envelope.batch).then(|| &envelope.messages[0]);
            check_mirrored_headers(&parts.headers, single)?;
        }
        tracing::debug!(
            route = %route.name,
            messages = envelope.messages.len(),
            method = envelope.messages.first().and_then(|m| m.method()).unwrap_or("-"),
            "call"
        );
        Ok(envelope)
    }

    async fn read_http(
        &self,
        call: &mut CallState,
        route: &Route,
        parts: &mut Parts,
        body: GuardedBody<Incoming>,
    ) -> Result<(Option<Value>, ProxyBody), GatewayError> {
        // A JSON body is read (capped, strictly parsed) only when a rule looks at it.
        let read_json = route.protocol == Protocol::Http
            && call.policy.as_ref().is_some_and(|p| p.reads_http_body())
            && declares_json(&parts.headers)
            && may_have_body(&parts.headers);
        if !read_json {
            let body = match &mut call.audit {
                Some(a) => a.tally_request(body).boxed_unsync(),
                None => body.boxed_unsync(),
            };
            return Ok((None, body));
        }
        let codings = body_codings(&parts.headers, self.compressed)?;
        let bytes = self
            .read_body(body, &codings, route, &mut parts.headers)
            .await?;
        if let Some(a) = &mut call.audit {
            a.request_body(&bytes);
        }
        let json = if bytes.is_empty() {
            None
        } else {
            let v = parse_strict(&bytes, DEFAULT_MAX_DEPTH)
                .map_err(|e| ProtocolError::Envelope(e.into()))?;
            Some(v)
        };
        Ok((json, full(bytes)))
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
    ) -> Result<Bytes, GatewayError> {
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(e) => return Err(ForwardError::from_request_body(&*e).into()),
        };
        if codings.is_empty() {
            return Ok(bytes);
        }
        let decoded = decode(bytes, codings, route.max_request_body)?;
        headers.remove(header::CONTENT_ENCODING);
        headers.insert(header::CONTENT_LENGTH, decoded.len().into());
        Ok(decoded)
    }
}

/// Whether the request head announces a body (a length above zero, or chunked).
fn may_have_body(headers: &http::HeaderMap) -> bool {
    declared_length(headers).is_none_or(|n| n > 0)
}

//! MCP authorization on the proxy path (`routes[].oauth`), beside the phases: the OAuth
//! discovery documents and authorization-server endpoints a client reaches before it has a
//! token, and, after the read phase, the scopes the called tools need (step-up). The bearer
//! token itself is checked in admit (`crate::identify`), its replacement upstream in
//! [`super::upstream`].

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::read::ReadBody;
use super::state::{Admitted, CallState};
use super::{ProxyState, full};
use crate::config::OAuthMode;
use crate::error::{GatewayError, RequestError};
use crate::forward::ForwardError;
use crate::forward::body::{BoxError, GuardedBody, ProxyBody};
use crate::forward::headers::Downstream;
use crate::identify::oauth::rewrite_metadata;
use crate::protocol::mcp::call_parts;
use crate::routing::{OAuthPath, PROTECTED_RESOURCE};

/// Largest protected-resource metadata document read from an upstream (to rewrite it).
const MAX_METADATA: usize = 64 << 10;

impl ProxyState {
    /// Where the gateway is the route's resource server: refuse (403 `insufficient_scope`)
    /// a body calling a tool whose scopes the caller's token lacks.
    pub(super) fn check_scopes(&self, a: &Admitted, body: &ReadBody) -> Result<(), GatewayError> {
        let (Some(rs), ReadBody::JsonRpc(envelope)) =
            (self.identifier.resource_server(a.route.index), body)
        else {
            return Ok(());
        };
        for msg in &envelope.messages {
            if let Some(tool) = call_parts(msg).tool {
                rs.check_tool(&a.who, tool)
                    .map_err(RequestError::Unauthenticated)?;
            }
        }
        Ok(())
    }

    /// Answer a request for an OAuth document or endpoint `what` of the route: the
    /// protected-resource metadata the gateway serves (resource server) or the upstream's,
    /// its `resource` set to the public URL (pass-through); authorization-server endpoints
    /// forwarded unchanged (pass-through routes that take them).
    pub(super) async fn serve_oauth(
        &self,
        call: &mut CallState,
        a: &Admitted,
        req: Request<Incoming>,
        down: &Downstream,
        what: OAuthPath,
    ) -> Result<Response<ProxyBody>, GatewayError> {
        let route = &a.route;
        let Some(o) = &route.oauth else {
            return Err(RequestError::NoRoute.into());
        };
        let metadata = what == OAuthPath::ProtectedResource;
        if metadata && !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Err(RequestError::MethodNotAllowed.into());
        }
        if metadata {
            if let Some(rs) = self.identifier.resource_server(route.index) {
                let mut resp = crate::error::json_response(StatusCode::OK, Vec::new());
                *resp.body_mut() = full(rs.metadata());
                return Ok(resp);
            }
        }
        debug_assert_eq!(o.mode, OAuthMode::PassThrough);
        let (parts, body) = req.into_parts();
        let path = if metadata {
            // The upstream's own metadata path for the same resource (RFC 9728 §3.1: the
            // well-known segment inserted before the resource's path).
            let upstream = route.upstream_path(&o.public_path);
            format!("{PROTECTED_RESOURCE}{}", upstream.trim_end_matches('/'))
        } else {
            parts.uri.path().to_string()
        };
        let body = GuardedBody::new(body)
            .limit(route.max_request_body)
            .idle_timeout(self.idle_timeout)
            .boxed_unsync();
        let resp = self.send_at(call, a, down, parts, body, &path).await?;
        let (mut parts, body) = resp.into_parts();
        crate::forward::headers::strip_hop_by_hop(&mut parts.headers);
        parts.version = http::Version::HTTP_11;
        if !(metadata && parts.status.is_success()) {
            let body = body.map_err(|e| -> BoxError { Box::new(e) }).boxed_unsync();
            return Ok(Response::from_parts(parts, body));
        }
        let bytes: Bytes = Limited::new(body, MAX_METADATA)
            .collect()
            .await
            .map_err(|e| ForwardError::Upstream {
                upstream: route.upstream_name.clone(),
                detail: format!("protected-resource metadata: {e}"),
            })?
            .to_bytes();
        let Some(rewritten) = rewrite_metadata(&bytes, &o.public_url) else {
            return Err(ForwardError::Upstream {
                upstream: route.upstream_name.clone(),
                detail: "protected-resource metadata is not a JSON object".into(),
            }
            .into());
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_ENCODING);
        Ok(Response::from_parts(parts, full(rewritten)))
    }
}

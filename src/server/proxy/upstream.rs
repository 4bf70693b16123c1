//! Phase 5, upstream: the request as the upstream gets it — its target URI (prefix
//! stripped or rewritten), hop-by-hop and spoofable headers removed, `X-Forwarded-*`, the
//! gateway's context headers (run, hop, trace, the decision), the OAuth credentials as the
//! route's resource server wants them — sent on the upstream's pooled connection.

use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, Version, header};
use hyper::body::Incoming;

use super::ProxyState;
use super::act::{AnswerPlan, Outgoing};
use super::state::{Admitted, CallState};
use crate::config::Protocol;
use crate::error::GatewayError;
use crate::forward::body::ProxyBody;
use crate::forward::headers::{Downstream, prepare_upstream_request};
use crate::forward::{ForwardError, SendHints};
use crate::identify::oauth::{UpstreamAuth, rewrite_challenge};

impl ProxyState {
    /// Send `out` upstream; its answer's head, and what the answer will need.
    pub(super) async fn send_upstream(
        &self,
        call: &mut CallState,
        a: &Admitted,
        down: &Downstream,
        out: Outgoing,
    ) -> Result<(Response<Incoming>, AnswerPlan), GatewayError> {
        let Outgoing {
            parts,
            body,
            mut plan,
        } = out;
        let path = a.route.upstream_path(parts.uri.path()).into_owned();
        // An MCP GET: the answer may be a legacy HTTP+SSE session stream.
        plan.stream_open = a.route.protocol == Protocol::Mcp && parts.method == Method::GET;
        let resp = self.send_at(call, a, down, parts, body, &path).await?;
        Ok((resp, plan))
    }

    /// Send the request `parts` + `body` to the route's upstream at `path` (before the
    /// upstream's base path); its answer's head. On OAuth routes the credentials are the
    /// resource server's business: where the gateway is the resource server the upstream gets
    /// the gateway's own credential (never the caller's token) and its challenges are
    /// dropped (a client must not start an authorization with the upstream's server); where
    /// the upstream is, its challenges name the gateway's public metadata URL.
    pub(super) async fn send_at(
        &self,
        call: &mut CallState,
        a: &Admitted,
        down: &Downstream,
        mut parts: Parts,
        body: ProxyBody,
        path: &str,
    ) -> Result<Response<Incoming>, GatewayError> {
        let route = &a.route;
        let upstream = &self.upstreams[route.upstream];
        let client_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let target = upstream.target(path, parts.uri.query())?;
        prepare_upstream_request(&mut parts.headers, down, client_host, upstream.host_rule());
        let rs = self.identifier.resource_server(route.index);
        if let Some(rs) = rs {
            parts.headers.remove(header::AUTHORIZATION);
            match rs.upstream_credential() {
                Some(UpstreamAuth::Static(name, value)) => {
                    parts.headers.insert(name.clone(), value.clone());
                }
                Some(UpstreamAuth::Fetched(source)) => {
                    let value = source.authorization().await.map_err(|e| {
                        tracing::warn!(upstream = %upstream.name, error = %e, "upstream credential unavailable");
                        ForwardError::Credential {
                            upstream: upstream.name.clone(),
                            detail: e.to_string(),
                        }
                    })?;
                    parts.headers.insert(header::AUTHORIZATION, value);
                }
                None => {}
            }
        }
        a.ctx
            .to_upstream(&mut parts.headers, call.decision.as_ref());
        parts.uri = target;
        // The upstream connection decides the wire version; hyper refuses a mismatch.
        parts.version = Version::HTTP_11;
        // Only a fleet may send a call twice: it needs the whole body to do so.
        let hints = if upstream.may_retry() {
            let jsonrpc = route.protocol.is_jsonrpc() && parts.method == Method::POST;
            let bodiless = !jsonrpc
                && !parts.headers.contains_key(header::TRANSFER_ENCODING)
                && parts
                    .headers
                    .get(header::CONTENT_LENGTH)
                    .is_none_or(|v| v.as_bytes() == b"0");
            SendHints {
                replay: if jsonrpc {
                    call.buffered.clone()
                } else {
                    bodiless.then(Bytes::new)
                },
                jsonrpc,
            }
        } else {
            SendHints::default()
        };
        let (mut resp, took) = upstream
            .send(Request::from_parts(parts, body), &hints)
            .await?;
        self.route_metrics[route.index]
            .upstream_latency
            .observe(took.as_secs_f64());
        if let Some(audit) = &mut call.audit {
            audit.upstream_took(took);
        }
        match (&route.oauth, rs) {
            (Some(_), Some(_)) => {
                resp.headers_mut().remove(header::WWW_AUTHENTICATE);
            }
            (Some(o), None) => {
                let challenges: Vec<HeaderValue> = resp
                    .headers()
                    .get_all(header::WWW_AUTHENTICATE)
                    .iter()
                    .map(|v| rewrite_challenge(v, &o.metadata_url).unwrap_or_else(|| v.clone()))
                    .collect();
                if !challenges.is_empty() {
                    resp.headers_mut().remove(header::WWW_AUTHENTICATE);
                    for c in challenges {
                        resp.headers_mut().append(header::WWW_AUTHENTICATE, c);
                    }
                }
            }
            _ => {}
        }
        Ok(resp)
    }
}

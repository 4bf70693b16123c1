//! Phase 5, upstream: the request as the upstream gets it — its target URI (prefix
//! stripped or rewritten), hop-by-hop and spoofable headers removed, `X-Forwarded-*`, the
//! gateway's context headers (run, hop, trace, the decision) — sent on the upstream's
//! pooled connection.

use http::{HeaderValue, Method, Request, Response, Version, header};
use hyper::body::Incoming;

use super::ProxyState;
use super::act::{AnswerPlan, Outgoing};
use super::state::{Admitted, CallState};
use crate::config::Protocol;
use crate::error::GatewayError;
use crate::forward::headers::{Downstream, prepare_upstream_request};

impl ProxyState {
    /// Send `out` upstream; its answer's head, and what the answer will need.
    pub(super) async fn send_upstream(
        &self,
        call: &mut CallState,
        a: &Admitted,
        down: &Downstream,
        out: Outgoing,
    ) -> Result<(Response<Incoming>, AnswerPlan), GatewayError> {
        let route = &a.route;
        let upstream = &self.upstreams[route.upstream];
        let Outgoing {
            mut parts,
            body,
            mut plan,
        } = out;
        let client_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let path = route.upstream_path(parts.uri.path());
        let target = upstream.target(&path, parts.uri.query())?;
        // An MCP GET: the answer may be a legacy HTTP+SSE session stream.
        plan.stream_open = route.protocol == Protocol::Mcp && parts.method == Method::GET;
        prepare_upstream_request(&mut parts.headers, down, client_host, upstream.host_rule());
        a.ctx
            .to_upstream(&mut parts.headers, call.decision.as_ref());
        parts.uri = target;
        // The upstream connection decides the wire version; hyper refuses a mismatch.
        parts.version = Version::HTTP_11;
        let (resp, took) = upstream.send(Request::from_parts(parts, body)).await?;
        self.route_metrics[route.index]
            .upstream_latency
            .observe(took.as_secs_f64());
        if let Some(audit) = &mut call.audit {
            audit.upstream_took(took);
        }
        Ok((resp, plan))
    }
}

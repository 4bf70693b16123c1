//! Phase 7, finish: what every answer gets, whether the upstream wrote it or the gateway
//! did — its status counted, the client's context headers, the hop's span, the audit
//! closed (an error noted on the call's decisions, or recorded on its own when nothing was
//! decided), and the in-flight gauge held until the answer's body ends.

use std::sync::Arc;

use http::{Method, Response};

use super::ProxyState;
use super::state::{Admitted, CallState, Unadmitted};
use crate::audit::exchange::CallAudit;
use crate::audit::record::AuditRecord;
use crate::context::DecisionTag;
use crate::error::{GatewayError, RequestError, reason_of, respond};
use crate::forward::body::ProxyBody;
use crate::protocol::jsonrpc::peek_id;
use crate::routing::Route;
use crate::telemetry::otlp::HopSpan;
use crate::vocab::{DecisionKind, Mode};

impl ProxyState {
    /// Finish an admitted call whose serving ended in `answered`.
    pub(super) async fn finish(
        &self,
        mut call: CallState,
        a: &Admitted,
        answered: Result<Response<ProxyBody>, GatewayError>,
    ) -> Response<ProxyBody> {
        let (mut resp, err) = match answered {
            Ok(resp) => (resp, None),
            Err(err) => {
                self.log_failure(&a.route, &err);
                let id = call.buffered.as_deref().and_then(peek_id);
                let resp = respond(&err, Some(a.route.protocol), id, &self.codes);
                (self.challenged(resp, Some(&a.route), &err), Some(err))
            }
        };
        self.route_metrics[a.route.index]
            .requests
            .inc(resp.status());
        let decision_id = resp
            .extensions()
            .get::<DecisionTag>()
            .map(|d| d.decision_id.clone());
        a.ctx.to_client(
            resp.headers_mut(),
            decision_id.as_deref(),
            a.route.client_context,
        );
        let resp = self.span(&call, a, resp, err.as_ref());
        if err.is_none() {
            if let Some(audit) = &mut call.audit {
                if !audit.has_records() {
                    // No policy decided this call: it is recorded as allowed anyway.
                    let r = unpoliced_record(&a.route, &call.method, &a.who.caller);
                    audit.failed(r).await;
                }
            }
        }
        let audit = call.audit.take();
        let resp = close_audit(
            audit,
            resp,
            Some(&a.route),
            Some(&a.who.caller),
            err.as_ref(),
            &self.codes,
        )
        .await;
        super::attach_guard(resp, call.in_flight.take())
    }

    /// Finish a call refused before it was admitted (400, 404, 401): answered at once and
    /// recorded with as much as was known.
    pub(super) async fn finish_unadmitted(
        &self,
        mut call: CallState,
        refused: Unadmitted,
    ) -> Response<ProxyBody> {
        let Unadmitted { err, route, caller } = refused;
        let resp = respond(&err, route.as_ref().map(|r| r.protocol), None, &self.codes);
        let resp = self.challenged(resp, route.as_deref(), &err);
        match &route {
            Some(r) => self.route_metrics[r.index].requests.inc(resp.status()),
            None => self.unrouted.inc(resp.status()),
        }
        let audit = call.audit.take();
        let resp = close_audit(
            audit,
            resp,
            route.as_deref(),
            caller.as_ref(),
            Some(&err),
            &self.codes,
        )
        .await;
        super::attach_guard(resp, call.in_flight.take())
    }

    /// An answer refusing authentication (401) or scope (403), with the bearer challenge
    /// the route's clients need: the OAuth one (where the protected-resource metadata is,
    /// which scope to ask for) on routes with `oauth`, the plain one where the gateway takes
    /// bearer tokens.
    fn challenged(
        &self,
        resp: Response<ProxyBody>,
        route: Option<&Route>,
        err: &GatewayError,
    ) -> Response<ProxyBody> {
        let GatewayError::Request(RequestError::Unauthenticated(e)) = err else {
            return resp;
        };
        match route.and_then(|r| r.oauth.as_ref().map(|o| (r, o))) {
            Some((r, o)) => {
                let scope = self
                    .identifier
                    .resource_server(r.index)
                    .map(|rs| rs.required_scope())
                    .unwrap_or_default();
                crate::error::with_oauth_challenge(resp, e, &o.metadata_url, &scope)
            }
            None if self.identifier.takes_bearer() => crate::error::with_bearer_challenge(resp),
            None => resp,
        }
    }

    /// The answer, its hop's span ended when its body ends (when spans are exported).
    fn span(
        &self,
        call: &CallState,
        a: &Admitted,
        resp: Response<ProxyBody>,
        err: Option<&GatewayError>,
    ) -> Response<ProxyBody> {
        match (&self.spans, call.arrived) {
            (Some(spans), Some(arrived)) => {
                let reason = err.map(reason_of);
                let span = HopSpan::of(&a.route, &a.ctx, &call.method, &resp, reason, arrived);
                spans.finish_with(span, resp)
            }
            _ => resp,
        }
    }

    /// Count an upstream failure and say it in the log.
    fn log_failure(&self, route: &Route, err: &GatewayError) {
        if let GatewayError::Forward(f) = err {
            self.metrics
                .upstream_errors
                .with_label_values(&[route.name.as_str(), f.kind()])
                .inc();
        }
        tracing::warn!(route = %route.name, upstream = %route.upstream_name, error = %err, "request failed");
    }
}

/// Record an error answer (noted on the call's decisions, or as its own record when nothing
/// was decided) and attach the audit to the answer, to be completed when its body ends.
async fn close_audit(
    audit: Option<CallAudit>,
    resp: Response<ProxyBody>,
    route: Option<&Route>,
    caller: Option<&Arc<str>>,
    err: Option<&GatewayError>,
    codes: &crate::config::RefusalCodes,
) -> Response<ProxyBody> {
    let Some(mut a) = audit else {
        return resp;
    };
    if let Some(err) = err {
        if a.has_records() {
            a.failed_after_decision(reason_of(err), err.to_string());
        } else {
            a.failed(error_record(&resp, route, caller, err, codes))
                .await;
        }
    }
    a.finish(resp)
}

/// The record of a call that failed before anything decided it.
fn error_record(
    resp: &Response<ProxyBody>,
    route: Option<&Route>,
    caller: Option<&Arc<str>>,
    err: &GatewayError,
    codes: &crate::config::RefusalCodes,
) -> AuditRecord {
    let mut r = AuditRecord::error(
        route.map(|r| r.name.as_str()),
        resp.status().as_u16(),
        reason_of(err),
        err.to_string(),
    );
    r.caller = caller.cloned();
    if let Some(route) = route {
        r.boundary = Some(route.boundary);
        r.protocol = Some(route.protocol);
        r.upstream = Some(Arc::from(route.upstream_name.as_str()));
        if route.protocol.is_jsonrpc() {
            r.jsonrpc_code = Some(crate::error::rpc_code_of(err, codes));
        }
    }
    r
}

/// The record of a call forwarded without a policy (nothing decided it).
fn unpoliced_record(route: &Route, method: &Method, caller: &Arc<str>) -> AuditRecord {
    AuditRecord {
        boundary: Some(route.boundary),
        caller: Some(caller.clone()),
        decision: Some(DecisionKind::Allow),
        enforced: Some(DecisionKind::Allow),
        method: Some(method.as_str().to_owned()),
        mode: Some(Mode::Enforce),
        protocol: Some(route.protocol),
        reason: Some(Arc::from("no_policy")),
        route: Some(Arc::from(route.name.as_str())),
        upstream: Some(Arc::from(route.upstream_name.as_str())),
        ..AuditRecord::new("decision")
    }
}

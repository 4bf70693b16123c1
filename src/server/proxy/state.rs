//! What one call carries through the phases: the things that live from its arrival to the
//! end of its answer (its audit, the in-flight gauge, its body for error answers), and,
//! once admitted, who and where it is.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::Method;

use super::ProxyState;
use crate::audit::exchange::CallAudit;
use crate::context::{CallContext, DecisionTag};
use crate::forward::body::GaugeGuard;
use crate::identify::Identity;
use crate::routing::Route;

/// One call's state, from arrival to finish.
pub(super) struct CallState {
    /// When it arrived, for its span (only when spans are exported).
    pub arrived: Option<SystemTime>,
    /// Counts the call in flight until its answer's body ends.
    pub in_flight: Option<GaugeGuard>,
    /// Its audit (records completed when the answer ends).
    pub audit: Option<CallAudit>,
    /// The request's method.
    pub method: Method,
    /// The host the client named (`Host` or `:authority`, without the port).
    pub host: Option<String>,
    /// The JSON-RPC body as it stands (read, decoded, redacted, split): error answers echo
    /// its id.
    pub buffered: Option<Bytes>,
    /// The call's decision, sent upstream and to the client.
    pub decision: Option<DecisionTag>,
    /// The policy that decides it: one snapshot for the whole call (`None`: no policy is
    /// configured, nothing is decided).
    pub policy: Option<Arc<crate::policy::Policy>>,
}

/// What the admit phase established: where the call goes, who makes it, in which run.
pub(super) struct Admitted {
    /// Its route.
    pub route: Arc<Route>,
    /// Its verified caller.
    pub who: Identity,
    /// Its run and trace context.
    pub ctx: CallContext,
    /// An OAuth discovery document or authorization-server endpoint of the route (served
    /// or forwarded as it is, outside the policy: clients fetch them before they have a
    /// token), rather than a call.
    pub discovery: Option<crate::routing::OAuthPath>,
}

/// Why a call was not admitted, and how far it got (for its metrics and audit record).
pub(super) struct Unadmitted {
    /// The refusal.
    pub err: crate::error::GatewayError,
    /// The route, when one was found.
    pub route: Option<Arc<Route>>,
    /// The caller, when verified.
    pub caller: Option<Arc<str>>,
}

impl CallState {
    /// A call that just arrived with `req`'s head.
    pub fn arrive<B>(proxy: &ProxyState, req: &http::Request<B>) -> Self {
        Self {
            arrived: proxy.spans.as_ref().map(|_| SystemTime::now()),
            in_flight: Some(GaugeGuard::new(&proxy.metrics.in_flight)),
            audit: proxy
                .audit
                .as_ref()
                .map(|t| CallAudit::new(t.clone(), req.headers())),
            method: req.method().clone(),
            host: crate::routing::request_host(req),
            buffered: None,
            decision: None,
            policy: proxy.policy.as_ref().map(|p| p.load_full()),
        }
    }
}

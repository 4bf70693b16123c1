//! Phase 1, admit: is the path unambiguous, which route serves it, who is calling (the
//! route's accepted proofs of identity; consumed credentials are removed from the request),
//! and in which run and trace. A call that fails here is answered at once (400, 404, 401)
//! and recorded; nothing of its body is read.

use http::Request;

use super::ProxyState;
use super::state::{Admitted, CallState, Unadmitted};
use crate::audit::exchange::CallIds;
use crate::context::CallContext;
use crate::error::RequestError;
use crate::forward::headers::Downstream;
use crate::routing::path_is_unambiguous;

impl ProxyState {
    /// Admit the call `req` (its identity headers may be consumed).
    pub(super) async fn admit<B>(
        &self,
        call: &mut CallState,
        req: &mut Request<B>,
        down: &Downstream,
    ) -> Result<Admitted, Unadmitted> {
        let refused = |err: RequestError| Unadmitted {
            err: err.into(),
            route: None,
            caller: None,
        };
        if !path_is_unambiguous(req.uri().path()) {
            return Err(refused(RequestError::AmbiguousPath));
        }
        // OAuth discovery documents and authorization-server endpoints of an MCP route are
        // public: the client asks for them before it has a token.
        if let Some((route, what)) = self
            .routes
            .find_oauth(call.host.as_deref(), req.uri().path())
        {
            let route = route.clone();
            let who = crate::identify::Identity::anonymous();
            return match CallContext::establish(req.headers(), &who, down.peer.ip(), &self.context)
            {
                Ok(ctx) => Ok(Admitted {
                    route,
                    who,
                    ctx,
                    discovery: Some(what),
                }),
                Err(e) => Err(Unadmitted {
                    err: RequestError::BadContext(e).into(),
                    route: Some(route),
                    caller: None,
                }),
            };
        }
        let Some(route) = self
            .routes
            .find(call.host.as_deref(), req.uri().path())
            .cloned()
        else {
            tracing::debug!(host = ?call.host, path = req.uri().path(), "no route");
            return Err(refused(RequestError::NoRoute));
        };
        let who = match self
            .identifier
            .identify(
                req.headers_mut(),
                down.cert_caller.as_ref(),
                route.index,
                &route.auth,
                route
                    .oauth
                    .as_ref()
                    .is_some_and(|o| o.mode == crate::config::OAuthMode::PassThrough),
            )
            .await
        {
            Ok(who) => who,
            Err(e) => {
                tracing::info!(route = %route.name, peer = %down.peer, error = %e, "call refused: not authenticated");
                return Err(Unadmitted {
                    err: RequestError::Unauthenticated(e).into(),
                    route: Some(route),
                    caller: None,
                });
            }
        };
        let ctx = match CallContext::establish(req.headers(), &who, down.peer.ip(), &self.context) {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::info!(route = %route.name, error = %e, "call refused: context headers");
                return Err(Unadmitted {
                    err: RequestError::BadContext(e).into(),
                    route: Some(route),
                    caller: Some(who.caller),
                });
            }
        };
        // A session id that this upstream's gateways did not seal (with an affinity key)
        // is an unknown session: refused before anything is judged or sent.
        if let Some(f) = self.upstreams[route.upstream].fleet() {
            if let Err(e) = f.check_session(req.headers()) {
                return Err(Unadmitted {
                    err: e.into(),
                    route: Some(route),
                    caller: Some(who.caller),
                });
            }
        }
        if let Some(a) = &mut call.audit {
            a.set_ids(CallIds {
                run_id: Some(ctx.run_id.clone()),
                hop_id: ctx.hop_id,
                parent_hop: ctx.parent_hop.clone(),
                trace_id: Some(ctx.trace_id.clone()),
            });
        }
        Ok(Admitted {
            route,
            who,
            ctx,
            discovery: None,
        })
    }
}

//! The reviewer's two requests that carry a body: explain a call (how learning sees it) and
//! answer an escalation. Bodies are parsed strictly — unknown keys refused — as the OpenAPI
//! document says (`docs/admin-openapi.yaml`).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::{AdminState, bad, read_json};
use crate::error::json_response;
use crate::forward::body::ProxyBody;

impl AdminState {
    /// `POST /v1/precedents/explain` with `{"tool", "caller", "arguments", "route"?,
    /// "findings"?, "run_labels"?, "strict"?}`: the call's features and how every level
    /// sees it (fingerprint, evidence, confidence and threshold), and what the precedents
    /// would decide — without deciding anything.
    pub(super) async fn explain(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ask {
            tool: String,
            caller: String,
            #[serde(default)]
            arguments: Option<serde_json::Value>,
            #[serde(default = "default_route")]
            route: String,
            #[serde(default)]
            findings: Vec<String>,
            #[serde(default)]
            run_labels: Vec<String>,
            #[serde(default = "strict_default")]
            strict: bool,
        }
        fn default_route() -> String {
            "tools".into()
        }
        fn strict_default() -> bool {
            true
        }
        let v = match read_json(req, 64).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let ask: Ask = match serde_json::from_value(v) {
            Ok(a) => a,
            Err(e) => return bad(StatusCode::BAD_REQUEST, format!("body: {e}")),
        };
        let labels: Vec<&str> = ask.run_labels.iter().map(String::as_str).collect();
        let mut f = crate::features::CallFeatures::of(
            &ask.route,
            &ask.tool,
            &ask.caller,
            ask.arguments.as_ref(),
            &[],
            &labels,
            crate::features::Hints {
                tool: &ask.tool,
                internal_domains: &self.precedents.config().internal_domains,
            },
        );
        f.set_findings(&ask.findings);
        let now = std::time::Instant::now();
        json_response(
            StatusCode::OK,
            serde_json::to_vec(&serde_json::json!({
                "features": f,
                "levels": self.precedents.explain(&f, ask.strict, now),
                "decision": self.precedents.peek(&f, ask.strict, now),
            }))
            .unwrap_or_default(),
        )
    }

    /// `POST /v1/escalations/{id}/approve` or `/reject` with
    /// `{"reviewer": "...", "comment": "..."}`.
    pub(super) async fn answer_escalation(
        &self,
        rest: &str,
        req: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let (id, approve) = match rest.rsplit_once('/') {
            Some((id, "approve")) => (id.to_string(), true),
            Some((id, "reject")) => (id.to_string(), false),
            _ => {
                return bad(
                    StatusCode::NOT_FOUND,
                    "POST /v1/escalations/{id}/approve or /reject".into(),
                );
            }
        };
        /// An answer's body: nothing else is accepted (a misspelt `coment` is an error, not a
        /// silently dropped comment).
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Answer {
            reviewer: String,
            #[serde(default)]
            comment: Option<String>,
        }
        let v = match read_json(req, 8).await {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        let answer = serde_json::from_value::<Answer>(v)
            .ok()
            .filter(|a| !a.reviewer.trim().is_empty() && a.reviewer.len() <= 256);
        let Some(Answer { reviewer, comment }) = answer else {
            return bad(
                StatusCode::BAD_REQUEST,
                "body needs {\"reviewer\": \"name\"} (and optionally \"comment\"), nothing else"
                    .into(),
            );
        };
        let (reviewer, comment) = (reviewer.as_str(), comment.as_deref());
        match self.reviews.answer(&id, approve, reviewer, comment).await {
            Ok(e) => {
                tracing::info!(escalation = %id, reviewer, approve, "escalation answered");
                if e.flow == crate::policy::model::EscalationFlow::Defer {
                    // A held call teaches precedents when its wait ends; a deferred one (or
                    // one reviewed after it went through) now.
                    if let Some(f) = &e.features {
                        self.reviews
                            .learn(&self.precedents, f, approve, e.spot_check.clone())
                            .await;
                    }
                }
                json_response(StatusCode::OK, serde_json::to_vec(&e).unwrap_or_default())
            }
            Err(e @ crate::review::ReviewError::NotFound(_)) => {
                bad(StatusCode::NOT_FOUND, e.to_string())
            }
            Err(e @ crate::review::ReviewError::Unavailable(_)) => {
                bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            Err(e) => bad(StatusCode::CONFLICT, e.to_string()),
        }
    }
}

//! The admin listener: `/healthz` (process up), `/readyz` (config loaded, listeners bound,
//! not draining), `/metrics` (Prometheus text). Everything but the two probes needs the
//! bearer token when `admin.token_file` is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::error::json_response;
use crate::forward::body::ProxyBody;
use crate::metrics::Metrics;

/// Liveness and readiness flags shared with the proxy listener.
#[derive(Debug, Default)]
pub struct Health {
    /// Listeners bound and serving.
    pub ready: AtomicBool,
    /// Shutdown has begun; readiness fails so load balancers stop sending traffic.
    pub draining: AtomicBool,
}

/// State of the admin service.
pub struct AdminState {
    /// Shared health flags.
    pub health: Arc<Health>,
    /// The registry rendered on `/metrics`.
    pub metrics: Metrics,
    /// Required bearer token, if any.
    pub token: Option<String>,
    /// Reloads the rules (`POST /v1/reload`); `None` without a policy.
    pub reloader: Option<Arc<crate::policy::reload::Reloader>>,
    /// Where refused admin requests are recorded (a failed authentication is an audit
    /// event); weak, so the audit trail can close before the admin listener does.
    pub audit: Option<crate::audit::writer::WeakAuditTrail>,
}

impl AdminState {
    /// Answer one admin request.
    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<ProxyBody> {
        let path = req.uri().path();
        match (req.method(), path) {
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/readyz") => {
                let ready = self.health.ready.load(Ordering::Acquire)
                    && !self.health.draining.load(Ordering::Acquire);
                if ready {
                    text(StatusCode::OK, "ready\n")
                } else if self.health.draining.load(Ordering::Acquire) {
                    text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "starting\n")
                }
            }
            _ if !self.authorized(&req) => {
                if let Some(trail) = &self.audit {
                    let record = crate::audit::record::AuditRecord {
                        method: Some(req.method().as_str().to_owned()),
                        ..crate::audit::record::AuditRecord::error(
                            Some("admin"),
                            401,
                            "unauthorized",
                            format!("{path}: admin token missing or wrong"),
                        )
                    };
                    if trail.try_record(record).is_err() {
                        tracing::warn!("audit record of a refused admin request not queued");
                    }
                }
                let mut resp = json_response(
                    StatusCode::UNAUTHORIZED,
                    br#"{"error":{"status":401,"reason":"unauthorized","message":"admin token required"}}"#.to_vec(),
                );
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sec0-gateway-admin\""),
                );
                resp
            }
            (&Method::POST, "/v1/reload") => self.reload().await,
            (&Method::GET, "/metrics") => {
                let mut resp = text(StatusCode::OK, &self.metrics.render());
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                resp
            }
            _ => json_response(
                StatusCode::NOT_FOUND,
                br#"{"error":{"status":404,"reason":"not_found","message":"no such admin endpoint"}}"#.to_vec(),
            ),
        }
    }

    async fn reload(&self) -> Response<ProxyBody> {
        let Some(r) = self.reloader.clone() else {
            return json_response(
                StatusCode::CONFLICT,
                br#"{"result":"error","error":"no policy is configured"}"#.to_vec(),
            );
        };
        let outcome = tokio::task::spawn_blocking(move || r.reload()).await;
        let (status, body) = match outcome {
            Ok(Ok(done)) => (
                StatusCode::OK,
                serde_json::json!({
                    "result": "ok",
                    "version": done.version,
                    "rules": done.rules,
                    "files": done.files,
                    "changed": done.changed,
                }),
            ),
            Ok(Err(e)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({"result": "error", "error": e.to_string()}),
            ),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"result": "error", "error": "reload task failed"}),
            ),
        };
        json_response(status, serde_json::to_vec(&body).unwrap_or_default())
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq::constant_time_eq(presented.as_bytes(), token.as_bytes())
    }
}

fn text(status: StatusCode, body: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body.to_owned()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

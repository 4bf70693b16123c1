//! The admin listener: `/healthz` (process up), `/readyz` (config loaded, listeners bound,
//! not draining), `/metrics` (Prometheus text), the review API (`/v1/escalations`,
//! `/v1/precedents`), what the console reads (`api.rs`: status, decision summary, runs and
//! audit records from the local audit files, the precedents export) and the console's
//! static page (`console.rs`). Everything but the two probes and the console's static
//! files needs the bearer token when `admin.token_file` is set; a browser's request from
//! another origin is refused (no CSRF), and without a token a browser may reach the admin
//! listener only by a loopback name (no DNS rebinding).

mod answers;
mod api;
mod console;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::error::{admin_error, json_response};
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
    /// The policy bundle source (`policy.source`), when the rules come from one.
    pub bundle: Option<Arc<crate::policy::bundle::source::BundleSource>>,
    /// Where refused admin requests are recorded (a failed authentication is an audit
    /// event); weak, so the audit trail can close before the admin listener does.
    pub audit: Option<crate::audit::writer::WeakAuditTrail>,
    /// Escalations for review (`/v1/escalations`).
    pub reviews: Arc<crate::review::ReviewStore>,
    /// Precedents (`/v1/precedents`).
    pub precedents: Arc<crate::review::learn::Precedents>,
    /// What the console shows of the configuration.
    pub facts: ConsoleFacts,
}

/// Configuration the console shows and the admin API reads from.
#[derive(Debug, Clone, Default)]
pub struct ConsoleFacts {
    /// The local audit file sink's directory (runs and audit records are read there).
    pub audit_dir: Option<std::path::PathBuf>,
    /// `escalation.hold_timeout`.
    pub hold_timeout: std::time::Duration,
    /// `escalation.on_timeout`.
    pub on_timeout: &'static str,
    /// `escalation.flow`.
    pub flow: &'static str,
    /// `policy.mode`, when a policy is configured.
    pub policy_mode: Option<&'static str>,
    /// The routes: name, boundary, protocol.
    pub routes: Vec<(String, &'static str, &'static str)>,
}

impl AdminState {
    /// Answer one admin request from `peer`.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ProxyBody> {
        let path = req.uri().path();
        match (req.method(), path) {
            (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
            (&Method::GET, "/readyz") => {
                let ready = self.health.ready.load(Ordering::Acquire)
                    && !self.health.draining.load(Ordering::Acquire);
                if ready {
                    text(StatusCode::OK, &self.ready_detail())
                } else if self.health.draining.load(Ordering::Acquire) {
                    text(StatusCode::SERVICE_UNAVAILABLE, "draining\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "starting\n")
                }
            }
            (&Method::GET | &Method::HEAD, p) if p == "/console" || p.starts_with("/console/") => {
                console::serve(&req, self.token.is_some(), peer)
            }
            _ if console::browser_refusal(&req, self.token.is_some()).is_some() => {
                console::refuse(console::browser_refusal(&req, self.token.is_some()))
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
                let mut resp = admin_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "admin token required",
                );
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"sec0-gateway-admin\""),
                );
                resp
            }
            (&Method::POST, "/v1/reload") => self.reload().await,
            (&Method::GET, "/v1/status") => self.status(),
            (&Method::GET, "/v1/decisions/summary") => self.summary(req.uri().query()),
            (&Method::GET, "/v1/precedents/export") => self.export(&req),
            (&Method::GET, p) if p.starts_with("/v1/runs/") => {
                let id = percent_decode(&p["/v1/runs/".len()..]);
                self.run(id).await
            }
            (&Method::GET, p) if p.starts_with("/v1/audit/decisions/") => {
                let id = percent_decode(&p["/v1/audit/decisions/".len()..]);
                self.audit_records(id).await
            }
            (&Method::GET, "/v1/precedents") => json_response(
                StatusCode::OK,
                serde_json::to_vec(&serde_json::json!({
                    "precedents": self.precedents.list(std::time::Instant::now())
                }))
                .unwrap_or_default(),
            ),
            (&Method::POST, "/v1/precedents/explain") => self.explain(req).await,
            (&Method::DELETE, p) if p.starts_with("/v1/precedents/") => {
                let id = &p["/v1/precedents/".len()..];
                match self.reviews.revoke_precedent(&self.precedents, id).await {
                    Ok(true) => json_response(StatusCode::OK, br#"{"revoked":true}"#.to_vec()),
                    Ok(false) => {
                        admin_error(StatusCode::NOT_FOUND, "not_found", "no such precedent")
                    }
                    Err(e) => bad(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
                }
            }
            (&Method::GET, "/v1/escalations") => {
                let filter = escalation_filter(req.uri().query().unwrap_or(""));
                match filter {
                    Ok(f) => json_response(
                        StatusCode::OK,
                        serde_json::to_vec(&serde_json::json!({
                            "escalations": self.reviews.list_shown(&f)
                        }))
                        .unwrap_or_default(),
                    ),
                    Err(e) => bad(StatusCode::BAD_REQUEST, e.to_string()),
                }
            }
            (&Method::GET, "/v1/escalations/feed") => self.feed(),
            (&Method::GET, p)
                if p.starts_with("/v1/escalations/")
                    && !p["/v1/escalations/".len()..].contains('/') =>
            {
                let id = &p["/v1/escalations/".len()..];
                match self.reviews.get_shown(id) {
                    Some(e) => {
                        json_response(StatusCode::OK, serde_json::to_vec(&e).unwrap_or_default())
                    }
                    None => admin_error(StatusCode::NOT_FOUND, "not_found", "no such escalation"),
                }
            }
            (&Method::POST, p)
                if p.starts_with("/v1/escalations/")
                    && (p.ends_with("/approve") || p.ends_with("/reject")) =>
            {
                let rest = p["/v1/escalations/".len()..].to_string();
                self.answer_escalation(&rest, req).await
            }
            (&Method::GET, "/metrics") => {
                let mut resp = text(StatusCode::OK, &self.metrics.render());
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                resp
            }
            (m, p) => match allowed_methods(p) {
                Some(allow) => {
                    let mut resp = admin_error(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method_not_allowed",
                        &format!("{m} is not allowed here (allowed: {allow})"),
                    );
                    resp.headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static(allow));
                    resp
                }
                None => admin_error(StatusCode::NOT_FOUND, "not_found", "no such admin endpoint"),
            },
        }
    }

    /// `/readyz`'s body: `ready`, and with a bundle source the version serving and the
    /// last fetch, so `kubectl exec … probe` or a curl tells which policy a replica runs.
    fn ready_detail(&self) -> String {
        let Some(b) = &self.bundle else {
            return "ready\n".into();
        };
        let st = b.status();
        let serving = st.serving.as_ref().map_or_else(
            || "none".to_string(),
            |s| {
                format!(
                    "version {} (created {}, rules {}, from {})",
                    s.version, s.created_at, s.rules_version, s.from
                )
            },
        );
        let attempt = st.last_attempt.as_ref().map_or_else(
            || "none yet".to_string(),
            |a| match a.reason {
                Some(r) => format!("{} at {} ({r})", a.result, a.at),
                None => format!("{} at {}", a.result, a.at),
            },
        );
        format!(
            "ready\npolicy bundle: {serving}\nlast fetch: {}\nlast poll: {attempt}\n",
            st.last_fetch.as_deref().unwrap_or("none yet")
        )
    }

    async fn reload(&self) -> Response<ProxyBody> {
        let Some(r) = self.reloader.clone() else {
            return admin_error(StatusCode::CONFLICT, "no_policy", "no policy is configured");
        };
        if let Some(b) = &self.bundle {
            return bundle_reload(b, &r).await;
        }
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
                serde_json::json!({"result": "error", "error": {
                    "status": 422, "reason": "invalid_policy", "message": e.to_string(),
                }}),
            ),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"result": "error", "error": {
                    "status": 500, "reason": "internal", "message": "reload task failed",
                }}),
            ),
        };
        json_response(status, serde_json::to_vec(&body).unwrap_or_default())
    }

    /// `GET /v1/escalations/feed`: server-sent events, one `event: escalation` per new
    /// escalation and per state change (JSON of the escalation), for a review UI or a bot.
    fn feed(&self) -> Response<ProxyBody> {
        let rx = self.reviews.subscribe();
        let reviews = self.reviews.clone();
        let stream = futures_util::stream::unfold((rx, reviews), |(mut rx, reviews)| async move {
            let frame = match rx.recv().await {
                Ok(e) => {
                    let answered = if e.state == crate::review::State::Pending {
                        None
                    } else {
                        reviews.answered_at(&e.id)
                    };
                    let shown = crate::review::Shown {
                        escalation: e,
                        answered,
                    };
                    format!(
                        "event: escalation\ndata: {}\n\n",
                        serde_json::to_string(&shown).unwrap_or_default()
                    )
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n")
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            Some((
                Ok::<_, crate::forward::body::BoxError>(hyper::body::Frame::data(Bytes::from(
                    frame,
                ))),
                (rx, reviews),
            ))
        });
        // A comment first, so the client sees the stream open at once.
        let hello = futures_util::stream::once(async {
            Ok::<_, crate::forward::body::BoxError>(hyper::body::Frame::data(Bytes::from_static(
                b": sec0-gateway escalations\n\n",
            )))
        });
        use futures_util::StreamExt;
        let body = http_body_util::StreamBody::new(hello.chain(stream)).boxed_unsync();
        let mut resp = Response::new(body);
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        resp
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

/// A request's JSON body: at most 64 KiB, parsed strictly (duplicate keys, depth over
/// `depth`, bad UTF-8 refused); else the 400 answer.
async fn read_json(
    req: Request<Incoming>,
    depth: usize,
) -> Result<serde_json::Value, Response<ProxyBody>> {
    let body = http_body_util::Limited::new(req.into_body(), 64 << 10)
        .collect()
        .await
        .map_err(|_| {
            bad(
                StatusCode::BAD_REQUEST,
                "body unreadable or over 64 KiB".into(),
            )
        })?
        .to_bytes();
    crate::protocol::json::parse_strict(&body, depth)
        .map_err(|e| bad(StatusCode::BAD_REQUEST, format!("body: {e}")))
}

/// The methods an admin endpoint answers (the `Allow` header of a 405), `None` for a path
/// that is no endpoint: a wrong method on a real endpoint is told apart from a wrong path.
fn allowed_methods(path: &str) -> Option<&'static str> {
    match path {
        "/healthz"
        | "/readyz"
        | "/metrics"
        | "/v1/status"
        | "/v1/decisions/summary"
        | "/v1/precedents"
        | "/v1/precedents/export"
        | "/v1/escalations"
        | "/v1/escalations/feed" => Some("GET"),
        "/v1/reload" | "/v1/precedents/explain" => Some("POST"),
        "/console" => Some("GET, HEAD"),
        p if p.starts_with("/console/") => Some("GET, HEAD"),
        p if p.starts_with("/v1/runs/") || p.starts_with("/v1/audit/decisions/") => Some("GET"),
        p if p.starts_with("/v1/precedents/") => Some("DELETE"),
        p if p.starts_with("/v1/escalations/") => {
            if p["/v1/escalations/".len()..].contains('/') {
                Some("POST")
            } else {
                Some("GET")
            }
        }
        _ => None,
    }
}

/// An admin error answer whose reason is its status (`bad_request`, `not_found`,
/// `conflict`, `service_unavailable`…), in the one error shape.
fn bad(status: StatusCode, msg: String) -> Response<ProxyBody> {
    let reason = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace([' ', '-'], "_");
    admin_error(status, &reason, &msg)
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

/// `state`, `route`, `tool`, `caller`, `run_id` from a query string.
fn escalation_filter(query: &str) -> Result<crate::review::Filter, String> {
    use crate::review::{Filter, State};
    let mut f = Filter::default();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "state" => {
                f.state =
                    Some(State::parse(v.as_str()).ok_or_else(|| format!("unknown state {v:?}"))?)
            }
            "route" => f.route = Some(v),
            "tool" => f.tool = Some(v),
            "caller" => f.caller = Some(v),
            "run_id" => f.run_id = Some(v),
            other => {
                return Err(format!(
                    "unknown filter {other:?} (state, route, tool, caller, run_id)"
                ));
            }
        }
    }
    Ok(f)
}

/// `%XX` and `+` decoding of a query value (invalid escapes kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `POST /v1/reload` with a bundle source: poll it now. 200 with what serves (and whether
/// it changed); 503 when the source cannot be reached; 422 when its bundle was refused.
async fn bundle_reload(
    b: &crate::policy::bundle::source::BundleSource,
    r: &crate::policy::reload::Reloader,
) -> Response<ProxyBody> {
    use crate::policy::bundle::source::Polled;
    let serving = r.serving();
    let (status, body) = match b.poll(r).await {
        Ok(Polled::Updated { version, reloaded }) => (
            StatusCode::OK,
            serde_json::json!({
                "result": "ok",
                "version": reloaded.version,
                "bundle_version": version,
                "rules": reloaded.rules,
                "files": reloaded.files,
                "changed": true,
            }),
        ),
        Ok(Polled::Unchanged { version }) => (
            StatusCode::OK,
            serde_json::json!({
                "result": "ok",
                "version": &*serving.version,
                "bundle_version": version,
                "rules": serving.len(),
                "files": serving.files.len(),
                "changed": false,
            }),
        ),
        Err(e) => {
            let (status, reason) = if e.reason() == "unreachable" {
                (StatusCode::SERVICE_UNAVAILABLE, "source_unreachable")
            } else {
                (StatusCode::UNPROCESSABLE_ENTITY, "bundle_refused")
            };
            (
                status,
                serde_json::json!({"result": "error", "error": {
                    "status": status.as_u16(), "reason": reason,
                    "refused": e.reason(), "message": e.to_string(),
                }}),
            )
        }
    };
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

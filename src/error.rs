//! The one place where a failure becomes an answer on the wire.
//!
//! Each step has its own error enum ([`RequestError`] for accept/route, [`ForwardError`] for
//! forwarding). [`respond`] turns any of them into the HTTP status and body the client gets:
//! a JSON-RPC error object echoing the request id on `mcp`/`jsonrpc`/`a2a` routes, a plain
//! JSON body elsewhere. Both carry a stable machine `reason`. Internal details (upstream
//! addresses, OS errors) go to the log, never to the client.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::config::{Protocol, RefusalCodes};
use crate::forward::ForwardError;
use crate::forward::body::ProxyBody;
use crate::protocol::json::JsonError;
use crate::protocol::jsonrpc::{ErrorResponse, codes};
use crate::protocol::{EnvelopeError, ProtocolError};

/// Failures found before a request is forwarded (accept and route steps).
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No route matches host and path.
    #[error("no route for this host and path")]
    NoRoute,
    /// A path that servers could read two ways (dot segments, encoded backslash, NUL).
    #[error("ambiguous request path")]
    AmbiguousPath,
    /// The audit trail cannot take the call's record (queue full under `fail_closed`, or
    /// the writer stopped): the call is refused rather than left unrecorded.
    #[error("the audit trail cannot record this call now")]
    AuditUnavailable,
    /// The call's rules read its run's history (or what it adds to it), and the shared
    /// run store cannot be reached (`store.on_unavailable: fail_closed`): refused rather
    /// than decided on a partial history.
    #[error("the shared run store is unavailable: {0}")]
    RunStoreUnavailable(#[from] crate::context::runs::RunStoreError),
    /// The caller could not be identified as the route requires (no or bad credentials).
    #[error("authentication failed: {0}")]
    Unauthenticated(#[from] crate::identify::IdentityError),
    /// The context headers are inconsistent or malformed (`x-agent-state`, …).
    #[error("context headers refused: {0}")]
    BadContext(#[from] crate::context::ContextError),
    /// A method the resource does not serve (the protected-resource metadata the gateway
    /// serves is read with GET or HEAD).
    #[error("method not allowed here")]
    MethodNotAllowed,
    /// `Content-Length` already announces more than the route accepts.
    #[error("request body of {length} bytes exceeds the limit of {limit} bytes")]
    DeclaredTooLarge {
        /// Announced length.
        length: u64,
        /// The route's limit.
        limit: u64,
    },
}

/// Any failure the gateway answers itself.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Accept/route step.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Forward step.
    #[error(transparent)]
    Forward(#[from] ForwardError),
    /// Classify step: the call's body is not acceptable for its protocol.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

/// The wire facts of an error: status, stable reason code, JSON-RPC code, client message.
struct Answer {
    status: StatusCode,
    reason: &'static str,
    rpc_code: i64,
    message: String,
}

fn answer(err: &GatewayError, codes: &RefusalCodes) -> Answer {
    use ForwardError as F;
    use RequestError as R;
    let a = |status, reason, rpc_code, message: String| Answer {
        status,
        reason,
        rpc_code,
        message,
    };
    match err {
        GatewayError::Request(R::NoRoute) => a(
            StatusCode::NOT_FOUND,
            "no_route",
            codes::INVALID_REQUEST,
            "no route for this host and path".into(),
        ),
        GatewayError::Request(R::Unauthenticated(crate::identify::IdentityError::InsufficientScope {
            scope,
        })) => a(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            codes.insufficient_scope,
            format!("the token lacks a scope this call needs; authorise again with scope {scope:?}"),
        ),
        GatewayError::Request(R::Unauthenticated(e)) => a(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            codes.unauthenticated,
            match e {
                crate::identify::IdentityError::Required => {
                    "this route needs a verified caller (client certificate, bearer token or API key)".into()
                }
                // The verifier's words, never the credential itself.
                other => other.to_string(),
            },
        ),
        GatewayError::Request(R::BadContext(e)) => a(
            StatusCode::BAD_REQUEST,
            "bad_context",
            codes::INVALID_REQUEST,
            e.to_string(),
        ),
        GatewayError::Request(R::AuditUnavailable) => a(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            codes::INTERNAL_ERROR,
            "the audit trail cannot record this call now; try again".into(),
        ),
        GatewayError::Request(R::RunStoreUnavailable(_)) => a(
            StatusCode::SERVICE_UNAVAILABLE,
            "run_store_unavailable",
            codes::INTERNAL_ERROR,
            "this call's rules need its run's history, and the shared run store is unavailable; try again".into(),
        ),
        GatewayError::Request(R::MethodNotAllowed) => a(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            codes::INVALID_REQUEST,
            "this resource is read with GET".into(),
        ),
        GatewayError::Request(R::AmbiguousPath) => a(
            StatusCode::BAD_REQUEST,
            "ambiguous_path",
            codes::INVALID_REQUEST,
            "request path has dot segments or encoded separators".into(),
        ),
        GatewayError::Request(R::DeclaredTooLarge { limit, .. })
        | GatewayError::Forward(F::BodyTooLarge { limit }) => a(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            codes::INVALID_REQUEST,
            format!("request body exceeds the limit of {limit} bytes"),
        ),
        GatewayError::Forward(F::BodyIdle(_)) => a(
            StatusCode::REQUEST_TIMEOUT,
            "request_body_timeout",
            codes::INVALID_REQUEST,
            "request body not received in time".into(),
        ),
        GatewayError::Forward(F::BodyRead(_)) => a(
            StatusCode::BAD_REQUEST,
            "request_body_unreadable",
            codes::INVALID_REQUEST,
            "request body could not be read".into(),
        ),
        GatewayError::Forward(F::Unreachable { upstream, .. }) => a(
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} is unreachable"),
        ),
        GatewayError::Forward(F::Timeout { upstream, .. }) => a(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} did not answer in time"),
        ),
        GatewayError::Forward(F::Credential { upstream, .. }) => a(
            StatusCode::BAD_GATEWAY,
            "upstream_credential_unavailable",
            codes::INTERNAL_ERROR,
            format!("the gateway could not obtain its credential for upstream {upstream:?}"),
        ),
        GatewayError::Forward(F::Upstream { upstream, .. }) => a(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} failed to answer"),
        ),
        GatewayError::Protocol(ProtocolError::NotJson(_)) => a(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            codes::INVALID_REQUEST,
            "request body must be sent as application/json (UTF-8)".into(),
        ),
        GatewayError::Protocol(ProtocolError::Compressed(_)) => a(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "compressed_body_refused",
            codes::INVALID_REQUEST,
            "compressed request bodies are not accepted".into(),
        ),
        GatewayError::Protocol(ProtocolError::Undecodable(_)) => a(
            StatusCode::BAD_REQUEST,
            "undecodable_body",
            codes::INVALID_REQUEST,
            "compressed request body does not decode".into(),
        ),
        GatewayError::Protocol(ProtocolError::DecodedTooLarge { limit }) => a(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            codes::INVALID_REQUEST,
            format!("decoded request body exceeds the limit of {limit} bytes"),
        ),
        GatewayError::Protocol(ProtocolError::HeaderMismatch { header, detail }) => a(
            StatusCode::BAD_REQUEST,
            "header_mismatch",
            codes::HEADER_MISMATCH,
            format!("header {header} does not match the body: {detail}"),
        ),
        GatewayError::Protocol(ProtocolError::Envelope(EnvelopeError::Json(
            JsonError::Syntax(_),
        ))) => a(
            StatusCode::BAD_REQUEST,
            "parse_error",
            codes::PARSE_ERROR,
            "request body is not valid JSON".into(),
        ),
        GatewayError::Protocol(ProtocolError::Envelope(EnvelopeError::Json(
            JsonError::DuplicateKey(k),
        ))) => a(
            StatusCode::BAD_REQUEST,
            "duplicate_key",
            codes::INVALID_REQUEST,
            format!("duplicate object key {k:?}: the request could be read two ways"),
        ),
        GatewayError::Protocol(ProtocolError::Envelope(EnvelopeError::Json(
            JsonError::TooDeep(n),
        ))) => a(
            StatusCode::BAD_REQUEST,
            "too_deep",
            codes::INVALID_REQUEST,
            format!("JSON nested deeper than {n} levels"),
        ),
        GatewayError::Protocol(ProtocolError::Mcp(m)) => a(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            codes::INVALID_REQUEST,
            format!("invalid MCP request: {m}"),
        ),
        GatewayError::Protocol(ProtocolError::Envelope(e)) => a(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            codes::INVALID_REQUEST,
            format!("invalid JSON-RPC request: {e}"),
        ),
        GatewayError::Forward(F::CircuitOpen { upstream, .. }) => a(
            StatusCode::SERVICE_UNAVAILABLE,
            "circuit_open",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} is at its limit of calls; try again shortly"),
        ),
        GatewayError::Forward(F::NoEndpoints { upstream }) => a(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_endpoints",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} has no endpoints"),
        ),
        // As MCP servers answer an unknown session (the Python SDK's code): the client
        // starts a new session. Which check failed is not said.
        GatewayError::Forward(F::UnknownSession { .. }) => a(
            StatusCode::NOT_FOUND,
            "unknown_session",
            codes::INVALID_REQUEST,
            "Session not found".into(),
        ),
        GatewayError::Forward(F::UnsealableSession { upstream, .. }) => a(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            codes::INTERNAL_ERROR,
            format!("upstream {upstream:?} failed to answer"),
        ),
        GatewayError::Forward(F::BadTarget(_)) => a(
            StatusCode::BAD_REQUEST,
            "bad_target",
            codes::INVALID_REQUEST,
            "request target cannot be forwarded".into(),
        ),
    }
}

#[derive(Serialize)]
struct ErrorData {
    reason: &'static str,
    status: u16,
}

#[derive(Serialize)]
struct PlainBody<'a> {
    error: PlainError<'a>,
}

#[derive(Serialize)]
struct PlainError<'a> {
    status: u16,
    reason: &'static str,
    message: &'a str,
}

/// The stable reason code of `err`'s answer (for logs and audit records).
pub fn reason_of(err: &GatewayError) -> &'static str {
    answer(err, &RefusalCodes::default()).reason
}

/// The JSON-RPC error code `err` is answered with on JSON-RPC routes.
pub fn rpc_code_of(err: &GatewayError, codes: &RefusalCodes) -> i64 {
    answer(err, codes).rpc_code
}

/// The response for `err`. `protocol` is the route's protocol (`None` before routing);
/// `id` the request's JSON-RPC id when one could be read.
pub fn respond(
    err: &GatewayError,
    protocol: Option<Protocol>,
    id: Option<&RawValue>,
    codes: &RefusalCodes,
) -> Response<ProxyBody> {
    let ans = answer(err, codes);
    let body = if protocol.is_some_and(Protocol::is_jsonrpc) {
        let data = ErrorData {
            reason: ans.reason,
            status: ans.status.as_u16(),
        };
        serde_json::to_vec(&ErrorResponse::new(id, ans.rpc_code, &ans.message, data))
    } else {
        serde_json::to_vec(&PlainBody {
            error: PlainError {
                status: ans.status.as_u16(),
                reason: ans.reason,
                message: &ans.message,
            },
        })
    };
    // Serialising these plain structs cannot fail; fall back to an empty body regardless.
    let mut resp = json_response(ans.status, body.unwrap_or_default());
    if ans.status == StatusCode::SERVICE_UNAVAILABLE && ans.reason == "circuit_open" {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Why the policy refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// A rule decided `deny`.
    Denied,
    /// The call was escalated, nobody answered within the hold time, and `on_timeout` is
    /// `deny`.
    EscalationTimedOut,
    /// The call was escalated and a reviewer rejected it.
    Rejected,
    /// The call was escalated for a later answer (`defer`): call again once approved.
    Deferred,
    /// The call was escalated but the shared review store could not be reached
    /// (`store.on_unavailable: fail_closed`): denied without review.
    ReviewUnavailable,
}

// The codes the gateway invents are `answers.codes` (`RefusalCodes`): by default its own
// application range, 4010–4039, since JSON-RPC reserves -32768…-32000 (MCP claims
// -32020…-32099 of it) and the MCP SDKs already use -32001 for a request timeout; config
// validation keeps configured ones outside it too.
// `every_code_the_gateway_invents_is_outside_the_reserved_range` holds it.

/// The code answering a refusal of `kind`.
pub fn refusal_code(kind: RefusalKind, codes: &RefusalCodes) -> i64 {
    match kind {
        RefusalKind::Denied | RefusalKind::ReviewUnavailable => codes.denied,
        RefusalKind::EscalationTimedOut | RefusalKind::Deferred => codes.escalated,
        RefusalKind::Rejected => codes.rejected,
    }
}

fn refusal_data(d: &crate::policy::Decision, kind: RefusalKind) -> serde_json::Value {
    let mut data = serde_json::json!({
        "decision": d.decision.as_str(),
        "reason": d.reason,
        "rules": d.rules,
        "decision_id": d.decision_id,
        "policy_version": d.policy_version,
    });
    match kind {
        RefusalKind::EscalationTimedOut => {
            data["on_timeout"] = serde_json::Value::from("deny");
            data["escalation_id"] = serde_json::Value::from(d.decision_id.as_str());
        }
        RefusalKind::Rejected => {
            data["escalation_id"] = serde_json::Value::from(d.decision_id.as_str());
        }
        RefusalKind::Deferred => {
            data["escalation_id"] = serde_json::Value::from(d.decision_id.as_str());
            data["status_url"] =
                serde_json::Value::from(format!("/v1/escalations/{}", d.decision_id));
        }
        RefusalKind::ReviewUnavailable => {
            data["escalation_id"] = serde_json::Value::from(d.decision_id.as_str());
            data["review"] = serde_json::Value::from("review_store_unavailable");
        }
        RefusalKind::Denied => {}
    }
    data
}

/// The words a refusal is explained with (JSON-RPC `message`, HTTP `error.message`).
fn refusal_message(d: &crate::policy::Decision, kind: RefusalKind) -> String {
    match kind {
        RefusalKind::Denied => format!("denied by policy: {}", d.reason),
        RefusalKind::EscalationTimedOut => format!(
            "escalated for review and not approved in time: {}",
            d.reason
        ),
        RefusalKind::Rejected => format!("escalated for review and rejected: {}", d.reason),
        RefusalKind::Deferred => format!(
            "escalated for review: {}; call again once approved",
            d.reason
        ),
        RefusalKind::ReviewUnavailable => format!(
            "escalated for review ({}), but the review store is unavailable: denied",
            d.reason
        ),
    }
}

/// The JSON-RPC error object answering a refused request with id `id`.
pub fn refusal_object(
    id: &serde_json::Value,
    d: &crate::policy::Decision,
    kind: RefusalKind,
    codes: &RefusalCodes,
) -> serde_json::Value {
    let code = refusal_code(kind, codes);
    let message = refusal_message(d, kind);
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {"code": code, "message": message, "data": refusal_data(d, kind)},
    })
}

/// A refused MCP `tools/call` answered the soft way (`routes[].soft_deny`): a tool result
/// with `isError: true` whose text is the refusal's message, so the model reads why; the
/// code and `error.data` of the JSON-RPC refusal are in `_meta["sec0/refusal"]`.
pub fn soft_refusal(
    id: &serde_json::Value,
    d: &crate::policy::Decision,
    kind: RefusalKind,
    codes: &RefusalCodes,
) -> serde_json::Value {
    let hard = refusal_object(id, d, kind, codes);
    let error = &hard["error"];
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {
            "content": [{"type": "text", "text": error["message"]}],
            "isError": true,
            "_meta": {"sec0/refusal": {"code": error["code"], "data": error["data"]}},
        },
    })
}

/// The 403 answer for a refused call on a plain HTTP route.
pub fn http_refusal(d: &crate::policy::Decision, kind: RefusalKind) -> Response<ProxyBody> {
    let mut error = refusal_data(d, kind);
    error["status"] = serde_json::Value::from(403);
    error["message"] = serde_json::Value::from(refusal_message(d, kind));
    json_response(
        StatusCode::FORBIDDEN,
        serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap_or_default(),
    )
}

/// Whole seconds to wait, rounded up (`Retry-After`).
pub fn retry_secs(w: std::time::Duration) -> u64 {
    w.as_secs() + u64::from(w.subsec_nanos() > 0)
}

/// The 429 answer of a plain HTTP call beyond a rate limit (`d`: the refusal decision).
pub fn too_many(d: &crate::policy::Decision, wait: std::time::Duration) -> Response<ProxyBody> {
    let body = serde_json::json!({"error": {
        "status": 429,
        "reason": "rate_limited",
        "message": "too many calls; retry later",
        "rules": d.rules,
        "decision_id": d.decision_id,
        "retry_after": retry_secs(wait),
    }});
    let mut resp = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        serde_json::to_vec(&body).unwrap_or_default(),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, retry_secs(wait).into());
    resp
}

/// `resp` (a 401) with the bearer challenge, for routes that take bearer tokens.
pub fn with_bearer_challenge(mut resp: Response<ProxyBody>) -> Response<ProxyBody> {
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sec0-gateway\""),
    );
    resp
}

/// `resp` (the 401 or 403 answering `err` on an MCP route with OAuth) with the challenge
/// MCP clients start their authorization from (RFC 6750 §3, RFC 9728 §5.1):
/// `Bearer resource_metadata="<metadata_url>"`, and `scope` (the scopes to ask for:
/// `required_scope` on a 401, every scope the call needs on a 403), `error="invalid_token"`
/// when a token was presented and refused, `error="insufficient_scope"` on a 403. Scopes and
/// URLs were checked by config validation to need no escaping inside quotes.
pub fn with_oauth_challenge(
    mut resp: Response<ProxyBody>,
    err: &crate::identify::IdentityError,
    metadata_url: &str,
    required_scope: &str,
) -> Response<ProxyBody> {
    use crate::identify::IdentityError as I;
    let mut v = String::from("Bearer ");
    let scope = match err {
        I::InsufficientScope { scope } => {
            v.push_str("error=\"insufficient_scope\", ");
            scope.as_str()
        }
        I::Invalid(_) => {
            v.push_str("error=\"invalid_token\", ");
            required_scope
        }
        I::Required | I::Setup(_) => required_scope,
    };
    v.push_str(&format!("resource_metadata=\"{metadata_url}\""));
    if !scope.is_empty() {
        v.push_str(&format!(", scope=\"{scope}\""));
    }
    if let Ok(value) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}

/// An error answer of the admin API, in the gateway's one JSON error shape:
/// `{"error": {"status", "reason", "message"}}` (`reason`: a stable snake_case code).
pub fn admin_error(status: StatusCode, reason: &str, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({"error": {
        "status": status.as_u16(),
        "reason": reason,
        "message": message,
    }});
    json_response(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// An empty 202: what a dropped notification (or client response) gets.
pub fn accepted() -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// How a call under a rate limit is refused when the shared store holding its bucket
/// cannot be reached (`store.on_unavailable: fail_closed`): as over the limit, with rule
/// `shared_state_unavailable`, to retry after a second — refused rather than counted nowhere.
pub fn limit_without_store(
    e: &crate::shared::StoreError,
) -> (std::sync::Arc<str>, std::time::Duration) {
    tracing::warn!(error = %e, "rate-limited call refused: the shared store is unreachable");
    (
        std::sync::Arc::from("shared_state_unavailable"),
        std::time::Duration::from_secs(1),
    )
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;

//! Tests of the error answers (`error.rs`): codes outside the reserved range, the answer
//! shapes, the OAuth challenges.

use super::*;
use std::time::Duration;

/// Whether a JSON-RPC code may be emitted: outside the reserved range, or a standard
/// code used for its standard meaning (JSON-RPC's, and MCP's header mismatch).
fn allowed(code: i64) -> bool {
    !(-32768..=-32000).contains(&code)
        || [
            codes::PARSE_ERROR,
            codes::INVALID_REQUEST,
            codes::INTERNAL_ERROR,
            codes::HEADER_MISMATCH,
        ]
        .contains(&code)
}

#[test]
fn every_code_the_gateway_invents_is_outside_the_reserved_range() {
    let d = crate::policy::Decision {
        decision: crate::policy::DecisionKind::Deny,
        would_be: crate::policy::DecisionKind::Deny,
        mode: crate::policy::Mode::Enforce,
        reason: "r".into(),
        rules: vec![],
        labels: vec![],
        flow: None,
        redact: vec![],
        decision_id: "d".into(),
        policy_version: "v".into(),
        precedent: None,
    };
    let codes = RefusalCodes::default();
    let kinds = [
        RefusalKind::Denied,
        RefusalKind::EscalationTimedOut,
        RefusalKind::Rejected,
        RefusalKind::Deferred,
        RefusalKind::ReviewUnavailable,
    ];
    for kind in kinds {
        let o = refusal_object(&serde_json::Value::from(1), &d, kind, &codes);
        let code = o["error"]["code"].as_i64().expect("code");
        assert!(allowed(code), "{kind:?} answers {code}");
    }
    for code in [
        codes.unauthenticated,
        codes.denied,
        codes.escalated,
        codes.rejected,
        codes.insufficient_scope,
    ] {
        assert!(
            !(-32768..=-32000).contains(&code),
            "{code} is in the reserved range"
        );
    }
    // Every other code comes from `answer`: walk the source for code literals, so a new
    // arm with a literal in the reserved range is caught too.
    let src = include_str!("error.rs");
    let body = &src[..src.find("#[cfg(test)]").unwrap_or(src.len())];
    let code_lines = body.lines().filter(|l| !l.trim_start().starts_with("//"));
    for line in code_lines {
        for (i, _) in line.match_indices("-32") {
            let digits: String = line[i + 1..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if digits.len() == 5 {
                let code: i64 = -digits.parse::<i64>().expect("digits");
                assert!(allowed(code), "error.rs writes {code}: {line}");
            }
        }
    }
}

async fn body_of(resp: Response<ProxyBody>) -> serde_json::Value {
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn jsonrpc_routes_get_jsonrpc_errors_with_the_id() {
    let id = RawValue::from_string("42".into()).expect("raw");
    let err = GatewayError::Forward(ForwardError::Timeout {
        upstream: "tools".into(),
        timeout: Duration::from_secs(1),
    });
    let resp = respond(
        &err,
        Some(Protocol::Mcp),
        Some(&id),
        &RefusalCodes::default(),
    );
    assert_eq!(resp.status(), StatusCode::GATEWAY_TIMEOUT);
    let v = body_of(resp).await;
    assert_eq!(v["id"], 42);
    assert_eq!(v["error"]["code"], -32603);
    assert_eq!(v["error"]["data"]["reason"], "upstream_timeout");
}

#[tokio::test]
async fn http_routes_get_plain_json() {
    let err = GatewayError::Request(RequestError::NoRoute);
    let resp = respond(&err, None, None, &RefusalCodes::default());
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let v = body_of(resp).await;
    assert_eq!(v["error"]["reason"], "no_route");
    assert_eq!(v["error"]["status"], 404);
}

#[tokio::test]
async fn client_message_hides_internal_detail() {
    let err = GatewayError::Forward(ForwardError::Unreachable {
        upstream: "tools".into(),
        detail: "tcp connect error: 10.1.2.3:80 refused".into(),
    });
    let v = body_of(respond(
        &err,
        Some(Protocol::Http),
        None,
        &RefusalCodes::default(),
    ))
    .await;
    let text = v.to_string();
    assert!(!text.contains("10.1.2.3"), "{text}");
    assert_eq!(v["error"]["status"], 502);
}

#[test]
fn oauth_challenges_say_where_the_metadata_is_and_which_scope_to_ask_for() {
    use crate::identify::IdentityError as I;
    let m = "https://gw/.well-known/oauth-protected-resource/mcp";
    let header = |err: &I, scope: &str| {
        let resp = with_oauth_challenge(
            json_response(StatusCode::UNAUTHORIZED, vec![]),
            err,
            m,
            scope,
        );
        resp.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .to_string()
    };
    assert_eq!(
        header(&I::Required, "mcp"),
        format!("Bearer resource_metadata=\"{m}\", scope=\"mcp\"")
    );
    assert_eq!(
        header(&I::Required, ""),
        format!("Bearer resource_metadata=\"{m}\"")
    );
    assert_eq!(
        header(&I::Invalid("expired".into()), "mcp"),
        format!("Bearer error=\"invalid_token\", resource_metadata=\"{m}\", scope=\"mcp\"")
    );
    assert_eq!(
        header(
            &I::InsufficientScope {
                scope: "mcp notes:write".into()
            },
            "mcp"
        ),
        format!(
            "Bearer error=\"insufficient_scope\", resource_metadata=\"{m}\", scope=\"mcp notes:write\""
        )
    );
}

#[tokio::test]
async fn insufficient_scope_is_a_403_with_its_own_code() {
    let err = GatewayError::Request(RequestError::Unauthenticated(
        crate::identify::IdentityError::InsufficientScope {
            scope: "a b".into(),
        },
    ));
    let id = RawValue::from_string("7".into()).expect("raw");
    let resp = respond(
        &err,
        Some(Protocol::Mcp),
        Some(&id),
        &RefusalCodes::default(),
    );
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v = body_of(resp).await;
    assert_eq!(v["id"], 7);
    assert_eq!(v["error"]["code"], 4033);
    assert_eq!(v["error"]["data"]["reason"], "insufficient_scope");
    let resp = respond(
        &GatewayError::Request(RequestError::MethodNotAllowed),
        None,
        None,
        &RefusalCodes::default(),
    );
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_unavailable_run_store_is_a_503_that_hides_the_redis_address() {
    let store = crate::shared::StoreError::Connection("connect to 10.9.8.7:6379 refused".into());
    let err = GatewayError::Request(RequestError::RunStoreUnavailable(
        crate::context::runs::RunStoreError::Unavailable(store),
    ));
    let id = RawValue::from_string("7".into()).expect("raw");
    let resp = respond(
        &err,
        Some(Protocol::Mcp),
        Some(&id),
        &RefusalCodes::default(),
    );
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v = body_of(resp).await;
    assert_eq!(v["id"], 7);
    assert_eq!(v["error"]["code"], -32603);
    assert_eq!(v["error"]["data"]["reason"], "run_store_unavailable");
    assert!(!v.to_string().contains("10.9.8.7"), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("run's history")),
        "{v}"
    );
}

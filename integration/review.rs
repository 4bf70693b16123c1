//! Human review through the admin API: an escalated call is held; a reviewer lists it,
//! sees its context, and approves it (the call goes through) or rejects it (4032);
//! unanswered, it expires into `on_timeout` (4031). Answers are validated (unknown id,
//! answered twice, no reviewer), and every state change is an audit record linked to the
//! decision.

use crate::common;

use std::time::Duration;

use common::{Upstream, gateway_with_rules};
use http::Method;
use serde_json::{Value, json};

const RULES: &str = "version: 1\nrules:\n  - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves }\n";

fn call(id: u32) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "wire_money", "arguments": {"amount": 5000}}}).to_string()
}

/// An echo upstream behind a gateway with the test rules and `hold_timeout: <hold>`.
async fn held_for(
    hold: &str,
) -> (
    Upstream,
    sec0_gateway::RunningGateway,
    tempfile::NamedTempFile,
) {
    let up = Upstream::echo("u").await;
    let (gw, rules) = gateway_with_rules(
        RULES,
        &format!(
            "escalation: {{ hold_timeout: {hold} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    (up, gw, rules)
}

/// Send `body` (a call the rules escalate), wait for its escalation, answer it with `verb`
/// as reviewer `ops`, and return what the held call finally got.
async fn held_and_answered(
    gw: &sec0_gateway::RunningGateway,
    body: String,
    verb: &str,
) -> common::Answer {
    let addr = gw.proxy_addr;
    let held = tokio::spawn(async move { common::post_json(addr, "/mcp", &body).await });
    let e = common::one_pending(gw.admin_addr).await;
    let id = e["id"].as_str().expect("id").to_string();
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, verb, r#"{"reviewer":"ops"}"#)
            .await
            .status,
        200
    );
    held.await.expect("held call")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_approve_and_reject_held_calls() {
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        RULES,
        &format!(
            "escalation: {{ hold_timeout: 20s }}\naudit: {{ file: {{ dir: {audit_dir:?} }} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    // Approved: the held call goes through to the upstream.
    let held = tokio::spawn(async move { common::post_json(addr, "/mcp", &call(1)).await });
    let e = common::one_pending(gw.admin_addr).await;
    assert_eq!(
        (
            e["tool"].as_str(),
            e["reason"].as_str(),
            e["caller"].as_str()
        ),
        (Some("wire_money"), Some("money_moves"), Some("anonymous"))
    );
    assert_eq!(e["rules"], json!(["review-wires"]));
    let id = e["id"].as_str().expect("id").to_string();
    let got = common::escalation(gw.admin_addr, &id).await;
    assert_eq!(got.json()["state"], "pending");
    let a = common::answer_escalation(
        gw.admin_addr,
        &id,
        "approve",
        r#"{"reviewer":"ops-bob","comment":"known vendor"}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["state"], "approved");
    let done = held.await.expect("held call");
    assert_eq!(done.status, 200);
    assert!(
        done.json()["tag"] == "u",
        "approved: forwarded to the upstream: {}",
        done.json()
    );
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, "reject", r#"{"reviewer":"eve"}"#)
            .await
            .status,
        409,
        "answered once"
    );
    assert_eq!(
        common::answer_escalation(
            gw.admin_addr,
            "no-such-id",
            "approve",
            r#"{"reviewer":"bob"}"#
        )
        .await
        .status,
        404
    );

    // Rejected: 4032 for that call, with the escalation id.
    let held = tokio::spawn(async move { common::post_json(addr, "/mcp", &call(2)).await });
    let e = common::one_pending(gw.admin_addr).await;
    let id2 = e["id"].as_str().expect("id").to_string();
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id2, "reject", r#"{"comment":"who?"}"#)
            .await
            .status,
        400,
        "a reviewer must be named"
    );
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id2, "reject", r#"{"reviewer":"ops-ann"}"#)
            .await
            .status,
        200
    );
    let refused = held.await.expect("held call").json();
    assert_eq!(refused["error"]["code"], 4032, "{refused}");
    assert_eq!(refused["error"]["data"]["escalation_id"], id2.as_str());
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(&m, "sec0_gateway_escalations_total{state=\"approved\"}")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert!(m.contains("sec0_gateway_escalations_pending 0"), "{m}");
    gw.shutdown().await;

    let records = common::audit_records(&audit_dir);
    let states: Vec<(String, String)> = records
        .iter()
        .filter(|r| r["kind"] == "escalation")
        .map(|r| {
            (
                r["decision_id"].as_str().unwrap_or("").to_string(),
                r["escalation"]["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (id.clone(), "pending".into()),
            (id.clone(), "approved".into()),
            (id2.clone(), "pending".into()),
            (id2.clone(), "rejected".into())
        ]
    );
    let approved = records
        .iter()
        .find(|r| r["kind"] == "escalation" && r["escalation"]["state"] == "approved")
        .expect("record");
    assert_eq!(
        (approved["reviewer"].as_str(), approved["comment"].as_str()),
        (Some("ops-bob"), Some("known vendor"))
    );
    let decision = records
        .iter()
        .find(|r| r["kind"] == "decision" && r["decision_id"] == id.as_str())
        .expect("decision record");
    assert_eq!(
        decision["escalation"],
        json!({"id": id, "outcome": "allow", "state": "approved"}),
        "the decision record says what became of it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_escalation_expires_into_on_timeout() {
    let (_up, gw, _r) = held_for("200ms").await;
    let refused = common::post_json(gw.proxy_addr, "/mcp", &call(3))
        .await
        .json();
    assert_eq!(refused["error"]["code"], 4031);
    let id = refused["error"]["data"]["escalation_id"]
        .as_str()
        .expect("id")
        .to_string();
    let got = common::escalation(gw.admin_addr, &id).await;
    assert_eq!(got.json()["state"], "expired");
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, "approve", r#"{"reviewer":"late"}"#)
            .await
            .status,
        409,
        "too late"
    );
    let bad = common::send(
        gw.admin_addr,
        Method::GET,
        "/v1/escalations?colour=red",
        &[],
        None,
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_become_a_precedent_for_calls_of_the_same_shape() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        RULES,
        &format!(
            // Two agreeing answers make a precedent here (the Wilson lower bound of 2 of 2 is
            // 0.34); the default needs more, and more again for tools not annotated safe.
            "escalation: {{ hold_timeout: 20s }}\nlearn: {{ auto_allow_after: 2, confidence: {{ exact: 0.3 }}, strict_confidence: {{ exact: 0.3 }} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let addr = gw.proxy_addr;
    let pay = |id: u32, amount: u64| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": "wire_money", "arguments": {"amount": amount, "to": "https://pay.vendor.test/x"}}}).to_string()
    };
    for (n, amount) in [(1u32, 5000u64), (2, 6200)] {
        let body = pay(n, amount);
        let got = held_and_answered(&gw, body, "approve").await;
        assert_eq!(got.status, 200);
    }
    // Same shape (same vendor host, same magnitude, no more than approved before): allowed
    // at once, by precedent.
    let started = std::time::Instant::now();
    let third = common::post_json(addr, "/mcp", &pay(3, 5500)).await;
    assert_eq!(
        third.json()["tag"],
        "u",
        "forwarded without review: {}",
        third.json()
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "not held for review"
    );
    let list = common::send(gw.admin_addr, Method::GET, "/v1/precedents", &[], None)
        .await
        .json();
    let precedents = list["precedents"].as_array().cloned().unwrap_or_default();
    assert_eq!(precedents.len(), 1, "{list}");
    assert_eq!(precedents[0]["verdict"], "allow");
    let m = common::metrics(&gw).await;
    assert!(
        m.contains("sec0_gateway_precedents{verdict=\"allow\"} 1"),
        "{m}"
    );
    assert!(
        common::metric_value(&m, "sec0_gateway_escalation_answer_seconds_count")
            .is_some_and(|v| v >= 2.0),
        "{m}"
    );
    // Exported as rules (`learn export`), the precedent decides on a fresh gateway that
    // never saw a reviewer: same shape allowed at once, another shape still escalated.
    let rules_dir = tempfile::tempdir().expect("dir");
    std::fs::write(rules_dir.path().join("00-rules.yaml"), RULES).expect("rules");
    let exported = rules_dir.path().join("90-precedents.yaml");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sec0-gateway"))
        .args([
            "learn",
            "export",
            "--admin",
            &format!("http://{}", gw.admin_addr),
            "-o",
        ])
        .arg(&exported)
        .status()
        .expect("learn export");
    assert!(status.success());
    let text = std::fs::read_to_string(&exported).expect("exported");
    assert!(
        text.contains("precedent: true") && text.contains("decision: allow"),
        "{text}"
    );
    let fresh = common::gateway(&format!(
        "policy: {{ rules: {:?} }}\nescalation: {{ hold_timeout: 0s }}\nlearn: {{ enabled: false }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        rules_dir.path(),
        up.url()
    ))
    .await;
    let same = common::post_json(fresh.proxy_addr, "/mcp", &pay(30, 6600)).await;
    assert_eq!(
        same.json()["tag"],
        "u",
        "allowed by the exported rule: {}",
        same.json()
    );
    let other = common::post_json(fresh.proxy_addr, "/mcp", &pay(31, 66_000)).await;
    assert_eq!(other.json()["error"]["code"], 4031, "{}", other.json());
    fresh.shutdown().await;

    // Another shape (ten times more): escalated as before.
    let body = pay(4, 71_000);
    let got = held_and_answered(&gw, body, "reject").await;
    assert_eq!(got.json()["error"]["code"], 4032);
    // Revoked by an operator: the first shape needs review again.
    let pid = precedents[0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        common::send(
            gw.admin_addr,
            Method::DELETE,
            &format!("/v1/precedents/{pid}"),
            &[],
            None
        )
        .await
        .status,
        200
    );
    let body = pay(5, 5500);
    let got = held_and_answered(&gw, body, "approve").await;
    assert_eq!(got.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_call_is_answered_at_once_and_allowed_once_after_approval() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        "version: 1\nrules:\n  - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves, flow: defer }\n",
        &format!(
            "learn: {{ enabled: false }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let first = common::post_json(gw.proxy_addr, "/mcp", &call(1))
        .await
        .json();
    assert_eq!(first["error"]["code"], 4031, "{first}");
    let id = first["error"]["data"]["escalation_id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        first["error"]["data"]["status_url"],
        format!("/v1/escalations/{id}")
    );
    // Not approved yet: the same call is deferred again (a new escalation).
    let again = common::post_json(gw.proxy_addr, "/mcp", &call(2))
        .await
        .json();
    assert_eq!(again["error"]["code"], 4031);
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, "approve", r#"{"reviewer":"ops"}"#)
            .await
            .status,
        200
    );
    // Approved: the same call, naming the approval, goes through — once.
    let with_approval = |n: u32| {
        let (addr, id) = (gw.proxy_addr, id.clone());
        async move { common::post_with_approval(addr, &id, &call(n)).await }
    };
    let approved = with_approval(3).await;
    assert_eq!(
        approved.json()["tag"],
        "u",
        "forwarded: {}",
        approved.json()
    );
    let seen = &approved.json()["headers"];
    assert!(
        seen.get("x-sec0-approval").is_none(),
        "the approval header is the gateway's, not the upstream's"
    );
    let once_more = with_approval(4).await;
    assert_eq!(
        once_more.json()["error"]["code"],
        4031,
        "an approval is used once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_streams_new_escalations_and_answers() {
    use http_body_util::BodyExt;
    let (_up, gw, _r) = held_for("20s").await;
    let feed = common::client()
        .request(
            http::Request::get(format!("http://{}/v1/escalations/feed", gw.admin_addr))
                .body(common::empty())
                .expect("request"),
        )
        .await
        .expect("feed");
    assert_eq!(feed.headers()["content-type"], "text/event-stream");
    let mut body = feed.into_body();
    let mut seen = String::new();
    let mut next_event = async move || -> Value {
        loop {
            if let Some(end) = seen.find("\n\n") {
                let event: String = seen.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).expect("json event");
                }
                continue;
            }
            let frame = body.frame().await.expect("stream open").expect("frame");
            if let Ok(d) = frame.into_data() {
                seen.push_str(&String::from_utf8_lossy(&d));
            }
        }
    };
    let addr = gw.proxy_addr;
    let held = tokio::spawn(async move { common::post_json(addr, "/mcp", &call(1)).await });
    let created = common::within("a new escalation on the feed", next_event()).await;
    assert_eq!(
        (created["state"].as_str(), created["tool"].as_str()),
        (Some("pending"), Some("wire_money"))
    );
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, "approve", r#"{"reviewer":"bot"}"#)
            .await
            .status,
        200
    );
    let answered = common::within("the answer on the feed", next_event()).await;
    assert_eq!(
        (
            answered["id"].as_str(),
            answered["state"].as_str(),
            answered["reviewer"].as_str()
        ),
        (Some(id.as_str()), Some("approved"), Some("bot"))
    );
    assert_eq!(held.await.expect("held").status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_escalations_are_announced_to_webhooks_with_retries() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let (g, n) = (got.clone(), attempts.clone());
    // The first delivery attempt fails: the gateway retries.
    let (hooks, _) = Upstream::counting(move |body| {
        let first = n.fetch_add(1, Ordering::SeqCst) == 0;
        if !first {
            g.lock()
                .expect("lock")
                .push(serde_json::from_slice(&body).expect("json body"));
        }
        let mut resp = http::Response::new(common::full(""));
        if first {
            *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        }
        resp
    })
    .await;
    let up = Upstream::echo("u").await;
    let dir = tempfile::tempdir().expect("dir");
    let audit_dir = dir.path().join("audit");
    let (gw, _r) = gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {audit_dir:?} }} }}\nescalation:\n  hold_timeout: 100ms\n  webhooks:\n    - {{ url: \"{0}/hooks/json\" }}\n    - {{ url: \"{0}/hooks/slack\", format: slack }}\n\
             upstreams: {{ u: {{ url: \"{1}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            hooks.url(),
            up.url()
        ),
    )
    .await;
    let refused = common::post_json(gw.proxy_addr, "/mcp", &call(1))
        .await
        .json();
    let id = refused["error"]["data"]["escalation_id"]
        .as_str()
        .expect("id")
        .to_string();
    let bodies = common::within("both webhooks to get the escalation", async {
        loop {
            let b = got.lock().expect("lock").clone();
            if b.len() == 2 {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "one failed attempt, retried"
    );
    let json = bodies
        .iter()
        .find(|b| b.get("event").is_some())
        .expect("json body");
    assert_eq!(json["event"], "escalation.created");
    assert_eq!(json["escalation"]["id"], id.as_str());
    assert_eq!(json["escalation"]["tool"], "wire_money");
    let slack = bodies
        .iter()
        .find(|b| b.get("text").is_some())
        .expect("slack body");
    let text = slack["text"].as_str().expect("text");
    assert!(
        text.contains(&id) && text.contains("wire_money") && text.contains("money_moves"),
        "{text}"
    );
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(
            &m,
            "sec0_gateway_escalation_notifications_total{result=\"delivered\"}"
        )
        .is_some_and(|v| v >= 2.0),
        "{m}"
    );
    // Each delivery is a state change in the audit trail, linked to the decision.
    gw.shutdown().await;
    let notified = common::audit_records(&audit_dir)
        .into_iter()
        .filter(|r| r["kind"] == "escalation" && r["escalation"]["state"] == "notified")
        .map(|r| r["decision_id"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        notified,
        vec![id.clone(), id],
        "one record per webhook that took it"
    );
}

/// Every operation in `docs/admin-openapi.yaml` exists on the server, answers with a status
/// the document lists, needs the token where the document says so, and returns escalations
/// with the documented required fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_server() {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/admin-openapi.yaml"),
        )
        .expect("openapi file"),
    )
    .expect("YAML");
    let dir = tempfile::tempdir().expect("dir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES).expect("rules");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "an-admin-token-for-the-openapi-test").expect("token");
    let up = Upstream::echo("u").await;
    let yaml = format!(
        "listen: 127.0.0.1:0\nadmin: {{ listen: 127.0.0.1:0, token_file: {token_file:?} }}\npolicy: {{ rules: {rules:?} }}\n\
         escalation: {{ hold_timeout: 20s }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    );
    let cfg = sec0_gateway::config::load_from_str(&yaml, "<test>", Some(Default::default()))
        .expect("config");
    let gw = sec0_gateway::Gateway::start(cfg).await.expect("start");
    let addr = gw.proxy_addr;
    let held = tokio::spawn(async move { common::post_json(addr, "/mcp", &call(1)).await });
    let auth = (
        "authorization",
        "Bearer an-admin-token-for-the-openapi-test",
    );
    let id = common::within("a pending escalation", async {
        loop {
            let a = common::send(
                gw.admin_addr,
                Method::GET,
                "/v1/escalations?state=pending",
                &[auth],
                None,
            )
            .await;
            if let Some(id) = a.json()["escalations"][0]["id"].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let required: Vec<String> = doc["components"]["schemas"]["Escalation"]["required"]
        .as_sequence()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    // Operations in an order that exercises each (approve before reject: reject is then 409).
    let mut ops: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("operations") {
            ops.push((
                path.as_str().expect("path").to_string(),
                method.as_str().expect("method").to_string(),
            ));
        }
    }
    ops.sort_by_key(|(p, m)| {
        (
            p.ends_with("/reject"),
            p.contains("{id}") && m == "delete",
            p.clone(),
        )
    });
    assert!(ops.len() >= 11, "{ops:?}");
    for (path, method) in &ops {
        let op = &doc["paths"][path.as_str()][method.as_str()];
        let documented: Vec<u16> = op["responses"]
            .as_mapping()
            .expect("responses")
            .keys()
            .filter_map(|k| k.as_str().and_then(|s| s.parse().ok()))
            .collect();
        let public = op["security"].as_sequence().is_some_and(|s| s.is_empty());
        let concrete = path
            .replace(
                "{id}",
                if path.starts_with("/v1/precedents") {
                    "precedent-none"
                } else {
                    &id
                },
            )
            .replace("{file}", "app.js");
        let m: Method = method.to_uppercase().parse().expect("method");
        let body = (m == Method::POST && concrete.contains("/escalations/"))
            .then_some(r#"{"reviewer":"openapi-test"}"#);
        if path == "/v1/escalations/feed" {
            let resp = common::client()
                .request(
                    http::Request::get(format!("http://{}{concrete}", gw.admin_addr))
                        .header(auth.0, auth.1)
                        .body(common::empty())
                        .expect("request"),
                )
                .await
                .expect("feed");
            assert!(documented.contains(&resp.status().as_u16()), "{path}");
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            continue;
        }
        let headers = [auth, ("content-type", "application/json")];
        let a = common::send(gw.admin_addr, m.clone(), &concrete, &headers, body).await;
        assert!(
            documented.contains(&a.status.as_u16()),
            "{method} {path}: {} is not documented ({documented:?}): {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
        if !public {
            let anon = common::send(
                gw.admin_addr,
                m,
                &concrete,
                &[("content-type", "application/json")],
                body,
            )
            .await;
            assert_eq!(anon.status, 401, "{method} {path} needs the token");
        }
        let v: Value = serde_json::from_slice(&a.body).unwrap_or(Value::Null);
        let escalations: Vec<&Value> = match v.get("escalations") {
            Some(list) => list.as_array().expect("array").iter().collect(),
            None if v.get("id").is_some() && v.get("state").is_some() => vec![&v],
            None => vec![],
        };
        for e in escalations {
            for k in &required {
                assert!(
                    e.get(k).is_some(),
                    "{method} {path}: escalation lacks {k}: {e}"
                );
            }
        }
    }
    assert_eq!(
        held.await.expect("held").status,
        200,
        "approved through the documented operation"
    );
}

/// A reviewer sees the call's arguments, with what the guard found masked, and what the run
/// did before; once decided, the arguments are no longer kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_see_masked_arguments_and_the_run_so_far() {
    let up = Upstream::echo("u").await;
    let (gw, _r) = gateway_with_rules(
        "version: 1\nrules:\n  - { id: note-pii, when: { method: tools/call, findings: { detectors: pii } }, decision: allow, reason: pii_seen }\n  - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves }\n",
        &format!(
            "escalation: {{ hold_timeout: 20s }}\ncontext: {{ trusted_networks: [\"127.0.0.0/8\"] }}\n\
             upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let in_run = |body: String| {
        let addr = gw.proxy_addr;
        async move {
            let h = [
                ("content-type", "application/json"),
                ("accept", "application/json"),
                ("x-sec0-run-id", "run-review-7"),
            ];
            common::send(addr, Method::POST, "/mcp", &h, Some(&body)).await
        }
    };
    let read = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/srv/a.txt"}}});
    assert_eq!(in_run(read.to_string()).await.json()["tag"], "u");
    let wire = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "wire_money", "arguments": {"amount": 5000, "memo": "invoice for ann@corp.test", "tags": ["q4"]}}});
    let held = tokio::spawn(in_run(wire.to_string()));
    let e = common::one_pending(gw.admin_addr).await;
    let id = e["id"].as_str().expect("id").to_string();
    let one = common::escalation(gw.admin_addr, &id).await.json();
    assert_eq!(
        one["arguments"],
        json!({"amount": 5000, "memo": "«pii/email»", "tags": ["q4"]}),
        "{one}"
    );
    assert_eq!(one["trajectory"]["calls"], 1, "{one}");
    assert_eq!(one["trajectory"]["called"], json!(["read_file"]));
    assert_eq!(one["run_id"], "run-review-7");
    assert_eq!(
        common::answer_escalation(gw.admin_addr, &id, "reject", r#"{"reviewer":"ops"}"#)
            .await
            .status,
        200
    );
    assert_eq!(held.await.expect("held").json()["error"]["code"], 4032);
    let decided = common::escalation(gw.admin_addr, &id).await.json();
    assert_eq!(decided["state"], "rejected");
    assert!(decided.get("arguments").is_none(), "{decided}");
}

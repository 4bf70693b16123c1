//! Hot reload of the rules: `POST /v1/reload`, the file watch and SIGHUP swap in a new
//! policy; a broken file never replaces a working one; traffic during reloads loses nothing.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::{GatewayProcess, Upstream, post_json, send, within};
use http::{Method, StatusCode};

fn deny_tool(tool: &str) -> String {
    format!(
        "version: 1\nrules:\n  - {{ id: no-{tool}, when: {{ tool: {tool} }}, decision: deny, reason: {tool}_off }}\n"
    )
}

fn call(tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{}}}}}}"#
    )
}

async fn denied(addr: std::net::SocketAddr, tool: &str) -> bool {
    let r = post_json(addr, "/mcp", &call(tool)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["error"]["code"] == 4030
}

fn config(up: &Upstream, rules: &Path, interval: &str) -> String {
    format!(
        "policy: {{ rules: {rules:?}, reload_interval: {interval} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    )
}

async fn reload(admin: std::net::SocketAddr) -> common::Answer {
    send(admin, Method::POST, "/v1/reload", &[], None).await
}

#[tokio::test]
async fn admin_reload_swaps_good_rules_and_keeps_serving_on_broken_ones() {
    let up = Upstream::echo("u").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, deny_tool("alpha")).expect("write");
    let gw = common::gateway(&config(&up, &rules, "0s")).await;
    assert!(denied(gw.proxy_addr, "alpha").await);
    assert!(!denied(gw.proxy_addr, "beta").await);

    std::fs::write(&rules, deny_tool("beta")).expect("write");
    let r = reload(gw.admin_addr).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    assert_eq!(v["result"], "ok");
    assert_eq!(v["changed"], true);
    assert_eq!(v["rules"], 1);
    let version = v["version"].as_str().expect("version").to_string();
    assert!(!denied(gw.proxy_addr, "alpha").await);
    assert!(denied(gw.proxy_addr, "beta").await);

    // Broken: the error names file, line and column; the old rules keep serving.
    std::fs::write(
        &rules,
        "version: 1\nrules:\n  - { id: x, when: { tool: \"[\" }, decision: deny, reason: r }\n",
    )
    .expect("write");
    let r = reload(gw.admin_addr).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let err = r.json()["error"]["message"]
        .as_str()
        .expect("error")
        .to_string();
    assert!(
        err.starts_with(&format!("{}:3:7:", rules.display())),
        "{err}"
    );
    assert!(
        denied(gw.proxy_addr, "beta").await,
        "previous policy still serving"
    );

    let m = common::metrics(&gw).await;
    assert_eq!(
        common::metric_value(&m, "sec0_gateway_policy_reload_total{result=\"ok\"}"),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        common::metric_value(&m, "sec0_gateway_policy_reload_total{result=\"error\"}"),
        Some(1.0),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "sec0_gateway_policy_version_info{{version=\"{version}\"}} 1"
        )),
        "{m}"
    );
}

#[tokio::test]
async fn file_changes_are_picked_up_by_the_watch() {
    let up = Upstream::echo("u").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, deny_tool("alpha")).expect("write");
    let gw = common::gateway(&config(&up, &rules, "100ms")).await;
    assert!(denied(gw.proxy_addr, "alpha").await);
    std::fs::write(&rules, deny_tool("beta")).expect("write");
    within("the watch to load the new rules", async {
        while !denied(gw.proxy_addr, "beta").await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(!denied(gw.proxy_addr, "alpha").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_during_reloads_loses_no_request() {
    let up = Upstream::echo("u").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, deny_tool("alpha")).expect("write");
    let gw = common::gateway(&config(&up, &rules, "0s")).await;
    let addr = gw.proxy_addr;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(tokio::spawn(async move {
            let mut answered = 0;
            for _ in 0..100 {
                let r = post_json(addr, "/mcp", &call("alpha")).await;
                assert_eq!(r.status, StatusCode::OK);
                let v = r.json();
                assert!(
                    v["tag"] == "u" || v["error"]["code"] == 4030,
                    "forwarded or denied: {v}"
                );
                answered += 1;
            }
            answered
        }));
    }
    for i in 0..20 {
        std::fs::write(&rules, deny_tool(if i % 2 == 0 { "beta" } else { "alpha" }))
            .expect("write");
        assert_eq!(reload(gw.admin_addr).await.status, StatusCode::OK);
    }
    let mut total = 0;
    for c in clients {
        total += c.await.expect("client task");
    }
    assert_eq!(total, 400);
}

#[tokio::test]
async fn reload_without_a_policy_is_a_conflict() {
    let up = Upstream::echo("u").await;
    let gw = common::gateway(&format!(
        "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    ))
    .await;
    assert_eq!(reload(gw.admin_addr).await.status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_real_binary() {
    let up = Upstream::echo("u").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, deny_tool("alpha")).expect("write");
    let mut gw = GatewayProcess::start(&config(&up, &rules, "0s"));
    assert!(denied(gw.proxy_addr, "alpha").await);
    std::fs::write(&rules, deny_tool("beta")).expect("write");
    gw.signal("HUP");
    within("SIGHUP to load the new rules", async {
        while !denied(gw.proxy_addr, "beta").await {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(!denied(gw.proxy_addr, "alpha").await);
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(10)), Some(0));
}

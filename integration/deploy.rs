//! What ships for operators is checked against the real thing: every metric that the
//! Prometheus rules (`deploy/prometheus/`) and the Grafana dashboard (`deploy/grafana/`)
//! query exists on a running gateway's `/metrics`; every rule and panel query evaluates on a
//! real Prometheus (Debian's package) scraping a running gateway, the headline panel with
//! data; and the rules pass `promtool check rules`. CI installs Prometheus; elsewhere a
//! missing binary is a loud skip.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Upstream, full, gateway_with_rules, post_json};
use http::Method;
use serde_json::{Value, json};

const RULES: &str = r#"version: 1
rules:
  - { id: no-shell, when: { tool: shell_exec }, decision: deny, reason: shell_forbidden }
  - { id: review-wires, when: { tool: wire_money }, decision: escalate, reason: money_moves }
  - { id: mask-pii, when: { method: tools/call, findings: { detectors: pii, direction: request } }, decision: redact, reason: pii_in_arguments }
"#;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every PromQL expression in the rules file and the dashboard.
fn expressions() -> Vec<String> {
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("deploy/prometheus/sec0-gateway.rules.yml"))
            .expect("rules file"),
    )
    .expect("rules YAML");
    let mut out = Vec::new();
    for g in rules["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            assert!(
                r.get("record").is_some() ^ r.get("alert").is_some(),
                "a rule records or alerts: {r:?}"
            );
            out.push(r["expr"].as_str().expect("expr").to_string());
        }
    }
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/sec0-gateway.json"))
            .expect("dashboard"),
    )
    .expect("dashboard JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10);
    for p in panels {
        for t in p["targets"].as_array().expect("targets") {
            out.push(t["expr"].as_str().expect("expr").to_string());
        }
    }
    out
}

/// An upstream answering every call with an empty JSON-RPC result.
async fn tool_server() -> Upstream {
    Upstream::start(|_req: http::Request<hyper::body::Incoming>| async {
        let mut resp = http::Response::new(full(
            json!({"jsonrpc": "2.0", "id": 1, "result": {}}).to_string(),
        ));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("hv"));
        resp
    })
    .await
}

fn metric_names(exprs: &[String]) -> BTreeSet<String> {
    let re = regex::Regex::new(r"\bsec0_gateway_[a-z0-9_]+\b").expect("regex");
    exprs
        .iter()
        .flat_map(|e| {
            re.find_iter(e)
                .map(|m| m.as_str().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_rules_and_dashboard_query_exists() {
    let names = metric_names(&expressions());
    assert!(names.len() >= 20, "{names:?}");
    // A gateway that exercises every family: decisions of each kind, findings and
    // redactions, an escalation, upstream errors (a fleet upstream whose endpoints are all
    // down: endpoint, ejection, retry and circuit families), the audit pipeline with a
    // collector, a reload.
    let dir = tempfile::tempdir().expect("dir");
    let collector = Upstream::start(|_req| async { http::Response::new(full("")) }).await;
    let up = tool_server().await;
    let (gw, _rules) = gateway_with_rules(
        RULES,
        &format!(
            "audit: {{ file: {{ dir: {:?} }}, http: {{ url: \"{}/ingest\", spool_dir: {:?} }} }}\n\
             upstreams: {{ u: {{ url: \"{}\" }}, gone: {{ endpoints: [\"http://127.0.0.1:{}\", \"http://127.0.0.1:{}\"], circuit_breaker: {{ max_requests: 100 }} }} }}\n\
             routes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
             \x20 - {{ name: broken, path_prefix: /broken, upstream: gone, protocol: mcp, boundary: agent_to_tool }}\n",
            dir.path().join("audit"),
            collector.url(),
            dir.path().join("spool"),
            up.url(),
            common::closed_port(),
            common::closed_port()
        ),
    )
    .await;
    let call = |tool: &str, args: Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string()
    };
    post_json(gw.proxy_addr, "/mcp", &call("echo", json!({}))).await;
    post_json(gw.proxy_addr, "/mcp", &call("shell_exec", json!({}))).await;
    post_json(gw.proxy_addr, "/mcp", &call("wire_money", json!({}))).await;
    post_json(
        gw.proxy_addr,
        "/mcp",
        &call("mail", json!({"to": "ann@example.com"})),
    )
    .await;
    post_json(gw.proxy_addr, "/broken", &call("echo", json!({}))).await;
    common::send(gw.admin_addr, Method::POST, "/v1/reload", &[], None).await;
    let text = common::within("the collector to get a batch", async {
        loop {
            let m = common::metrics(&gw).await;
            if m.contains("sec0_gateway_audit_last_delivery_timestamp_seconds{sink=\"http\"}") {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    let exposed: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    let missing: Vec<&String> = names.iter().filter(|n| !exposed.contains(*n)).collect();
    assert!(missing.is_empty(), "queried but not exposed: {missing:?}");
}

#[test]
fn promtool_accepts_the_rules() {
    let Ok(out) = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(root().join("deploy/prometheus/sec0-gateway.rules.yml"))
        .output()
    else {
        common::peers::missing(
            "promtool_accepts_the_rules",
            "promtool is not installed (Debian package `prometheus`, which .ci/run installs); the rules were only parsed and their metric names checked",
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process killed when the test ends, whether it passes or panics.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a real Prometheus (Debian's package, installed by CI) scraping `target` every 200 ms
/// with the shipped rules loaded; its address.
fn start_prometheus(dir: &Path, target: std::net::SocketAddr) -> Option<(Killed, u16)> {
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{ scrape_interval: 200ms, evaluation_interval: 200ms }}\nrule_files: [{:?}]\nscrape_configs:\n  - job_name: sec0-gateway\n    static_configs: [{{ targets: [\"{target}\"] }}]\n",
            root().join("deploy/prometheus/sec0-gateway.rules.yml")
        ),
    )
    .expect("prometheus config");
    let port = common::closed_port();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    Some((Killed(child), port))
}

/// Every dashboard query and every rule expression evaluates without error on a real
/// Prometheus scraping a running gateway, and the headline panel has data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_queries_run_on_a_real_prometheus() {
    let dir = tempfile::tempdir().expect("dir");
    let up = tool_server().await;
    let (gw, _rules) = gateway_with_rules(
        RULES,
        &format!(
            "upstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
            up.url()
        ),
    )
    .await;
    let Some((_prometheus, port)) = start_prometheus(dir.path(), gw.admin_addr) else {
        common::peers::missing(
            "the_dashboard_queries_run_on_a_real_prometheus",
            "prometheus is not installed (Debian package `prometheus`, which .ci/run installs)",
        );
        return;
    };
    // Traffic while Prometheus scrapes: allowed and denied calls.
    let call = |tool: &str| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}).to_string()
    };
    let query = |q: String| async move {
        let url = format!(
            "http://127.0.0.1:{port}/api/v1/query?query={}",
            url_encode(&q)
        );
        let resp = common::client()
            .request(
                http::Request::get(url)
                    .body(common::empty())
                    .expect("request"),
            )
            .await
            .map_err(|e| e.to_string())?;
        let body = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice::<Value>(&body).map_err(|e| e.to_string())
    };
    let headline =
        "sum by (decision) (rate(sec0_gateway_decisions_total{mode=\"enforce\"}[5m]))".to_string();
    let ready = common::within("Prometheus to have two scrapes of decisions", async {
        loop {
            post_json(gw.proxy_addr, "/mcp", &call("echo")).await;
            post_json(gw.proxy_addr, "/mcp", &call("shell_exec")).await;
            if let Ok(v) = query(headline.clone()).await {
                if v["data"]["result"].as_array().is_some_and(|r| r.len() >= 2) {
                    return v;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    })
    .await;
    assert_eq!(ready["status"], "success");
    for expr in expressions() {
        let q = expr.replace("$route", ".*");
        let v = query(q.clone())
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(v["status"], "success", "{q}: {v}");
    }
}

/// Percent-encode a query parameter.
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

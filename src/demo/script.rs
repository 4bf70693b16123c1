//! The scripted agent session of the demo.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::sample_server::SampleServer;
use crate::config::load_from_str;
use crate::forward::body::{BoxError, ProxyBody};
use crate::server::{Gateway, RunningGateway};

type AgentClient = Client<HttpConnector, ProxyBody>;

struct Demo {
    client: AgentClient,
    gateway: RunningGateway,
    tools: SampleServer,
    session: Option<String>,
    step: usize,
    /// The API key the agent presents (`None`: anonymous).
    agent_key: Option<&'static str>,
    /// The run the agent continues (`x-sec0-run-id`; believed from verified agents only).
    run: Option<&'static str>,
    /// Where the demo's audit trail is written (in its temporary directory).
    audit_dir: std::path::PathBuf,
}

/// Records (lines) in the audit files under `dir`.
fn audit_lines(dir: &std::path::Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let text = std::fs::read(entry?.path())?;
        n += text.iter().filter(|&&b| b == b'\n').count();
    }
    Ok(n)
}

/// The demo's two agents and their API keys (the gateway stores only their hashes).
const ANALYST_KEY: &str = "demo-key-analyst-7f3a";
const PLANNER_KEY: &str = "demo-key-planner-91c2";

fn body(bytes: Vec<u8>) -> ProxyBody {
    Full::new(Bytes::from(bytes))
        .map_err(|n| match n {})
        .boxed_unsync()
}

fn empty() -> ProxyBody {
    Empty::new().map_err(|n| match n {}).boxed_unsync()
}

/// Run the demo; with `keep_running`, leave both servers up until Ctrl-C.
pub async fn run(keep_running: bool) -> ExitCode {
    match walkthrough(keep_running).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn walkthrough(keep_running: bool) -> Result<(), BoxError> {
    let tools = SampleServer::start_on("127.0.0.1:0".parse()?, None, true).await?;
    let rules_dir = std::env::temp_dir().join(format!("sec0-gateway-demo-{}", std::process::id()));
    std::fs::create_dir_all(&rules_dir)?;
    let rules_path = rules_dir.join("demo-rules.yaml");
    std::fs::write(&rules_path, DEMO_RULES)?;
    let keys_path = rules_dir.join("api-keys");
    let hash = |k: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(k.as_bytes()))
    };
    std::fs::write(
        &keys_path,
        format!(
            "{} analyst-agent\n{} planner-agent\n",
            hash(ANALYST_KEY),
            hash(PLANNER_KEY)
        ),
    )?;
    let yaml = format!(
        r#"
listen: 127.0.0.1:0
admin: {{ listen: 127.0.0.1:0 }}
policy: {{ rules: {:?} }}
identity: {{ api_keys: {{ file: {:?} }} }}
escalation: {{ hold_timeout: 30s }}
learn: {{ auto_allow_after: 1 }}
audit: {{ file: {{ dir: {:?} }} }}
upstreams:
  sample-tools: {{ url: "http://{}" }}
routes:
  - {{ name: tools-mcp, path_prefix: /mcp, upstream: sample-tools, protocol: mcp, boundary: agent_to_tool }}
"#,
        rules_path,
        keys_path,
        rules_dir.join("audit"),
        tools.addr
    );
    let cfg = load_from_str(&yaml, "<demo>", Some(HashMap::new()))?;
    let gateway = Gateway::start(cfg).await?;
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let mut demo = Demo {
        client,
        gateway,
        tools,
        session: None,
        step: 0,
        agent_key: None,
        run: None,
        audit_dir: rules_dir.join("audit"),
    };
    demo.intro();
    demo.session_walk().await?;
    demo.outro().await?;
    if keep_running {
        println!("\nBoth servers keep running; press Ctrl-C to stop.");
        crate::server::shutdown_signal().await;
    }
    demo.gateway.shutdown().await;
    let _ = std::fs::remove_dir_all(&rules_dir);
    Ok(())
}

/// Print a JSON-RPC error the way the agent sees it.
fn print_refusal(v: &Value) {
    println!(
        "      the agent sees: error {} \"{}\"",
        v.pointer("/error/code").unwrap_or(&Value::Null),
        v.pointer("/error/message")
            .and_then(Value::as_str)
            .unwrap_or("?")
    );
}

/// The rules the demo runs with (printed in the walkthrough).
const DEMO_RULES: &str = r#"version: 1
default_decision: allow
rules:
  - id: no-deletes
    description: agents never delete files
    when: { method: tools/call, tool: "delete_*" }
    decision: deny
    reason: deletion_forbidden
  - id: mail-stays-inside
    description: agents may e-mail colleagues, nobody else
    when: { method: tools/call, tool: send_email }
    unless:
      args: [ { path: "$.to", matches: "@example\\.com$" } ]
    decision: deny
    reason: external_recipient
  - id: watch-contact-reads
    description: new rule, observed before it is enforced
    mode: observe
    when:
      tool: read_file
      args: [ { path: "$.path", equals: "/docs/contacts.txt" } ]
    decision: deny
    reason: contact_list_read
  - id: mask-sensitive-results
    description: personal data and credentials in tool results never reach the agent
    when: { findings: { detectors: [pii, secrets], direction: response } }
    decision: redact
    reason: sensitive_result
  - id: reports-for-analysts
    description: only the analyst agent reads reports
    when:
      tool: read_file
      args: [ { path: "$.path", matches: "^/reports/" } ]
    unless: { caller: analyst-agent }
    decision: deny
    reason: reports_are_for_analysts
  - id: customer-data-is-private
    description: reading a customer record marks the run
    when: { tool: lookup_customer }
    decision: allow
    reason: customer_record_read
    label: private_data
  - id: no-mail-after-private-data
    description: a run that read customer data needs a person before it sends mail
    when: { tool: send_email, run: { labels: private_data } }
    decision: escalate
    reason: private_data_may_leave
  - id: no-poisoned-tools
    description: a tool whose description tries to instruct the agent is hidden
    when: { method: tools/list, findings: { detectors: prompt_injection, direction: response } }
    decision: deny
    reason: tool_poisoning
"#;

impl Demo {
    fn gw(&self) -> String {
        format!("http://{}", self.gateway.proxy_addr)
    }

    fn intro(&self) {
        println!("sec0-gateway demo: an agent session through the gateway, hop by hop\n");
        println!(
            "  agent ──▶ sec0-gateway {} ──▶ sample-tools {}",
            self.gw(),
            self.tools.url()
        );
        println!(
            "            route tools-mcp: /mcp → sample-tools, protocol=mcp, boundary=agent_to_tool"
        );
        println!(
            "            admin http://{} (/healthz /readyz /metrics)",
            self.gateway.admin_addr
        );
        println!("  The sample server, like the official MCP SDKs, refuses a foreign Host (421);");
        println!("  the gateway sends the upstream's own authority, so calls get through.");
        println!("  Rules in force:");
        for line in DEMO_RULES.lines() {
            println!("    | {line}");
        }
        println!();
    }

    async fn session_walk(&mut self) -> Result<(), BoxError> {
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},
            "clientInfo":{"name":"demo-agent","version":"1.0"}}});
        let (resp, v) = self.call("initialize", init).await?;
        self.session = resp
            .headers
            .get("mcp-session-id")
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let server = v
            .pointer("/result/serverInfo/name")
            .and_then(Value::as_str)
            .unwrap_or("?");
        println!(
            "      result: server {server}, protocol {}, session {}",
            v.pointer("/result/protocolVersion")
                .and_then(Value::as_str)
                .unwrap_or("?"),
            self.session.as_deref().unwrap_or("(none)")
        );

        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        self.call("notifications/initialized", note).await?;

        self.list_tools("tools/list", 1).await?;
        println!(
            "      (the sample server also offers delete_file, which rule no-deletes makes uncallable, and weather,"
        );
        println!(
            "       whose description tells the agent to ignore its instructions: rule no-poisoned-tools hides it)"
        );

        let echo = json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
            "params":{"name":"echo","arguments":{"text":"hello through the gateway"}}});
        let (_, v) = self.call("tools/call echo", echo).await?;
        println!("      result: {}", first_text(&v));

        let read = json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
            "params":{"name":"read_file","arguments":{"path":"/docs/readme.md"},"_meta":{"progressToken":"read"}}});
        self.call_sse("tools/call read_file (SSE reply)", read)
            .await?;

        let mail = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
            "params":{"name":"send_email","arguments":{"to":"dana@example.com","subject":"Q3","body":"numbers attached"}}});
        let (_, v) = self.call("tools/call send_email", mail).await?;
        println!("      result: {}", first_text(&v));

        let leak = json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
            "params":{"name":"send_email","arguments":{"to":"rival@competitor.test","subject":"Q3","body":"numbers attached"}}});
        let (_, v) = self
            .call(
                "tools/call send_email to outside (rule mail-stays-inside)",
                leak,
            )
            .await?;
        print_refusal(&v);
        println!(
            "                      data {}",
            v.pointer("/error/data")
                .map(Value::to_string)
                .unwrap_or_default()
        );
        println!(
            "      (HTTP 200 with a JSON-RPC error: the session stays usable; the upstream never saw the call)"
        );

        let contacts = json!({"jsonrpc":"2.0","id":6,"method":"tools/call",
            "params":{"name":"read_file","arguments":{"path":"/docs/contacts.txt"}}});
        self.call_sse(
            "tools/call read_file contacts (observe-mode rule)",
            contacts,
        )
        .await?;
        println!(
            "      (allowed: rule watch-contact-reads only records that it would have denied this)"
        );

        let lookup = json!({"jsonrpc":"2.0","id":7,"method":"tools/call",
            "params":{"name":"lookup_customer","arguments":{"id":1042}}});
        let (_, v) = self
            .call(
                "tools/call lookup_customer (rule mask-sensitive-results)",
                lookup,
            )
            .await?;
        println!("      result: {}", first_text(&v));
        println!(
            "      (the server sent an e-mail address and a live API key; the gateway redacted both on the way back)"
        );

        self.list_tools(
            "tools/list again (the server changed echo's description)",
            8,
        )
        .await?;
        let echo = json!({"jsonrpc":"2.0","id":9,"method":"tools/call",
            "params":{"name":"echo","arguments":{"text":"still there?"}}});
        let (_, v) = self.call("tools/call echo after the change", echo).await?;
        print_refusal(&v);
        println!(
            "      (a descriptor that changes after it was first seen is a possible rug pull: escalated, and with no"
        );
        println!(
            "       reviewer yet the tool is withheld until it changes back; see guard.on_descriptor_change)"
        );

        self.identity_walk().await?;
        println!();
        self.plain(
            "GET /mcp (server stream; this server has none)",
            Method::GET,
            "/mcp",
        )
        .await?;
        self.plain("DELETE /mcp (end the session)", Method::DELETE, "/mcp")
            .await?;
        self.plain("POST /admin (no route matches)", Method::POST, "/admin")
            .await?;
        Ok(())
    }

    /// Two agents with verified identities (API keys) get different decisions for the same
    /// call, and a run is escalated because of what it did earlier.
    async fn identity_walk(&mut self) -> Result<(), BoxError> {
        println!(
            "\n  Two agents now identify themselves with API keys (the gateway keeps only their hashes)."
        );
        let report = |id: u64| {
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"read_file","arguments":{"path":"/reports/q3.md"}}})
        };
        self.agent_key = Some(ANALYST_KEY);
        self.call_sse(
            "analyst-agent: tools/call read_file /reports/q3.md",
            report(20),
        )
        .await?;
        self.agent_key = Some(PLANNER_KEY);
        let (_, v) = self
            .call(
                "planner-agent: the same call (rule reports-for-analysts)",
                report(21),
            )
            .await?;
        print_refusal(&v);

        println!(
            "\n  The analyst agent works in run run-demo-1 (a verified agent may continue its run)."
        );
        self.agent_key = Some(ANALYST_KEY);
        self.run = Some("run-demo-1");
        let lookup = json!({"jsonrpc":"2.0","id":22,"method":"tools/call",
            "params":{"name":"lookup_customer","arguments":{"id":1042}}});
        let (_, v) = self
            .call(
                "analyst-agent, run-demo-1: lookup_customer (labels the run private_data)",
                lookup,
            )
            .await?;
        println!("      result: {}", first_text(&v));
        let mail = |id: u64| {
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
                "params":{"name":"send_email","arguments":{"to":"dana@example.com","subject":"Q3","body":"numbers attached"}}})
        };
        self.reviewed_call(
            "analyst-agent, run-demo-1: send_email to a colleague (rule no-mail-after-private-data)",
            mail(23),
        )
        .await?;
        println!(
            "      (the same mail was allowed earlier without review: what decides is what this run did before it)"
        );
        let (_, v) = self
            .call(
                "analyst-agent, run-demo-1: the same kind of mail again (precedent)",
                mail(25),
            )
            .await?;
        println!("      result: {}", first_text(&v));
        println!(
            "      (one approval of this call's shape made a precedent: no reviewer needed; see /v1/precedents)"
        );
        self.run = Some("run-demo-2");
        let (_, v) = self
            .call(
                "analyst-agent, run-demo-2: the same mail in a fresh run",
                mail(24),
            )
            .await?;
        println!("      result: {}", first_text(&v));
        self.agent_key = None;
        self.run = None;
        Ok(())
    }

    /// A call that is escalated and held: the demo plays the reviewer, finds it through the
    /// admin API and approves it, and the held call goes through.
    async fn reviewed_call(&mut self, title: &str, msg: Value) -> Result<(), BoxError> {
        let text = msg.to_string();
        self.announce(title, &format!("POST /mcp {}", abbreviate(&text, 90)));
        let started = Instant::now();
        let req = self.request(Method::POST, "/mcp", Some(text.into_bytes()))?;
        let held = tokio::spawn(self.client.request(req));
        let admin = format!("http://{}", self.gateway.admin_addr);
        let get = |url: String| Request::get(url).body(empty());
        let pending = loop {
            let resp = self
                .client
                .request(get(format!("{admin}/v1/escalations?state=pending"))?)
                .await?;
            let v: Value = serde_json::from_slice(&resp.into_body().collect().await?.to_bytes())?;
            if let Some(e) = v["escalations"].as_array().and_then(|a| a.first()).cloned() {
                break e;
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                return Err("the escalation never showed up in /v1/escalations".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let id = pending["id"].as_str().unwrap_or_default().to_string();
        println!(
            "      gateway holds the call: escalation {}… (tool {}, caller {}, reason {})",
            id.chars().take(12).collect::<String>(),
            pending["tool"].as_str().unwrap_or("?"),
            pending["caller"].as_str().unwrap_or("?"),
            pending["reason"].as_str().unwrap_or("?")
        );
        println!(
            "      reviewer → admin API   POST /v1/escalations/{}…/approve {{\"reviewer\":\"ops-dana\"}}",
            id.chars().take(12).collect::<String>()
        );
        let approve = Request::post(format!("{admin}/v1/escalations/{id}/approve"))
            .header("content-type", "application/json")
            .body(body(
                br#"{"reviewer":"ops-dana","comment":"colleague, fine"}"#.to_vec(),
            ))?;
        let answered = self.client.request(approve).await?;
        println!("      admin API → reviewer   {}", answered.status());
        let resp = held.await??;
        let (parts, b) = resp.into_parts();
        let v: Value = serde_json::from_slice(&b.collect().await?.to_bytes())?;
        self.show_upstream_view();
        println!(
            "      sample-tools → agent   {} {}  {:.1} ms (held for review)",
            parts.status,
            content_type(&parts.headers),
            started.elapsed().as_secs_f64() * 1000.0
        );
        println!("      result: {}", first_text(&v));
        Ok(())
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body_bytes: Option<Vec<u8>>,
    ) -> Result<Request<ProxyBody>, BoxError> {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.gw()))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18");
        if let Some(s) = &self.session {
            b = b.header("mcp-session-id", s.as_str());
        }
        if let Some(k) = self.agent_key {
            b = b.header("x-api-key", k);
        }
        if let Some(r) = self.run {
            b = b.header("x-sec0-run-id", r);
        }
        Ok(match body_bytes {
            Some(bytes) => b
                .header("content-type", "application/json")
                .body(body(bytes))?,
            None => b.body(empty())?,
        })
    }

    /// List the tools (as step `title`, request id `id`) and print their names.
    async fn list_tools(&mut self, title: &str, id: u64) -> Result<(), BoxError> {
        let (_, v) = self
            .call(
                title,
                json!({"jsonrpc":"2.0","id":id,"method":"tools/list"}),
            )
            .await?;
        let names: Vec<&str> = v
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        println!("      result: tools {}", names.join(", "));
        Ok(())
    }

    fn announce(&mut self, title: &str, line: &str) {
        self.step += 1;
        println!("[{}] {title}", self.step);
        println!("      agent → gateway        {line}");
    }

    /// Print what the sample server received; `false` when it received nothing.
    fn show_upstream_view(&self) -> bool {
        let seen = self.tools.take_seen();
        let any = !seen.is_empty();
        for s in seen {
            println!(
                "      gateway → sample-tools {}  (Host: {}, X-Forwarded-For: {}{})",
                s.what,
                s.host,
                s.forwarded_for.as_deref().unwrap_or("-"),
                s.session
                    .map(|x| format!(
                        ", Mcp-Session-Id: {}…",
                        x.chars().take(8).collect::<String>()
                    ))
                    .unwrap_or_default()
            );
        }
        any
    }

    async fn call(
        &mut self,
        title: &str,
        msg: Value,
    ) -> Result<(http::response::Parts, Value), BoxError> {
        let text = msg.to_string();
        self.announce(title, &format!("POST /mcp {}", abbreviate(&text, 90)));
        let started = Instant::now();
        let req = self.request(Method::POST, "/mcp", Some(text.into_bytes()))?;
        let resp = self.client.request(req).await?;
        let (parts, b) = resp.into_parts();
        let bytes = b.collect().await?.to_bytes();
        let upstream_saw_it = self.show_upstream_view();
        println!(
            "      {} → agent   {} {}  {:.1} ms",
            if upstream_saw_it {
                "sample-tools"
            } else {
                "gateway     "
            },
            parts.status,
            content_type(&parts.headers),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((parts, v))
    }

    async fn call_sse(&mut self, title: &str, msg: Value) -> Result<(), BoxError> {
        let text = msg.to_string();
        self.announce(title, &format!("POST /mcp {}", abbreviate(&text, 90)));
        let started = Instant::now();
        let req = self.request(Method::POST, "/mcp", Some(text.into_bytes()))?;
        let resp = self.client.request(req).await?;
        self.show_upstream_view();
        println!(
            "      sample-tools → agent   {} {}  {:.1} ms (headers)",
            resp.status(),
            content_type(resp.headers()),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let mut b = resp.into_body();
        let mut buf = String::new();
        while let Some(frame) = b.frame().await {
            if let Ok(data) = frame?.into_data() {
                buf.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let data = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect::<String>();
                    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
                    let what = match v.get("method").and_then(Value::as_str) {
                        Some(m) => format!(
                            "{m} {}",
                            v.pointer("/params/message")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                        ),
                        None => format!("result: {}", abbreviate(&first_text(&v), 60)),
                    };
                    println!(
                        "      event at {:>6.1} ms     {what}",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                }
            }
        }
        Ok(())
    }

    async fn plain(&mut self, title: &str, method: Method, path: &str) -> Result<(), BoxError> {
        self.announce(title, &format!("{method} {path}"));
        let req = self.request(
            method,
            path,
            if path == "/admin" {
                Some(b"{}".to_vec())
            } else {
                None
            },
        )?;
        let resp = self.client.request(req).await?;
        let status = resp.status();
        let ct = content_type(resp.headers());
        let bytes = resp.into_body().collect().await?.to_bytes();
        self.show_upstream_view();
        let who = if status == StatusCode::NOT_FOUND && path == "/admin" {
            "gateway"
        } else {
            "sample-tools"
        };
        println!(
            "      {who} → agent   {status} {ct} {}",
            abbreviate(&String::from_utf8_lossy(&bytes), 100)
        );
        Ok(())
    }

    async fn outro(&self) -> Result<(), BoxError> {
        println!("\nWhere things are:");
        let url = format!("http://{}/metrics", self.gateway.admin_addr);
        println!("  metrics  {url}");
        let req = Request::builder().uri(&url).body(empty())?;
        let resp = self.client.request(req).await?;
        let text =
            String::from_utf8_lossy(&resp.into_body().collect().await?.to_bytes()).into_owned();
        for line in text.lines().filter(|l| {
            l.starts_with("sec0_gateway_requests_total")
                || l.starts_with("sec0_gateway_decisions_total")
        }) {
            println!("           {line}");
        }
        println!(
            "  logs     stderr (--log-format json for a log shipper; RUST_LOG=debug for every request)"
        );
        let audit_dir = self.audit_dir.clone();
        let records = tokio::task::spawn_blocking(move || audit_lines(&audit_dir)).await??;
        println!(
            "  audit    {records} hash-chained records so far in {} (one per decision; deleted when the demo ends;",
            self.audit_dir.display()
        );
        println!(
            "           `sec0-gateway audit verify FILE` checks such files, `audit run RUN FILE` prints a run; docs/audit.md)"
        );
        println!(
            "  policy   the rules above (README.md, \"Writing rules\"; more in rules/examples/)"
        );
        println!(
            "           rules reload without a restart (file watch, SIGHUP, POST /v1/reload on the admin port)"
        );
        Ok(())
    }
}

fn first_text(v: &Value) -> String {
    v.pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .map(|s| s.trim_end().replace('\n', " ⏎ "))
        .unwrap_or_else(|| v.to_string())
}

fn content_type(h: &http::HeaderMap) -> String {
    h.get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no body)")
        .to_string()
}

fn abbreviate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

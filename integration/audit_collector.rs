//! The collector sink against a collector that goes away: traffic runs while the collector is
//! stopped and restarted (and once loses an acknowledgement, so a batch arrives twice);
//! afterwards the collector holds every record id exactly once after dedupe, in chain order,
//! the same records the files hold. A gateway stopped with a non-empty spool (collector
//! down) delivers it on its next start (that one framed as JSON arrays, as Fluent Bit reads).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Upstream, full, post_json};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};

/// A collector: takes POSTed NDJSON (gzip or not) and keeps every line in arrival order.
/// `lose_acks` batches are kept but answered 500, as if the answer were lost.
struct Collector {
    lines: Arc<Mutex<Vec<String>>>,
    posts: Arc<AtomicU32>,
    lose_acks: Arc<AtomicU32>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Collector {
    fn new() -> Self {
        Self {
            lines: Arc::default(),
            posts: Arc::default(),
            lose_acks: Arc::default(),
            task: None,
        }
    }

    /// Listen on `addr` (stopping drops every connection with it).
    fn start(&mut self, addr: SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(addr).expect("bind collector");
        let listener = socket.listen(64).expect("listen");
        let (lines, posts, lose) = (
            self.lines.clone(),
            self.posts.clone(),
            self.lose_acks.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (lines, posts, lose) = (lines.clone(), posts.clone(), lose.clone());
                conns.spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (lines, posts, lose) = (lines.clone(), posts.clone(), lose.clone());
                        async move {
                            posts.fetch_add(1, Ordering::SeqCst);
                            let gz = req
                                .headers()
                                .get("content-encoding")
                                .is_some_and(|v| v == "gzip");
                            let ctype = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let text = if gz {
                                let mut s = String::new();
                                flate2::read::GzDecoder::new(&body[..])
                                    .read_to_string(&mut s)
                                    .expect("gzip");
                                s
                            } else {
                                String::from_utf8_lossy(&body).into_owned()
                            };
                            let batch: Vec<String> = match ctype.as_str() {
                                "application/x-ndjson" => {
                                    assert!(text.ends_with('\n'), "NDJSON batches of whole lines");
                                    text.lines().map(str::to_owned).collect()
                                }
                                "application/json" => {
                                    let arr: Vec<Value> = serde_json::from_str(&text)
                                        .expect("a JSON array of records");
                                    arr.iter().map(Value::to_string).collect()
                                }
                                other => panic!("unexpected content type {other:?}"),
                            };
                            lines.lock().expect("lines").extend(batch);
                            let lost = lose
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            let mut resp = Response::new(full(""));
                            if lost {
                                *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                            }
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }));
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort(); // the JoinSet of connections goes with it
        }
    }

    fn records(&self) -> Vec<Value> {
        self.lines
            .lock()
            .expect("lines")
            .iter()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

async fn tool_server() -> Upstream {
    Upstream::start(|req: Request<Incoming>| async move {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut resp = Response::new(full(
            json!({"jsonrpc": "2.0", "id": msg["id"], "result": {}}).to_string(),
        ));
        resp.headers_mut()
            .insert("content-type", "application/json".parse().expect("hv"));
        resp
    })
    .await
}

fn gateway_yaml(audit: &str, up: &Upstream) -> String {
    format!(
        "audit: {{ {audit} }}\nupstreams: {{ u: {{ url: \"{}\" }} }}\nroutes:\n  - {{ name: tools, path_prefix: /mcp, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n",
        up.url()
    )
}

async fn calls(addr: SocketAddr, from: u32, n: u32) {
    for i in from..from + n {
        let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": "t", "arguments": {}}});
        assert_eq!(post_json(addr, "/mcp", &body.to_string()).await.status, 200);
    }
}

/// Poll `/metrics` until `metric` (a full line prefix) satisfies `ok`.
async fn wait_metric(
    gw: &sec0_gateway::server::RunningGateway,
    metric: &str,
    ok: impl Fn(f64) -> bool,
) {
    common::within(&format!("{metric} to settle"), async {
        loop {
            let m = common::metrics(gw).await;
            if common::metric_value(&m, metric).is_some_and(&ok) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// First occurrence of each record id, in arrival order; and how many arrived twice.
fn dedupe(records: &[Value]) -> (Vec<&Value>, usize) {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in records {
        if seen.insert(r["record_id"].as_str().expect("record_id").to_string()) {
            out.push(r);
        }
    }
    let dups = records.len() - out.len();
    (out, dups)
}

/// Within each chain, records arrived in `seq` order with no gap.
fn assert_in_chain_order(records: &[&Value]) {
    let mut next: HashMap<&str, u64> = HashMap::new();
    for r in records {
        let chain = r["chain"].as_str().expect("chain");
        let seq = r["seq"].as_u64().expect("seq");
        let want = next.entry(chain).or_insert(0);
        assert_eq!(
            seq, *want,
            "chain {chain}: seq {seq} arrived where {want} was due"
        );
        *want += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_outage_loses_nothing_and_repeats_are_droppable() {
    let dir = tempfile::tempdir().expect("dir");
    let port = common::closed_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let mut collector = Collector::new();
    collector.lose_acks.store(1, Ordering::SeqCst);
    collector.start(addr);
    let up = tool_server().await;
    let gw = common::gateway(&gateway_yaml(
        &format!(
            "file: {{ dir: {:?} }}, http: {{ url: \"http://{addr}/ingest\", spool_dir: {:?}, batch_records: 20, retry_initial: 20ms, retry_max: 200ms }}",
            dir.path().join("files"),
            dir.path().join("spool")
        ),
        &up,
    ))
    .await;
    calls(gw.proxy_addr, 0, 50).await;
    wait_metric(&gw, "sec0_gateway_audit_spool_records", |v| v == 0.0).await;
    collector.stop();
    calls(gw.proxy_addr, 50, 100).await;
    // While the collector is away the records wait in the spool.
    wait_metric(&gw, "sec0_gateway_audit_spool_records", |v| v >= 100.0).await;
    let m = common::metrics(&gw).await;
    assert!(
        common::metric_value(&m, "sec0_gateway_audit_delivery_failures_total")
            .is_some_and(|v| v >= 1.0),
        "{m}"
    );
    assert!(
        common::metric_value(&m, "sec0_gateway_audit_spool_bytes").is_some_and(|v| v > 0.0),
        "{m}"
    );
    collector.start(addr);
    calls(gw.proxy_addr, 150, 50).await;
    wait_metric(&gw, "sec0_gateway_audit_spool_records", |v| v == 0.0).await;
    let m = common::metrics(&gw).await;
    assert!(
        m.contains("sec0_gateway_audit_last_delivery_timestamp_seconds{sink=\"http\"}"),
        "{m}"
    );
    gw.shutdown().await;
    collector.stop();

    let received = collector.records();
    let (unique, dups) = dedupe(&received);
    assert!(
        dups > 0,
        "the lost acknowledgement made a batch arrive twice"
    );
    assert_in_chain_order(&unique);
    let decisions = unique.iter().filter(|r| r["kind"] == "decision").count();
    assert_eq!(
        decisions, 200,
        "every call's record, exactly once after dedupe"
    );
    // The collector holds exactly what the files hold, line for line.
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("files"))
        .expect("files")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let in_files: Vec<String> = files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let got: Vec<String> = unique.iter().map(|v| v.to_string()).collect();
    let want: Vec<String> = in_files
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("json").to_string())
        .collect();
    assert_eq!(got, want, "same records, same order, as the audit files");
    assert_eq!(
        unique.last().map(|r| r["reason"].clone()),
        Some(json!("shutdown")),
        "the final checkpoint was delivered too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_left_by_a_stopped_gateway_is_delivered_by_the_next_start() {
    let dir = tempfile::tempdir().expect("dir");
    let port = common::closed_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let up = tool_server().await;
    let audit = format!(
        "http: {{ url: \"http://{addr}/ingest\", spool_dir: {:?}, gzip: false, format: json_array, retry_initial: 20ms, retry_max: 100ms, shutdown_timeout: 200ms }}",
        dir.path().join("spool")
    );
    // The collector is down for the whole life of the first gateway.
    let first = common::gateway(&gateway_yaml(&audit, &up)).await;
    calls(first.proxy_addr, 0, 30).await;
    first.shutdown().await;
    let spooled: usize = std::fs::read_dir(dir.path().join("spool"))
        .expect("spool")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "spool"))
        .map(|p| std::fs::read_to_string(p).expect("read").lines().count())
        .sum();
    assert_eq!(
        spooled, 31,
        "30 records and the shutdown checkpoint wait on disk"
    );

    let mut collector = Collector::new();
    collector.start(addr);
    let second = common::gateway(&gateway_yaml(&audit, &up)).await;
    wait_metric(
        &second,
        "sec0_gateway_audit_records_total{result=\"written\",sink=\"http\"}",
        |v| v >= 31.0,
    )
    .await;
    calls(second.proxy_addr, 30, 5).await;
    second.shutdown().await;
    collector.stop();
    let received = collector.records();
    let (unique, _) = dedupe(&received);
    assert_in_chain_order(&unique);
    let chains: Vec<&str> = {
        let mut c: Vec<&str> = unique.iter().filter_map(|r| r["chain"].as_str()).collect();
        c.dedup();
        c
    };
    assert_eq!(
        chains.len(),
        2,
        "the first gateway's chain, then the second's: {chains:?}"
    );
    assert_eq!(
        unique.iter().filter(|r| r["kind"] == "decision").count(),
        35
    );
    assert!(received.iter().all(|r| r["schema"] == 1));
}

//! Run histories shared by replicas through a real Redis server (`store.backend: redis`):
//! a run that read private data through replica A cannot send it out through replica B (no
//! affinity: the two hops go to two gateway processes); with Redis stopped, `fail_closed`
//! refuses exactly the calls whose rules need the run (others pass) and `local` decides
//! from the replica's own memory; run data expires with `context.run_ttl`; calls whose
//! rules do not read runs never touch Redis for them; the write script caps a run's items
//! and the number of runs (`context.max_runs`, least recently written evicted).
//!
//! The gateways are the real binary, two processes; Redis is Debian's `redis-server`
//! (see `replicas`), skipped loudly when it is not installed outside CI.

use crate::common;
use crate::replicas::Redis;

use std::time::Duration;

use common::runs::{call, read, refusal, tool};
use common::{GatewayProcess, Upstream};
use http::Method;
use serde_json::json;

const RULES: &str = r#"version: 1
rules:
  - { id: reads-private, when: { method: resources/read, resource: "file:///private/*" }, decision: allow, reason: private_read, label: private_data }
  - { id: no-exfil, when: { tool: "web_*", run: { labels: private_data } }, decision: deny, reason: private_data_to_open_world }
  - { id: pings, when: { tool: ping }, decision: allow, reason: harmless }
"#;

fn rules_file() -> tempfile::NamedTempFile {
    rules_file_with(RULES)
}

fn rules_file_with(rules: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("tempfile");
    std::io::Write::write_all(&mut f, rules.as_bytes()).expect("write rules");
    f
}

/// A replica in front of `up`, keeping runs in `redis_url` for `ttl`.
fn replica(
    up: &Upstream,
    redis_url: &str,
    on_unavailable: &str,
    ttl: &str,
    rules: &tempfile::NamedTempFile,
) -> GatewayProcess {
    GatewayProcess::start(&format!(
        "policy: {{ rules: {:?} }}\n\
         context: {{ trusted_networks: [127.0.0.0/8], run_ttl: {ttl} }}\n\
         store: {{ backend: redis, on_unavailable: {on_unavailable}, redis: {{ url: \"{redis_url}\", timeout: 300ms }} }}\n\
         upstreams: {{ u: {{ url: \"{}\" }} }}\n\
         routes:\n\
         \x20 - {{ name: files, path_prefix: /files, upstream: u, protocol: mcp, boundary: agent_to_tool }}\n\
         \x20 - {{ name: web, path_prefix: /web, upstream: u, protocol: mcp, boundary: tool_to_api }}\n",
        rules.path(),
        up.url(),
    ))
}

/// Forwarded to the echo upstream.
fn forwarded(a: &common::Answer) -> bool {
    a.status == 200 && a.json()["tag"] == "u"
}

async fn metric(gw: &GatewayProcess, name: &str) -> f64 {
    let a = common::send(gw.admin_addr, Method::GET, "/metrics", &[], None).await;
    common::metric_value(&String::from_utf8_lossy(&a.body), name).unwrap_or(0.0)
}

const READS: &str = "sec0_gateway_run_store_round_trip_seconds_count{op=\"read\"}";
const WRITES: &str = "sec0_gateway_run_store_round_trip_seconds_count{op=\"write\"}";

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

fn run_key(run: &str) -> String {
    format!(
        "sec0:run:{}",
        sec0_gateway::context::runs::redis::run_hash(run)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_flow_rule_holds_across_replicas() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    let a = replica(&up, &redis.url(), "fail_closed", "1h", &rules);
    let b = replica(&up, &redis.url(), "fail_closed", "1h", &rules);

    // Before reading anything private, the open world is fine (through B).
    assert!(forwarded(
        &call(b.proxy_addr, "/web", "run-x", tool("web_fetch")).await
    ));
    // Hop 1 on A: the run reads private data (allowed, labelled).
    let got = call(
        a.proxy_addr,
        "/files",
        "run-x",
        read("file:///private/salaries.csv"),
    )
    .await;
    assert!(forwarded(&got), "{}", got.json());
    // Hop 2 on B, same run: refused — B sees what the run did on A.
    let denied = call(b.proxy_addr, "/web", "run-x", tool("web_post")).await;
    assert_eq!(denied.status, 200);
    assert_eq!(
        refusal(&denied).as_deref(),
        Some("private_data_to_open_world"),
        "{}",
        denied.json()
    );
    assert_eq!(denied.json()["error"]["data"]["rules"], json!(["no-exfil"]));
    // And on A too; another run is not affected on either.
    assert_eq!(
        refusal(&call(a.proxy_addr, "/web", "run-x", tool("web_post")).await).as_deref(),
        Some("private_data_to_open_world")
    );
    assert!(forwarded(
        &call(b.proxy_addr, "/web", "run-y", tool("web_post")).await
    ));
    assert!(forwarded(
        &call(a.proxy_addr, "/web", "run-y", tool("web_post")).await
    ));

    // What is in Redis: the run's hash under the prefix, its id hashed, with a TTL.
    let mut c = redis_conn(&redis.url()).await;
    let fields: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(run_key("run-x"))
        .query_async(&mut c)
        .await
        .expect("hgetall");
    assert_eq!(
        fields.get("l:private_data").map(String::as_str),
        Some("1"),
        "{fields:?}"
    );
    assert!(
        fields.contains_key("r:file:///private/salaries.csv"),
        "{fields:?}"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(run_key("run-x"))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 0 && ttl <= 3_600_000, "{ttl}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*run-x*")
        .query_async(&mut c)
        .await
        .expect("keys");
    assert!(keys.is_empty(), "no key holds a run id: {keys:?}");

    // A call whose rules do not read runs (and adds nothing they read) never asks Redis.
    let (reads, writes) = (metric(&b, READS).await, metric(&b, WRITES).await);
    assert!(reads >= 3.0, "the web_* calls read their run: {reads}");
    for run in ["run-x", "run-z"] {
        assert!(forwarded(
            &call(b.proxy_addr, "/files", run, tool("ping")).await
        ));
        let public = call(b.proxy_addr, "/files", run, read("file:///public/menu.txt")).await;
        assert!(forwarded(&public));
    }
    assert_eq!(metric(&b, READS).await, reads, "no read for pings");
    assert_eq!(
        metric(&b, WRITES).await,
        writes,
        "nothing a rule reads: no write"
    );
    assert_eq!(
        metric(&b, "sec0_gateway_run_store_errors_total{op=\"read\"}").await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fail_closed_refuses_only_calls_that_need_the_run_and_local_uses_memory() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    let closed = replica(&up, &redis.url(), "fail_closed", "1h", &rules);
    let local = replica(&up, &redis.url(), "local", "1h", &rules);
    // Both replicas' runs read private data while Redis is up.
    for (gw, run) in [(&closed, "run-c"), (&local, "run-l")] {
        let got = call(
            gw.proxy_addr,
            "/files",
            run,
            read("file:///private/keys.txt"),
        )
        .await;
        assert!(forwarded(&got), "{}", got.json());
    }
    redis.stop();

    // fail_closed: a call whose rules read the run is refused, at once, with a clear reason.
    let got = common::within(
        "a refusal, not a hang",
        call(closed.proxy_addr, "/web", "run-c", tool("web_post")),
    )
    .await;
    assert_eq!(got.status, 503, "{}", got.json());
    assert_eq!(refusal(&got).as_deref(), Some("run_store_unavailable"));
    assert_eq!(got.json()["id"], 1, "the JSON-RPC id is echoed");
    assert!(
        got.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("run's history")),
        "{}",
        got.json()
    );
    // ... also in a run it never saw (it cannot know the run is clean) ...
    let fresh = call(closed.proxy_addr, "/web", "run-new", tool("web_post")).await;
    assert_eq!(refusal(&fresh).as_deref(), Some("run_store_unavailable"));
    // ... and a call adding what a rule reads (a private read labels the run) is refused
    // rather than left unrecorded.
    let label = call(
        closed.proxy_addr,
        "/files",
        "run-c",
        read("file:///private/b"),
    )
    .await;
    assert_eq!(refusal(&label).as_deref(), Some("run_store_unavailable"));
    // Calls whose rules do not read runs still pass.
    assert!(forwarded(
        &call(closed.proxy_addr, "/files", "run-c", tool("ping")).await
    ));
    let public = call(
        closed.proxy_addr,
        "/files",
        "run-c",
        read("file:///public/x"),
    )
    .await;
    assert!(forwarded(&public), "{}", public.json());
    assert!(metric(&closed, "sec0_gateway_run_store_errors_total{op=\"read\"}").await >= 2.0);
    assert!(
        metric(
            &closed,
            "sec0_gateway_shared_state_errors_total{op=\"runs_read\"}"
        )
        .await
            >= 2.0
    );

    // local: decided from what this replica saw of the run.
    let got = call(local.proxy_addr, "/web", "run-l", tool("web_post")).await;
    assert_eq!(
        refusal(&got).as_deref(),
        Some("private_data_to_open_world"),
        "{}",
        got.json()
    );
    assert!(forwarded(
        &call(local.proxy_addr, "/web", "run-other", tool("web_post")).await
    ));
    // A private read now is kept here, and the flow rule holds on it.
    assert!(forwarded(
        &call(
            local.proxy_addr,
            "/files",
            "run-m",
            read("file:///private/y")
        )
        .await
    ));
    assert_eq!(
        refusal(&call(local.proxy_addr, "/web", "run-m", tool("web_fetch")).await).as_deref(),
        Some("private_data_to_open_world")
    );
    assert!(
        metric(
            &local,
            "sec0_gateway_run_store_fallbacks_total{op=\"read\"}"
        )
        .await
            >= 3.0
    );
    assert!(
        metric(
            &local,
            "sec0_gateway_run_store_fallbacks_total{op=\"write\"}"
        )
        .await
            >= 1.0
    );

    // Redis back (same port, empty): fail_closed decides again.
    let port = redis.port;
    drop(redis);
    let _redis = Redis::start_on(port);
    let got = common::within("the run store back", async {
        loop {
            let got = call(closed.proxy_addr, "/web", "run-after", tool("web_post")).await;
            if got.status != 503 {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(forwarded(&got), "{}", got.json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_data_expires_with_its_ttl() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::echo("u").await;
    let rules = rules_file();
    let a = replica(&up, &redis.url(), "fail_closed", "1s", &rules);
    let b = replica(&up, &redis.url(), "fail_closed", "1s", &rules);
    let got = call(a.proxy_addr, "/files", "run-t", read("file:///private/t")).await;
    assert!(forwarded(&got));
    let mut c = redis_conn(&redis.url()).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(run_key("run-t"))
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 0 && ttl <= 1000, "expires with run_ttl: {ttl}");
    assert_eq!(
        refusal(&call(b.proxy_addr, "/web", "run-t", tool("web_post")).await).as_deref(),
        Some("private_data_to_open_world")
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let exists: i64 = redis::cmd("EXISTS")
        .arg(run_key("run-t"))
        .query_async(&mut c)
        .await
        .expect("exists");
    assert_eq!(exists, 0, "the run's data is gone");
    let index: i64 = redis::cmd("EXISTS")
        .arg("sec0:runs")
        .query_async(&mut c)
        .await
        .expect("exists");
    assert_eq!(index, 0, "and so is the index of runs");
    // Expired: the run starts over, on either replica.
    assert!(forwarded(
        &call(b.proxy_addr, "/web", "run-t", tool("web_post")).await
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_adding_nothing_to_a_just_written_run_is_left_out() {
    let Some(redis) = Redis::start() else { return };
    let up = Upstream::echo("u").await;
    // Every `add` reads the run and labels it: the benchmark's read+write rules.
    let rules = rules_file_with(
        "version: 1\nrules:\n  \
         - { id: flow, when: { tool: add, run: { labels: private_data } }, decision: deny, reason: flow }\n  \
         - { id: seen, when: { tool: add }, decision: allow, reason: seen, label: added }\n  \
         - { id: reads-private, when: { method: resources/read, resource: \"file:///private/*\" }, decision: allow, reason: r, label: private_data }\n",
    );
    let a = replica(&up, &redis.url(), "fail_closed", "1h", &rules);
    let b = replica(&up, &redis.url(), "fail_closed", "1h", &rules);
    let mut c = redis_conn(&redis.url()).await;
    let key = run_key("run-s");
    let field = |f: &'static str| redis::cmd("HGET").arg(&key).arg(f).clone();

    // First call: the run is new, its step is written.
    assert!(forwarded(
        &call(a.proxy_addr, "/files", "run-s", tool("add")).await
    ));
    assert_eq!(metric(&a, WRITES).await, 1.0);
    // Again, at once, on either replica: the run holds the tool, route and label already
    // and was written within a second — no write (still one read each).
    assert!(forwarded(
        &call(a.proxy_addr, "/files", "run-s", tool("add")).await
    ));
    assert!(forwarded(
        &call(b.proxy_addr, "/files", "run-s", tool("add")).await
    ));
    assert_eq!(metric(&a, WRITES).await, 1.0, "nothing new: left out");
    assert_eq!(metric(&b, WRITES).await, 0.0, "nothing new: left out");
    assert_eq!(metric(&a, READS).await + metric(&b, READS).await, 3.0);
    let calls: Option<String> = field("n").query_async(&mut c).await.expect("hget");
    assert_eq!(calls.as_deref(), Some("1"), "no rule counts calls");

    // Written longer ago than a second (its expiry shows it): the next call refreshes it.
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(3_000_000)
        .query_async(&mut c)
        .await
        .expect("pexpire");
    assert!(forwarded(
        &call(b.proxy_addr, "/files", "run-s", tool("add")).await
    ));
    assert_eq!(metric(&b, WRITES).await, 1.0, "expiry refreshed");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut c)
        .await
        .expect("pttl");
    assert!(ttl > 3_500_000, "{ttl}");

    // Something the run lacks is written, just written or not.
    let _: i64 = redis::cmd("HDEL")
        .arg(&key)
        .arg("l:added")
        .query_async(&mut c)
        .await
        .expect("hdel");
    assert!(forwarded(
        &call(a.proxy_addr, "/files", "run-s", tool("add")).await
    ));
    assert_eq!(metric(&a, WRITES).await, 2.0, "a label the run lacks");
    let added: Option<String> = field("l:added").query_async(&mut c).await.expect("hget");
    assert_eq!(added.as_deref(), Some("1"));
    // And the flow rule still holds across replicas: private data read on A, `add` on B
    // (the run just written, but `private_data` is new to it) is refused.
    assert!(forwarded(
        &call(a.proxy_addr, "/files", "run-s", read("file:///private/x")).await
    ));
    assert_eq!(
        refusal(&call(b.proxy_addr, "/files", "run-s", tool("add")).await).as_deref(),
        Some("flow")
    );

    // A rule counting calls: every call is written, new or not.
    let counting = rules_file_with(
        "version: 1\nrules:\n  \
         - { id: many, when: { tool: add, run: { count_gt: 100 } }, decision: deny, reason: many }\n  \
         - { id: seen, when: { tool: add }, decision: allow, reason: seen, label: added }\n",
    );
    let d = replica(&up, &redis.url(), "fail_closed", "1h", &counting);
    for _ in 0..3 {
        assert!(forwarded(
            &call(d.proxy_addr, "/files", "run-n", tool("add")).await
        ));
    }
    assert_eq!(metric(&d, WRITES).await, 3.0, "each call counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_script_caps_each_run_and_the_number_of_runs() {
    use sec0_gateway::context::runs::{MAX_ITEMS, Record, SharedRuns, Step};
    let Some(redis) = Redis::start() else { return };
    let store = sec0_gateway::shared::RedisStore::new(&sec0_gateway::config::RedisConfig {
        url: redis.url(),
        prefix: "cap:".into(),
        timeout: Duration::from_secs(2),
    })
    .expect("store");
    let runs = SharedRuns::new(&store, Duration::from_secs(60), 3);
    // One run: more distinct tools than a run keeps, over several calls.
    let names: Vec<String> = (0..MAX_ITEMS + 50).map(|i| format!("tool-{i}")).collect();
    for chunk in names.chunks(100) {
        let rec = Record {
            steps: chunk
                .iter()
                .map(|t| Step {
                    route: "r",
                    tool: Some(t),
                    resource: None,
                    labels: &[],
                    ids: Vec::new(),
                })
                .collect(),
            marks: vec![],
        };
        assert_eq!(runs.write("big", &rec).await.expect("write"), 0);
    }
    let (h, left) = runs.read("big").await.expect("read");
    assert!(
        left.is_some_and(|l| l <= Duration::from_secs(60)),
        "{left:?}"
    );
    assert_eq!(h.called.len(), MAX_ITEMS, "capped per run");
    assert_eq!(h.calls, names.len() as u64, "every call counted");
    assert_eq!(h.routes.len(), 1);
    // More runs than max_runs: the least recently written go, and are counted.
    let mut evicted = 0;
    for run in ["r1", "r2", "r3", "r4"] {
        let rec = Record {
            steps: vec![],
            marks: vec!["sec0:refused"],
        };
        evicted += runs.write(run, &rec).await.expect("write");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(evicted, 2, "big and r1 made room");
    assert_eq!(runs.read("big").await.expect("read").0.calls, 0);
    assert!(runs.read("r1").await.expect("read").0.labels.is_empty());
    assert!(
        runs.read("r4")
            .await
            .expect("read")
            .0
            .labels
            .contains("sec0:refused")
    );
    let mut c = redis_conn(&redis.url()).await;
    let index: i64 = redis::cmd("ZCARD")
        .arg("cap:runs")
        .query_async(&mut c)
        .await
        .expect("zcard");
    assert_eq!(index, 3);
}

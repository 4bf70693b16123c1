//! Calls that carry a run id, for the tests of run-scoped rules (one replica in
//! `runs.rs`, several sharing Redis in `runs_shared.rs`).

use std::net::SocketAddr;

use http::Method;
use serde_json::{Value, json};

use super::Answer;

/// POST `msg` to `path` as part of run `run` (the `x-sec0-run-id` header).
pub async fn call(addr: SocketAddr, path: &str, run: &str, msg: Value) -> Answer {
    super::send(
        addr,
        Method::POST,
        path,
        &[
            ("content-type", "application/json"),
            ("accept", "application/json"),
            ("x-sec0-run-id", run),
        ],
        Some(&msg.to_string()),
    )
    .await
}

/// A `tools/call` of `name` without arguments.
pub fn tool(name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {}}})
}

/// A `resources/read` of `uri`.
pub fn read(uri: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": uri}})
}

/// `error.data.reason` of an answer (`None`: it went through).
pub fn refusal(a: &Answer) -> Option<String> {
    a.json()
        .pointer("/error/data/reason")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

//! Redaction: for any valid JSON document, the guard's redaction is valid JSON with the
//! same structure (same keys in order, same array lengths, every number, boolean and null
//! unchanged); only strings change.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sec0_gateway::guard::{Guard, redact_json};
use serde_json::Value;

fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.keys().eq(y.keys()) && x.values().zip(y.values()).all(|(p, q)| same_shape(p, q))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_shape(p, q))
        }
        (Value::String(_), Value::String(_)) => true,
        (x, y) => x == y,
    }
}

fuzz_target!(|data: &[u8]| {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    let guard = GUARD.get_or_init(|| Guard::new(&[]).expect("built-in detectors"));
    let Ok(before) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let found = guard.scan_json(data);
    let refs: Vec<_> = found.iter().collect();
    let redacted = redact_json(data, &refs);
    let after: Value = serde_json::from_slice(&redacted).expect("redaction keeps valid JSON");
    assert!(same_shape(&before, &after), "structure changed");
});

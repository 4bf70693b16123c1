//! The 2026-07-28 mirrored headers (`Mcp-Method`, `Mcp-Name`): the input is an `Mcp-Method`
//! value, an `Mcp-Name` value and a body, separated by newlines. Whatever passes the check
//! never lets a plain `Mcp-Method` header say something other than the body's method.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use sec0_gateway::protocol::jsonrpc::parse_envelope;
use sec0_gateway::protocol::mcp::check_mirrored_headers;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let (Some(method), Some(name), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(envelope) = parse_envelope(body, 64) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for (key, value) in [("mcp-method", method), ("mcp-name", name)] {
        if !value.is_empty() {
            if let Ok(v) = HeaderValue::from_bytes(value) {
                headers.insert(key, v);
            }
        }
    }
    let msg = (!envelope.batch).then(|| &envelope.messages[0]);
    if check_mirrored_headers(&headers, msg).is_ok() {
        if let Some(h) = headers.get("mcp-method").and_then(|v| v.to_str().ok()) {
            let h = h.trim();
            if !h.starts_with("=?") {
                assert_eq!(
                    msg.and_then(|m| m.method()),
                    Some(h),
                    "a plain Mcp-Method passed that the body does not say"
                );
            }
        }
    }
});

//! The JSON-RPC envelope: an accepted body's messages are its elements (byte slices that
//! parse to the same values), and a batch split that keeps every element keeps every id
//! exactly once, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sec0_gateway::protocol::jsonrpc::{message_slices, parse_envelope, peek_id, select_batch};

fuzz_target!(|data: &[u8]| {
    let _ = peek_id(data);
    let Ok(envelope) = parse_envelope(data, 64) else {
        return;
    };
    let slices = message_slices(data, envelope.batch).expect("an accepted body has messages");
    assert_eq!(slices.len(), envelope.messages.len());
    for ((_, bytes), msg) in slices.iter().zip(&envelope.messages) {
        let v: serde_json::Value = serde_json::from_slice(bytes).expect("each slice is JSON");
        assert_eq!(v, msg.value);
    }
    if envelope.batch {
        let all: Vec<usize> = (0..envelope.messages.len()).collect();
        let part = select_batch(data, &all).expect("split");
        let again = parse_envelope(&part, 64).expect("the split batch is valid");
        let ids = |e: &sec0_gateway::protocol::Envelope| {
            e.messages
                .iter()
                .map(|m| m.value.get("id").cloned())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&again), ids(&envelope));
    }
});

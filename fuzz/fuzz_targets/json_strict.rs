//! The strict JSON reader never reads a document differently from serde_json: whatever it
//! accepts, serde_json accepts with the same value (it may refuse more: duplicate keys,
//! depth).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sec0_gateway::protocol::json::parse_strict;

fuzz_target!(|data: &[u8]| {
    if let Ok(strict) = parse_strict(data, 64) {
        let loose: serde_json::Value =
            serde_json::from_slice(data).expect("serde_json reads what the strict reader read");
        assert_eq!(strict, loose);
    }
});

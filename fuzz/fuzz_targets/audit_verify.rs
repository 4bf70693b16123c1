//! The audit record reader behind `sec0-gateway audit verify` (`audit::verify`): any bytes
//! as an audit file. No panic, and a changed record is never accepted: the first byte
//! chooses raw bytes, or a valid signed chain (written by the gateway's own `Chain`) with
//! the rest of the input XOR-ed into it from an offset. Whatever such a file the verifier
//! accepts (signatures required) holds, line for line, the same records as the original:
//! only bytes that do not change a record's JSON value (none, in the compact form the
//! writer emits) could differ.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use ed25519_dalek::VerifyingKey;
use libfuzzer_sys::fuzz_target;
use sec0_gateway::audit::chain::{Chain, CheckpointSigner};
use sec0_gateway::audit::record::AuditRecord;
use sec0_gateway::audit::verify::verify_reader;
use serde_json::Value;

struct Fixture {
    keys: HashMap<String, VerifyingKey>,
    valid: Vec<u8>,
    records: Vec<Value>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let signer = CheckpointSigner::from_seed([9; 32], "k1");
        let keys = HashMap::from([("k1".to_string(), signer.verifying_key())]);
        let mut chain = Chain::new("fuzz", Some(signer), 2);
        let mut valid = Vec::new();
        for i in 0..3 {
            let mut r = AuditRecord {
                method: Some(format!("tools/call#{i}")),
                ..AuditRecord::new("decision")
            };
            chain.append(&mut r, &mut valid);
        }
        chain.checkpoint("shutdown", &mut valid);
        let records = valid
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("the writer's lines are JSON"))
            .collect();
        Fixture {
            keys,
            valid,
            records,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match data.split_first() {
        Some((0, rest)) | Some((1, rest)) if rest.len() >= 2 => {
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % f.valid.len();
            let mut b = f.valid.clone();
            for (i, x) in rest[2..].iter().enumerate() {
                if let Some(byte) = b.get_mut(at + i) {
                    *byte ^= x;
                }
            }
            if let Ok(v) = verify_reader("fuzz", &b[..], &f.keys, true) {
                let got: Vec<Value> = b
                    .split(|c| *c == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).expect("accepted lines are JSON"))
                    .collect();
                assert_eq!(got, f.records, "a changed audit file was accepted");
                assert_eq!(v.records, f.records.len() as u64);
            }
        }
        _ => {
            // Raw bytes: no panic, with or without signatures required; a file accepted
            // with them required is accepted without too.
            let strict = verify_reader("fuzz", data, &f.keys, true);
            let lax = verify_reader("fuzz", data, &f.keys, false);
            if let Ok(v) = strict {
                assert_eq!(lax, Ok(v));
            }
        }
    }
});

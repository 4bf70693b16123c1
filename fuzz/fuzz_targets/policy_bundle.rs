//! A policy bundle as the gateway reads it from its source (`policy::bundle::read::verify`):
//! gzip, tar headers, the manifest and the signature are read from untrusted bytes before
//! anything is trusted. No panic, no unbounded work (the caps here are small), and nothing
//! but a bundle signed by the trusted key is ever accepted. The first byte chooses the input:
//! raw bytes, or a valid signed bundle with the rest of the input XOR-ed into it from an
//! offset (reaching the tar entries and the manifest checks behind a correct gzip header).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sec0_gateway::policy::bundle::Limits;
use sec0_gateway::policy::bundle::build::build;
use sec0_gateway::policy::bundle::keys::TrustedKeys;
use sec0_gateway::policy::bundle::read::verify;

const RULES: &str =
    "version: 1\nrules:\n  - { id: r1, when: { tool: add }, decision: deny, reason: r }\n";

struct Fixture {
    keys: TrustedKeys,
    valid: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let files = vec![("rules/10-base.yaml".to_string(), RULES.as_bytes().to_vec())];
        let valid = build(&files, 3, "2026-12-07T00:00:00Z", &key).expect("a valid bundle");
        Fixture {
            keys: TrustedKeys::from_keys(vec![key.verifying_key()]),
            valid,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let limits = Limits {
        max_bundle: 1 << 20,
        max_unpacked: 4 << 20,
        max_entries: 64,
        max_file: 256 << 10,
    };
    let input: Vec<u8> = match data.split_first() {
        Some((0, rest)) | Some((1, rest)) if rest.len() >= 2 => {
            let at = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % f.valid.len();
            let mut b = f.valid.clone();
            for (i, x) in rest[2..].iter().enumerate() {
                if let Some(byte) = b.get_mut(at + i) {
                    *byte ^= x;
                }
            }
            b
        }
        _ => data.to_vec(),
    };
    if let Ok(v) = verify(&input, &f.keys, &limits) {
        // Accepted: whatever bytes around them changed (tar padding, header times), the
        // rules are exactly the signed ones.
        assert_eq!(v.sources.len(), 1);
        assert_eq!(v.sources[0].1, RULES);
    }
});

//! Redaction's promise, checked on generated documents (proptest, bounded cases): a
//! redacted JSON document is still valid JSON with the same structure — the same keys in the
//! same order, arrays of the same lengths, every number, boolean and null unchanged — only
//! strings the guard found something in changed, and the planted values gone.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;

use super::{Guard, redact_json};

/// Values the built-in detectors find (an e-mail address, an AWS key id, a US SSN in
/// context), planted inside ordinary text.
const PLANTED: [&str; 3] = [
    "dana.whitfield@northwind-freight.io",
    "AKIAZ7Q4LMN2PX3RT5VW",
    "SSN 536-22-8411",
];

fn guard() -> &'static Guard {
    static GUARD: OnceLock<Guard> = OnceLock::new();
    GUARD.get_or_init(|| Guard::new(&[]).expect("built-in detectors"))
}

/// Strings: plain words, or words around a planted value.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,16}",
        ("[a-z ]{0,8}", 0..PLANTED.len(), "[a-z ]{0,8}")
            .prop_map(|(a, i, b)| format!("{a} {} {b}", PLANTED[i])),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Same structure: equal but for strings, which may differ only where `before` held a
/// planted value.
fn same_shape(before: &Value, after: &Value) -> Result<(), String> {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let (ka, kb): (Vec<_>, Vec<_>) = (a.keys().collect(), b.keys().collect());
            if ka != kb {
                return Err(format!("keys {ka:?} became {kb:?}"));
            }
            a.values()
                .zip(b.values())
                .try_for_each(|(x, y)| same_shape(x, y))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).try_for_each(|(x, y)| same_shape(x, y))
        }
        (Value::String(a), Value::String(b)) => {
            let planted = PLANTED.iter().any(|p| a.contains(p));
            match (planted, a == b) {
                (false, false) => Err(format!("{a:?} changed to {b:?} with nothing to find")),
                (true, true) => Err(format!("{a:?} kept its planted value")),
                _ => Ok(()),
            }
        }
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{a} became {b}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn redaction_keeps_the_document_and_removes_what_was_found(doc in document(), pretty in any::<bool>()) {
        let bytes = if pretty {
            serde_json::to_vec_pretty(&doc)
        } else {
            serde_json::to_vec(&doc)
        }
        .expect("serialise");
        let found = guard().scan_json(&bytes);
        let refs: Vec<_> = found.iter().collect();
        let redacted = redact_json(&bytes, &refs);
        let after: Value = serde_json::from_slice(&redacted).expect("still JSON");
        if let Err(why) = same_shape(&doc, &after) {
            return Err(TestCaseError::fail(why));
        }
        let text = String::from_utf8(redacted).expect("UTF-8");
        for p in PLANTED {
            prop_assert!(!text.contains(p), "{p} survived: {text}");
        }
    }
}

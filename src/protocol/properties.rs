//! Properties of the parsers that read outside input, checked on generated input (proptest,
//! a bounded number of cases per run): the strict JSON reader agrees with `serde_json` on
//! every document both accept and refuses what `serde_json` would read differently; a batch
//! split keeps every kept message byte for byte and each id exactly once; the SSE parser
//! finds the same events however the stream is cut into chunks.

use proptest::prelude::*;
use serde_json::Value;

use super::json::parse_strict;
use super::jsonrpc::{message_slices, parse_envelope, select_batch};
use super::sse::Parser;

/// JSON values of bounded size and depth, with keys and strings that include escapes and
/// non-ASCII text.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "[a-zé\"\\\\/\\n\\t\u{1F600} ]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_é]{1,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON-RPC request with id `id` and generated params.
fn request(id: i64, params: Value) -> Value {
    let params = if params.is_object() || params.is_array() {
        params
    } else {
        serde_json::json!({ "v": params })
    };
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_strict_reader_reads_what_serde_json_reads(v in json_value()) {
        let bytes = serde_json::to_vec(&v).expect("serialise");
        let strict = parse_strict(&bytes, 64).expect("a serialised value is valid JSON");
        // Compared with what serde_json reads from the same bytes (its float parsing is not
        // correctly rounded, so the generated value itself may differ in the last digit).
        let loose: Value = serde_json::from_slice(&bytes).expect("serde_json reads it");
        prop_assert_eq!(strict, loose);
    }

    #[test]
    fn on_mangled_bytes_the_strict_reader_never_disagrees_with_serde_json(
        v in json_value(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = serde_json::to_vec(&v).expect("serialise");
        let at = cut.index(bytes.len().max(1)).min(bytes.len().saturating_sub(1));
        if !bytes.is_empty() {
            bytes[at] = byte;
        }
        // Whatever the strict reader accepts, serde_json reads the same way; it may refuse
        // more (duplicate keys, depth), never read something else.
        if let Ok(strict) = parse_strict(&bytes, 64) {
            let loose: Value = serde_json::from_slice(&bytes).expect("serde_json accepts it too");
            prop_assert_eq!(strict, loose);
        }
    }

    #[test]
    fn a_batch_split_keeps_each_kept_message_exactly(
        params in prop::collection::vec(json_value(), 1..8),
        mask in prop::collection::vec(any::<bool>(), 8),
    ) {
        let batch: Vec<Value> = params
            .into_iter()
            .enumerate()
            .map(|(i, p)| request(i as i64, p))
            .collect();
        // Pretty-printed, so elements are not what re-serialising would give.
        let body = serde_json::to_vec_pretty(&batch).expect("serialise");
        let envelope = parse_envelope(&body, 64).expect("a valid batch");
        prop_assert!(envelope.batch);
        prop_assert_eq!(envelope.messages.len(), batch.len());
        let keep: Vec<usize> = (0..batch.len()).filter(|i| mask[*i]).collect();
        if keep.is_empty() {
            return Ok(());
        }
        let part = select_batch(&body, &keep).expect("split");
        let slices = message_slices(&body, true).expect("slices");
        let kept: Vec<Value> = serde_json::from_slice(&part).expect("the part is JSON");
        let ids: Vec<i64> = kept.iter().map(|m| m["id"].as_i64().expect("id")).collect();
        prop_assert_eq!(ids, keep.iter().map(|i| *i as i64).collect::<Vec<_>>());
        // Byte for byte: the part is the kept elements' exact bytes, comma-separated.
        let mut expected = b"[".to_vec();
        for (n, i) in keep.iter().enumerate() {
            if n > 0 {
                expected.push(b',');
            }
            expected.extend_from_slice(slices[*i].1);
        }
        expected.push(b']');
        prop_assert_eq!(part, expected);
    }

    #[test]
    fn sse_events_do_not_depend_on_how_the_stream_is_cut(
        datas in prop::collection::vec("[a-z{}\":, ]{0,40}", 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let stream: String = datas
            .iter()
            .enumerate()
            .map(|(i, d)| format!("event: message{nl}id: {i}{nl}data: {d}{nl}{nl}"))
            .collect();
        let bytes = stream.as_bytes();
        let whole = {
            let mut p = Parser::new(1 << 16);
            p.push(bytes).expect("events")
        };
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut p = Parser::new(1 << 16);
        let mut pieces = Vec::new();
        let mut from = 0;
        for to in at.into_iter().chain([bytes.len()]) {
            pieces.extend(p.push(&bytes[from..to]).expect("events"));
            from = to;
        }
        let summary = |evs: &[super::sse::Event]| -> Vec<(Option<String>, Option<String>, Option<String>)> {
            evs.iter().map(|e| (e.event.clone(), e.id.clone(), e.data.clone())).collect()
        };
        prop_assert_eq!(summary(&whole), summary(&pieces));
        prop_assert_eq!(whole.len(), datas.len());
        for (e, d) in whole.iter().zip(&datas) {
            prop_assert_eq!(e.data.as_deref(), Some(d.as_str()));
        }
    }
}

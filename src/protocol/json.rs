//! Strict JSON: parse the way every upstream will, or refuse.
//!
//! JSON parsers disagree on duplicate object keys (serde_json, Python and JavaScript keep the
//! last one; others keep the first or fail), so a body with a duplicate key could be checked
//! as one call and executed as another. Such bodies are refused, as are invalid UTF-8, lone
//! surrogate escapes, a byte-order mark, trailing content and nesting deeper than a cap.
//! Parsing is one pass: duplicates and depth are checked while the value is built.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting of arrays and objects accepted (JSON-RPC envelopes are shallow; tool
/// arguments rarely pass a dozen levels).
pub const DEFAULT_MAX_DEPTH: usize = 64;

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all, or not valid UTF-8, or trailing bytes.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// An object repeats a key; readers would disagree on its value.
    #[error("duplicate object key {0:?}")]
    DuplicateKey(String),
    /// Arrays and objects nested deeper than the cap.
    #[error("JSON nested deeper than {0} levels")]
    TooDeep(usize),
}

/// Parse `bytes` as one strict JSON value.
pub fn parse_strict(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut de)
    .map_err(classify)?;
    de.end().map_err(|e| JsonError::Syntax(e.to_string()))?;
    Ok(value)
}

const DUP: &str = "\u{0}dup:";
const DEEP: &str = "\u{0}deep:";

fn classify(e: serde_json::Error) -> JsonError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix(DUP) {
        let key = rest.rsplit_once(" at line").map_or(rest, |(k, _)| k);
        JsonError::DuplicateKey(key.to_string())
    } else if let Some(rest) = msg.strip_prefix(DEEP) {
        let n = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        JsonError::TooDeep(n)
    } else {
        JsonError::Syntax(msg)
    }
}

struct Strict {
    depth: usize,
    max_depth: usize,
}

impl Strict {
    fn nested<E: de::Error>(&self) -> Result<Strict, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(format_args!("{DEEP}{}", self.max_depth)));
        }
        Ok(Strict {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested::<A::Error>()?;
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(Strict { ..inner })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested::<A::Error>()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUP}{key}")));
            }
            let v = map.next_value_seed(Strict { ..inner })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Value, JsonError> {
        parse_strict(s, 8)
    }

    #[test]
    fn accepts_ordinary_json() {
        let v = parse(br#"{"jsonrpc":"2.0","id":1,"params":{"a":[1,2,{"b":null}],"c":"\u00e9"}}"#)
            .expect("ok");
        assert_eq!(v["params"]["c"], "é");
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        assert_eq!(
            parse(br#"{"method":"tools/list","method":"tools/call"}"#),
            Err(JsonError::DuplicateKey("method".into()))
        );
        assert_eq!(
            parse(br#"{"params":{"name":"echo","name":"shell"}}"#),
            Err(JsonError::DuplicateKey("name".into()))
        );
        // The same key written with an escape is still the same key.
        assert_eq!(
            parse(br#"{"name":"a","\u006eame":"b"}"#),
            Err(JsonError::DuplicateKey("name".into()))
        );
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!("{}{}", "[".repeat(9), "]".repeat(9));
        assert_eq!(parse(deep.as_bytes()), Err(JsonError::TooDeep(8)));
        let ok = format!("{}{}", "[".repeat(8), "]".repeat(8));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_encoding_tricks_and_trailing_bytes() {
        for bad in [
            &b"\xef\xbb\xbf{}"[..],    // BOM
            &b"{\"a\":\"\xff\"}"[..],  // invalid UTF-8
            &br#"{"a":"\ud800"}"#[..], // lone surrogate
            &b"{} {}"[..],             // trailing value
            &b"{\"a\":1,}"[..],        // trailing comma
            &b"{'a':1}"[..],           // not JSON
            &b""[..],
        ] {
            assert!(
                matches!(parse(bad), Err(JsonError::Syntax(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

//! The string values of a JSON text, found in its raw bytes: where each one starts and ends,
//! its decoded content and its path. Scanning the raw text (instead of a parsed `Value`)
//! lets redaction replace exactly the strings that change and copy every other byte as it
//! was: key order, number spelling, whitespace and escapes elsewhere stay untouched.
//!
//! The input must be valid JSON (the callers parse it strictly first); the walker does not
//! re-validate, but it never reads out of bounds and never panics on any input.

use std::borrow::Cow;
use std::fmt::Write as _;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// An object member (the key as written, escapes undone).
    Key(Cow<'a, str>),
    /// An array element.
    Index(usize),
}

/// A string value inside the JSON text.
#[derive(Debug)]
pub struct StringValue<'a> {
    /// Byte range of the string token in the text, quotes included.
    pub raw: std::ops::Range<usize>,
    /// The decoded string.
    pub text: Cow<'a, str>,
}

/// Render a path as JSONPath (`$.params.arguments['a b'][0]`).
pub fn render_path(path: &[Segment<'_>]) -> String {
    let mut out = String::from("$");
    for seg in path {
        match seg {
            Segment::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Segment::Key(k)
                if !k.is_empty()
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !k.as_bytes()[0].is_ascii_digit() =>
            {
                out.push('.');
                out.push_str(k);
            }
            Segment::Key(k) => {
                out.push_str("['");
                for c in k.chars() {
                    match c {
                        '\'' => out.push_str("\\'"),
                        '\\' => out.push_str("\\\\"),
                        c => out.push(c),
                    }
                }
                out.push_str("']");
            }
        }
    }
    out
}

/// Call `visit(path, string)` for every string value (not keys) of `json`, in text order.
/// `visit` returns `false` to stop early.
pub fn for_each_string<'a, F>(json: &'a [u8], mut visit: F)
where
    F: FnMut(&[Segment<'a>], StringValue<'a>) -> bool,
{
    let mut w = Walker {
        s: json,
        i: 0,
        path: Vec::new(),
    };
    w.value(&mut visit);
}

struct Walker<'a> {
    s: &'a [u8],
    i: usize,
    path: Vec<Segment<'a>>,
}

impl<'a> Walker<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// Walk one value; `false` when the visitor asked to stop (or the text ended early).
    fn value<F>(&mut self, visit: &mut F) -> bool
    where
        F: FnMut(&[Segment<'a>], StringValue<'a>) -> bool,
    {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                loop {
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b'}') => {
                            self.i += 1;
                            return true;
                        }
                        Some(b',') => self.i += 1,
                        Some(b'"') => {
                            let Some(key) = self.string() else {
                                return false;
                            };
                            self.ws();
                            if self.s.get(self.i) == Some(&b':') {
                                self.i += 1;
                            }
                            self.path.push(Segment::Key(key.text));
                            let go_on = self.value(visit);
                            self.path.pop();
                            if !go_on {
                                return false;
                            }
                        }
                        _ => return false,
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut n = 0;
                loop {
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b']') => {
                            self.i += 1;
                            return true;
                        }
                        Some(b',') => self.i += 1,
                        Some(_) => {
                            self.path.push(Segment::Index(n));
                            let go_on = self.value(visit);
                            self.path.pop();
                            if !go_on {
                                return false;
                            }
                            n += 1;
                        }
                        None => return false,
                    }
                }
            }
            Some(b'"') => match self.string() {
                Some(v) => visit(&self.path, v),
                None => false,
            },
            Some(_) => {
                // A number or literal: skip to the next delimiter.
                while self.i < self.s.len()
                    && !matches!(
                        self.s[self.i],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.i += 1;
                }
                true
            }
            None => false,
        }
    }

    /// The string token at `self.i` (which is a quote), decoded.
    fn string(&mut self) -> Option<StringValue<'a>> {
        let start = self.i;
        let mut j = start + 1;
        let mut escaped = false;
        // The closing quote, skipping escaped characters; memchr because every string of
        // every inspected message passes here.
        loop {
            let k = memchr::memchr2(b'"', b'\\', self.s.get(j..)?)?;
            j += k;
            if self.s[j] == b'\\' {
                escaped = true;
                j += 2;
            } else {
                break;
            }
        }
        self.i = j + 1;
        let raw = &self.s[start..=j];
        let text = if escaped {
            Cow::Owned(serde_json::from_slice::<String>(raw).ok()?)
        } else {
            Cow::Borrowed(std::str::from_utf8(&raw[1..raw.len() - 1]).ok()?)
        };
        Some(StringValue {
            raw: start..j + 1,
            text,
        })
    }
}

/// `json` with the string tokens at the given raw ranges (ascending, not overlapping)
/// replaced by the JSON encoding of the new strings.
pub fn splice(json: &[u8], replacements: &[(std::ops::Range<usize>, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let mut at = 0;
    for (range, text) in replacements {
        if range.start < at || range.end > json.len() {
            continue; // not ascending or out of bounds: never produced by the walker
        }
        out.extend_from_slice(&json[at..range.start]);
        // Serialising a `str` cannot fail.
        out.extend_from_slice(serde_json::to_string(text).unwrap_or_default().as_bytes());
        at = range.end;
    }
    out.extend_from_slice(&json[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(json: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for_each_string(json.as_bytes(), |path, v| {
            out.push((render_path(path), v.text.into_owned()));
            true
        });
        out
    }

    #[test]
    fn finds_every_string_value_with_its_path() {
        let got = strings(
            r#" {"jsonrpc":"2.0","id":7,"params":{"name":"send","arguments":{"to":["a@x.io", 3, true, null, {"k y":"v\"q\u00e9"}],"n":-1.5e3}}} "#,
        );
        assert_eq!(
            got,
            vec![
                ("$.jsonrpc".into(), "2.0".into()),
                ("$.params.name".into(), "send".into()),
                ("$.params.arguments.to[0]".into(), "a@x.io".into()),
                ("$.params.arguments.to[4]['k y']".into(), "v\"qé".into()),
            ]
        );
        assert_eq!(strings(r#""top""#), vec![("$".into(), "top".into())]);
        assert_eq!(strings("[]"), vec![]);
    }

    #[test]
    fn never_panics_on_truncated_or_odd_input() {
        for bad in [
            "",
            "{",
            "{\"a",
            "{\"a\":",
            "[\"x",
            "{\"a\":\"\\",
            "]",
            "{\"a\" \"b\"}",
            "\"\\u12",
        ] {
            let _ = strings(bad);
        }
    }

    #[test]
    fn splice_replaces_only_the_given_tokens() {
        let json = br#"{"b": 1.50, "a": "secret \u0041", "c": "keep"}"#;
        let mut ranges = Vec::new();
        for_each_string(json, |_, v| {
            if v.text.starts_with("secret") {
                ranges.push((v.raw.clone(), "[REDACTED:x] \"q\"".to_string()));
            }
            true
        });
        let out = splice(json, &ranges);
        assert_eq!(
            std::str::from_utf8(&out).expect("utf8"),
            r#"{"b": 1.50, "a": "[REDACTED:x] \"q\"", "c": "keep"}"#
        );
    }
}

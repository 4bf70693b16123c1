//! `name = value` assignments whose name says secret (`DB_PASSWORD=…`, `api_key: …`,
//! `"client_secret": "…"`): the value must look real — not a placeholder, a lookup
//! (`os.environ[…]`, `process.env.X`, `std::env::var(…)`), a constant name, code, an
//! identifier or prose — and names that say the value is not secret (`page_token`,
//! `max_length`, `public_key`) are matched as whole name parts.

use std::ops::Range;

use super::secrets::{entropy, is_placeholder};

/// `name = value` where the name says secret: a real-looking value, not a placeholder,
/// lookup, code expression or prose.
pub(crate) fn assignment(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let raw = &text[m.clone()];
    let quoted = raw.starts_with('"') || raw.starts_with('\'');
    let v = raw.trim_matches(|c| c == '"' || c == '\'');
    let vm = if quoted {
        m.start + 1..m.end - 1
    } else {
        m.clone()
    };
    if vm.is_empty() {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    // The name: the identifier just before the `:`/`=`.
    let before = &text[..m.start];
    let name_end = before.trim_end_matches(|c: char| c.is_whitespace() || "\"':=>".contains(c));
    let name: String = name_end
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<String>()
        .to_ascii_lowercase();
    let strong = name == "pass"
        || name.ends_with("_pass")
        || name.ends_with("-pass")
        || name.ends_with(".pass")
        || [
            "password",
            "passwd",
            "pwd",
            "passphrase",
            "api_key",
            "apikey",
            "api-key",
        ]
        .iter()
        .any(|w| name.contains(w))
        || name.ends_with("secret")
        || name.contains("client_secret");
    let code = v.contains('(')
        || v.starts_with('$')
        || v.starts_with('%')
        || v.starts_with('@')
        || v.starts_with('[')
        || v.starts_with('{')
        || v.starts_with('!')
        || lower.starts_with("env")
        || lower.starts_with("os.")
        || lower.starts_with("process.")
        || lower.starts_with("self.")
        || lower.starts_with("this.")
        || lower.starts_with("config")
        || lower.starts_with("settings")
        || lower.starts_with("args.")
        || lower.starts_with("request.")
        || lower.starts_with("params")
        || lower.starts_with("vault:")
        || lower.starts_with("secretsmanager:")
        || lower.starts_with("arn:")
        || v.contains("::")
        || (!quoted
            && v.contains('_')
            && v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        || (!quoted
            && v.contains('.')
            && v.split('.').all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            && v.bytes().any(|b| b.is_ascii_lowercase())
            && !v.bytes().any(|b| b.is_ascii_digit()));
    let words = [
        "none",
        "null",
        "nil",
        "true",
        "false",
        "required",
        "optional",
        "string",
        "str",
        "undefined",
        "empty",
        "hidden",
        "masked",
        "unset",
        "n/a",
        "na",
        "int",
        "bool",
        "password",
        "secret",
        "token",
        "yes",
        "no",
        "on",
        "off",
        "default",
        "same",
        "test",
        "value",
        "text",
        "type",
        "number",
        "any",
        "object",
        "bytes",
        "sha256",
        "bcrypt",
        "argon2",
        "pbkdf2",
        "md5",
        "plain",
        "hash",
        "hashed",
        "prompt",
        "ask",
        "stdin",
    ];
    if code || words.contains(&lower.as_str()) || is_placeholder(v) {
        return None;
    }
    // An identifier that names something (`user_password`, `tokenizer`) is not a value.
    let identifier = !quoted
        && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        && (v.contains('_') || v.len() > 12);
    // Prose after a colon (`Password: Enter your password`) is not a value.
    let prose = !quoted
        && v.bytes().all(|b| b.is_ascii_alphabetic())
        && text[vm.end..].starts_with(' ')
        && text[vm.end + 1..].starts_with(|c: char| c.is_ascii_alphabetic());
    if identifier || prose {
        return None;
    }
    let mixed = v.bytes().any(|b| b.is_ascii_digit())
        || (v.bytes().any(|b| b.is_ascii_lowercase()) && v.bytes().any(|b| b.is_ascii_uppercase()))
        || v.bytes().any(|b| b.is_ascii_punctuation());
    // Names that say the value is about a secret, not the secret (`password_policy`,
    // `password_file`), or is not secret at all (`page_token`, `cache_key`, `public_key`).
    const NOT_SECRET: &[&str] = &[
        "policy",
        "hint",
        "label",
        "field",
        "length",
        "_min",
        "min_",
        "_max",
        "max_",
        "reset",
        "expir",
        "changed",
        "required",
        "strength",
        "rule",
        "prompt",
        "placeholder",
        "_type",
        "_mode",
        "_format",
        "hash",
        "_url",
        "_uri",
        "_file",
        "file_",
        "path",
        "page",
        "next",
        "cursor",
        "continuation",
        "pagination",
        "etag",
        "trace",
        "request",
        "idempotency",
        "_count",
        "count_",
        "limit",
        "csrf",
        "xsrf",
        "public",
        "publishable",
        "site_key",
        "sitekey",
        "cache",
        "partition",
        "sort",
        "primary",
        "foreign",
        "object",
        "_name",
        "_id",
        "fingerprint",
        "prefix",
        "_env",
        "_var",
        "location",
        "header",
        "param",
        "tokens",
        "tokenizer",
        "usage",
    ];
    // Short words count as whole parts of the name (`page_token`, not `pagerduty_token`;
    // `max_length`, not `admin_key`); longer ones as prefixes of a part or anywhere.
    let parts: Vec<&str> = name.split(['_', '-', '.']).collect();
    let not_secret = NOT_SECRET.iter().any(|w| {
        let bare = w.trim_matches('_');
        if bare.len() <= 5 {
            parts.contains(&bare)
        } else {
            name.contains(bare)
        }
    });
    if not_secret {
        return None;
    }
    let alphabetic = v.bytes().all(|b| b.is_ascii_alphabetic());
    let ok = if strong {
        v.len() >= 4
            && (mixed || quoted || v.len() >= 6)
            && !(alphabetic && !quoted && v.len() < 12)
    } else {
        v.len() >= 12 && mixed && entropy(v) >= 3.0 && !v.contains(' ')
    };
    ok.then_some(vm)
}

//! The built-in detectors: what each finds, how bad it is, and the checks (Luhn, IBAN
//! mod-97, SSN ranges, address parsing) that keep false positives down.
//!
//! Every pattern uses ASCII word boundaries (`(?-u:\b)`), so the regex engine can run all of
//! them together as one lazy DFA over any text. A pattern with a group named `v` reports
//! (and redacts) only that group, e.g. the value of a `password=…` assignment.

use super::Severity;

/// A check on a candidate match: the whole text and the match's byte range.
pub type Validator = fn(&str, std::ops::Range<usize>) -> bool;

/// One built-in pattern.
pub struct Spec {
    /// Detector family (`secrets`, `pii`, `prompt_injection`, `unsafe_command`).
    pub detector: &'static str,
    /// What was found (`aws_access_key_id`, `email`, …): the `<type>` in `[REDACTED:<type>]`.
    pub kind: &'static str,
    /// How bad a finding is.
    pub severity: Severity,
    /// The regex.
    pub pattern: &'static str,
    /// A check every candidate must pass.
    pub validate: Option<Validator>,
}

use Severity::{Critical, High, Low, Medium};

const fn spec(
    detector: &'static str,
    kind: &'static str,
    severity: Severity,
    pattern: &'static str,
    validate: Option<Validator>,
) -> Spec {
    Spec {
        detector,
        kind,
        severity,
        pattern,
        validate,
    }
}

/// Every built-in pattern, in reporting priority (earlier wins when two overlap).
pub const BUILT_IN: &[Spec] = &[
    // ---- secrets ----------------------------------------------------------------------
    spec(
        "secrets",
        "private_key",
        Critical,
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)?",
        None,
    ),
    spec(
        "secrets",
        "aws_access_key_id",
        High,
        r"(?-u:\b)(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?-u:\b)",
        None,
    ),
    spec(
        "secrets",
        "aws_secret_access_key",
        Critical,
        r#"(?i)aws_?(?:secret_?access_?key|secret_?key)["']?\s*[:=]\s*["']?(?P<v>[A-Za-z0-9/+=]{40})(?-u:\b)"#,
        None,
    ),
    spec(
        "secrets",
        "github_token",
        High,
        r"(?-u:\b)(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,255})(?-u:\b)",
        None,
    ),
    spec(
        "secrets",
        "slack_token",
        High,
        r"(?-u:\b)xox[abposr]-[A-Za-z0-9-]{10,200}",
        None,
    ),
    spec(
        "secrets",
        "stripe_secret_key",
        Critical,
        r"(?-u:\b)(?:sk|rk)_live_[A-Za-z0-9]{20,247}(?-u:\b)",
        None,
    ),
    spec(
        "secrets",
        "google_api_key",
        High,
        r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
        None,
    ),
    spec(
        "secrets",
        "anthropic_api_key",
        High,
        r"(?-u:\b)sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{20,200}",
        None,
    ),
    spec(
        "secrets",
        "openai_api_key",
        High,
        r"(?-u:\b)sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}",
        Some(not_anthropic_and_mixed),
    ),
    spec(
        "secrets",
        "jwt",
        High,
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        None,
    ),
    spec(
        "secrets",
        "credential_assignment",
        High,
        r#"(?i)(?:^|[^A-Za-z0-9])(?:[A-Za-z0-9]+_)?(?:password|passwd|pwd|passphrase|secret|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|client[_-]?secret)["']?\s*(?:[:=]|=>)\s*["']?(?P<v>[^\s"'&,;<>]{4,256})"#,
        Some(not_a_placeholder),
    ),
    // ---- pii --------------------------------------------------------------------------
    spec(
        "pii",
        "email",
        Medium,
        r"(?-u:\b)[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?-u:\b)",
        Some(not_url_userinfo),
    ),
    spec(
        "pii",
        "us_ssn",
        High,
        r"(?:^|[^\w-])(?P<v>\d{3}-\d{2}-\d{4})(?:$|[^\w-])",
        Some(valid_ssn),
    ),
    spec(
        "pii",
        "payment_card",
        High,
        r"(?:^|[^\w.-])(?P<v>\d(?:[ -]?\d){12,18})(?:$|[^\w.-])",
        Some(valid_card),
    ),
    spec(
        "pii",
        "iban",
        High,
        r"(?-u:\b)(?P<v>[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30})(?-u:\b)",
        Some(valid_iban),
    ),
    spec(
        "pii",
        "phone",
        Medium,
        r"(?:^|[^\w+.-])(?P<v>\+[1-9]\d{0,2}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\) ?\d{3}[ .-]\d{4}|(?:1[ .-])?\d{3}[ .-]\d{3}[ .-]\d{4}|0\d{2,4}[ /-]\d{3,4}[ -]?\d{3,4})(?:$|[^\w.-])",
        Some(valid_phone),
    ),
    spec(
        "pii",
        "ip_address",
        Low,
        r"(?:^|[^\w.:])(?P<v>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?:$|[^\w.:])",
        Some(valid_ip),
    ),
    // ---- prompt injection -------------------------------------------------------------
    spec(
        "prompt_injection",
        "instruction_override",
        High,
        r"(?i)(?-u:\b)(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|every\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+|these\s+|those\s+)?(?:previous|prior|above|earlier|preceding|original|system|safety)\s+(?:instructions?|prompts?|rules|directions|guidelines|messages|context)",
        None,
    ),
    spec(
        "prompt_injection",
        "role_hijack",
        High,
        r"(?i)(?-u:\b)(?:you\s+are\s+now|from\s+now\s+on,?\s+you\s+are|pretend\s+(?:to\s+be|you\s+are)|act\s+as|enter|switch\s+to)\s+(?:an?\s+|the\s+|in\s+)?(?:DAN|developer\s+mode|jailbroken|unrestricted|unfiltered|evil|god\s+mode|root\s+mode|admin\s+mode)",
        None,
    ),
    spec(
        "prompt_injection",
        "hidden_instruction",
        High,
        r"(?i)(?:<\s*/?\s*(?:important|system|instructions?|secret|hidden)\s*>|\[/?INST\]|<\|im_start\|>|<\|system\|>|<!--[^>]{0,200}?(?:ignore|instruction|assistant|do not tell)[^>]{0,200}?-->|(?:^|\n)\s*(?:###\s*)?(?:system|new instructions?)\s*:)",
        None,
    ),
    spec(
        "prompt_injection",
        "addressed_to_ai",
        Medium,
        r"(?i)(?-u:\b)(?:dear\s+|hey\s+|note\s+to\s+(?:the\s+)?|attention,?\s+)?(?:AI|assistant|language\s+model|LLM|AI\s+agent|chatbot)\s*[,:]\s*(?:please\s+)?(?:you\s+must|you\s+should|ignore|do\s+not\s+(?:tell|mention|reveal)|don't\s+(?:tell|mention|reveal)|secretly|instead|always|never)",
        None,
    ),
    spec(
        "prompt_injection",
        "invisible_unicode",
        High,
        r"[\x{E0000}-\x{E007F}]+|[\x{202A}-\x{202E}\x{2066}-\x{2069}]|[\x{200B}-\x{200D}\x{2060}\x{FEFF}]{2,}",
        None,
    ),
    // ---- unsafe commands --------------------------------------------------------------
    spec(
        "unsafe_command",
        "recursive_delete",
        Critical,
        r#"(?i)(?-u:\b)rm\s+(?:-{1,2}[a-z-]+\s+)*(?:-[a-z]*r[a-z]*f[a-z]*|-[a-z]*f[a-z]*r[a-z]*|-r\s+-f|-f\s+-r|--recursive\s+--force|--force\s+--recursive)\s+(?:--no-preserve-root\s+)?["']?(?:/|~/?|\$HOME/?|/\*|\*|\.\./?|/(?:etc|usr|var|home|root|boot|bin|lib)/?)["']?(?:\s|;|&|\||$)"#,
        None,
    ),
    spec(
        "unsafe_command",
        "pipe_to_shell",
        Critical,
        r"(?i)(?-u:\b)(?:curl|wget|fetch)(?-u:\b)[^|\n]{0,300}\|\s*(?:sudo\s+)?(?:ba|z|k|da|fi)?sh(?-u:\b)",
        None,
    ),
    spec(
        "unsafe_command",
        "reverse_shell",
        Critical,
        r#"(?i)(?:(?:ba)?sh\s+-i\s+>&\s*/dev/tcp/|/dev/(?:tcp|udp)/[0-9a-z.-]+/\d+|(?-u:\b)nc(?:at)?\s+(?:-[a-z]*\s+)*-e\s+/bin/|(?-u:\b)nc(?:at)?\s+\S+\s+\d+\s+-e\s|(?-u:\b)socat\s[^\n]{0,200}exec:|socket\.socket\([^\n]{0,300}connect\([^\n]{0,300}(?:subprocess|pty\.spawn|os\.dup2))"#,
        None,
    ),
    spec(
        "unsafe_command",
        "chmod_777",
        High,
        r"(?-u:\b)chmod\s+(?:-[a-zA-Z]+\s+)*0?777(?-u:\b)",
        None,
    ),
    spec(
        "unsafe_command",
        "disk_wipe",
        Critical,
        r"(?i)(?-u:\b)(?:dd\s+[^\n]{0,80}of=/dev/(?:sd|hd|nvme|vd|xvd|disk)|mkfs(?:\.\w+)?\s+(?:-\w+\s+)*/dev/|shred\s+[^\n]{0,80}/dev/|wipefs\s+(?:-\w+\s+)*-a|format\s+c:)",
        None,
    ),
    spec(
        "unsafe_command",
        "fork_bomb",
        Critical,
        r":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
        None,
    ),
    spec(
        "unsafe_command",
        "destructive_sql",
        High,
        r"(?i)(?-u:\b)(?:drop\s+(?:table|database|schema)|truncate\s+(?:table\s+)?[\w.`\x22\[\]]+|delete\s+from\s+[\w.`\x22\[\]]+)",
        Some(sql_is_destructive),
    ),
];

/// `sk-…` that is not an Anthropic key and looks random (has letters and digits).
fn not_anthropic_and_mixed(text: &str, m: std::ops::Range<usize>) -> bool {
    let s = &text[m];
    !s.starts_with("sk-ant-")
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Not the `user@host` of a URL (`https://token@github.com`): that is a credential or a
/// login, not an e-mail address.
fn not_url_userinfo(text: &str, m: std::ops::Range<usize>) -> bool {
    !text[..m.start].ends_with("://")
}

/// A credential value that is not an obvious placeholder or variable reference.
fn not_a_placeholder(text: &str, m: std::ops::Range<usize>) -> bool {
    let v = &text[m];
    let lower = v.to_ascii_lowercase();
    let placeholder = v.starts_with('$')
        || v.starts_with('{')
        || v.starts_with('%')
        || v.starts_with('<')
        || v.bytes()
            .all(|b| b == b'*' || b == b'x' || b == b'X' || b == b'.')
        || [
            "redacted",
            "changeme",
            "password",
            "secret",
            "placeholder",
            "example",
            "none",
            "null",
            "true",
            "false",
            "required",
            "string",
            "your_",
            "[redacted",
        ]
        .iter()
        .any(|p| lower.starts_with(p));
    !placeholder
}

fn digits(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000.
fn valid_ssn(text: &str, m: std::ops::Range<usize>) -> bool {
    let d = digits(&text[m]);
    if d.len() != 9 {
        return false;
    }
    let area = u32::from(d[0]) * 100 + u32::from(d[1]) * 10 + u32::from(d[2]);
    area != 0 && area != 666 && area < 900 && (d[3], d[4]) != (0, 0) && d[5..] != [0, 0, 0, 0]
}

/// The Luhn checksum.
pub fn luhn(d: &[u8]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 { y - 9 } else { y }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// Payment card: 13–19 digits, a known issuer prefix, Luhn-valid, consistent separators.
fn valid_card(text: &str, m: std::ops::Range<usize>) -> bool {
    let s = &text[m];
    let d = digits(s);
    if !(13..=19).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    // Separators, if any, are all the same kind (a date-time or id mixes them).
    let seps: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_digit()).collect();
    if seps.windows(2).any(|w| w[0] != w[1]) {
        return false;
    }
    let prefix2 = d[0] * 10 + d[1];
    let issuer = d[0] == 4
        || (51..=55).contains(&prefix2)
        || (22..=27).contains(&prefix2)
        || prefix2 == 34
        || prefix2 == 37
        || prefix2 == 36
        || prefix2 == 30
        || prefix2 == 38
        || prefix2 == 35
        || d[0] == 6;
    issuer && luhn(&d)
}

/// IBAN lengths per country (ISO 13616 registry, the common ones).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IS", 26),
    ("IT", 27),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
];

/// IBAN: known country length and the ISO 7064 mod-97 check.
fn valid_iban(text: &str, m: std::ops::Range<usize>) -> bool {
    let s: String = text[m].chars().filter(|c| *c != ' ').collect();
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| s.starts_with(cc)) else {
        return false;
    };
    if s.len() != len {
        return false;
    }
    let rearranged = s[4..].bytes().chain(s[..4].bytes());
    let mut rem: u32 = 0;
    for b in rearranged {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// Phone: 8 to 15 digits (E.164 allows 15), not one repeated digit, and not a date.
fn valid_phone(text: &str, m: std::ops::Range<usize>) -> bool {
    let s = &text[m];
    let d = digits(s);
    (8..=15).contains(&d.len()) && !d.iter().all(|&x| x == d[0]) && !looks_like_date(s)
}

fn looks_like_date(s: &str) -> bool {
    // 2026-11-24, 2026.11.24 or 24.11.2026 shapes.
    let parts: Vec<&str> = s.split(['-', '.', '/', ' ']).collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let short = |p: &str| p.len() <= 2;
    numeric
        && parts.len() == 3
        && ((parts[0].len() == 4 && short(parts[1]) && short(parts[2]))
            || (parts[2].len() == 4 && short(parts[0]) && short(parts[1])))
}

/// IP address: parses as IPv4 or IPv6; IPv6 needs at least two groups with digits so a
/// time (`12:30:45`) or a `::` separator alone is not one.
fn valid_ip(text: &str, m: std::ops::Range<usize>) -> bool {
    let s = &text[m];
    if s.contains('.') {
        return s.parse::<std::net::Ipv4Addr>().is_ok();
    }
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    groups >= 3 && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// `DROP`/`TRUNCATE` always; `DELETE FROM t` only when the statement has no `WHERE`.
fn sql_is_destructive(text: &str, m: std::ops::Range<usize>) -> bool {
    let head = text[m.clone()].to_ascii_lowercase();
    if !head.starts_with("delete") {
        return true;
    }
    let rest = &text[m.end..];
    let statement = rest.split(';').next().unwrap_or(rest);
    !statement.to_ascii_lowercase().contains("where")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn(&digits("4111111111111111")));
        assert!(!luhn(&digits("4111111111111112")));
        let t = "DE89 3704 0044 0532 0130 00";
        assert!(valid_iban(t, 0..t.len()));
        let t = "DE89 3704 0044 0532 0130 01";
        assert!(!valid_iban(t, 0..t.len()));
        let t = "GB82WEST12345698765432";
        assert!(valid_iban(t, 0..t.len()));
        for (ssn, ok) in [
            ("123-45-6789", true),
            ("000-12-3456", false),
            ("666-12-3456", false),
            ("912-12-3456", false),
            ("123-00-4567", false),
        ] {
            assert_eq!(valid_ssn(ssn, 0..ssn.len()), ok, "{ssn}");
        }
        for (ip, ok) in [
            ("10.0.0.1", true),
            ("2001:db8::1", true),
            ("fe80::1:2", true),
            ("12:30:45", false),
            ("::", false),
            ("1.2.3", false),
        ] {
            assert_eq!(valid_ip(ip, 0..ip.len()), ok, "{ip}");
        }
    }

    #[test]
    fn every_pattern_compiles() {
        for s in BUILT_IN {
            regex::Regex::new(s.pattern).unwrap_or_else(|e| panic!("{}: {e}", s.kind));
        }
    }
}

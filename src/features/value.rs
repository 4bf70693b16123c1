//! One argument value → its typed features: URLs by scheme, host and host class; e-mail
//! recipients by domain; paths by sensitivity class and directory; numbers by magnitude;
//! identifiers by pattern (`INV-0042` → `INV-dddd`); commands and SQL through their parsers;
//! free text by size and the hosts, domains and paths it mentions. Values themselves never
//! enter a fingerprint except as the *identity* of a host, domain, directory, table or short
//! word — the parts a reviewer recognises ("a known vendor") and learning generalises.

use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;

use super::{Feature, Hints, Identity, paths};

/// Longest string analysed (free text beyond it is only sized).
const MAX_ANALYSED: usize = 16 << 10;
/// Most hosts, domains and paths taken from one free text.
const MAX_ENTITIES: usize = 8;
/// Longest single token read as an identifier or word.
pub(super) const MAX_TOKEN: usize = 80;

/// Classify the string `s` found at `at` (key `key`) into `out`.
pub(super) fn string(hints: &Hints<'_>, key: &str, at: &str, s: &str, out: &mut Vec<Feature>) {
    let t = s.trim();
    if t.is_empty() {
        out.push(Feature::class(at, "empty"));
        return;
    }
    let t = super::cut(t, MAX_ANALYSED);
    if let Some(f) = url(at, t) {
        out.extend(f);
        return;
    }
    if let Some(f) = emails(hints, at, t) {
        out.extend(f);
        return;
    }
    if let Some(f) = scp_remote(at, t) {
        out.push(f);
        return;
    }
    if paths::looks_like_path(t) {
        path(at, t, out);
        return;
    }
    if super::sql::looks_like_sql(key, t)
        && super::sql::features(at, t, super::sql::key_says_sql(key), out)
    {
        return;
    }
    if is_arguments_key(key) && super::shell::tool_features(hints.tool, at, t, out) {
        return;
    }
    if super::shell::looks_like_command(hints.tool, key, t) && super::shell::features(at, t, out) {
        return;
    }
    // `email,orders` means what `["email", "orders"]` means: a list given as one string.
    if let Some(parts) = super::tokens::comma_list(t) {
        for p in parts {
            string(hints, key, at, p, out);
        }
        return;
    }
    if !t.contains(char::is_whitespace) && t.len() <= MAX_TOKEN {
        out.push(token(hints, at, t));
        return;
    }
    text(hints, at, t, out);
}

/// Whether a key holds a command line or its arguments (for tools named after a program).
pub(super) fn is_arguments_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "args"
            | "argv"
            | "arguments"
            | "command"
            | "cmd"
            | "commandline"
            | "command_line"
            | "subcommand"
            | "input"
            | "cli"
    )
}

/// A number: its size in three steps per power of ten (see [`Identity::Magnitude`]),
/// `money` when the key or its siblings say so.
pub(super) fn number(at: &str, key: &str, money: bool, x: f64) -> Feature {
    let money = money || is_money_key(key);
    let mut class = String::from(if money { "money" } else { "number" });
    if x < 0.0 {
        class.push_str(" negative");
    }
    let a = x.abs();
    let mag = if a < 1.0 || !a.is_finite() {
        -1
    } else {
        let e = a.log10().floor();
        let lead = a / 10f64.powf(e);
        let step = if lead < 2.0 {
            0
        } else if lead < 5.0 {
            1
        } else {
            2
        };
        (e as i32).min(300) * 3 + step
    };
    Feature {
        at: at.to_string(),
        class,
        identity: Identity::Magnitude(mag),
        value: x.is_finite().then(|| x.to_string()),
    }
}

/// Whether a key names an amount of money.
pub(super) fn is_money_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "amount",
        "price",
        "total",
        "cost",
        "fee",
        "balance",
        "payment",
        "sum",
        "value_usd",
        "usd",
        "eur",
        "refund",
        "credit",
        "debit",
        "salary",
        "budget",
    ]
    .iter()
    .any(|m| k == *m || k.ends_with(&format!("_{m}")) || k.starts_with(&format!("{m}_")))
}

/// Whether a key names a currency (its sibling numbers are money).
pub(super) fn is_currency_key(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "currency" | "currency_code" | "ccy"
    )
}

static URL_START: LazyLock<Regex> =
    // Built-in pattern; `features::tests` compiles it.
    LazyLock::new(|| {
        Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]{0,15}://").unwrap_or_else(|_| unreachable!())
    });

/// A whole-value URL: scheme, host class and userinfo as the class; the host as identity;
/// the first path segment and a long query as facets.
fn url(at: &str, t: &str) -> Option<Vec<Feature>> {
    if t.contains(char::is_whitespace) || !URL_START.is_match(t) {
        return None;
    }
    let u = url::Url::parse(t).ok()?;
    Some(url_features(at, &u))
}

fn url_features(at: &str, u: &url::Url) -> Vec<Feature> {
    let host = u
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let mut class = format!("url {} {}", u.scheme(), host_class(&host));
    if !u.username().is_empty() || u.password().is_some() {
        class.push_str(" userinfo");
    }
    let identity = match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    let mut out = vec![Feature {
        at: at.to_string(),
        class,
        identity: Identity::Name(identity),
        value: None,
    }];
    let first = u
        .path_segments()
        .and_then(|mut s| s.find(|x| !x.is_empty()))
        .map(pattern_of)
        .unwrap_or_else(|| "/".into());
    out.push(Feature {
        at: format!("{at}:path"),
        class: "url path".into(),
        identity: Identity::Name(first),
        value: None,
    });
    if let Some(q) = u.query() {
        let size = if q.len() > 200 { "long" } else { "short" };
        out.push(Feature::class(
            &format!("{at}:query"),
            &format!("query {size}"),
        ));
    }
    out
}

/// The class of a host: `loopback`, `private`, `link_local`, `metadata`, `public_ip`,
/// `internal` (single label or an internal suffix) or `public`.
pub fn host_class(host: &str) -> &'static str {
    let h = host.trim_matches(['[', ']']).trim_end_matches('.');
    if let Ok(ip) = h.parse::<IpAddr>() {
        return ip_class(ip);
    }
    let h = h.to_ascii_lowercase();
    if h == "localhost" || h.ends_with(".localhost") {
        return "loopback";
    }
    if h == "metadata" || h == "metadata.google.internal" || h == "instance-data" {
        return "metadata";
    }
    if !h.contains('.') {
        return "internal";
    }
    const INTERNAL: &[&str] = &[
        ".internal",
        ".local",
        ".lan",
        ".corp",
        ".home",
        ".intranet",
        ".svc",
        ".cluster.local",
        ".localdomain",
    ];
    if INTERNAL.iter().any(|s| h.ends_with(s)) {
        "internal"
    } else {
        "public"
    }
}

fn ip_class(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() || v4.is_unspecified() {
                "loopback"
            } else if o == [169, 254, 169, 254] || o == [100, 100, 100, 200] {
                "metadata"
            } else if v4.is_link_local() {
                "link_local"
            } else if v4.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
                "private"
            } else {
                "public_ip"
            }
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if v6.is_loopback() || v6.is_unspecified() {
                "loopback"
            } else if seg[0] == 0xfd00 && seg[1] == 0x0ec2 {
                "metadata"
            } else if seg[0] & 0xffc0 == 0xfe80 {
                "link_local"
            } else if seg[0] & 0xfe00 == 0xfc00 {
                "private"
            } else if let Some(v4) = v6.to_ipv4_mapped() {
                ip_class(IpAddr::V4(v4))
            } else {
                "public_ip"
            }
        }
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(
        r"^[A-Za-z0-9._%+'-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})$",
    )
    .unwrap_or_else(|_| unreachable!())
});

/// One or more recipients (`a@x.test`, `a@x.test, b@y.test`): a feature per domain.
fn emails(hints: &Hints<'_>, at: &str, t: &str) -> Option<Vec<Feature>> {
    if !t.contains('@') {
        return None;
    }
    let parts: Vec<&str> = t
        .split([',', ';'])
        .map(|p| {
            let p = p.trim();
            // `Name <a@x.test>`
            match (p.rfind('<'), p.rfind('>')) {
                (Some(a), Some(b)) if a < b => &p[a + 1..b],
                _ => p,
            }
        })
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() || parts.len() > 64 {
        return None;
    }
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let caps = EMAIL.captures(p)?;
        let domain = caps.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
        out.push(email_feature(hints, at, domain));
    }
    Some(out)
}

fn email_feature(hints: &Hints<'_>, at: &str, domain: String) -> Feature {
    let class = if hints.internal_domains.is_empty() {
        "email"
    } else if hints.is_internal(&domain) {
        "email internal"
    } else {
        "email external"
    };
    Feature {
        at: at.to_string(),
        class: class.into(),
        identity: Identity::Name(domain),
        value: None,
    }
}

/// `user@host:path` (scp, git remotes): a machine, not a person.
fn scp_remote(at: &str, t: &str) -> Option<Feature> {
    if t.contains(char::is_whitespace) || t.contains("://") {
        return None;
    }
    let (user_host, _) = t.split_once(':')?;
    let (_, host) = user_host.split_once('@')?;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        return None;
    }
    Some(Feature {
        at: at.to_string(),
        class: format!("remote {}", host_class(host)),
        identity: Identity::Name(host.to_ascii_lowercase()),
        value: None,
    })
}

/// A path: its class and directory prefix, its extension as a facet.
pub(super) fn path(at: &str, t: &str, out: &mut Vec<Feature>) {
    let segs = paths::normalise(t);
    let class = paths::class_of(&segs);
    out.push(Feature {
        at: at.to_string(),
        class: format!("path {}", class.as_str()),
        identity: Identity::Name(paths::dir_prefix(&segs)),
        value: None,
    });
    if let Some(ext) = paths::extension(&segs) {
        out.push(Feature::class(&format!("{at}:ext"), &format!("ext {ext}")));
        // What the file is, in its name's words (`retargeting_customers_2026-W44.csv` →
        // `retargeting_customers`): an aggregate report and a contact list share a directory.
        if let Some(kind) = segs.last().and_then(|n| paths::file_words(n)) {
            out.push(Feature {
                at: format!("{at}:file"),
                class: "file".into(),
                identity: Identity::Name(kind),
                value: None,
            });
        }
    }
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(r"^(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        .unwrap_or_else(|_| unreachable!())
});
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(
        r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$",
    )
    .unwrap_or_else(|_| unreachable!())
});

/// One token: an id (its pattern as identity), a time, a host, or a word (kept as
/// identity).
fn token(hints: &Hints<'_>, at: &str, t: &str) -> Feature {
    let _ = hints;
    let id = |pattern: String| Feature {
        at: at.to_string(),
        class: "id".into(),
        identity: Identity::Name(pattern),
        value: Some(super::tokens::value_hash(t)),
    };
    if UUID.is_match(t) {
        return id("uuid".into());
    }
    if TIME.is_match(t) {
        return Feature::class(at, "time");
    }
    if let Some(host) = hostname(t) {
        return Feature {
            at: at.to_string(),
            class: format!("host {}", host_class(&host)),
            identity: Identity::Name(host),
            value: None,
        };
    }
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    if digits == t.len() {
        return id(digit_run(t.len()));
    }
    if t.len() >= 16 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return id("hex".into());
    }
    if digits > 0 || t.len() > 40 {
        return id(pattern_of(t));
    }
    Feature {
        at: at.to_string(),
        class: "word".into(),
        identity: Identity::Name(t.to_lowercase()),
        value: None,
    }
}

/// A DNS name (two or more labels, a letter TLD) or an IP address, lowercased.
fn hostname(t: &str) -> Option<String> {
    let h = t.trim_end_matches('.');
    if h.parse::<IpAddr>().is_ok() {
        return Some(h.to_ascii_lowercase());
    }
    let labels: Vec<&str> = h.split('.').collect();
    let tld = labels.last()?;
    let ok = labels.len() >= 2
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
        });
    // `report.csv`, `main.rs`: file names, not hosts.
    const FILE_TLDS: &[&str] = &[
        "csv", "json", "txt", "md", "rs", "py", "js", "ts", "go", "yaml", "yml", "toml", "xml",
        "pdf", "png", "jpg", "gif", "html", "log", "sh", "sql", "zip", "gz", "tar", "doc", "docx",
        "xlsx", "ini", "conf", "cfg", "pem", "key", "env", "lock", "exe", "dll", "so",
    ];
    (ok && !FILE_TLDS.contains(&tld.to_ascii_lowercase().as_str())).then(|| h.to_ascii_lowercase())
}

/// The pattern of an identifier: digit runs become `d` (one per digit up to four, `d+`
/// beyond), letter runs of up to 12 stay as written, longer letter runs become `a+`, and
/// segments mixing letters and digits (random ids) become `x+`; separators stay.
/// `INV-0042` → `INV-dddd`, `cus_8fK2LmQ9xZ` → `cus_x+`, `2026` → `dddd`.
pub fn pattern_of(t: &str) -> String {
    fn segment(seg: &str, out: &mut String) {
        let chars = seg.chars().count();
        let digits = seg.bytes().filter(u8::is_ascii_digit).count();
        let letters = seg.chars().filter(|c| c.is_alphabetic()).count();
        if seg.is_empty() {
        } else if digits == seg.len() {
            out.push_str(&digit_run(seg.len()));
        } else if digits == 0 && letters == chars {
            // Words stay; long or vowel-less letter runs (`wpfkm`) are random.
            let vowels = seg.chars().filter(|c| "aeiouyAEIOUY".contains(*c)).count();
            let random = chars > 12 || (chars >= 5 && vowels == 0);
            out.push_str(if random { "a+" } else { seg });
        } else if chars <= 3 {
            // `v1`, `s3`, `x86`: names, not random ids.
            out.push_str(&seg.to_lowercase());
        } else {
            out.push_str("x+");
        }
    }
    let is_sep = |c: char| matches!(c, '-' | '_' | '.' | ':' | '/' | '#' | '+' | '@');
    let mut out = String::with_capacity(t.len().min(48));
    let mut start = 0;
    for (i, c) in t.char_indices() {
        if is_sep(c) {
            segment(&t[start..i], &mut out);
            out.push(c);
            start = i + c.len_utf8();
            if out.len() > 48 {
                out.push('…');
                return out;
            }
        }
    }
    segment(&t[start..], &mut out);
    out
}

fn digit_run(n: usize) -> String {
    if n <= 4 { "d".repeat(n) } else { "d+".into() }
}

static TEXT_URL: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(r#"(?i)\b(?:https?|ftp|wss?)://[^\s"'<>)\]}]+"#).unwrap_or_else(|_| unreachable!())
});
static TEXT_EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(
        r"[A-Za-z0-9._%+-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24})\b",
    )
    .unwrap_or_else(|_| unreachable!())
});
static TEXT_PATH: LazyLock<Regex> = LazyLock::new(|| {
    // Built-in pattern; `features::tests` compiles it.
    Regex::new(r"(?:^|[\s=:(\x22'])((?:~|/)[A-Za-z0-9._-]*(?:/[A-Za-z0-9._-]+)+)")
        .unwrap_or_else(|_| unreachable!())
});

/// Free text: its size class, and the URLs' hosts, e-mail domains and sensitive paths it
/// mentions (a body that carries a paste-site link or `/etc/shadow` is not a status note).
fn text(hints: &Hints<'_>, at: &str, t: &str, out: &mut Vec<Feature>) {
    let size = match t.len() {
        0..=80 => "short",
        81..=1000 => "medium",
        1001..=10_000 => "long",
        _ => "huge",
    };
    out.push(Feature::class(at, &format!("text {size}")));
    let mut n = 0;
    for m in TEXT_URL.find_iter(t).take(MAX_ENTITIES) {
        if let Ok(u) = url::Url::parse(m.as_str()) {
            let host = u.host_str().unwrap_or("").to_ascii_lowercase();
            out.push(Feature {
                at: format!("{at}~url"),
                class: format!("url {}", host_class(&host)),
                identity: Identity::Name(host),
                value: None,
            });
            n += 1;
        }
    }
    for caps in TEXT_EMAIL
        .captures_iter(t)
        .take(MAX_ENTITIES - n.min(MAX_ENTITIES))
    {
        let domain = caps.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase();
        let mut f = email_feature(hints, &format!("{at}~email"), domain);
        f.at = format!("{at}~email");
        out.push(f);
    }
    for caps in TEXT_PATH.captures_iter(t).take(MAX_ENTITIES) {
        let p = caps.get(1).map_or("", |m| m.as_str());
        let class = paths::class_of(&paths::normalise(p));
        if class != paths::PathClass::Data && class != paths::PathClass::Temp {
            out.push(Feature::class(
                &format!("{at}~path"),
                &format!("path {}", class.as_str()),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_become_patterns() {
        for (t, p) in [
            ("INV-0042", "INV-dddd"),
            ("INV-2026-00042", "INV-dddd-d+"),
            ("cus_8fK2LmQ9xZ", "cus_x+"),
            ("ticket-abc123", "ticket-x+"),
            ("v1.2.3", "v1.d.d"),
            ("a8f3k2", "x+"),
            ("crm-sync-x9z-wpfkm", "crm-sync-x9z-a+"),
            ("2026", "dddd"),
        ] {
            assert_eq!(pattern_of(t), p, "{t}");
        }
    }

    #[test]
    fn hosts_by_class() {
        for (h, c) in [
            ("127.0.0.1", "loopback"),
            ("localhost", "loopback"),
            ("10.1.2.3", "private"),
            ("192.168.0.10", "private"),
            ("169.254.169.254", "metadata"),
            ("metadata.google.internal", "metadata"),
            ("169.254.3.3", "link_local"),
            ("fe80::1", "link_local"),
            ("fd00:ec2::254", "metadata"),
            ("8.8.8.8", "public_ip"),
            ("db", "internal"),
            ("api.svc.cluster.local", "internal"),
            ("pastebin.com", "public"),
        ] {
            assert_eq!(host_class(h), c, "{h}");
        }
    }
}

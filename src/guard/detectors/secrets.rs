//! Secrets: provider tokens (by their documented formats: prefixes, lengths, alphabets),
//! private keys, credentials inside URLs, connection strings, headers, CLI flags, `.netrc`
//! and docker auth files, framework secret keys, and `name = value` assignments whose name
//! says secret. Documented example values (`AKIAIOSFODNN7EXAMPLE`) and placeholders
//! (`<YOUR_API_KEY>`, `xxxx`, `changeme`, `${VAR}`, `getpass()`, environment look-ups) are
//! not secrets. Generic shapes need an entropy floor.

use std::ops::Range;

use base64::Engine as _;

use super::secret_assignment::assignment;
use super::{Spec, spec, spec_reach};
use crate::guard::Severity::{Critical, High};

const S: &str = "secrets";

/// The secrets rules, most specific first.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec_reach(S, "private_key", Critical,
        &["-----begin", "private-lines:"],
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?s:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?|PuTTY-User-Key-File-\d: [^\n]*(?s:.{0,4000}?)Private-Lines: \d+",
        Some(real_key_body),
        64 << 10,
    ),
    spec(S, "aws_access_key_id", High,
        &[
        "^akia", "^asia", "^abia", "^acca", "^a3t",
        ],
        r"(?-u:\b)(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?-u:\b)",
        Some(token),
    ),
    spec(S, "aws_secret_access_key", Critical,
        &[
        "secret_access_key", "secretaccesskey", "aws_secret", "secret_key",
        ],
        r#"(?i)(?:aws_?)?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?(?P<v>[A-Za-z0-9/+=]{40})(?-u:\b)"#,
        Some(entropic),
    ),
    spec(S, "github_token", High,
        &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        r"(?-u:\b)(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,255})(?-u:\b)",
        Some(token),
    ),
    spec(S, "gitlab_token", High,
        &[
        "glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-", "glft-", "glimt-", "gloas-",
        "glagent-", "gr1348941",
        ],
        r"(?-u:\b)(?:(?:glpat|gldt|glrt|glptt|glsoat|glcbt|glft|glimt|gloas|glffct)-[0-9A-Za-z_-]{20,}|glagent-[0-9A-Za-z_-]{50,}|GR1348941[0-9A-Za-z_-]{20})",
        Some(token),
    ),
    spec(S, "slack_webhook", High,
        &["hooks.slack.com"],
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}",
        Some(token),
    ),
    spec(S, "slack_token", High,
        &["xox", "xapp-"],
        r"(?-u:\b)(?:xox[abposre]-[A-Za-z0-9-]{10,200}|xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)",
        Some(token),
    ),
    spec(S, "discord_webhook", High,
        &["/api/webhooks/"],
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{15,20}/[A-Za-z0-9_-]{60,68}",
        Some(token),
    ),
    spec(S, "discord_token", High,
        &[
        "discord", "^bot ",
        ],
        r"(?-u:\b)[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}(?-u:\b)",
        Some(token),
    ),
    spec(S, "telegram_bot_token", High,
        &[":aa"],
        r"(?-u:\b)\d{8,10}:AA[0-9A-Za-z_-]{33}(?-u:\b)",
        Some(token),
    ),
    spec(S, "stripe_secret_key", Critical,
        &["sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"],
        r"(?-u:\b)(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,247}|whsec_[A-Za-z0-9+/]{32,})(?-u:\b)",
        Some(token),
    ),
    spec(S, "google_api_key", High,
        &[
        "^aiza",
        ],
        r"(?-u:\b)AIza[0-9A-Za-z_-]{35}",
        Some(token),
    ),
    spec(S, "google_oauth_token", High,
        &["ya29.", "gocspx-", "1//0"],
        r"(?-u:\b)(?:ya29\.[0-9A-Za-z_-]{20,}|GOCSPX-[0-9A-Za-z_-]{28}|1//0[0-9A-Za-z_-]{40,})",
        Some(token),
    ),
    spec(S, "anthropic_api_key", High,
        &["sk-ant-"],
        r"(?-u:\b)sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_-]{20,200}",
        Some(token),
    ),
    spec(S, "openai_api_key", High,
        &[
        "^sk-",
        ],
        r"(?-u:\b)sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,200}",
        Some(openai),
    ),
    spec(S, "ai_provider_key", High,
        &[
        "^hf_", "^api_org_", "^gsk_", "^r8_", "pplx-", "^xai-", "nvapi-", "^fw_", "^csk-",
        ],
        r"(?-u:\b)(?:hf_[A-Za-z]{34}|api_org_[A-Za-z]{34}|gsk_[A-Za-z0-9]{52}|r8_[A-Za-z0-9]{36,40}|pplx-[A-Za-z0-9]{48}|xai-[A-Za-z0-9]{80}|nvapi-[A-Za-z0-9_-]{64}|fw_[A-Za-z0-9]{24,}|csk-[a-z0-9]{48})(?-u:\b)",
        Some(token),
    ),
    spec(S, "twilio_token", High,
        &["twilio"],
        r"(?i)twilio[^\n]{0,60}?(?-u:\b)(?P<v>SK[0-9a-fA-F]{32}|AC[0-9a-fA-F]{32})(?-u:\b)",
        Some(token),
    ),
    spec(S, "digitalocean_token", High,
        &["dop_v1_", "doo_v1_", "dor_v1_"],
        r"(?-u:\b)do[por]_v1_[a-f0-9]{64}(?-u:\b)",
        Some(token),
    ),
    spec(S, "vault_token", Critical,
        &["hvs.", "hvb.", "hvr.", "vault_token", "vault-token"],
        r#"(?-u:\b)hv[sbr]\.[A-Za-z0-9_-]{24,}|(?i:vault[_-]token)["']?\s*[:=]\s*["']?(?P<v>s\.[A-Za-z0-9]{24})"#,
        Some(token),
    ),
    spec(S, "databricks_token", High,
        &[
        "^dapi",
        ],
        r"(?-u:\b)dapi[a-f0-9]{32}(?:-\d)?(?-u:\b)",
        Some(token),
    ),
    spec(S, "package_registry_token", High,
        &["npm_", "pypi-ageichlwas5vcmc", "rubygems_", "oy2"],
        r"(?-u:\b)(?:npm_[A-Za-z0-9]{36}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}|rubygems_[a-f0-9]{48}|oy2[a-z0-9]{43})(?-u:\b)",
        Some(token),
    ),
    spec(S, "saas_api_token", High,
        &[
        "^sg.", "shpat_", "shpca_", "shppa_", "shpss_", "sq0atp-", "sq0csp-", "^eaaa", "atatt3",
        "^atbb", "lin_api_", "ntn_", "secret_", "pmak-", "nrak-", "^glc_", "glsa_", "^pul-",
        "dp.pt.", "age-secret-key-1", "ops_eyj", "atlasv1", "nfp_", "sbp_", "pscale_", "squ_",
        "sqp_", "sqa_", "^akcp", "hrku-", "ccipat_", "^ltai", "rzp_live_", "flwseck-",
        "access-production-", "shippo_live_", "sk.eyj", "^key-", "-us", "dckr_pat_", "sntrys_",
        "^sl.", "q~", "aaaaaaaaaaaaaaaaaaaaa", "figd_", "^phc_", "^re_",
        ],
        r"(?-u:\b)(?:SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|sq0(?:atp|csp)-[0-9A-Za-z_-]{22,43}|EAAA[0-9A-Za-z_-]{60}|ATATT3[A-Za-z0-9_=-]{150,}|ATBB[A-Za-z0-9_=.-]{32}|lin_api_[A-Za-z0-9]{40}|ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|NRAK-[A-Z0-9]{27}|glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|pul-[a-f0-9]{40}|dp\.pt\.[A-Za-z0-9]{43}|AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}|ops_eyJ[A-Za-z0-9+/]{250,}={0,3}|[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}|nfp_[A-Za-z0-9]{36}|sbp_[a-f0-9]{40}|pscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.-]{32,64}|sq[upa]_[a-f0-9]{40}|AKCp[A-Za-z0-9]{69}|HRKU-[A-Za-z0-9_-]{60}|CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}|LTAI[A-Za-z0-9]{12,20}|rzp_live_[A-Za-z0-9]{14}|FLWSECK-[a-f0-9]{32}-X|access-production-[a-f0-9-]{36}|shippo_live_[a-f0-9]{40}|sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,}|key-[0-9a-f]{32}|[0-9a-f]{32}-us\d{1,2}|dckr_pat_[A-Za-z0-9_-]{27}|sntrys_eyJ[A-Za-z0-9+/=_-]{60,}|sl\.[A-Za-z0-9_-]{130,152}|[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}|AAAAAAAAAAAAAAAAAAAAA[A-Za-z0-9%]{30,}|figd_[A-Za-z0-9_-]{40}|phc_[A-Za-z0-9]{43}|re_[A-Za-z0-9]{8}_[A-Za-z0-9]{24})(?-u:\b)",
        Some(token),
    ),
    spec(S, "jwt", High,
        &["eyj"],
        r"(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        Some(token),
    ),
    spec(S, "azure_connection_string", Critical,
        &["accountkey=", "sharedaccesskey=", "sharedaccesssignature="],
        r"(?i)(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<v>[A-Za-z0-9+/=%&:-]{20,})",
        Some(assigned),
    ),
    spec(S, "azure_sas_token", High,
        &["sig="],
        r"(?i)[?&]sig=(?P<v>[A-Za-z0-9%+/=]{30,})",
        Some(sas),
    ),
    spec(S, "database_url", Critical,
        &["://"],
        r#"(?i)(?-u:\b)(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|clickhouse|cockroachdb|couchdb|neo4j(?:\+s)?|bolt|oracle|db2|snowflake|jdbc:[a-z]+|cassandra|elasticsearch|memcached|ldaps?|ftp|sftp|smtps?)://[^\s:/?#@"'<>]{0,128}:(?P<v>[^\s/?@"'<>]{1,256})@[A-Za-z0-9.\-\[\]_:%]+"#,
        Some(url_password),
    ),
    spec(S, "url_credentials", High,
        &["://"],
        r#"(?-u:\b)[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/?#@"'<>]{0,128}:(?P<v>[^\s/?@"'<>]{1,256})@[A-Za-z0-9.\-\[\]_:%]+"#,
        Some(url_password),
    ),
    spec(S, "basic_auth", High,
        &["basic "],
        r"(?i)(?-u:\b)basic\s+(?P<v>[A-Za-z0-9+/]{8,}={0,2})",
        Some(basic),
    ),
    spec(S, "bearer_token", High,
        &["bearer", "authorization"],
        r#"(?i)(?:(?-u:\b)bearer\s+|authorization["']?\s*[:=]\s*["']?token\s+)(?P<v>[A-Za-z0-9._~+/-]{20,}=*)"#,
        Some(entropic),
    ),
    spec_reach(S, "netrc_credentials", High,
        &["machine"],
        r"(?i)(?-u:\b)machine\s+\S+\s+(?:login\s+\S+\s+)?password\s+(?P<v>\S+)",
        Some(assigned),
        512,
    ),
    spec(S, "docker_auth", High,
        &["\"auth\""],
        r#""auth"\s*:\s*"(?P<v>[A-Za-z0-9+/]{12,}={0,2})""#,
        Some(basic),
    ),
    spec(S, "cli_password", High,
        &[
        "mysql", "mariadb", "sshpass", "password", "passwd", "--pass", "curl", "redis-cli",
        "login",
        ],
        r#"(?i)(?:(?-u:\b)(?:mysql|mysqldump|mysqladmin|mariadb)(?-u:\b)[^\n|;&]*?\s-p(?:(?P<v>[^\s'"-][^\s'"]{3,})|'(?P<v7>[^'\s]{4,})'|"(?P<v8>[^"\s]{4,})")|(?-u:\b)sshpass\s+-p\s*["']?(?P<v2>[^\s'"]{3,})|(?:^|\s)--?(?:password|passwd|pass|db-password|admin-password|master-user-password|root-password)(?:=|\s+)["']?(?P<v3>[^\s"'-][^\s"']{3,})|(?-u:\b)curl\s[^\n]*?(?:-u|--user)\s+["']?[^\s:'"]+:(?P<v4>[^\s'"@]{3,})|(?-u:\b)redis-cli\b[^\n]*?\s-a\s+["']?(?P<v5>[^\s'"]{4,})|(?-u:\b)(?:docker|podman|helm|oras|nerdctl)\s+(?:registry\s+)?login\b[^\n]*?\s-p\s+["']?(?P<v6>[^\s'"]{4,}))"#,
        Some(cli_value),
    ),
    spec(S, "framework_secret_key", Critical,
        &[
        "secret_key", "app_key", "jwt_secret", "nextauth_secret", "session_secret",
        "cookie_secret", "signing_key", "encryption_key", "master_key", "secret_key_base",
        "secretkey",
        ],
        r#"(?i)(?:SECRET_KEY(?:_BASE)?|APP_KEY|JWT_SECRET(?:_KEY)?|NEXTAUTH_SECRET|SESSION_SECRET|COOKIE_SECRET|SIGNING_KEY|ENCRYPTION_KEY|RAILS_MASTER_KEY|secretKey)["'\]]{0,2}\s*(?:[:=]|=>)\s*(?:b?["'])?(?P<v>[^\s"',;]{8,})"#,
        Some(assigned),
    ),
    spec(S, "credential_assignment", High,
        &["password", "passcode", "passphrase", "passwort", "contraseña", "mot de passe", "senha", "пароль", "密码", "パスワード", "token", "api key", "access key", "secret key", "pass"],
        r#"(?i)(?-u:\b)(?:password|passcode|passphrase|passwort|kennwort|contraseña|mot\s+de\s+passe|senha|пароль|密码|パスワード|(?:api|access|auth|bearer|secret)\s+(?:key|token)|token|pass)(?:\s+(?:for|to|of|für|para|pour|de|del|du|zu)\s+[^\n:=]{1,40}?)?\s*(?:\s(?:is|was|will\s+be|ist|lautet|es|est|é)|\s[—-]\s|:|：)\s*[:\s]?\s*["'`]?(?P<v>[^\s"'`,;]{6,64})"#,
        Some(prose_password),
    ),
    spec(S, "credential_assignment", High,
        &[
        "password", "passwd", "pwd", "pass", "secret", "api_key", "api-key", "apikey", "token",
        "access_key", "credential", "_key", "-key", "auth", "_pat",
        ],
        r#"(?i)(?:^|[^A-Za-z0-9])(?P<name>(?:[A-Za-z0-9]+[_.-])*(?:[A-Za-z]{0,12}(?:password|passwd|passphrase)|password|passwd|pwd|pass|passphrase|secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|token|credentials?|key|(?-i:PAT|pat)))["']?\s*(?:[:=]|=>|:=)\s*(?P<v>"[^"\n]{1,256}"|'[^'\n]{1,256}'|[^\s"'&,;<>)(]{1,256})"#,
        Some(assignment),
    ),
];

/// Documented example values that are not secrets (provider documentation, emulators).
#[rustfmt::skip]
const DOCUMENTED: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    // jwt.io's example token (HS256, secret `your-256-bit-secret`).
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
];

/// Words that mark a value as a placeholder or an example.
#[rustfmt::skip]
const PLACEHOLDER_WORDS: &[&str] = &[
    "example", "xxxx", "****", "your", "placeholder", "redacted", "changeme", "change_me",
    "change-me", "dummy", "sample", "replace", "insert", "<", ">", "${", "{{", "%(", "...", "todo",
    "fixme", "notreal", "not_real", "fake", "mysecret", "my_secret", "secret_here", "_here",
    "-here", "tbd",
];

/// Whether `v` is an example or a placeholder rather than a live value.
pub fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    if DOCUMENTED.iter().any(|d| v.contains(d)) || v.contains("EXAMPLE") {
        return true;
    }
    if PLACEHOLDER_WORDS.iter().any(|w| lower.contains(w)) {
        return true;
    }
    // Runs of one character (`000000`, `aaaaaa`) and counting (`123456789`, `abcdefgh`).
    let b = v.as_bytes();
    let same = b
        .windows(8)
        .any(|w| (w[0].is_ascii_alphanumeric() || w[0] == b'*') && w.iter().all(|&c| c == w[0]));
    let counting = b
        .windows(12)
        .any(|w| w.windows(2).all(|p| p[1] == p[0].wrapping_add(1)));
    same || counting
}

/// Shannon entropy of `s` in bits per byte.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn value(text: &str, m: &Range<usize>) -> String {
    text[m.clone()]
        .trim_matches(|c| c == '"' || c == '\'')
        .to_string()
}

/// A provider token: not an example or placeholder.
fn token(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    (!is_placeholder(&text[m.clone()])).then_some(m)
}

/// A generic token: not a placeholder, and random-looking (entropy floor, mixed classes).
fn entropic(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    (!is_placeholder(v) && entropy(v) >= 3.2 && classes >= 2).then_some(m)
}

/// `sk-…` that is not an Anthropic key and looks random.
fn openai(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    if s.starts_with("sk-ant-") || text[..m.start].ends_with('-') {
        return None;
    }
    entropic(text, m)
}

/// A private key block whose body is not elided (`...`, `<key>`).
fn real_key_body(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let body: String = s
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let elided = !body.trim().is_empty()
        && body
            .trim()
            .chars()
            .all(|c| matches!(c, '.' | '…' | ' ' | 'x' | 'X' | '*'))
        || body.contains("<private")
        || body.contains("...\n")
        || body.trim() == "...";
    (!elided).then_some(m)
}

/// A value after an assignment-like context: not a placeholder or a lookup.
fn assigned(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = value(text, &m);
    let lower = v.to_ascii_lowercase();
    let call = v.split_once('(').is_some_and(|(f, _)| {
        !f.is_empty()
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
    });
    let lookup = call
        || v.starts_with('$')
        || v.starts_with('%')
        || lower.starts_with("env")
        || lower.starts_with("os.")
        || lower.starts_with("process.")
        || lower.starts_with("config")
        || lower.starts_with("settings.");
    (v.len() >= 4 && !lookup && !is_placeholder(&v)).then_some(m)
}

/// An Azure SAS signature: the URL also has the SAS fields.
fn sas(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let lo = super::super::engine::floor_char(text, m.start.saturating_sub(400));
    let near = &text[lo..m.end];
    let fields = ["sv=", "se=", "sp=", "sr=", "ss=", "srt="]
        .iter()
        .filter(|f| near.contains(*f))
        .count();
    (fields >= 2 && !is_placeholder(&text[m.clone()])).then_some(m)
}

/// The password of `scheme://user:password@host`: not a placeholder.
fn url_password(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    let lower = v.to_ascii_lowercase();
    let weak = matches!(
        lower.as_str(),
        "password" | "pass" | "passwd" | "pwd" | "secret" | "p" | "pw" | "x" | "token"
    ) || lower.starts_with('$')
        || lower.starts_with('%')
        || lower.chars().all(|c| c == '*' || c == 'x');
    let user = text[..m.start]
        .rsplit(['/', '@'])
        .next()
        .and_then(|u| u.strip_suffix(':'))
        .unwrap_or_default();
    let default = !user.is_empty() && user.eq_ignore_ascii_case(v);
    (!weak && !default && !is_placeholder(v)).then_some(m)
}

/// Base64 that decodes to `user:password` (basic auth, docker `auth`).
fn basic(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(v.trim_end_matches('='))
        })
        .ok()?;
    let s = String::from_utf8(decoded).ok()?;
    let (user, pass) = s.split_once(':')?;
    let printable = s.chars().all(|c| !c.is_control());
    (printable && !user.is_empty() && pass.len() >= 3 && !is_placeholder(pass)).then_some(m)
}

/// A password given on a command line (the engine reports its `v…` group).
fn cli_value(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let val = value(text, &m);
    let lower = val.to_ascii_lowercase();
    let word = matches!(
        lower.as_str(),
        "password"
            | "passwd"
            | "pass"
            | "pwd"
            | "secret"
            | "token"
            | "username"
            | "user"
            | "stdin"
            | "prompt"
            | "mypassword"
            | "yourpassword"
            | "pass123"
            | "password123"
    );
    if val.len() < 4 || val.starts_with('$') || is_placeholder(&val) || word {
        return None;
    }
    Some(m)
}

/// A password given in a sentence (`the VPN password is Tr4ck!ng-42`): it must look like
/// one (letters with digits or symbols), not a word or a placeholder.
fn prose_password(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = text[m.clone()].trim_end_matches(['.', '!', '?', ')']);
    let m = m.start..m.start + v.len();
    let letters = v.chars().any(char::is_alphabetic);
    let other = v
        .chars()
        .any(|c| c.is_ascii_digit() || c.is_ascii_punctuation());
    if v.len() >= 16 {
        // A token: random-looking, not a placeholder (the whole token, which may run past
        // the 64 characters the pattern takes: jwt.io's example JWT).
        let whole_end = text[m.start..]
            .find(|c: char| c.is_whitespace() || "\"'`,;".contains(c))
            .map_or(text.len(), |k| m.start + k);
        if is_placeholder(&text[m.start..whole_end]) {
            return None;
        }
        return entropic(text, m);
    }
    (v.len() >= 6 && letters && other && !is_placeholder(v) && !v.contains("://")).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_entropy() {
        for p in [
            "AKIAIOSFODNN7EXAMPLE",
            "<YOUR_API_KEY>",
            "xxxxxxxxxxxxxxxx",
            "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
            "changeme",
            "abcdefghijklmnop",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        assert!(!is_placeholder("ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"));
        assert!(entropy("aaaaaaaa") < 1.0);
        assert!(entropy("q8Zr2LmX9vTb4NcW") > 3.5);
    }
}

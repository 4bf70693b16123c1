//! Which e-mail addresses are a person's, and which values are examples: role mailboxes
//! and machine identities, documentation domains in documentation text, addresses written
//! out to dodge scrapers, and the words around a value that call it an example or a test
//! value (used for every personal-data finding, see [`crate::guard::Guard`]).

use std::ops::Range;

/// Mailboxes of a role or a machine, not of a person.
#[rustfmt::skip]
const ROLE_MAILBOXES: &[&str] = &[
    "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply", "support",
    "security", "info", "admin", "administrator", "postmaster", "abuse", "hostmaster", "webmaster",
    "sales", "billing", "help", "helpdesk", "contact", "team", "hello", "privacy", "legal",
    "press", "media", "careers", "jobs", "hr", "marketing", "notifications", "notification",
    "notify", "alerts", "alert", "ops", "devops", "sre", "oncall", "it", "accounts", "accounting",
    "finance", "office", "service", "services", "feedback", "newsletter", "news", "mailer-daemon",
    "bounce", "bounces", "reply", "invoices", "invoice", "orders", "order", "shop", "store",
    "community", "partners", "events", "compliance", "dpo", "gdpr", "recruiting", "status", "root",
    "dev", "developers", "engineering", "api", "system", "monitoring", "reports", "report",
    "updates", "welcome", "enquiries", "inquiries", "customerservice", "customer-service", "care",
    "payments", "receipts", "procurement", "editor", "tips", "licensing", "copyright", "dmca",
    "trust", "safety", "fraud", "risk", "audit", "git", "deploy", "deployer", "ubuntu", "ec2-user",
    "centos", "debian", "fedora", "pi", "jenkins", "ansible", "vagrant", "postgres", "mysql",
    "www-data", "nginx", "apache", "build", "ci", "runner", "bot", "daemon", "nobody", "oracle",
    "azureuser", "core", "alpine", "user", "username", "test", "example", "someone", "somebody",
    "name", "you", "your.name", "firstname.lastname", "first.last", "john.doe.example", "email",
    "mail", "hostmaster", "registrar", "cloud-platform", "github-actions", "dependabot",
    "servicedesk", "service-desk", "itsupport", "it-support", "helpline", "hotline", "intake",
    "archive", "backup", "mailbox", "inbox", "desk", "reception", "frontdesk",
    // German, French, Spanish, Italian, Dutch, Portuguese, Polish role mailboxes.
    "kontakt", "anfrage", "anfragen", "bestellung", "bestellungen", "buchhaltung", "rechnung",
    "rechnungen", "vertrieb", "verkauf", "einkauf", "kundenservice", "kundendienst", "zentrale",
    "qualitaet", "qualitaetssicherung", "reklamation", "reklamationen", "bewerbung",
    "bewerbungen", "datenschutz", "presse", "redaktion", "empfang", "versand", "auftrag",
    "commande", "commandes", "facturation", "comptabilite", "ventes", "accueil", "recrutement",
    "secretariat", "reservation", "reservations", "service-client", "serviceclient", "achats",
    "contacto", "ventas", "facturacion", "pedidos", "administracion", "atencion",
    "atencionalcliente", "reservas", "compras", "rrhh", "prensa", "soporte", "contatti",
    "ordini", "amministrazione", "vendite", "fatturazione", "assistenza", "segreteria",
    "prenotazioni", "acquisti", "klantenservice", "bestellingen", "verkoop", "administratie",
    "facturen", "inkoop", "receptie", "vacatures", "contato", "vendas", "faturacao",
    "atendimento", "biuro", "sprzedaz", "zamowienia", "faktury", "ksiegowosc",
];

/// A role's mailbox: the whole local part is a role (`support`), or one of its parts of
/// three letters or more is (`it-servicedesk`, `billing.eu`, `noreply_alerts`); people's
/// addresses are made of names, not of these words.
fn role_mailbox(local: &str) -> bool {
    ROLE_MAILBOXES.contains(&local)
        || local.split(['-', '_', '.']).any(|part| {
            part.len() >= 3 && ROLE_MAILBOXES.contains(&part) && !NAME_LIKE_ROLES.contains(&part)
        })
}

/// Role words that are also first names or surnames (`dev.patel`, `john.care`): a role only
/// as the whole local part.
const NAME_LIKE_ROLES: &[&str] = &[
    "dev", "core", "name", "you", "hello", "welcome", "trust", "care", "safety", "risk", "news",
    "tips", "editor", "store", "shop", "status", "desk", "media", "press",
];

/// Domains of machines and placeholders (not mailboxes of people).
fn machine_domain(domain: &str) -> bool {
    let d = domain.to_ascii_lowercase();
    let tld = d.rsplit('.').next().unwrap_or_default();
    d.ends_with(".local")
        || d.ends_with(".internal")
        || d.ends_with(".localdomain")
        || d.ends_with(".lan")
        || d.ends_with(".svc")
        || d.ends_with(".cluster.local")
        || d.ends_with("noreply.github.com")
        || d == "localhost"
        || d.ends_with(".iam.gserviceaccount.com")
        || d.ends_with(".gserviceaccount.com")
        || matches!(
            tld,
            "png"
                | "jpg"
                | "jpeg"
                | "gif"
                | "svg"
                | "webp"
                | "js"
                | "ts"
                | "css"
                | "html"
                | "json"
                | "yaml"
                | "yml"
                | "txt"
                | "md"
                | "py"
                | "rs"
                | "go"
                | "java"
                | "zip"
                | "gz"
                | "tar"
                | "log"
                | "lock"
                | "toml"
                | "ico"
                | "woff"
                | "woff2"
                | "map"
                | "vue"
                | "jsx"
                | "tsx"
                | "rb"
                | "php"
                | "sh"
                | "exe"
                | "dll"
                | "so"
                | "wasm"
        )
}

/// Domains reserved for documentation and tests (RFC 2606, RFC 6761): `example.com`,
/// `*.example`, `*.test`, `*.invalid`.
fn documentation_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    matches!(tld, "example" | "test" | "invalid" | "localhost")
        || labels.len() >= 2 && labels[labels.len() - 2] == "example"
        || labels.len() >= 3 && labels[labels.len() - 3] == "example" && tld.len() == 2
}

/// Words of documentation, API references and fixtures.
#[rustfmt::skip]
const DOC_WORDS: &[&str] = &[
    "example", "sample", "docs", "documentation", "api", "endpoint", "curl ", "get /", "post /",
    "put /", "response", "request", "schema", "openapi", "swagger", "placeholder", "test user",
    "fixture", "mock", "lorem", "tutorial", "readme", "demo",
];

/// Whether `text` (its first 4 KiB) reads as documentation, an API reference or a fixture.
fn reads_as_documentation(text: &str) -> bool {
    let head = prose_words(&text[..crate::guard::engine::floor_char(text, 4096)]);
    DOC_WORDS.iter().any(|w| head.contains(w))
}

/// Words around a value that say it is an example, a test value or a format, not
/// someone's data (`Stripe test card 4242…`, `IBAN format example: …`).
#[rustfmt::skip]
const EXAMPLE_WORDS: &[&str] = &[
    "example", "sample", "e.g.", "for instance", "fictional", "fictitious", "placeholder",
    "dummy", "test card", "test mode", "test number", "test data", "testing", "sandbox",
    "format:", "format example", "documentation", "lorem", "anytown", "fake ", "made-up",
    "beispiel", "ejemplo", "exemple", "esempio", "exemplo",
];

/// Whether the line around `span` says its value is an example or a test value.
pub(crate) fn example_context(text: &str, span: &Range<usize>) -> bool {
    let lo = text[..span.start].rfind('\n').map_or(0, |k| k + 1);
    let lo = lo.max(span.start.saturating_sub(100));
    let hi = text[span.end..]
        .find('\n')
        .map_or(text.len(), |k| span.end + k);
    let hi = crate::guard::engine::ceil_char(text, hi.min(span.end + 100));
    let lo = crate::guard::engine::ceil_char(text, lo);
    // The words around the value, not the value itself, nor addresses and host names
    // (`jane@mail.example.it`, `example.com` are not words about the value).
    let outside = prose_words(&format!(
        "{} {}",
        &text[lo..span.start],
        &text[span.end..hi]
    ));
    EXAMPLE_WORDS.iter().any(|w| outside.contains(w)) || example_heading(text, lo)
}

/// Words of a heading that makes the rows under it examples or test values (`Test cards
/// for the sandbox:`, `IBAN test vectors:`); narrower than [`EXAMPLE_WORDS`]: a heading
/// `Sample export:` may well head real data.
#[rustfmt::skip]
const EXAMPLE_HEADING_WORDS: &[&str] = &[
    "test card", "test vector", "test value", "test data", "test number", "sandbox", "example",
    "dummy", "fictional", "fictitious", "placeholder", "documentation", "not real", "testing ",
    "test mode",
];

/// Whether the nearest heading above the line starting at `line_start` (a line ending in
/// `:`, or the text's first line, within 600 bytes) says the rows are examples or test values.
fn example_heading(text: &str, line_start: usize) -> bool {
    let window = crate::guard::engine::ceil_char(text, line_start.saturating_sub(600));
    let above = &text[window..line_start];
    let heading = above
        .lines()
        .rev()
        .find(|l| l.trim_end().ends_with(':'))
        .or_else(|| (window == 0).then(|| above.lines().next()).flatten());
    heading.is_some_and(|h| {
        let h = prose_words(h);
        EXAMPLE_HEADING_WORDS.iter().any(|w| h.contains(w))
    })
}

/// `text` lower-cased without the words that are addresses or host names
/// (`jane@mail.example.it`, `https://example.com`): what the text says, not what it names.
fn prose_words(text: &str) -> String {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split_whitespace()
        .filter(|w| {
            !(w.contains('@')
                || w.contains("://")
                || w.contains("example.")
                || w.contains(".example"))
        })
        .collect();
    format!(" {} ", words.join(" "))
}

/// A person's e-mail address: not URL credentials, not a role mailbox, not a machine
/// identity (`git@github.com:org/repo`, `deploy@host` in scp/ssh), not a file name.
pub(crate) fn personal_email(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = &text[m.clone()];
    let (local, domain) = s.split_once('@')?;
    let before = &text[..m.start];
    if before.ends_with("://") || before.ends_with(':') && before.ends_with("://") {
        return None;
    }
    // URL userinfo (`scheme://user:pass@host` is a secret, `https://token@host` too).
    let line_start = before
        .rfind(['\n', ' ', '"', '\'', '(', '<'])
        .map_or(0, |k| k + 1);
    if before[line_start..].contains("://") {
        return None;
    }
    let after = &text[m.end..];
    // `git@github.com:org/repo`, `user@host:/path` (scp), ssh targets.
    if after.starts_with(':') && !after.starts_with(": ") {
        return None;
    }
    let lower_local = local.to_ascii_lowercase();
    let base = lower_local.split('+').next().unwrap_or_default();
    if role_mailbox(base) || machine_domain(domain) {
        return None;
    }
    // An address at a documentation domain in text that reads as documentation or an API
    // example (`GET /users/42 → {"email": "alice@example.net"}`) is a made-up user.
    if documentation_domain(&domain.to_ascii_lowercase()) && reads_as_documentation(text) {
        return None;
    }
    let from = crate::guard::engine::floor_char(before, before.len().saturating_sub(24));
    let tail = before[from..].to_ascii_lowercase();
    if [
        "ssh ",
        "scp ",
        "rsync ",
        "sftp ",
        "ssh-copy-id ",
        "git clone ",
        "-l ",
    ]
    .iter()
    .any(|w| tail.ends_with(w) || tail.contains(&format!("{w}-")))
    {
        return None;
    }
    Some(m)
}

/// `jane dot doe at gmail dot com`, `jane.doe [at] gmail [dot] com`: written out to dodge
/// scrapers, still a person's address. A plain ` at ` needs a written-out ` dot `, and the
/// address must end in a known top-level domain.
pub(crate) fn obfuscated_email(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let s = text[m.clone()].to_ascii_lowercase();
    let bracketed = ["[at]", "(at)", "{at}", "<at>", "[ at ]", "( at )"]
        .iter()
        .any(|w| s.contains(w));
    let spelled_dot = s.contains(" dot ")
        || s.contains("[dot]")
        || s.contains("(dot)")
        || s.contains("{dot}")
        || s.contains(" punto ");
    if !bracketed && !spelled_dot {
        return None;
    }
    let tld = s
        .rsplit(['.', ' ', ']', ')', '}'])
        .next()
        .unwrap_or_default();
    const TLDS: &[&str] = &[
        "com", "org", "net", "io", "de", "co", "uk", "fr", "es", "it", "nl", "edu", "gov", "me",
        "info", "biz", "us", "ca", "au", "br", "jp", "cn", "ru", "in", "ch", "at", "be", "se",
        "no", "dk", "fi", "pl", "pt", "mx", "ar", "dev", "app", "ai", "xyz", "eu", "ie", "nz",
        "za", "kr", "tw", "hk", "sg", "mail",
    ];
    let local = s
        .split([' ', '[', '(', '{', '<'])
        .next()
        .unwrap_or_default();
    if !TLDS.contains(&tld) || ROLE_MAILBOXES.contains(&local) {
        return None;
    }
    Some(m)
}

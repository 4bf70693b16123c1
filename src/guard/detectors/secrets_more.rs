//! More provider formats (documented prefixes and shapes, as secret scanners list them):
//! developer platforms (Fly.io, Render, Buildkite, Sourcegraph, Prefect, Infracost,
//! Contentful, Doppler service tokens), AI and data services (LangSmith, Pinecone,
//! ElevenLabs, PostHog personal keys), social and cloud platforms (Meta Graph tokens,
//! Twitter/X app bearer tokens, Tencent Cloud, Yandex Cloud, Braintree), IoT keys
//! (Adafruit IO), incoming-webhook URLs (Microsoft Teams, Google Chat) and credentials
//! carried as a URL's user part (`https://<token>@host`, Sentry DSNs).

use std::ops::Range;

use super::secrets::{entropy, is_placeholder};
use super::{Spec, spec};
use crate::guard::Severity::High;

const S: &str = "secrets";

/// The rules.
#[rustfmt::skip]
pub const SPECS: &[Spec] = &[
    spec(S, "saas_api_token", High,
        &[
        "fo1_", "fm1", "fm2_", "rnd_", "bkua_", "sgp_", "pnu_", "ico-", "cfpat-", "dp.st.",
        "dp.sa.", "dp.ct.", "lsv2_", "pcsk_", "phx_", "aio_", "akid", "aqvn", "y0_",
        "access_token$production$", "^sk_",
        ],
        r"(?-u:\b)(?:fo1_[A-Za-z0-9_-]{43}|fm[12]_[A-Za-z0-9+/]{100,}={0,2}|rnd_[A-Za-z0-9]{32}|bkua_[a-f0-9]{40}|sgp_(?:[a-f0-9]{16}_)?[a-f0-9]{40}|pnu_[A-Za-z0-9]{36}|ico-[A-Za-z0-9]{32}|CFPAT-[A-Za-z0-9_-]{43}|dp\.(?:st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}|lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}|pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,}|phx_[A-Za-z0-9]{43}|aio_[A-Za-z0-9]{28}|AKID[A-Za-z0-9]{32}|AQVN[A-Za-z0-9_-]{35,38}|y0_[A-Za-z0-9_-]{55}|access_token\$production\$[a-z0-9]{16}\$[a-f0-9]{32}|sk_[a-f0-9]{48})(?-u:\b)",
        Some(random_token),
    ),
    spec(S, "facebook_token", High,
        &["^eaa"],
        r"(?-u:\b)EAA[A-Z][A-Za-z0-9]{80,}(?-u:\b)",
        Some(random_token),
    ),
    spec(S, "twitter_bearer_token", High,
        &["aaaaaaaaaaaaaaaaaaaaa"],
        r"(?-u:\b)A{21,22}(?P<v>[A-Za-z0-9%]{30,})",
        Some(random_token),
    ),
    spec(S, "webhook_url", High,
        &["webhook.office.com", "outlook.office.com/webhook", "chat.googleapis.com"],
        r"https://(?:[a-z0-9-]+\.webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/[A-Za-z0-9@/_-]{60,}|https://chat\.googleapis\.com/v1/spaces/[A-Za-z0-9_-]+/messages\?key=[A-Za-z0-9_-]{30,}&token=[A-Za-z0-9_%=-]{30,}",
        Some(random_token),
    ),
    spec(S, "url_credentials", High,
        &["://"],
        r"(?-u:\b)https?://(?P<v>[A-Za-z0-9_-]{24,}(?::[A-Za-z0-9_-]{24,})?)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        Some(random_token),
    ),
    spec(S, "credential_assignment", High,
        &["<password>", "<passwd>", "<secret>", "<apikey>", "<api_key>", "<clientsecret>", "<client_secret>", "rabbitmqctl", "sudo -s", "sudo --stdin"],
        r#"(?i)<(?P<tag>password|passwd|secret|api_?key|client_?secret|access_?key)>\s*(?P<v>[^<\s]{4,128})\s*</|rabbitmqctl\s+(?:add_user|change_password)\s+\S+\s+["']?(?P<v2>[^\s"']{4,})|echo\s+["']?(?P<v3>[^\s"'|]{4,})["']?\s*\|\s*sudo\s+(?:-S|--stdin)"#,
        Some(secret_value),
    ),
];

/// A value given where a secret goes: not a placeholder, a variable or a lookup.
fn secret_value(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    let lookup = v.starts_with('$') || v.starts_with('%') || v.starts_with('{') || v.contains("${");
    (!lookup
        && !is_placeholder(v)
        && v.chars()
            .any(|c| c.is_ascii_digit() || c.is_ascii_punctuation()))
    .then_some(m)
}

/// A token that is not a placeholder and is random-looking (entropy floor).
fn random_token(text: &str, m: Range<usize>) -> Option<Range<usize>> {
    let v = &text[m.clone()];
    (!is_placeholder(v) && entropy(v) >= 3.0).then_some(m)
}

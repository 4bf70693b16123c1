//! Review and learning settings: webhooks announcing escalations (`escalation.webhooks`) and
//! how precedents learn from reviewers' answers (`learn:`; see docs/review.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One webhook.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// `json` (default) or `slack`.
    #[serde(default)]
    pub format: WebhookFormat,
}

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// `{"event": "escalation.created", "escalation": {…}}`.
    #[default]
    Json,
    /// `{"text": "…"}` (Slack incoming webhooks and compatible chat tools).
    Slack,
}

/// Confidence thresholds per level (lower bounds of the agreeing share).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerLevel {
    /// At the `exact` level.
    pub exact: f64,
    /// At the `known` level.
    pub known: f64,
    /// At the `any_caller` level (`1.0` turns the level off).
    pub any_caller: f64,
    /// At the `features` level: the weakest feature or pair's bound (`1.0` turns it off).
    pub features: f64,
}

impl Default for PerLevel {
    fn default() -> Self {
        Self {
            exact: 0.5,
            known: 0.75,
            any_caller: 0.85,
            features: 0.5,
        }
    }
}

/// How a spot check reaches a reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpotFlow {
    /// Like any escalation: held (or deferred, per the rule and `escalation.flow`).
    #[default]
    Escalate,
    /// The call goes through; a reviewer looks at it afterwards and the answer teaches.
    After,
}

/// Spot checks of precedents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpotChecks {
    /// Share of allow-precedent decisions sent to a reviewer.
    pub rate: f64,
    /// The share while the precedent is young (fewer than twice the approvals it needed).
    pub young_rate: f64,
    /// Share of deny-precedent decisions sent to a reviewer (safe calls they refuse).
    pub deny_rate: f64,
    /// How the spot-checked call reaches a reviewer.
    pub flow: SpotFlow,
}

impl Default for SpotChecks {
    fn default() -> Self {
        Self {
            rate: 0.02,
            young_rate: 0.05,
            deny_rate: 0.03,
            flow: SpotFlow::Escalate,
        }
    }
}

/// Learning from reviewers' answers (precedents); see `docs/review.md`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnConfig {
    /// Whether precedents are formed and applied.
    pub enabled: bool,
    /// Fewest approvals (since the last rejection) before a precedent allows.
    pub auto_allow_after: u32,
    /// Fewest rejections (since the last approval) before a precedent denies.
    pub auto_deny_after: u32,
    /// Answers older than this no longer count.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Confidence (lower bound of the approving share) an allow needs, per level.
    pub confidence: PerLevel,
    /// The same for tools annotated — or presumed — destructive or open-world.
    pub strict_confidence: PerLevel,
    /// Confidence (lower bound of the rejecting share) a deny needs, per level.
    pub deny_confidence: PerLevel,
    /// Spot checks of precedents.
    pub spot_checks: SpotChecks,
    /// The organisation's own e-mail domains (recipients there are `internal`).
    pub internal_domains: Vec<String>,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            auto_allow_after: 3,
            auto_deny_after: 2,
            window: Duration::from_secs(30 * 24 * 3600),
            confidence: PerLevel::default(),
            strict_confidence: PerLevel {
                exact: 0.7,
                known: 0.85,
                any_caller: 0.92,
                features: 0.6,
            },
            deny_confidence: PerLevel {
                exact: 0.4,
                known: 0.5,
                any_caller: 0.6,
                // One feature (or pair) that reviewers only ever rejected: six times over.
                features: 0.6,
            },
            spot_checks: SpotChecks::default(),
            internal_domains: Vec::new(),
        }
    }
}

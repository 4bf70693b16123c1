//! Learning's settings: confidence thresholds per level, spot checks, and the rest of
//! `learn:` in the gateway's config.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Level;

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

impl PerLevel {
    pub(super) fn at(&self, level: Level) -> f64 {
        match level {
            Level::Exact => self.exact,
            Level::Known => self.known,
            Level::AnyCaller => self.any_caller,
            Level::Features => self.features,
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

/// Learning settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnConfig {
    /// Whether precedents are formed and applied.
    pub enabled: bool,
    /// Fewest approvals (since the last rejection) before any precedent allows.
    pub min_approvals: u32,
    /// Fewest rejections (since the last approval) before any precedent denies.
    pub min_rejections: u32,
    /// Answers older than this do not count.
    pub window: Duration,
    /// Confidence an allow needs, per level.
    pub allow: PerLevel,
    /// Confidence an allow needs for tools annotated (or presumed) destructive or
    /// open-world.
    pub allow_strict: PerLevel,
    /// Confidence a deny needs, per level.
    pub deny: PerLevel,
    /// Spot checks.
    pub spot_checks: SpotChecks,
    /// E-mail domains that are the organisation's own.
    pub internal_domains: Vec<String>,
}

impl Default for LearnConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_approvals: 3,
            min_rejections: 2,
            window: Duration::from_secs(30 * 24 * 3600),
            allow: PerLevel::default(),
            allow_strict: PerLevel {
                exact: 0.7,
                known: 0.85,
                any_caller: 0.92,
                features: 0.6,
            },
            deny: PerLevel {
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

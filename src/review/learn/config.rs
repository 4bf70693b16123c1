//! Learning's settings as the engine uses them (from `learn:` in the gateway's config,
//! [`crate::config::LearnConfig`]).

use std::time::Duration;

pub use crate::config::{PerLevel, SpotChecks, SpotFlow};

use super::Level;

/// A level's threshold.
pub(super) fn at(levels: &PerLevel, level: Level) -> f64 {
    match level {
        Level::Exact => levels.exact,
        Level::Known => levels.known,
        Level::AnyCaller => levels.any_caller,
        Level::Features => levels.features,
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
        Self::from(&crate::config::LearnConfig::default())
    }
}

impl From<&crate::config::LearnConfig> for LearnConfig {
    fn from(c: &crate::config::LearnConfig) -> Self {
        Self {
            enabled: c.enabled,
            min_approvals: c.auto_allow_after,
            min_rejections: c.auto_deny_after,
            window: c.window,
            allow: c.confidence,
            allow_strict: c.strict_confidence,
            deny: c.deny_confidence,
            spot_checks: c.spot_checks,
            internal_domains: c.internal_domains.clone(),
        }
    }
}

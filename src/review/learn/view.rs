//! What the gateway shows of what it learned: the precedents in force with their evidence
//! (admin API, `learn export`), and how every level sees one call (`learn explain`).

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::config;
use super::evidence::Counts;
use super::{CallFeatures, Level, Precedents, Verdict, familiar, tool_key};

/// A precedent, as the admin API and `learn export` show it.
#[derive(Debug, Clone, Serialize)]
pub struct Precedent {
    /// `precedent-<fingerprint id>`.
    pub id: String,
    /// Its level.
    pub level: Level,
    /// The fingerprint it covers, in words.
    pub fingerprint: String,
    /// What it decides now.
    pub verdict: Verdict,
    /// Lower bound of the agreeing share.
    pub confidence: f64,
    /// The threshold it had to pass.
    pub threshold: f64,
    /// Approvals in the window.
    pub approvals: usize,
    /// Rejections in the window.
    pub rejections: usize,
    /// Approvals since the last rejection.
    pub approvals_since_rejection: usize,
    /// Spot checks answered, approved and rejected.
    pub spot_checks: SpotCounts,
    /// Calls it decided (on this replica).
    pub uses: u64,
}

/// One level's view of a call (see [`Precedents::explain`]).
#[derive(Debug, Clone, Serialize)]
pub struct LevelView {
    /// The level.
    pub level: Level,
    /// The precedent id the call has at this level.
    pub precedent: String,
    /// The fingerprint in words.
    pub fingerprint: String,
    /// The evidence.
    pub counts: Counts,
    /// Lower bound of the approving share that counts for an allow.
    pub allow_confidence: f64,
    /// What an allow needs here.
    pub allow_threshold: f64,
    /// Lower bound of the rejecting share that counts for a deny.
    pub deny_confidence: f64,
    /// What a deny needs here.
    pub deny_threshold: f64,
}

/// Spot-check outcomes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SpotCounts {
    /// Approved by the reviewer.
    pub approved: usize,
    /// Rejected by the reviewer.
    pub rejected: usize,
}

impl Precedents {
    /// Every precedent that decides something now, by level then id.
    pub fn list(&self, now: Instant) -> Vec<Precedent> {
        let st = self.state();
        let mut out: BTreeMap<(Level, String), Precedent> = BTreeMap::new();
        for (id, b) in &st.buckets {
            let c = b.tally.counts(now, self.cfg.window);
            if !c.any() {
                continue;
            }
            // Listed with the ordinary threshold; strict tools need more before they use it.
            let allow_at = self.threshold(&st, &b.tool, b.level, false, now);
            let deny_at = config::at(&self.cfg.deny, b.level);
            let verdict = if c.allow_confidence() >= allow_at
                && c.approvals_since_rejection >= self.cfg.min_approvals as usize
            {
                (Verdict::Allow, c.allow_confidence(), allow_at)
            } else if c.deny_confidence() >= deny_at
                && c.rejections_since_approval >= self.cfg.min_rejections as usize
            {
                (Verdict::Deny, c.deny_confidence(), deny_at)
            } else {
                continue;
            };
            out.insert(
                (b.level, id.clone()),
                Precedent {
                    id: format!("precedent-{id}"),
                    level: b.level,
                    fingerprint: b.text.clone(),
                    verdict: verdict.0,
                    confidence: (verdict.1 * 1000.0).round() / 1000.0,
                    threshold: (verdict.2 * 1000.0).round() / 1000.0,
                    approvals: c.approvals,
                    rejections: c.rejections,
                    approvals_since_rejection: c.approvals_since_rejection,
                    spot_checks: SpotCounts {
                        approved: c.spot_checks_approved,
                        rejected: c.spot_checks_rejected,
                    },
                    uses: b.tally.uses,
                },
            );
        }
        out.into_values().collect()
    }

    /// How each level sees a call with features `f`: its fingerprint, the evidence, the
    /// confidence and the threshold (`learn explain`, the admin API).
    pub fn explain(&self, f: &CallFeatures, strict: bool, now: Instant) -> Vec<LevelView> {
        let strict = strict && !crate::features::effect::reads_only(f);
        let st = self.state();
        let keys = st.keys(f);
        let tool = tool_key(f);
        keys.levels
            .into_iter()
            .map(|(level, fp)| {
                let counts = st
                    .buckets
                    .get(&fp.id)
                    .map(|b| b.tally.counts(now, self.cfg.window))
                    .unwrap_or_default();
                LevelView {
                    level,
                    precedent: format!("precedent-{}", fp.id),
                    fingerprint: fp.text,
                    allow_confidence: counts.allow_confidence(),
                    allow_threshold: self.threshold(&st, &tool, level, strict, now),
                    deny_confidence: counts.deny_confidence(),
                    deny_threshold: config::at(&self.cfg.deny, level),
                    counts,
                }
            })
            .collect()
    }

    /// What the `features` level says of a call (diagnostics).
    pub fn familiarity(&self, f: &CallFeatures, now: Instant) -> familiar::Judgement {
        self.state()
            .familiar
            .judge(f, now, self.cfg.window, self.cfg.min_rejections)
    }
}

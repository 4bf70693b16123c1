//! The evidence behind one precedent: reviewers' answers in time order, and how sure they
//! make us. Confidence is the lower bound of the Wilson score interval (95%) on the share of
//! answers that agree — a fixed count would trust three approvals of a shape as much as
//! three hundred. Answers since the last disagreeing one count for the verdict, answers
//! before it only against it: a rejection revokes an allow-precedent until enough new
//! approvals earn it back.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

/// z for a two-sided 95% interval.
const Z: f64 = 1.96;

/// Most answers kept per precedent (older ones are dropped first).
pub const MAX_ANSWERS: usize = 512;

/// The lower bound of the Wilson score interval for `k` successes in `n` trials.
pub fn wilson_lower(k: usize, n: usize) -> f64 {
    if n == 0 || k == 0 {
        // Exactly 0 (the formula's two terms cancel, up to rounding that could leave a
        // trace above a share of 0 it is compared with).
        return 0.0;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z * Z;
    let centre = p + z2 / (2.0 * n);
    let margin = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - margin) / (1.0 + z2 / n)).max(0.0)
}

/// Agreeing answers (and no disagreeing one) needed for a lower bound of `threshold`.
pub fn needed(threshold: f64) -> usize {
    if threshold >= 1.0 {
        return usize::MAX;
    }
    // n / (n + z²) ≥ t  ⇔  n ≥ z² t / (1 − t)
    ((Z * Z * threshold) / (1.0 - threshold)).ceil().max(1.0) as usize
}

/// One reviewer's answer.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    /// When it was given.
    pub at: Instant,
    /// Approved (else rejected).
    pub approved: bool,
    /// It answered a spot check of this precedent.
    pub spot_check: bool,
}

/// The answers one precedent has, and what became of its decisions.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    answers: VecDeque<Answer>,
    /// Answers before this time are forgotten (the precedent was revoked).
    revoked_at: Option<Instant>,
    /// Calls this precedent decided.
    pub uses: u64,
}

/// What the evidence says now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Approvals in the window.
    pub approvals: usize,
    /// Rejections in the window.
    pub rejections: usize,
    /// Approvals since the last rejection.
    pub approvals_since_rejection: usize,
    /// Rejections since the last approval.
    pub rejections_since_approval: usize,
    /// Spot checks answered: approved.
    pub spot_checks_approved: usize,
    /// Spot checks answered: rejected.
    pub spot_checks_rejected: usize,
}

impl Counts {
    /// Lower bound on the share of approvals that counts for an allow.
    pub fn allow_confidence(&self) -> f64 {
        let k = self.approvals_since_rejection;
        wilson_lower(k, k + self.rejections)
    }

    /// Lower bound on the share of rejections that counts for a deny.
    pub fn deny_confidence(&self) -> f64 {
        let k = self.rejections_since_approval;
        wilson_lower(k, k + self.approvals)
    }

    /// Whether any answer counts.
    pub fn any(&self) -> bool {
        self.approvals + self.rejections > 0
    }
}

impl Tally {
    /// Add an answer (kept in time order; the oldest dropped beyond [`MAX_ANSWERS`]).
    pub fn push(&mut self, a: Answer) {
        let pos = self
            .answers
            .iter()
            .rposition(|x| x.at <= a.at)
            .map_or(0, |p| p + 1);
        self.answers.insert(pos, a);
        while self.answers.len() > MAX_ANSWERS {
            self.answers.pop_front();
        }
    }

    /// Forget every answer given before `at`.
    pub fn revoke(&mut self, at: Instant) {
        self.revoked_at = Some(self.revoked_at.map_or(at, |r| r.max(at)));
        self.answers.retain(|a| a.at >= at);
    }

    /// The counts of answers within `window` of `now`.
    pub fn counts(&self, now: Instant, window: Duration) -> Counts {
        let mut c = Counts::default();
        for a in &self.answers {
            if now.saturating_duration_since(a.at) > window
                || self.revoked_at.is_some_and(|r| a.at < r)
            {
                continue;
            }
            if a.approved {
                c.approvals += 1;
                c.approvals_since_rejection += 1;
                c.rejections_since_approval = 0;
            } else {
                c.rejections += 1;
                c.rejections_since_approval += 1;
                c.approvals_since_rejection = 0;
            }
            if a.spot_check {
                if a.approved {
                    c.spot_checks_approved += 1;
                } else {
                    c.spot_checks_rejected += 1;
                }
            }
        }
        c
    }

    /// Whether nothing is left to count.
    pub fn is_empty(&self) -> bool {
        self.answers.is_empty()
    }

    /// The newest answer's time.
    pub fn last(&self) -> Option<Instant> {
        self.answers.back().map(|a| a.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_grows_with_agreement() {
        assert_eq!(wilson_lower(0, 0), 0.0);
        assert!(wilson_lower(3, 3) < wilson_lower(30, 30));
        assert!(wilson_lower(30, 31) < wilson_lower(30, 30));
        // n / (n + z²) for unanimous answers.
        assert!((wilson_lower(10, 10) - 10.0 / (10.0 + Z * Z)).abs() < 1e-9);
        assert_eq!(needed(0.75), 12);
        assert!(wilson_lower(needed(0.75), needed(0.75)) >= 0.75);
        assert!(wilson_lower(needed(0.75) - 1, needed(0.75) - 1) < 0.75);
    }

    #[test]
    fn a_rejection_resets_what_counts_for_an_allow() {
        let t = Instant::now();
        let mut tally = Tally::default();
        let answer = |s: u64, approved| Answer {
            at: t + Duration::from_secs(s),
            approved,
            spot_check: false,
        };
        for s in 0..20 {
            tally.push(answer(s, true));
        }
        tally.push(answer(20, false));
        let w = Duration::from_secs(3600);
        let c = tally.counts(t + Duration::from_secs(21), w);
        assert_eq!(
            (c.approvals, c.rejections, c.approvals_since_rejection),
            (20, 1, 0)
        );
        assert_eq!(c.allow_confidence(), 0.0);
        for s in 21..40 {
            tally.push(answer(s, true));
        }
        let c = tally.counts(t + Duration::from_secs(41), w);
        assert_eq!(c.approvals_since_rejection, 19);
        assert!(c.allow_confidence() > 0.7, "{}", c.allow_confidence());
        // Outside the window nothing counts; revoked answers neither.
        assert!(!tally.counts(t + Duration::from_secs(5000), w).any());
        tally.revoke(t + Duration::from_secs(30));
        assert_eq!(tally.counts(t + Duration::from_secs(41), w).approvals, 10);
    }
}

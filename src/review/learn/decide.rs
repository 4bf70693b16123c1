//! Deciding a call from the evidence: the finest level whose evidence is strong enough, backing
//! off to coarser ones only where finer evidence agrees; no allow for a novel call; the
//! `features` level last; spot checks sampled on the way.

use std::time::Instant;

use super::evidence::{self, Counts};
use super::general::tool_key;
use super::{CallFeatures, Fingerprint, Level, Outcome, Precedents, State, Verdict, config};

impl Precedents {
    pub(super) fn decide_as(
        &self,
        f: &CallFeatures,
        strict: bool,
        now: Instant,
        commit: bool,
    ) -> Option<Outcome> {
        if !self.cfg.enabled {
            return None;
        }
        // A call that only reads is not what a tool's strictness guards against.
        let strict = strict && !crate::features::effect::reads_only(f);
        let mut st = self.state();
        let keys = st.keys(f);
        let tool = tool_key(f);
        // Something new, refused or above range where values carry meaning: no allow.
        let novel = st.general.view(f).novel;
        // What finer levels' evidence leans to (a coarser verdict must agree with it).
        let mut leaning: Option<Verdict> = None;
        // Approvals (since the last rejection) of the caller's own calls at the `known` level.
        let mut own_approvals = 0;
        for (level, fp) in &keys.levels {
            if *level == Level::Features {
                // Pairs cannot tell a call that lacks what its tool's calls always have.
                let unlike = novel || st.general.lacks_required(f);
                return self.decide_familiar(
                    &mut st,
                    f,
                    fp,
                    (strict, commit, unlike),
                    leaning,
                    now,
                );
            }
            let Some(b) = st.buckets.get(&fp.id) else {
                continue;
            };
            let c = b.tally.counts(now, self.cfg.window);
            if !c.any() {
                continue;
            }
            let mut allow_at = self.threshold(&st, &tool, *level, strict, now);
            if *level == Level::AnyCaller && !novel && c.rejections == 0 {
                // Corroborated: when every finer level only ever approved, the caller's own
                // calls of the kind included, and every feature and pair is familiar, all
                // callers' evidence is trusted as the `known` level trusts one caller's.
                let own = own_approvals >= self.cfg.min_approvals as usize;
                let j = st
                    .familiar
                    .judge(f, now, self.cfg.window, self.cfg.min_rejections);
                let known = self.threshold(&st, &tool, Level::Known, strict, now);
                if own
                    && j.allow_confidence
                        >= self.threshold(&st, &tool, Level::Features, strict, now)
                    && j.fewest_approvals >= self.cfg.min_approvals
                    && j.deny.is_none()
                {
                    allow_at = allow_at.min(known);
                }
            }
            let deny_at = config::at(&self.cfg.deny, *level);
            let (ca, cd) = (c.allow_confidence(), c.deny_confidence());
            // Any caller: only for a caller whose own calls of this kind were approved.
            let agreed = match level {
                Level::AnyCaller => leaning == Some(Verdict::Allow),
                _ => leaning != Some(Verdict::Deny),
            };
            let verdict = if ca >= allow_at
                && c.approvals_since_rejection >= self.cfg.min_approvals as usize
                && agreed
                && !novel
            {
                Some((Verdict::Allow, ca, allow_at))
            } else if cd >= deny_at
                && c.rejections_since_approval >= self.cfg.min_rejections as usize
                && leaning != Some(Verdict::Allow)
            {
                Some((Verdict::Deny, cd, deny_at))
            } else {
                None
            };
            if let Some((verdict, confidence, threshold)) = verdict {
                let spot = self.spot_rate(&c, verdict, threshold);
                let spot_check = commit && spot > 0.0 && st.next_random() < spot;
                if let Some(b) = st.buckets.get_mut(&fp.id).filter(|_| commit) {
                    b.tally.uses += 1;
                }
                return Some(Outcome {
                    precedent: format!("precedent-{}", fp.id),
                    level: *level,
                    verdict,
                    confidence,
                    spot_check,
                });
            }
            if *level == Level::Known {
                own_approvals = c.approvals_since_rejection;
            }
            if c.approvals > 0 && c.rejections > 0 {
                // Reviewers disagree at this level: nothing coarser may decide.
                return None;
            }
            let lean = if c.approvals > 0 {
                Verdict::Allow
            } else {
                Verdict::Deny
            };
            match leaning {
                Some(l) if l != lean => return None,
                _ => leaning = Some(lean),
            }
        }
        None
    }

    /// The `features` level: allow a call whose every feature and pair is familiar, deny
    /// one with a feature or pair reviewers only ever rejected — each only where what finer
    /// levels knew (`leaning`) agrees.
    fn decide_familiar(
        &self,
        st: &mut State,
        f: &CallFeatures,
        fp: &Fingerprint,
        (strict, commit, novel): (bool, bool, bool),
        leaning: Option<Verdict>,
        now: Instant,
    ) -> Option<Outcome> {
        let j = st
            .familiar
            .judge(f, now, self.cfg.window, self.cfg.min_rejections);
        let allow_at = self.threshold(st, &tool_key(f), Level::Features, strict, now);
        let deny_at = config::at(&self.cfg.deny, Level::Features);
        let (verdict, confidence, precedent, threshold) = if j.allow_confidence >= allow_at
            && j.fewest_approvals >= self.cfg.min_approvals
            && leaning != Some(Verdict::Deny)
            && !novel
        {
            (
                Verdict::Allow,
                j.allow_confidence,
                format!("precedent-{}", fp.id),
                allow_at,
            )
        } else {
            match &j.deny {
                Some((c, _, atom)) if *c >= deny_at && leaning != Some(Verdict::Allow) => {
                    let id = Fingerprint::of_text("features-deny", atom.clone()).id;
                    (Verdict::Deny, *c, format!("precedent-{id}"), deny_at)
                }
                _ => return None,
            }
        };
        let counts = Counts {
            approvals_since_rejection: j.fewest_approvals as usize,
            ..Counts::default()
        };
        let spot = self.spot_rate(&counts, verdict, threshold);
        let spot_check = commit && spot > 0.0 && st.next_random() < spot;
        if let Some(b) = st.buckets.get_mut(&fp.id).filter(|_| commit) {
            b.tally.uses += 1;
        }
        Some(Outcome {
            precedent,
            level: Level::Features,
            verdict,
            confidence,
            spot_check,
        })
    }

    fn spot_rate(&self, c: &Counts, verdict: Verdict, threshold: f64) -> f64 {
        let s = &self.cfg.spot_checks;
        match verdict {
            Verdict::Deny => s.deny_rate,
            Verdict::Allow => {
                let young = c.approvals_since_rejection < 2 * evidence::needed(threshold);
                if young { s.young_rate } else { s.rate }
            }
        }
    }
}

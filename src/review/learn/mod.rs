//! Learning from answers. Every escalated call is described by its [`CallFeatures`]
//! (`crate::features`); each reviewer's answer is evidence for the call's fingerprint at
//! three **levels**, from the finest to the coarsest:
//!
//! - `exact`: route, tool, caller, every feature with its identity (host, domain,
//!   directory, table, word, magnitude), finding types, run flags;
//! - `known`: the same, each identity replaced by what reviewers made of it *for this tool
//!   and argument*: `known` (in an approved call before), `refused` (only in rejected
//!   calls), `new`; magnitudes by `in_range` / `above` / `below` the approved ones;
//! - `any_caller`: `known`, with the caller replaced by `known` / `new` for the tool.
//!
//! A call is decided at the finest level whose evidence is strong enough (the Wilson lower
//! bound on agreeing answers over its threshold, see `evidence`); a level with too little
//! evidence backs off to a coarser one only when what it has agrees with the coarser
//! verdict, and a level whose answers disagree stops the back-off: the call goes to a
//! person. Tools whose MCP annotations say destructive or open-world (or say nothing, which
//! the specification reads the same way) need stronger evidence.
//!
//! Precedents keep being checked: a share of the calls a precedent decides (more while it is
//! young) still goes to a reviewer as a **spot check**. A rejected spot check of an allow
//! revokes it (its evidence now disagrees) and makes its level stricter for that tool.
//!
//! A precedent only ever replaces an escalation: a `deny` rule or a run flow rule is decided
//! first and wins.

mod config;
pub mod evidence;
pub mod familiar;
mod general;
mod view;

pub use config::{LearnConfig, PerLevel, SpotChecks, SpotFlow};
pub use view::{LevelView, Precedent, SpotCounts};

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use crate::features::{CallFeatures, Feature, Fingerprint, Identity};
use evidence::{Answer, Counts, Tally};
use general::tool_key;

/// The levels precedents learn at, finest first.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Every identity as it is.
    #[default]
    Exact,
    /// Identities as reviewers know them (known / refused / new; magnitudes in range or not).
    Known,
    /// As `known`, and the caller as known or new for the tool.
    AnyCaller,
    /// Every feature, and every pair of features (caller and run flags included), approved
    /// before for the tool (see `familiar`).
    Features,
}

impl Level {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Exact => "exact",
            Level::Known => "known",
            Level::AnyCaller => "any_caller",
            Level::Features => "features",
        }
    }

    /// Every level, finest first.
    pub const ALL: [Level; 4] = [
        Level::Exact,
        Level::Known,
        Level::AnyCaller,
        Level::Features,
    ];
}

/// What a precedent decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Allowed without review.
    Allow,
    /// Denied without review.
    Deny,
}

/// What the precedents say of one call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `precedent-<fingerprint id>` of the deciding precedent.
    pub precedent: String,
    /// Its level.
    pub level: Level,
    /// What it decides.
    pub verdict: Verdict,
    /// Its confidence (lower bound of the agreeing share).
    pub confidence: f64,
    /// The call goes to a reviewer anyway (a spot check of the precedent).
    pub spot_check: bool,
}

/// One call's fingerprint at every level (worked out against what reviewers know).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// Per level, finest first.
    pub levels: Vec<(Level, Fingerprint)>,
}

impl Keys {
    /// The exact fingerprint.
    pub fn exact(&self) -> Option<&Fingerprint> {
        self.levels
            .iter()
            .find(|(l, _)| *l == Level::Exact)
            .map(|(_, f)| f)
    }
}

/// A reviewer's answer, as learned here and shared with other replicas.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lesson {
    /// The answered call's features.
    pub features: CallFeatures,
    /// Its fingerprints when it was answered.
    pub keys: Keys,
    /// Approved (else rejected).
    pub approved: bool,
    /// The precedent it spot-checked, if it was a spot check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_check: Option<SpotCheck>,
}

/// Which precedent a spot check looked at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotCheck {
    /// `precedent-<id>`.
    pub precedent: String,
    /// Its level.
    pub level: Level,
    /// What it had decided.
    pub verdict: Verdict,
}

/// Most precedents (fingerprints with answers) kept; the least recently answered go first.
const MAX_BUCKETS: usize = 200_000;
#[derive(Debug, Default)]
struct Bucket {
    level: Level,
    /// Route and tool (strictness and level trust are per tool).
    tool: String,
    text: String,
    tally: Tally,
}

#[derive(Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    /// What the whole-call levels generalise by (`general`).
    pub(super) general: general::General,
    /// `route\0tool\0level` → rejected spot checks (each makes the level stricter).
    level_strikes: HashMap<String, Vec<Instant>>,
    /// Evidence per feature and pair of features (the `features` level).
    familiar: familiar::Familiar,
    /// Spot-check sampling (xorshift).
    rng: u64,
}

/// Answers by fingerprint at every level, and the precedents they make.
pub struct Precedents {
    cfg: LearnConfig,
    state: Mutex<State>,
}

impl State {
    fn keys(&self, f: &CallFeatures) -> Keys {
        let view = self.general.view(f);
        let known_text = |caller: &str| {
            let args: std::collections::BTreeSet<&str> =
                view.parts.iter().flatten().map(String::as_str).collect();
            format!(
                "route {}, tool {}, caller {caller}, args {{{}}}, findings [{}], run [{}]",
                f.route,
                f.tool,
                args.into_iter().collect::<Vec<_>>().join(", "),
                view.findings.join(", "),
                view.run.join(", ")
            )
        };
        let caller_known = self.general.caller_known(f);
        Keys {
            levels: vec![
                (Level::Exact, f.exact()),
                (
                    Level::Known,
                    Fingerprint::of_text("known", known_text(&f.caller)),
                ),
                (
                    Level::AnyCaller,
                    Fingerprint::of_text(
                        "any_caller",
                        known_text(if caller_known { "known" } else { "new" }),
                    ),
                ),
                (
                    Level::Features,
                    Fingerprint::of_text(
                        "features",
                        format!(
                            "route {}, tool {}: every feature and pair of features approved before",
                            f.route, f.tool
                        ),
                    ),
                ),
            ],
        }
    }

    fn next_random(&mut self) -> f64 {
        let mut x = self.rng.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn strikes(&self, tool: &str, level: Level, now: Instant, window: Duration) -> usize {
        self.level_strikes
            .get(&format!("{tool}\0{}", level.as_str()))
            .map_or(0, |v| {
                v.iter()
                    .filter(|t| now.saturating_duration_since(**t) <= window)
                    .count()
            })
    }

    /// Drop the least recently answered buckets beyond the cap.
    fn trim(&mut self) {
        if self.buckets.len() <= MAX_BUCKETS {
            return;
        }
        let mut by_age: Vec<(Option<Instant>, String)> = self
            .buckets
            .iter()
            .map(|(id, b)| (b.tally.last(), id.clone()))
            .collect();
        by_age.sort();
        let excess = self.buckets.len() - MAX_BUCKETS * 9 / 10;
        for (_, id) in by_age.into_iter().take(excess) {
            self.buckets.remove(&id);
        }
    }
}

impl Precedents {
    /// An empty store (spot checks sampled from a random seed).
    pub fn new(cfg: LearnConfig) -> Self {
        let seed = uuid::Uuid::new_v4().as_u128() as u64;
        Self::with_seed(cfg, seed)
    }

    /// An empty store whose spot checks follow `seed` (replays are reproducible).
    pub fn with_seed(cfg: LearnConfig, seed: u64) -> Self {
        Self {
            cfg,
            state: Mutex::new(State {
                rng: seed | 1,
                ..State::default()
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &LearnConfig {
        &self.cfg
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every change under this lock is a plain insert or push; a panic in between leaves
        // nothing half-done that matters, so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The call's fingerprints at every level, as things stand.
    pub fn keys(&self, f: &CallFeatures) -> Keys {
        self.state().keys(f)
    }

    fn threshold(&self, st: &State, tool: &str, level: Level, strict: bool, now: Instant) -> f64 {
        let base = if strict {
            config::at(&self.cfg.allow_strict, level)
        } else {
            config::at(&self.cfg.allow, level)
        };
        // Each rejected spot check at this level for this tool halves the doubt allowed.
        let strikes = st.strikes(tool, level, now, self.cfg.window).min(16) as i32;
        1.0 - (1.0 - base) * 0.5f64.powi(strikes)
    }

    /// What the precedents decide for a call with features `f` (`strict`: the tool is
    /// destructive or open-world), or `None`: a person decides.
    pub fn decide(&self, f: &CallFeatures, strict: bool, now: Instant) -> Option<Outcome> {
        self.decide_as(f, strict, now, true)
    }

    /// What the precedents would decide for `f` now, without counting a use or sampling a
    /// spot check (the admin API's explain).
    pub fn peek(&self, f: &CallFeatures, strict: bool, now: Instant) -> Option<Outcome> {
        self.decide_as(f, strict, now, false)
    }

    fn decide_as(
        &self,
        f: &CallFeatures,
        strict: bool,
        now: Instant,
        commit: bool,
    ) -> Option<Outcome> {
        if !self.cfg.enabled {
            return None;
        }
        let mut st = self.state();
        let keys = st.keys(f);
        let tool = tool_key(f);
        // Something new, refused or above range where values carry meaning: no allow.
        let novel = st.general.view(f).novel;
        // What finer levels' evidence leans to (a coarser verdict must agree with it).
        let mut leaning: Option<Verdict> = None;
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
            let allow_at = self.threshold(&st, &tool, *level, strict, now);
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

    /// Learn from a reviewer's answer to a call with features `f` (`spot_check`: the call
    /// was a spot check of that precedent). Returns the lesson to share with other replicas.
    pub fn learn(
        &self,
        f: &CallFeatures,
        approved: bool,
        spot_check: Option<SpotCheck>,
        at: Instant,
    ) -> Lesson {
        let keys = self.keys(f);
        let lesson = Lesson {
            features: f.clone(),
            keys,
            approved,
            spot_check,
        };
        self.apply(&lesson, at);
        lesson
    }

    /// Apply a lesson (learned here or on another replica) answered at `at`.
    pub fn apply(&self, lesson: &Lesson, at: Instant) {
        if !self.cfg.enabled {
            return;
        }
        let mut st = self.state();
        let tool = tool_key(&lesson.features);
        let spot_id = lesson.spot_check.as_ref().map(|s| s.precedent.as_str());
        for (level, fp) in &lesson.keys.levels {
            let b = st.buckets.entry(fp.id.clone()).or_insert_with(|| Bucket {
                level: *level,
                tool: tool.clone(),
                text: fp.text.clone(),
                tally: Tally::default(),
            });
            b.tally.push(Answer {
                at,
                approved: lesson.approved,
                spot_check: spot_id
                    .is_some_and(|s| s.strip_prefix("precedent-") == Some(fp.id.as_str())),
            });
        }
        if let Some(s) = &lesson.spot_check {
            let agreed = (s.verdict == Verdict::Allow) == lesson.approved;
            if !agreed {
                st.level_strikes
                    .entry(format!("{tool}\0{}", s.level.as_str()))
                    .or_default()
                    .push(at);
            }
        }
        st.general.remember(&lesson.features, lesson.approved);
        let window = self.cfg.window;
        st.familiar
            .learn(&lesson.features, lesson.approved, at, window);
        st.trim();
    }

    /// Forget everything and apply these lessons instead, in time order (a replica loading
    /// the shared store); lessons without a time are skipped.
    pub fn replace(&self, lessons: impl IntoIterator<Item = (Lesson, Option<Instant>)>) {
        let mut v: Vec<(Lesson, Instant)> = lessons
            .into_iter()
            .filter_map(|(l, at)| at.map(|at| (l, at)))
            .collect();
        v.sort_by_key(|(_, at)| *at);
        {
            let mut st = self.state();
            let rng = st.rng;
            *st = State {
                rng,
                ..State::default()
            };
        }
        for (l, at) in &v {
            self.apply(l, *at);
        }
    }

    /// Revoke a precedent (`precedent-<id>` or `<id>`): answers before `at` no longer count
    /// for it. `false` when there is no such fingerprint.
    pub fn revoke(&self, id: &str, at: Instant) -> bool {
        let key = id.strip_prefix("precedent-").unwrap_or(id);
        let mut st = self.state();
        match st.buckets.get_mut(key) {
            Some(b) => {
                b.tally.revoke(at);
                if b.level == Level::Features {
                    if let Some((route, tool)) = b.tool.split_once('\0') {
                        let (route, tool) = (route.to_string(), tool.to_string());
                        st.familiar.forget_tool(&route, &tool);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// The learning window (answers older than it do not count).
    pub fn window(&self) -> Duration {
        self.cfg.window
    }
}

#[cfg(test)]
mod tests;

//! Learning from answers. Every escalated call is described by its [`CallFeatures`]
//! (`crate::features`); each reviewer's answer is evidence for the call's fingerprint at
//! four **levels**, from the finest to the coarsest:
//!
//! - `exact`: route, tool, caller, every feature with its identity (host, domain,
//!   directory, table, word, magnitude), finding types, run flags;
//! - `known`: the call as reviewers know it *for this tool and argument* (`general`):
//!   identities `known` / `refused` / `new` (words from a short list as they are,
//!   identifiers by value where values repeat), numbers `in_range` / `above` what was
//!   approved (money also for this caller and each counterparty), and what optional
//!   arguments add left out where it does not make rejections likelier;
//! - `any_caller`: `known`, with the caller replaced by `known` / `new` for the tool;
//! - `features`: every feature and pair of features approved before (`familiar`).
//!
//! A call with something new, refused or above range where values carry meaning is
//! **novel**: no level allows it.
//!
//! A call is decided at the finest level whose evidence is strong enough (the Wilson lower
//! bound on agreeing answers over its threshold, see `evidence`); a level with too little
//! evidence backs off to a coarser one only when what it has agrees with the coarser
//! verdict, and a level whose answers disagree stops the back-off: the call goes to a
//! person (`decide`). At `any_caller` a precedent allows only a caller whose own calls of
//! the kind were approved; when every finer level only ever approved and every feature and
//! pair is familiar, it trusts all callers' evidence as `known` trusts one caller's. Tools whose MCP annotations
//! say destructive or open-world (or say nothing, which the specification reads the same
//! way) need stronger evidence.
//!
//! Precedents keep being checked: a share of the calls a precedent decides (more while it is
//! young) still goes to a reviewer as a **spot check**. A rejected spot check of an allow
//! revokes it (its evidence now disagrees) and makes its level stricter for that tool.
//!
//! A precedent only ever replaces an escalation: a `deny` rule or a run flow rule is decided
//! first and wins.

mod config;
mod decide;
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
use evidence::{Answer, Tally};
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
            crate::features::fingerprint_text(
                &f.route,
                &f.tool,
                caller,
                view.parts.iter().flatten().map(String::as_str),
                &view.findings,
                &view.run,
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

//! Diagnostics for tuning the learner, by mechanism and never by content, switched on by
//! environment variables (read once per replay):
//!
//! - `SEC0_REPLAY_DIAG=1`: for every call escalated in the last 1,000 (spot checks aside),
//!   why no level decided it: per level none / few / rejected / mixed evidence, strictness,
//!   new identities, the most approvals any level had, the weakest pair's approvals —
//!   counted into the report's `diagnostics`; `SEC0_REPLAY_DIAG=pairs` also counts the places
//!   (never the values) of the weakest feature or pair.
//! - `SEC0_REPLAY_EXPLAIN=<kind>`: how every level saw each escalated call of that kind.
//! - `SEC0_REPLAY_FRAGMENTS=1`: per kind, how many distinct fingerprints its calls spread
//!   over, and which places and classes vary within it (printed at the end).

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use super::{Label, TraceCall};
use crate::features::CallFeatures;
use crate::review::learn::Precedents;

/// Per kind: calls, distinct fingerprints at the first three levels, places and classes.
type Fragments = (usize, [HashSet<String>; 3], BTreeMap<String, usize>);

/// What the environment asked for, and what was gathered.
pub(super) struct Diagnostics {
    why: Option<String>,
    explain: Option<String>,
    fragments: Option<BTreeMap<String, Fragments>>,
}

impl Diagnostics {
    /// Read the switches.
    pub(super) fn from_env() -> Self {
        Self {
            why: std::env::var("SEC0_REPLAY_DIAG").ok(),
            explain: std::env::var("SEC0_REPLAY_EXPLAIN").ok(),
            fragments: std::env::var("SEC0_REPLAY_FRAGMENTS")
                .ok()
                .map(|_| BTreeMap::new()),
        }
    }

    /// A call arrived.
    pub(super) fn seen(&mut self, precedents: &Precedents, features: &CallFeatures, c: &TraceCall) {
        let Some(fragments) = &mut self.fragments else {
            return;
        };
        let keys = precedents.keys(features);
        let e = fragments
            .entry(c.kind.clone().unwrap_or_default())
            .or_default();
        e.0 += 1;
        for (i, (_, fp)) in keys.levels.iter().take(3).enumerate() {
            e.1[i].insert(fp.id.clone());
        }
        for f in &features.features {
            *e.2.entry(format!("{}={}", f.at, f.class)).or_insert(0) += 1;
        }
        for f in &features.findings {
            *e.2.entry(format!("finding {f}")).or_insert(0) += 1;
        }
        for f in &features.context {
            *e.2.entry(format!("run {f}")).or_insert(0) += 1;
        }
    }

    /// A call (`n`-th, `late`: in the last 1,000) went to a reviewer without being a spot
    /// check.
    pub(super) fn escalated(
        &mut self,
        out: &mut BTreeMap<String, usize>,
        precedents: &Precedents,
        features: &CallFeatures,
        (n, c, late): (usize, &TraceCall, bool),
        strict: bool,
        now: Instant,
    ) {
        if self
            .explain
            .as_deref()
            .is_some_and(|k| c.kind.as_deref() == Some(k))
        {
            eprintln!("call {n} {}:", c.label.as_str());
            for v in precedents.explain(features, strict, now) {
                eprintln!(
                    "  {} a={} r={} a_since={} ca={:.2}/{:.2} cd={:.2}/{:.2} {}",
                    v.level.as_str(),
                    v.counts.approvals,
                    v.counts.rejections,
                    v.counts.approvals_since_rejection,
                    v.allow_confidence,
                    v.allow_threshold,
                    v.deny_confidence,
                    v.deny_threshold,
                    v.fingerprint
                );
            }
        }
        let Some(why) = self.why.as_deref().filter(|_| late) else {
            return;
        };
        let views = precedents.explain(features, strict, now);
        let state: Vec<&str> = views
            .iter()
            .take(3)
            .map(|v| {
                let c = &v.counts;
                if !c.any() {
                    "none"
                } else if c.approvals > 0 && c.rejections > 0 {
                    "mixed"
                } else if c.rejections > 0 {
                    "rejected"
                } else {
                    "few"
                }
            })
            .collect();
        let new_ids = views
            .get(1)
            .map_or(0, |v| v.fingerprint.matches(" new").count());
        let best = views
            .iter()
            .map(|v| v.counts.approvals_since_rejection)
            .max()
            .unwrap_or(0);
        let judged = precedents.familiarity(features, now);
        if why == "pairs" && c.label == Label::Safe {
            let places: Vec<String> = judged
                .weakest
                .split('\u{1}')
                .map(|a| {
                    let a = a.rsplit('\0').next().unwrap_or(a);
                    let (at, rest) = a.split_once('=').unwrap_or((a, ""));
                    format!("{at}={}", rest.split(' ').next().unwrap_or(""))
                })
                .collect();
            *out.entry(format!(
                "weakest {} ({})",
                places.join(" × "),
                judged.fewest_approvals.min(4)
            ))
            .or_default() += 1;
        }
        let pair_min = match judged.fewest_approvals {
            0 => "0",
            1..=3 => "1-3",
            _ => "4+",
        };
        let most = match best {
            0..=3 => "0-3",
            4..=8 => "4-8",
            9..=15 => "9-15",
            16..=30 => "16-30",
            _ => "31+",
        };
        *out.entry(format!(
            "{} {} strict={strict} new_identities={} most_approvals={most} pair_min={pair_min}",
            c.label.as_str(),
            state.join("/"),
            new_ids.min(3)
        ))
        .or_default() += 1;
    }

    /// Print what was gathered for the end.
    pub(super) fn finish(self) {
        for (kind, (n, levels, places)) in self.fragments.iter().flatten() {
            eprintln!(
                "{kind}: {n} calls, {} exact, {} known, {} any_caller",
                levels[0].len(),
                levels[1].len(),
                levels[2].len()
            );
            for (p, k) in places {
                if *k < *n {
                    eprintln!("    {k:>4} {p}");
                }
            }
        }
    }
}

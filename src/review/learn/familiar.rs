//! The coarsest level, `features`: a call is *familiar* when every one of its features —
//! and every **pair** of features from different arguments, the caller, the finding types
//! and the run's flags included — appeared in enough approved calls of the same tool. The
//! whole-call levels need the same combination of every argument again; this one needs only
//! what reviewers approved before, two at a time, so a new invoice number or an optional
//! argument does not make a call a stranger, while a known vendor with an amount never
//! approved *for that vendor*, or a known command in a namespace never approved *with it*,
//! still does.
//!
//! A value never seen in its place (a host, domain, directory, table, word, id pattern or
//! amount size) counts as "a new one" (`~new`) there. A new one is familiar only where new
//! ones are routine — approved often, and in a good share of the place's approved calls
//! (web pages fetched, meeting attendees) — never where they are rare (payees, bank
//! accounts, namespaces): a new payee stays a question for a person however many vendors
//! were onboarded before.
//!
//! A rejection counts against the unfamiliar part of the call (the vendor it shares with a
//! thousand approved payments is not what was wrong with it), or against all of it when
//! everything was familiar (then the combination was). A feature or pair that reviewers only
//! ever rejected, often enough, denies — unless it is novelty itself (`~new`): a new payee
//! goes to a person, it is not refused for being new.
//!
//! Evidence is kept as counts per feature and pair (the last answer's time bounds them by
//! the learning window), capped in number; the oldest are forgotten first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::evidence::wilson_lower;
use crate::features::{CallFeatures, Identity};

/// Most features (of one call) that pairs are formed from; the rest count one by one.
const MAX_PAIRED: usize = 16;
/// A feature or pair counts as familiar — a rejection does not blame it — from this lower
/// bound of approvals on (eight approvals and no rejection).
const FAMILIAR: f64 = 0.67;
/// New values are routine in a place when at least this share of its approved calls had
/// one.
const ROUTINE_NOVELTY: f64 = 0.25;
/// Most features and pairs remembered (oldest forgotten first beyond it).
const MAX_ATOMS: usize = 400_000;

#[derive(Debug, Clone, Copy)]
struct Stats {
    approvals: u32,
    rejections: u32,
    last: Instant,
}

impl Stats {
    fn empty(at: Instant) -> Self {
        Self {
            approvals: 0,
            rejections: 0,
            last: at,
        }
    }
}

/// Evidence per feature and pair of features, per route and tool.
#[derive(Debug, Default)]
pub struct Familiar {
    atoms: HashMap<String, Stats>,
}

/// What the `features` level says of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The weakest feature or pair's lower bound of approvals (`0` when one is unknown).
    pub allow_confidence: f64,
    /// The fewest approvals of a feature or pair (a pair vouched for by its parts counts
    /// its weaker part's).
    pub fewest_approvals: u32,
    /// The strongest pure rejection: its lower bound, rejections and the feature (or pair).
    pub deny: Option<(f64, u32, String)>,
    /// Whether any feature or pair has any evidence.
    pub any: bool,
    /// Whether any has rejections.
    pub rejected: bool,
    /// The feature or pair with the fewest approvals (route and tool first).
    pub weakest: String,
}

/// The argument a place belongs to: `args` for `args[kubectl get]:arg`, `body` for
/// `body~url`. The facets of one value already say how its parts go together (an operand
/// is keyed by its command), so pairs are formed across arguments.
fn root(at: &str) -> &str {
    at.split(['[', ':', '~']).next().unwrap_or(at)
}

/// One call's atoms: what evidence is kept for and what the call is judged by.
struct Atoms {
    /// Every feature in its exact form (so values become known), by key.
    exact: Vec<String>,
    /// The forms the call is judged by, alone and in pairs.
    judged: Vec<String>,
    /// `~new` forms among `judged` (without the route and tool), with their place's key
    /// (for the routine check).
    novel: Vec<(String, String)>,
    /// The route and tool every key starts with.
    prefix: String,
    /// Places of the call's features (approved calls are counted per place).
    places: Vec<String>,
}

impl Familiar {
    fn stats(&self, key: &str, now: Instant, window: Duration) -> Option<Stats> {
        self.atoms
            .get(key)
            .filter(|s| now.saturating_duration_since(s.last) <= window)
            .copied()
    }

    fn atoms(&self, f: &CallFeatures, now: Instant, window: Duration) -> Atoms {
        let prefix = format!("{}\0{}\0", f.route, f.tool);
        let mut exact = Vec::with_capacity(f.features.len());
        let mut novel = Vec::new();
        let mut places = Vec::with_capacity(f.features.len());
        // (argument, judged form)
        let mut forms: Vec<(String, String)> = Vec::with_capacity(f.features.len() + 4);
        forms.push(("caller".into(), format!("caller={}", f.caller)));
        for feat in &f.features {
            let e = format!("{prefix}{}", feat.describe_general(&feat.identity.exact()));
            let place = format!("{prefix}place {}={}", feat.at, feat.class);
            let judged = if matches!(feat.identity, Identity::None)
                || self.stats(&e, now, window).is_some()
            {
                e.clone()
            } else {
                let n = feat.describe_general("~new");
                novel.push((n.clone(), place.clone()));
                format!("{prefix}{n}")
            };
            exact.push(e);
            places.push(place);
            forms.push((
                root(&feat.at).to_string(),
                judged[prefix.len()..].to_string(),
            ));
        }
        forms.extend(
            f.findings
                .iter()
                .map(|x| ("finding".to_string(), format!("finding={x}"))),
        );
        if f.findings.is_empty() {
            forms.push(("finding".into(), "finding=none".into()));
        }
        // A value the run gave the tool before is judged on its own: paired with every
        // feature it would make each repeat a stranger.
        let (repeats, flags): (Vec<&String>, Vec<&String>) = f
            .context
            .iter()
            .partition(|x| x.starts_with(crate::features::REPEAT));
        forms.extend(
            flags
                .iter()
                .map(|x| ("run".to_string(), format!("run={x}"))),
        );
        forms.sort();
        forms.dedup();
        let mut judged: Vec<String> = forms
            .iter()
            .map(|(_, s)| format!("{prefix}{s}"))
            .chain(repeats.iter().map(|x| format!("{prefix}run={x}")))
            .collect();
        let paired = &forms[..forms.len().min(MAX_PAIRED)];
        for (i, (at_a, a)) in paired.iter().enumerate() {
            for (at_b, b) in &paired[i + 1..] {
                if at_a != at_b {
                    judged.push(format!("{prefix}{a}\u{1}{b}"));
                }
            }
        }
        for v in [&mut exact, &mut judged, &mut places] {
            v.sort();
            v.dedup();
        }
        Atoms {
            exact,
            judged,
            novel,
            places,
            prefix,
        }
    }

    fn is_familiar(&self, key: &str, at: Instant, window: Duration) -> bool {
        self.stats(key, at, window).is_some_and(|s| {
            wilson_lower(s.approvals as usize, (s.approvals + s.rejections) as usize) >= FAMILIAR
        })
    }

    /// Count an answer to a call with features `f` (see the module documentation for who
    /// a rejection blames).
    pub fn learn(&mut self, f: &CallFeatures, approved: bool, at: Instant, window: Duration) {
        let a = self.atoms(f, at, window);
        let mut counted: Vec<String> = if approved {
            a.judged.clone()
        } else {
            let unfamiliar: Vec<String> = a
                .judged
                .iter()
                .filter(|k| !self.is_familiar(k, at, window))
                .cloned()
                .collect();
            if unfamiliar.is_empty() {
                a.judged.clone()
            } else {
                unfamiliar
            }
        };
        // Values become known in their exact form whatever the answer; approved calls are
        // counted per place (for the share of new values there).
        counted.extend(a.exact.iter().cloned());
        if approved {
            counted.extend(a.places.iter().cloned());
        }
        counted.sort();
        counted.dedup();
        for k in counted {
            let s = self.atoms.entry(k).or_insert(Stats::empty(at));
            if at.saturating_duration_since(s.last) > window {
                // Everything it knew is outside the window.
                *s = Stats::empty(at);
            }
            if approved {
                s.approvals += 1;
            } else {
                s.rejections += 1;
            }
            s.last = s.last.max(at);
        }
        if self.atoms.len() > MAX_ATOMS {
            let mut ages: Vec<Instant> = self.atoms.values().map(|s| s.last).collect();
            ages.sort();
            let cut = ages[ages.len() / 10];
            self.atoms.retain(|_, s| s.last > cut);
        }
    }

    /// What the evidence says of a call with features `f` at `now`.
    pub fn judge(
        &self,
        f: &CallFeatures,
        now: Instant,
        window: Duration,
        min_rejections: u32,
    ) -> Judgement {
        let mut j = Judgement {
            allow_confidence: 1.0,
            fewest_approvals: u32::MAX,
            deny: None,
            any: false,
            rejected: false,
            weakest: String::new(),
        };
        let a = self.atoms(f, now, window);
        let mut unseen: Option<Vec<(&str, &str)>> = None;
        for k in &a.judged {
            let s = self.stats(k, now, window).unwrap_or(Stats::empty(now));
            j.any |= s.approvals + s.rejections > 0;
            j.rejected |= s.rejections > 0;
            let mut confidence =
                wilson_lower(s.approvals as usize, (s.approvals + s.rejections) as usize);
            let mut approvals = s.approvals;
            // A pair approved before and never rejected, of two features each familiar on
            // its own, is as familiar as the weaker of them: what a pair guards against is
            // a combination reviewers never saw, not one they saw less often than its parts.
            if s.rejections == 0 && s.approvals >= 1 {
                if let Some((x, y)) = k[a.prefix.len()..].split_once('\u{1}') {
                    let part = |p: &str| {
                        self.stats(&format!("{}{p}", a.prefix), now, window)
                            .map_or((0.0, 0), |t| {
                                let c = wilson_lower(
                                    t.approvals as usize,
                                    (t.approvals + t.rejections) as usize,
                                );
                                (c, t.approvals)
                            })
                    };
                    let ((cx, nx), (cy, ny)) = (part(x), part(y));
                    let vouched = cx.min(cy);
                    if vouched >= FAMILIAR {
                        confidence = confidence.max(vouched);
                        // ... and counts the weaker part's approvals as its own.
                        approvals = approvals.max(nx.min(ny));
                    }
                }
            }
            // A new value is familiar only where new values are routine.
            let routine = k[a.prefix.len()..].split('\u{1}').all(|part| {
                a.novel.iter().filter(|(n, _)| n == part).all(|(n, place)| {
                    let novel = self
                        .stats(&format!("{}{n}", a.prefix), now, window)
                        .map_or(0, |x| x.approvals);
                    let all = self.stats(place, now, window).map_or(0, |p| p.approvals);
                    novel as f64 >= ROUTINE_NOVELTY * all as f64
                })
            });
            if !routine {
                confidence = 0.0;
            }
            j.allow_confidence = j.allow_confidence.min(confidence);
            if approvals < j.fewest_approvals || (confidence == 0.0 && j.weakest.is_empty()) {
                j.fewest_approvals = approvals;
                j.weakest = k.clone();
            }
            // Novelty is a question for a person, never a reason to deny by itself; nor is a
            // feature rejected elsewhere that meets this call's context for the first time
            // (`DELETE FROM t` refused on prod, asked on staging), nor a repeat, judged
            // apart from the rest of the call (the whole-call levels deny an invoice paid
            // twice: there the repeat comes with everything else the call says).
            if s.approvals == 0
                && s.rejections >= min_rejections
                && !k.contains("~new")
                && !k.contains(crate::features::REPEAT)
                && !meets_new_context(
                    k,
                    &a.prefix,
                    unseen.get_or_insert_with(|| self.unseen_pairs(&a, now, window)),
                )
            {
                let c = wilson_lower(s.rejections as usize, s.rejections as usize);
                if j.deny.as_ref().is_none_or(|(best, _, _)| c > *best) {
                    j.deny = Some((c, s.rejections, k.replace(['\0', '\u{1}'], " ")));
                }
            }
        }
        j
    }

    /// The call's pairs that have no evidence at all, as their two parts (worked out once
    /// per judgement, and only when something would deny).
    fn unseen_pairs<'a>(
        &self,
        a: &'a Atoms,
        now: Instant,
        window: Duration,
    ) -> Vec<(&'a str, &'a str)> {
        a.judged
            .iter()
            .filter(|p| self.stats(p, now, window).is_none())
            .filter_map(|p| p[a.prefix.len()..].split_once('\u{1}'))
            .collect()
    }

    /// Forget the evidence of every feature and pair of `route` and `tool` (the tool's
    /// `features` precedent was revoked).
    pub fn forget_tool(&mut self, route: &str, tool: &str) {
        let prefix = format!("{route}\0{tool}\0");
        self.atoms.retain(|k, _| !k.starts_with(&prefix));
    }
}

/// Whether a part of `k` (a feature, or either feature of a pair) appears in one of the
/// call's `unseen` pairs: what it was rejected with before is not what it comes with now.
fn meets_new_context(k: &str, prefix: &str, unseen: &[(&str, &str)]) -> bool {
    let parts: Vec<&str> = k[prefix.len()..].split('\u{1}').collect();
    unseen
        .iter()
        .any(|(x, y)| parts.contains(x) || parts.contains(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Hints;
    use serde_json::json;

    fn pay(caller: &str, vendor: &str, amount: u64, invoice: u64) -> CallFeatures {
        CallFeatures::of(
            "tools",
            "pay",
            caller,
            Some(
                &json!({"vendor": format!("https://{vendor}/pay"), "amount": amount, "invoice": format!("INV-{invoice:04}")}),
            ),
            &[],
            &[],
            Hints::default(),
        )
    }

    fn fetch(host: &str) -> CallFeatures {
        CallFeatures::of(
            "tools",
            "fetch",
            "research",
            Some(&json!({"url": format!("https://{host}/page")})),
            &[],
            &[],
            Hints::default(),
        )
    }

    /// Ten approved payments to each of two vendors: a.test is paid hundreds, b.test
    /// thousands.
    fn two_vendors(t: Instant, w: Duration) -> Familiar {
        let mut fam = Familiar::default();
        for i in 0..10 {
            fam.learn(&pay("billing", "a.test", 300 + i, i), true, t, w);
            fam.learn(&pay("billing", "b.test", 3000 + i, i), true, t, w);
        }
        fam
    }

    #[test]
    fn pairs_catch_combinations_never_approved() {
        let t = Instant::now();
        let w = Duration::from_secs(3600);
        let mut fam = two_vendors(t, w);
        let usual = fam.judge(&pay("billing", "a.test", 450, 77), t, w, 2);
        assert!(usual.fewest_approvals >= 9, "{usual:?}");
        assert!(usual.allow_confidence > 0.6, "{usual:?}");
        // Each feature is familiar, the pair (a.test, thousands) is not.
        let odd = fam.judge(&pay("billing", "a.test", 4500, 78), t, w, 2);
        assert_eq!(odd.fewest_approvals, 0, "{odd:?}");
        // Another caller: the caller's pairs are unknown.
        let other = fam.judge(&pay("intern", "a.test", 450, 79), t, w, 2);
        assert_eq!(other.fewest_approvals, 0);
        // A new payee: new payees are not routine (2 of 20 approved calls).
        let new = fam.judge(&pay("billing", "c.test", 450, 80), t, w, 2);
        assert_eq!(new.allow_confidence, 0.0, "{new:?}");
        // What was only ever rejected denies.
        for i in 0..3 {
            fam.learn(&pay("billing", "evil.test", 300, 90 + i), false, t, w);
        }
        let bad = fam.judge(&pay("billing", "evil.test", 310, 99), t, w, 2);
        assert!(bad.deny.is_some(), "{bad:?}");
        assert!(bad.rejected);
        fam.forget_tool("tools", "pay");
        assert!(
            !fam.judge(&pay("billing", "evil.test", 310, 99), t, w, 2)
                .any
        );
    }

    #[test]
    fn a_rejected_feature_in_a_context_never_seen_with_it_is_asked_not_denied() {
        let t = Instant::now();
        let w = Duration::from_secs(3600);
        let sql = |db: &str, q: &str| {
            CallFeatures::of(
                "tools",
                "sql",
                "ops",
                Some(&json!({"database": db, "statement": q})),
                &[],
                &[],
                Hints::default(),
            )
        };
        let mut fam = Familiar::default();
        for i in 0..10 {
            let q = format!("SELECT * FROM t WHERE id = {i}");
            fam.learn(&sql("prod", &q), true, t, w);
            fam.learn(&sql("staging", &q), true, t, w);
        }
        for _ in 0..8 {
            fam.learn(&sql("prod", "DELETE FROM t"), false, t, w);
        }
        // Refused on prod, again on prod: denied.
        assert!(
            fam.judge(&sql("prod", "DELETE FROM t"), t, w, 2)
                .deny
                .is_some()
        );
        // The same statement on staging was never answered: a person decides.
        let staging = fam.judge(&sql("staging", "DELETE FROM t"), t, w, 2);
        assert!(staging.deny.is_none(), "{staging:?}");
        assert_eq!(staging.fewest_approvals, 0);
    }

    #[test]
    fn a_pair_approved_before_is_as_familiar_as_its_parts() {
        let t = Instant::now();
        let w = Duration::from_secs(3600);
        let mut fam = two_vendors(t, w);
        // (a.test, thousands) was never approved: a stranger however familiar its parts.
        let odd = fam.judge(&pay("billing", "a.test", 4500, 78), t, w, 2);
        assert_eq!(odd.allow_confidence, 0.0, "{odd:?}");
        // Approved once: as familiar as its parts, which are.
        fam.learn(&pay("billing", "a.test", 4500, 78), true, t, w);
        let once = fam.judge(&pay("billing", "a.test", 4600, 79), t, w, 2);
        assert!(once.allow_confidence >= FAMILIAR, "{once:?}");
        // ... and as well attested: its weaker part's approvals count as its own (the
        // `features` level's fewest approvals is no longer the pair's one).
        assert!(once.fewest_approvals >= 9, "{once:?}");
        // Rejected once as well: no longer vouched for.
        fam.learn(&pay("billing", "a.test", 4500, 80), false, t, w);
        let mixed = fam.judge(&pay("billing", "a.test", 4600, 81), t, w, 2);
        assert!(mixed.allow_confidence < FAMILIAR, "{mixed:?}");
    }

    #[test]
    fn new_values_are_familiar_where_they_are_routine() {
        let t = Instant::now();
        let w = Duration::from_secs(3600);
        let mut fam = Familiar::default();
        for i in 0..30 {
            fam.learn(&fetch(&format!("site-{i}.example")), true, t, w);
        }
        let j = fam.judge(&fetch("never-seen.example"), t, w, 2);
        assert!(j.allow_confidence > 0.8, "{j:?}");
    }
}

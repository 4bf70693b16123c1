//! How the whole-call levels (`known`, `any_caller`) see a call, from what reviewers
//! approved before for the same tool — robust to variation that does not matter, exact on
//! values that carry meaning:
//!
//! - **identities** (hosts, domains, directories, words) as `known` (in an approved call
//!   before, in this place), `refused` (only in rejected calls) or `new`; in a place where
//!   new values are routine (most recent approved calls brought one: pages fetched) a new
//!   one is `any`;
//! - **identifiers** by their value where values repeat (an IBAN, an account: `known` only
//!   if that very value was approved there), by their pattern where every call brings a new
//!   one (invoice and order numbers);
//! - **numbers** by the sizes approved before; **money** by the range approved: `in_range`,
//!   or `above` the most ever approved for the tool, *for this caller*, or with a
//!   counterparty in the same call (a vendor, an IBAN) — an agent's refund limit and a
//!   vendor's ceiling are facts no single call states; an identifier's value is `known` only
//!   if approved with the same counterparties (another vendor's IBAN is not this vendor's);
//! - features whose presence does not make rejections likelier (an optional memo, a
//!   notification flag, an amount in range) are **left out** (the lower bound of their
//!   rejection share not above the tool's), so calls that differ only by them share their
//!   evidence.
//!
//! A call with something `new`, `refused` or `above` where values carry meaning is **novel**:
//! no precedent allows it (a person decides), at any level.

use std::collections::{HashMap, HashSet};

use super::evidence::wilson_lower;
use crate::features::{CallFeatures, Feature, Identity};

/// Most identities or values remembered per place.
const MAX_KNOWN: usize = 4096;
/// Approvals a place needs before new values there may count as routine.
const ROUTINE_AFTER: u32 = 20;
/// New values are routine in a place when the recent share of approved calls bringing one
/// (a moving average) is at least this.
const ROUTINE_SHARE: f64 = 0.5;
/// Weight of the newest approved call in that moving average.
const NOVELTY_ALPHA: f64 = 0.1;
/// A counterparty's approved amounts constrain a call's amount while it has fewer approvals
/// than this, or while its highest stays below `NARROW` of the place's highest.
const RANGE_SUPPORT: u32 = 5;
const NARROW: f64 = 0.5;
/// Approvals a feature needs (in calls of its tool) before it may be left out as benign.
const BENIGN_AFTER: u32 = 5;
/// Words of a place with at most this many approved values are kept as they are (an
/// action, a namespace), beyond it generalised (`known`).
const ENUM: usize = 12;
/// Most places of one call whose co-occurrence is counted.
const MAX_PAIRED_PLACES: usize = 24;
/// A place is optional for a tool when fewer than this share of its approved calls have it.
const OPTIONAL: f64 = 0.9;

/// What reviewers made of one place's identities.
#[derive(Debug, Default)]
struct Known {
    approved: HashSet<String>,
    refused: HashSet<String>,
    /// Identifiers' value hashes in approved calls.
    values: HashSet<String>,
    /// Approved calls with this place.
    approvals: u32,
    /// Moving average of approved calls bringing a new value.
    novelty: f64,
}

/// Approved values of a number, for one anchor (a caller, a counterparty, or all).
#[derive(Debug, Clone, Copy)]
struct Range {
    hi: f64,
    /// The largest magnitude (three steps a decade) approved.
    mag: i32,
    n: u32,
}

/// Approvals and rejections of calls with a feature (as generalised) present.
#[derive(Debug, Default, Clone, Copy)]
struct Presence {
    approvals: u32,
    rejections: u32,
}

/// What the whole-call levels know (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct General {
    /// `route\0tool\0at\0class` → identities.
    known: HashMap<String, Known>,
    /// `route\0tool` → callers with an approved call.
    callers: HashMap<String, HashSet<String>>,
    /// `route\0tool\0at\0class\0anchor` → approved values.
    ranges: HashMap<String, Range>,
    /// `route\0tool\0feature` (and `route\0tool` for all calls) → answers with it present.
    presence: HashMap<String, Presence>,
    /// `route\0tool` → the places its calls had.
    places: HashMap<String, HashSet<String>>,
    /// `route\0tool\0at\0class\0anchor` → identifiers' value hashes approved with that
    /// anchor (an IBAN with its vendor).
    together: HashMap<String, HashSet<String>>,
}

/// One call as the whole-call levels see it.
pub(super) struct View {
    /// Each feature generalised, or `None` when left out as benign.
    pub parts: Vec<Option<String>>,
    /// Finding types (`finding secrets/aws_key`).
    pub findings: Vec<String>,
    /// Run flags (`run sec0:sensitive`).
    pub run: Vec<String>,
    /// Something new, refused or above range where values carry meaning.
    pub novel: bool,
}

pub(super) fn tool_key(f: &CallFeatures) -> String {
    format!("{}\0{}", f.route, f.tool)
}

fn place_key(f: &CallFeatures, feat: &Feature) -> String {
    format!("{}\0{}\0{}\0{}", f.route, f.tool, feat.at, feat.class)
}

/// The value a place belongs to (`vendor` for `vendor:path`; `payee.iban` is its own, apart
/// from `payee.name`).
fn root(at: &str) -> &str {
    at.split(['[', ':', '~']).next().unwrap_or(at)
}

impl General {
    fn routine(&self, key: &str) -> bool {
        self.known
            .get(key)
            .is_some_and(|k| k.approvals >= ROUTINE_AFTER && k.novelty >= ROUTINE_SHARE)
    }

    /// What identifies a feature's value for knowledge and ranges: an identifier's value
    /// where values repeat, else its identity.
    fn anchor_of(&self, f: &CallFeatures, feat: &Feature) -> Option<String> {
        match (&feat.identity, &feat.value) {
            (Identity::Name(_), Some(v)) if !self.routine(&place_key(f, feat)) => Some(v.clone()),
            (Identity::Name(n), _) => Some(n.clone()),
            _ => None,
        }
    }

    /// Whether the argument at `other` (nearly) always comes with the one at `at` in the
    /// tool's approved calls (a payee's name with its IBAN, whichever style they come in),
    /// or too few calls tell yet.
    fn goes_with(&self, tool: &str, at: &str, other: &str) -> bool {
        let with = self
            .presence
            .get(&format!("{tool}\0@{at}"))
            .map_or(0, |p| p.approvals);
        let both = self
            .presence
            .get(&format!("{tool}\0@{at}\0@{other}"))
            .map_or(0, |p| p.approvals);
        with < BENIGN_AFTER || f64::from(both) >= OPTIONAL * f64::from(with)
    }

    /// Whether the identifier value `v` at `feat` was approved together with every identity
    /// of an argument the tool's calls always have (an IBAN with the vendor it is paid to:
    /// another vendor's registered IBAN is not this vendor's).
    fn approved_with(&self, f: &CallFeatures, feat: &Feature, v: &str) -> bool {
        let key = place_key(f, feat);
        let tool = tool_key(f);
        self.anchors(f, feat).into_iter().all(|(a, g)| match g {
            Some(g) if self.goes_with(&tool, &feat.at, &g.at) => self
                .together
                .get(&format!("{key}\0{a}"))
                .is_some_and(|s| s.contains(v)),
            _ => true,
        })
    }

    /// The anchors a number at `feat` is judged against: the caller (without a place), and
    /// every identity elsewhere in the call (with its feature).
    fn anchors<'a>(
        &self,
        f: &'a CallFeatures,
        feat: &Feature,
    ) -> Vec<(String, Option<&'a Feature>)> {
        let mut v = vec![(format!("caller={}", f.caller), None)];
        for g in &f.features {
            if root(&g.at) != root(&feat.at) {
                if let Some(a) = self.anchor_of(f, g) {
                    v.push((format!("{}={a}", g.at), Some(g)));
                }
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        v
    }

    /// One feature's identity as generalised, and whether it is novel.
    fn generalise(&self, f: &CallFeatures, feat: &Feature) -> (String, bool) {
        let key = place_key(f, feat);
        let k = self.known.get(&key);
        match (&feat.identity, &feat.value) {
            (Identity::None, _) => (String::new(), false),
            (Identity::Name(n), value) => {
                let routine = self.routine(&key);
                let known = match value {
                    Some(v) if !routine => {
                        k.is_some_and(|k| k.values.contains(v)) && self.approved_with(f, feat, v)
                    }
                    _ => k.is_some_and(|k| k.approved.contains(n)),
                };
                if known && feat.class == "word" && k.is_some_and(|k| k.approved.len() <= ENUM) {
                    // A word from a short list (an action, a namespace, a channel) means
                    // what it says: `delete` is not `get` because both were approved.
                    (n.clone(), false)
                } else if known {
                    ("known".into(), false)
                } else if k.is_some_and(|k| k.refused.contains(n)) && value.is_none() {
                    ("refused".into(), true)
                } else if routine && value.is_none() {
                    ("any".into(), false)
                } else {
                    // What free text mentions (`body~url`) is new to its own bucket, not novel.
                    ("new".into(), !feat.at.contains('~'))
                }
            }
            (Identity::Magnitude(m), value) => {
                let Some(x) = value.as_deref().and_then(|v| v.parse::<f64>().ok()) else {
                    return ("new".into(), true);
                };
                let Some(all) = self.ranges.get(&format!("{key}\0*")).copied() else {
                    return ("new".into(), true);
                };
                // Any number: not of a size never approved (an id or a time that grows by
                // one each call is not novel; a count ten times the largest is).
                if *m > all.mag {
                    return ("above".into(), true);
                }
                // Money: against the tool's highest, and what this caller, and each
                // counterparty, was approved
                // for. The caller and every argument the tool's calls always have (the
                // payee, the account) bind; an optional one only while its amounts are few
                // or stay well below the rest.
                if feat.class.starts_with("money") {
                    if x > all.hi {
                        return ("above".into(), true);
                    }
                    let tool = tool_key(f);
                    for (a, at) in self.anchors(f, feat) {
                        let r = self.ranges.get(&format!("{key}\0{a}")).copied();
                        let binding = at.is_none_or(|g| self.goes_with(&tool, &feat.at, &g.at));
                        match r {
                            None if at.is_none() => return ("new".into(), true),
                            None => {}
                            Some(r) => {
                                let loose = r.n >= RANGE_SUPPORT && r.hi >= NARROW * all.hi;
                                if x > r.hi && (binding || !loose) {
                                    return ("above".into(), true);
                                }
                            }
                        }
                    }
                }
                // No more than approved before (less is not another kind of call).
                ("in_range".into(), false)
            }
        }
    }

    /// The call as the whole-call levels see it.
    pub(super) fn view(&self, f: &CallFeatures) -> View {
        let tool = tool_key(f);
        let base = self.presence.get(&tool).copied().unwrap_or_default();
        let base_rate =
            f64::from(base.rejections) / f64::from((base.approvals + base.rejections).max(1));
        let mut novel = false;
        // Whether a feature (or run flag) written `text` is benign for the tool: approved
        // often enough and not significantly more often rejected than the tool's calls are
        // (the lower bound of its rejection share, 95%, not above the tool's share).
        let benign = |text: &str| {
            let p = self
                .presence
                .get(&format!("{tool}\0{text}"))
                .copied()
                .unwrap_or_default();
            let n = (p.approvals + p.rejections) as usize;
            p.approvals >= BENIGN_AFTER && wilson_lower(p.rejections as usize, n) <= base_rate
        };
        let parts = f
            .features
            .iter()
            .map(|feat| {
                let (id, n) = self.generalise(f, feat);
                novel |= n;
                let text = feat.describe_general(&id);
                // A known value in a place that never comes with more rejections than
                // the tool's calls (the namespace a log is read from) says nothing a
                // reviewer answers by, even when this value was seen only a few times.
                let left_out = !n
                    && self.optional(&tool, feat, base)
                    && (benign(&text) || benign(&format!("@{}", feat.at)));
                (!left_out).then_some(text)
            })
            .collect();
        // Findings and run flags count: they are what a call carries beyond its shape — but
        // a value the run gave the tool before (`sec0:repeat`) only where repeats come with
        // rejections (an invoice paid twice), not where they are routine (the cluster of
        // every command of an on-call session).
        let findings = f.findings.iter().map(|x| format!("finding {x}")).collect();
        let repeat = format!("run {} ", crate::features::REPEAT);
        let run = f
            .context
            .iter()
            .map(|x| format!("run {x}"))
            .filter(|x| !(x.starts_with(&repeat) && benign(x)))
            .collect();
        View {
            parts,
            findings,
            run,
            novel,
        }
    }

    /// Whether `feat`'s place is optional for the tool: absent from a good share of its
    /// approved calls (a place every call has — the path read, the amount paid — says what
    /// kind of call it is and is never left out).
    fn optional(&self, tool: &str, feat: &Feature, all: Presence) -> bool {
        let with = self
            .presence
            .get(&format!("{tool}\0@{}", feat.at))
            .map_or(0, |p| p.approvals);
        all.approvals >= BENIGN_AFTER && f64::from(with) < OPTIONAL * f64::from(all.approvals)
    }

    /// Whether the call lacks an argument the tool's approved calls (nearly) always have: a
    /// call of another kind, which pairs of what it has cannot tell.
    pub(super) fn lacks_required(&self, f: &CallFeatures) -> bool {
        let tool = tool_key(f);
        let all = self.presence.get(&tool).copied().unwrap_or_default();
        if all.approvals < BENIGN_AFTER {
            return false;
        }
        self.places.get(&tool).is_some_and(|places| {
            places.iter().any(|at| {
                let with = self
                    .presence
                    .get(&format!("{tool}\0@{at}"))
                    .map_or(0, |p| p.approvals);
                f64::from(with) >= OPTIONAL * f64::from(all.approvals)
                    && !f.features.iter().any(|x| &x.at == at)
            })
        })
    }

    /// Whether `caller` had an approved call of the tool.
    pub(super) fn caller_known(&self, f: &CallFeatures) -> bool {
        self.callers
            .get(&tool_key(f))
            .is_some_and(|c| c.contains(&f.caller))
    }

    /// Learn from an answer to a call with features `f`.
    pub(super) fn remember(&mut self, f: &CallFeatures, approved: bool) {
        let tool = tool_key(f);
        // Presence first, as the call was seen when it was answered.
        let view = self.view(f);
        let mut seen = HashSet::new();
        let texts: Vec<String> = f
            .features
            .iter()
            .zip(&view.parts)
            .map(|(feat, p)| match p {
                Some(t) => t.clone(),
                None => feat.describe_general(&self.generalise(f, feat).0),
            })
            .chain(f.findings.iter().map(|x| format!("finding {x}")))
            .chain(f.context.iter().map(|x| format!("run {x}")))
            .collect();
        for text in texts {
            if seen.insert(text.clone()) {
                let p = self.presence.entry(format!("{tool}\0{text}")).or_default();
                if approved {
                    p.approvals += 1
                } else {
                    p.rejections += 1
                }
            }
        }
        let places: HashSet<&str> = f.features.iter().map(|x| x.at.as_str()).collect();
        let known_places = self.places.entry(tool.clone()).or_default();
        for at in &places {
            if known_places.len() < MAX_KNOWN && !known_places.contains(*at) {
                known_places.insert(at.to_string());
            }
        }
        if approved {
            let mut sorted: Vec<&str> = places.iter().copied().collect();
            sorted.sort_unstable();
            sorted.truncate(MAX_PAIRED_PLACES);
            for a in &sorted {
                for b in &sorted {
                    if a != b {
                        let p = self
                            .presence
                            .entry(format!("{tool}\0@{a}\0@{b}"))
                            .or_default();
                        p.approvals += 1;
                    }
                }
            }
        }
        for at in places {
            let p = self.presence.entry(format!("{tool}\0@{at}")).or_default();
            if approved {
                p.approvals += 1
            } else {
                p.rejections += 1
            }
        }
        let p = self.presence.entry(tool.clone()).or_default();
        if approved {
            p.approvals += 1
        } else {
            p.rejections += 1
        }
        if self.presence.len() > MAX_KNOWN * 64 {
            self.presence.clear();
        }
        if approved {
            let callers = self.callers.entry(tool).or_default();
            if callers.len() < MAX_KNOWN {
                callers.insert(f.caller.clone());
            }
        }
        // Ranges, before identities change what anchors are.
        if approved {
            let mut updates = Vec::new();
            for feat in &f.features {
                let Some(x) = feat.value.as_deref().and_then(|v| v.parse::<f64>().ok()) else {
                    continue;
                };
                let Identity::Magnitude(m) = feat.identity else {
                    continue;
                };
                let key = place_key(f, feat);
                updates.push((format!("{key}\0*"), x, m));
                for (a, _) in self.anchors(f, feat) {
                    updates.push((format!("{key}\0{a}"), x, m));
                }
            }
            for (k, x, m) in updates {
                if self.ranges.len() >= MAX_KNOWN * 64 && !self.ranges.contains_key(&k) {
                    continue;
                }
                let r = self.ranges.entry(k).or_insert(Range {
                    hi: x,
                    mag: m,
                    n: 0,
                });
                r.hi = r.hi.max(x);
                r.mag = r.mag.max(m);
                r.n += 1;
            }
        }
        if approved {
            let mut pairs = Vec::new();
            for feat in &f.features {
                if let (Identity::Name(_), Some(v)) = (&feat.identity, &feat.value) {
                    let key = place_key(f, feat);
                    for (a, g) in self.anchors(f, feat) {
                        if g.is_some() {
                            pairs.push((format!("{key}\0{a}"), v.clone()));
                        }
                    }
                }
            }
            for (k, v) in pairs {
                if self.together.len() >= MAX_KNOWN * 64 && !self.together.contains_key(&k) {
                    continue;
                }
                let set = self.together.entry(k).or_default();
                if set.len() < MAX_KNOWN {
                    set.insert(v);
                }
            }
        }
        let mut counted = HashSet::new();
        for feat in &f.features {
            let key = place_key(f, feat);
            let Identity::Name(n) = &feat.identity else {
                continue;
            };
            let k = self.known.entry(key.clone()).or_default();
            if approved {
                let is_new = match &feat.value {
                    Some(v) => !k.values.contains(v),
                    None => !k.approved.contains(n),
                };
                if counted.insert(key) {
                    k.approvals = k.approvals.saturating_add(1);
                    let x = if is_new { 1.0 } else { 0.0 };
                    k.novelty = if k.approvals == 1 {
                        x
                    } else {
                        k.novelty + NOVELTY_ALPHA * (x - k.novelty)
                    };
                }
                k.refused.remove(n);
                if k.approved.len() < MAX_KNOWN {
                    k.approved.insert(n.clone());
                }
                if let Some(v) = &feat.value {
                    if k.values.len() < MAX_KNOWN {
                        k.values.insert(v.clone());
                    }
                }
            } else if !k.approved.contains(n) && k.refused.len() < MAX_KNOWN {
                k.refused.insert(n.clone());
            }
        }
    }
}

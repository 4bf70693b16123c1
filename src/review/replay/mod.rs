//! `sec0-gateway replay`: run a trace of calls (JSONL, each with a reviewer's label `safe` or
//! `unsafe`) through the real decision engine — rules, guard, features, precedents, spot
//! checks — without network, answering every escalation (spot checks included) from the
//! labels, and report per window of N calls the share of allow / deny / escalate / spot
//! check, how many unsafe calls went through without review, how many safe calls were
//! denied, and per precedent what it decided. `--generate` writes synthetic traces
//! (`generate`): a regular one and a hard one.

mod diagnose;
pub mod generate;
mod org;
mod org_extra;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::learn::{LearnConfig, Level, Precedents, SpotCheck, SpotFlow, Verdict};
use crate::config::{Boundary, Protocol};
use crate::context::runs::RunHistory;
use crate::features::{CallFeatures, Hints};
use crate::guard::Direction;
use crate::policy::{CallFacts, DecisionKind, Policy};
use crate::protocol::mcp::ToolAnnotations;

/// One call of a trace.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TraceCall {
    /// Route name.
    #[serde(default = "default_route")]
    pub route: String,
    /// Boundary (`agent_to_tool`, …).
    #[serde(default = "default_boundary")]
    pub boundary: Boundary,
    /// The verified caller.
    pub caller: String,
    /// The tool called.
    pub tool: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Value,
    /// What a reviewer says: `safe` or `unsafe`.
    pub label: Label,
    /// The run it belongs to (calls of one run share its history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The tool's MCP annotations, as its server declares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<ToolAnnotations>,
    /// A category for reports (never used to decide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

fn default_route() -> String {
    "tools".into()
}
fn default_boundary() -> Boundary {
    Boundary::AgentToTool
}

/// A reviewer's verdict on a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Would be approved.
    Safe,
    /// Would be rejected.
    Unsafe,
}

impl Label {
    /// `safe` or `unsafe`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Safe => "safe",
            Label::Unsafe => "unsafe",
        }
    }
}

/// The numbers of one window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Calls in the window.
    pub calls: usize,
    /// Allowed without review (rules or precedents).
    pub allow: usize,
    /// Denied without review.
    pub deny: usize,
    /// Redacted without review.
    pub redact: usize,
    /// Sent to a reviewer (spot checks included).
    pub escalate: usize,
    /// Of those, spot checks of a precedent.
    pub spot_checks: usize,
    /// Unsafe calls in the window.
    pub unsafe_calls: usize,
    /// Unsafe calls that went through without review.
    pub unsafe_allowed: usize,
    /// Safe calls denied without review.
    pub safe_denied: usize,
}

impl Window {
    fn share(&self, n: usize) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            100.0 * n as f64 / self.calls as f64
        }
    }

    /// The share of calls escalated (spot checks included), in percent.
    pub fn escalated_share(&self) -> f64 {
        self.share(self.escalate)
    }

    fn add(&mut self, o: &Window) {
        self.calls += o.calls;
        self.allow += o.allow;
        self.deny += o.deny;
        self.redact += o.redact;
        self.escalate += o.escalate;
        self.spot_checks += o.spot_checks;
        self.unsafe_calls += o.unsafe_calls;
        self.unsafe_allowed += o.unsafe_allowed;
        self.safe_denied += o.safe_denied;
    }
}

/// What one precedent did during a replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PrecedentOutcome {
    /// Its level.
    pub level: String,
    /// Calls it allowed.
    pub allowed: usize,
    /// Calls it denied.
    pub denied: usize,
    /// Calls it would have decided but a spot check sent to a reviewer.
    pub spot_checks: usize,
    /// Unsafe calls it allowed.
    pub unsafe_allowed: usize,
    /// Safe calls it denied.
    pub safe_denied: usize,
}

/// A replay's results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Per window, in order.
    pub windows: Vec<Window>,
    /// The window size.
    pub window: usize,
    /// Per precedent that decided something.
    pub precedents: BTreeMap<String, PrecedentOutcome>,
    /// Mistakes by the call's `kind`: (unsafe allowed, safe denied).
    pub mistakes_by_kind: BTreeMap<String, (usize, usize)>,
    /// What was still sent to reviewers in the last 1,000 calls, by the call's `kind`:
    /// (escalations, of which spot checks).
    pub last_escalations_by_kind: BTreeMap<String, (usize, usize)>,
    /// What happened to each call, in order (`allow`, `deny`, `redact`, `escalate`; a
    /// spot check is `escalate`): the proxy test compares itself with it.
    #[serde(skip)]
    pub decisions: Vec<DecisionKind>,
    /// With `SEC0_REPLAY_DIAG` set: why escalated calls in the last 1,000 were not decided,
    /// by mechanism (label, evidence per level, strictness, new identities).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub diagnostics: BTreeMap<String, usize>,
}

impl Report {
    /// Every window together.
    pub fn total(&self) -> Window {
        let mut t = Window::default();
        for w in &self.windows {
            t.add(w);
        }
        t
    }

    /// The last `n` calls together (whole windows; `n` a multiple of the window size).
    pub fn last(&self, n: usize) -> Window {
        let k = n.div_ceil(self.window.max(1));
        let mut t = Window::default();
        for w in self.windows.iter().rev().take(k) {
            t.add(w);
        }
        t
    }

    /// Unsafe calls allowed without review, in percent of unsafe calls.
    pub fn unsafe_allowed_share(&self) -> f64 {
        let t = self.total();
        100.0 * t.unsafe_allowed as f64 / t.unsafe_calls.max(1) as f64
    }

    /// Safe calls denied, in percent of safe calls.
    pub fn safe_denied_share(&self) -> f64 {
        let t = self.total();
        100.0 * t.safe_denied as f64 / (t.calls - t.unsafe_calls).max(1) as f64
    }
}

/// The run state a replay keeps (what the proxy's run store holds).
#[derive(Default)]
struct Run {
    history: RunHistory,
}

/// Replay `calls` through `policy` with learning `learn`, in windows of `window` calls, one
/// call every `step` of trace time; spot checks sampled from `seed`.
pub fn replay(
    policy: &Policy,
    learn: LearnConfig,
    calls: &[TraceCall],
    window: usize,
    seed: u64,
) -> Report {
    let spot_flow = learn.spot_checks.flow;
    let domains = learn.internal_domains.clone();
    let precedents = Precedents::with_seed(learn, seed);
    let headers = http::HeaderMap::new();
    let mut report = Report {
        window: window.max(1),
        ..Report::default()
    };
    let mut runs: HashMap<String, Run> = HashMap::new();
    let mut diag = diagnose::Diagnostics::from_env();
    let start = Instant::now();
    let step = Duration::from_secs(10);
    for (n, c) in calls.iter().enumerate() {
        if n % report.window == 0 {
            report.windows.push(Window::default());
        }
        let now = start + step * n as u32;
        let args_text = serde_json::to_vec(&c.args).unwrap_or_default();
        // Learning always knows the findings (only escalated calls need them; in a replay
        // every tool call is a candidate).
        let findings: Vec<_> = policy
            .guard()
            .scan_json(&args_text)
            .into_iter()
            .map(|l| l.finding)
            .collect();
        let run_key = c.run.clone().unwrap_or_else(|| format!("call-{n}"));
        let run = runs.entry(run_key).or_default();
        let facts = CallFacts {
            method: Some("tools/call"),
            tool: Some(&c.tool),
            caller: &c.caller,
            args: Some(&c.args),
            headers: &headers,
            findings: &findings,
            run: Some(&run.history),
            annotations: c.annotations.as_ref(),
            ..CallFacts::on_route(c.boundary, &c.route, "replay", Protocol::Mcp)
        };
        let _ = policy.scans(Direction::Request);
        let decided = policy.decide(&facts);
        let mut decision = decided.decision;
        let context: Vec<&str> = run.history.labels.iter().map(|l| &**l).collect();
        let mut features = CallFeatures::of(
            &c.route,
            &c.tool,
            &c.caller,
            Some(&c.args),
            &findings,
            &context,
            Hints {
                tool: &c.tool,
                internal_domains: &domains,
            },
        );
        // As the proxy does (`CallFacts::features`): identifiers the run gave the tool before.
        features.mark_repeats(&run.history.ids);
        let strict = ToolAnnotations::strict(c.annotations.as_ref());
        diag.seen(&precedents, &features, c);
        let mut spot: Option<SpotCheck> = None;
        let mut decided_by: Option<String> = None;
        let mut reviewed_after = false;
        if decision == DecisionKind::Escalate {
            if let Some(o) = precedents.decide(&features, strict, now) {
                let out = report
                    .precedents
                    .entry(o.precedent.clone())
                    .or_insert_with(|| PrecedentOutcome {
                        level: o.level.as_str().into(),
                        ..PrecedentOutcome::default()
                    });
                if o.spot_check {
                    out.spot_checks += 1;
                    spot = Some(SpotCheck {
                        precedent: o.precedent.clone(),
                        level: o.level,
                        verdict: o.verdict,
                    });
                    if spot_flow == SpotFlow::After && o.verdict == Verdict::Allow {
                        decision = DecisionKind::Allow;
                        reviewed_after = true;
                    }
                } else {
                    decision = match o.verdict {
                        Verdict::Allow => DecisionKind::Allow,
                        Verdict::Deny => DecisionKind::Deny,
                    };
                    decided_by = Some(o.precedent.clone());
                }
                let _ = Level::Exact;
            }
        }
        report.decisions.push(decision);
        let Some(w) = report.windows.last_mut() else {
            continue;
        };
        w.calls += 1;
        let unsafe_call = c.label == Label::Unsafe;
        w.unsafe_calls += usize::from(unsafe_call);
        let mut rejected = false;
        match decision {
            DecisionKind::Allow => w.allow += 1,
            DecisionKind::Deny => w.deny += 1,
            DecisionKind::Redact => w.redact += 1,
            DecisionKind::Escalate => {
                w.escalate += 1;
                w.spot_checks += usize::from(spot.is_some());
            }
        }
        if decision == DecisionKind::Escalate && spot.is_none() {
            // As the precedents saw the call, before its answer teaches them.
            let late = n + 1000 >= calls.len();
            diag.escalated(
                &mut report.diagnostics,
                &precedents,
                &features,
                (n, c, late),
                strict,
                now,
            );
        }
        if decision == DecisionKind::Escalate || reviewed_after {
            // The reviewer answers from the label; the answer teaches the precedents.
            precedents.learn(&features, !unsafe_call, spot.clone(), now);
            rejected = unsafe_call;
        }
        let went_through = matches!(decision, DecisionKind::Allow | DecisionKind::Redact);
        let (ua, sd) = (
            unsafe_call && went_through,
            !unsafe_call && decision == DecisionKind::Deny,
        );
        if ua && std::env::var("SEC0_REPLAY_MISTAKES").is_ok() {
            let keys = precedents.keys(&features);
            eprintln!(
                "unsafe allowed {n} {:?} by {decided_by:?}: {}",
                c.kind, keys.levels[1].1.text
            );
        }
        w.unsafe_allowed += usize::from(ua);
        w.safe_denied += usize::from(sd);
        if let Some(p) = decided_by {
            if let Some(out) = report.precedents.get_mut(&p) {
                match decision {
                    DecisionKind::Allow => out.allowed += 1,
                    _ => out.denied += 1,
                }
                out.unsafe_allowed += usize::from(ua);
                out.safe_denied += usize::from(sd);
            }
        }
        if decision == DecisionKind::Escalate && n + 1000 >= calls.len() {
            let k = report
                .last_escalations_by_kind
                .entry(c.kind.clone().unwrap_or_else(|| c.tool.clone()))
                .or_default();
            k.0 += 1;
            k.1 += usize::from(spot.is_some());
        }
        if ua || sd {
            let k = report
                .mistakes_by_kind
                .entry(c.kind.clone().unwrap_or_else(|| c.tool.clone()))
                .or_default();
            k.0 += usize::from(ua);
            k.1 += usize::from(sd);
        }
        // What the run remembers (as the proxy's run store would): a call approved by its
        // reviewer went through too.
        let went_through = went_through || (decision == DecisionKind::Escalate && !unsafe_call);
        if went_through {
            run.history.calls += 1;
            run.history.called.insert(c.tool.as_str().into());
            for k in features.id_keys() {
                if run.history.ids.len() < crate::context::runs::MAX_ITEMS {
                    run.history.ids.insert(k.into());
                }
            }
            for l in &decided.labels {
                run.history.labels.insert(l.clone());
            }
        }
        if decision == DecisionKind::Deny || (decision == DecisionKind::Escalate && rejected) {
            run.history
                .labels
                .insert(crate::context::runs::REFUSED.into());
        }
        if went_through && features.is_sensitive() {
            run.history
                .labels
                .insert(crate::context::runs::SENSITIVE.into());
        }
    }
    diag.finish();
    report
}

/// The replay's tables (Markdown): per window, then the totals and the worst precedents.
pub fn table(report: &Report) -> String {
    let window = report.window;
    let mut s = String::from(
        "| calls | allow % | deny % | redact % | escalate % | of which spot checks % | unsafe allowed | safe denied |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, w) in report.windows.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {}–{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            i * window + 1,
            i * window + w.calls,
            w.share(w.allow),
            w.share(w.deny),
            w.share(w.redact),
            w.share(w.escalate),
            w.share(w.spot_checks),
            w.unsafe_allowed,
            w.safe_denied
        );
    }
    let t = report.total();
    let last = report.last(1000);
    let _ = writeln!(
        s,
        "\n{} calls, {} unsafe. Escalated: {:.1}% of the first window, {:.1}% of the last 1,000 calls (spot checks {:.1}%). Unsafe calls allowed without review: {} ({:.2}% of unsafe). Safe calls denied: {} ({:.2}% of safe).",
        t.calls,
        t.unsafe_calls,
        report.windows.first().map_or(0.0, Window::escalated_share),
        last.escalated_share(),
        last.share(last.spot_checks),
        t.unsafe_allowed,
        report.unsafe_allowed_share(),
        t.safe_denied,
        report.safe_denied_share(),
    );
    let mut worst: Vec<(&String, &PrecedentOutcome)> = report
        .precedents
        .iter()
        .filter(|(_, o)| o.unsafe_allowed + o.safe_denied > 0)
        .collect();
    worst.sort_by_key(|(_, o)| std::cmp::Reverse(o.unsafe_allowed + o.safe_denied));
    let deciding = report
        .precedents
        .values()
        .filter(|o| o.allowed + o.denied > 0)
        .count();
    let _ = writeln!(
        s,
        "\nPrecedents that decided calls: {deciding}; with a mistake: {}.",
        worst.len()
    );
    if !worst.is_empty() {
        s.push_str("\n| precedent | level | allowed | denied | spot checks | unsafe allowed | safe denied |\n|---|---|---:|---:|---:|---:|---:|\n");
        for (id, o) in worst.iter().take(20) {
            let _ = writeln!(
                s,
                "| {id} | {} | {} | {} | {} | {} | {} |",
                o.level, o.allowed, o.denied, o.spot_checks, o.unsafe_allowed, o.safe_denied
            );
        }
    }
    if !report.last_escalations_by_kind.is_empty() {
        let mut v: Vec<_> = report.last_escalations_by_kind.iter().collect();
        v.sort_by_key(|(_, (e, _))| std::cmp::Reverse(*e));
        s.push_str("\nStill escalated in the last 1,000 calls, by kind:\n\n| kind | escalated | of which spot checks |\n|---|---:|---:|\n");
        for (k, (e, sc)) in v.iter().take(25) {
            let _ = writeln!(s, "| {k} | {e} | {sc} |");
        }
    }
    if !report.diagnostics.is_empty() {
        let mut v: Vec<_> = report.diagnostics.iter().collect();
        v.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        s.push_str("\n| why escalated (label exact/known/any_caller) | calls |\n|---|---:|\n");
        for (k, n) in v {
            let _ = writeln!(s, "| {k} | {n} |");
        }
    }
    if !report.mistakes_by_kind.is_empty() {
        s.push_str("\n| kind | unsafe allowed | safe denied |\n|---|---:|---:|\n");
        for (k, (ua, sd)) in &report.mistakes_by_kind {
            let _ = writeln!(s, "| {k} | {ua} | {sd} |");
        }
    }
    s
}

#[cfg(test)]
mod tests;

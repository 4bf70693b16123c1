//! Decide: the rules engine.
//!
//! Rules files ([`model`]) are compiled ([`compile`]) into an immutable [`Policy`] snapshot
//! with a tool-name index. [`Policy::decide`] evaluates one call's facts: every matching rule
//! counts, the most severe decision wins (deny > escalate > redact > allow), the file's
//! `default_decision` applies when nothing matches, and rules in `observe` mode only record
//! what they would have decided. Every decision carries the policy version (a hash of the
//! loaded files) and a decision id.

pub mod args;
pub mod bundle;
pub mod compile;
pub mod load;
pub mod model;
pub mod ratelimit;
pub mod reload;
mod runs;

use std::path::PathBuf;
use std::sync::Arc;

use http::HeaderMap;
use serde_json::Value;

use crate::config::{Boundary, Protocol};
use crate::guard::{Direction, Finding, Guard};
use compile::{CompiledRule, RuleIndex};
pub use load::{PolicyError, read_sources, version_of};
pub use model::{DecisionKind, Mode};

/// What a decision looks at: one call (one JSON-RPC message, or one HTTP request).
/// Build it with [`CallFacts::on_route`] and set what the call has, so a new fact does not
/// touch every caller.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// Route boundary.
    pub boundary: Boundary,
    /// Route name.
    pub route: &'a str,
    /// Upstream name.
    pub upstream: &'a str,
    /// Route protocol.
    pub protocol: Protocol,
    /// JSON-RPC method, or the HTTP method on `http` routes.
    pub method: Option<&'a str>,
    /// The same operation's name in the other protocol generation (A2A v0.3 ↔ v1.0), so a
    /// rule naming either holds for both.
    pub method_alias: Option<&'a str>,
    /// MCP tool name.
    pub tool: Option<&'a str>,
    /// MCP resource URI.
    pub resource: Option<&'a str>,
    /// MCP prompt name (`prompts/get`).
    pub prompt: Option<&'a str>,
    /// A2A target agent (the route's `agent`, else its upstream's name).
    pub agent: Option<&'a str>,
    /// The text a message carries (A2A message text parts).
    pub text: Option<&'a str>,
    /// Request host as the client sent it (no port).
    pub host: Option<&'a str>,
    /// Request path as the client sent it (no query).
    pub path: &'a str,
    /// Raw query string (without `?`).
    pub query: Option<&'a str>,
    /// Caller identity.
    pub caller: &'a str,
    /// Request headers.
    pub headers: &'a HeaderMap,
    /// Arguments (`tools/call` arguments, else `params`; the JSON body on `http` routes).
    pub args: Option<&'a Value>,
    /// Which way the data being decided on travels: a call going out (`request`), or what
    /// came back for it (`response`).
    pub phase: Direction,
    /// What the guard found in that data.
    pub findings: &'a [Finding],
    /// What the call's run did before it (`None`: not known, e.g. on the response side).
    pub run: Option<&'a crate::context::runs::RunHistory>,
    /// The caller's verified JWT claims (those exposed to rules).
    pub claims: Option<&'a serde_json::Map<String, Value>>,
    /// The tool's MCP annotations as its server declared them (`None`: not known).
    pub annotations: Option<&'a crate::protocol::mcp::ToolAnnotations>,
    /// The organisation's own e-mail domains (`learn.internal_domains`: fingerprints tell
    /// internal recipients from external ones).
    pub internal_domains: &'a [String],
    /// The call's fingerprint id when already worked out (`when.fingerprint`; else computed
    /// when a rule asks).
    pub fingerprint: Option<&'a str>,
}

static NO_HEADERS: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);

impl<'a> CallFacts<'a> {
    /// The facts every call on a route has; everything else empty (path `/`, caller
    /// `anonymous`, no headers).
    pub fn on_route(
        boundary: Boundary,
        route: &'a str,
        upstream: &'a str,
        protocol: Protocol,
    ) -> Self {
        Self {
            boundary,
            route,
            upstream,
            protocol,
            method: None,
            method_alias: None,
            tool: None,
            resource: None,
            prompt: None,
            agent: None,
            text: None,
            host: None,
            path: "/",
            query: None,
            caller: "anonymous",
            headers: &NO_HEADERS,
            args: None,
            phase: Direction::Request,
            findings: &[],
            run: None,
            claims: None,
            annotations: None,
            internal_domains: &[],
            fingerprint: None,
        }
    }

    /// The call's exact fingerprint id (precedents group calls by it): the one already
    /// worked out, else computed now from its features, the findings in it and its run's
    /// labels (see `crate::features`).
    pub fn fingerprint_id(&self) -> String {
        match self.fingerprint {
            Some(f) => f.to_string(),
            None => self.features().exact().id,
        }
    }

    /// The call's features, as learning sees them.
    pub fn features(&self) -> crate::features::CallFeatures {
        let labels: Vec<&str> = self
            .run
            .map(|h| h.labels.iter().map(|l| &**l).collect())
            .unwrap_or_default();
        let tool = self.tool.or(self.method).unwrap_or("-");
        let mut f = crate::features::CallFeatures::of(
            self.route,
            tool,
            self.caller,
            self.args,
            self.findings,
            &labels,
            crate::features::Hints {
                tool,
                internal_domains: self.internal_domains,
            },
        );
        if let Some(h) = self.run {
            f.mark_repeats(&h.ids);
        }
        f
    }
}

/// The outcome for one call.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What happens to the call.
    pub decision: DecisionKind,
    /// What would happen if every matching rule were enforced (differs under observe).
    pub would_be: DecisionKind,
    /// `observe` when observe-mode rules would have decided more severely.
    pub mode: Mode,
    /// The reason code of the deciding rule (`default` when no rule matched).
    pub reason: Arc<str>,
    /// Ids of every matching rule.
    pub rules: Vec<Arc<str>>,
    /// Labels the matching rules attach to the call's run (when the call goes through).
    pub labels: Vec<Arc<str>>,
    /// For `escalate`: the flow the deciding rule names (`None`: `escalation.flow`).
    pub flow: Option<model::EscalationFlow>,
    /// For a `redact` decision: the findings (indexes into the decided facts' findings)
    /// to replace.
    pub redact: Vec<usize>,
    /// Unique id of this decision.
    pub decision_id: String,
    /// Version of the policy that decided.
    pub policy_version: Arc<str>,
    /// The learned precedent that decided (or was spot-checked), when one did.
    pub precedent: Option<PrecedentUse>,
}

/// A learned precedent's part in a decision (recorded in the audit trail).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PrecedentUse {
    /// `precedent-<fingerprint id>`.
    pub id: Arc<str>,
    /// The level it learned at (`exact`, `known`, `any_caller`).
    pub level: &'static str,
    /// The precedent would have decided, but the call went to a reviewer as a spot check
    /// (or, with `spot_checks.flow: after`, went through to be reviewed afterwards).
    pub spot_check: bool,
}

/// Decision ids: a random per-process prefix and a counter, unique without a system call
/// per decision (a UUIDv4 would ask the kernel for randomness every time).
fn next_decision_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    });
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Hex by hand into a fixed buffer: `format!` costs more than the whole rule evaluation.
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&prefix.to_be_bytes());
    raw[8..].copy_from_slice(&counter.to_be_bytes());
    hex::encode(raw)
}

/// A compiled, immutable policy.
#[derive(Debug)]
pub struct Policy {
    rules: Vec<CompiledRule>,
    index: RuleIndex,
    default: DecisionKind,
    mode: Mode,
    /// Hash of the loaded files (names and contents); `none` for the empty policy.
    pub version: Arc<str>,
    /// Files loaded, in order.
    pub files: Vec<PathBuf>,
    /// Things that load but deserve a word (e.g. `redact` before the guard exists).
    pub warnings: Vec<String>,
    /// Whether some rule reads JSON bodies on `http` routes (else they stream unread).
    reads_http_body: bool,
    /// Whether some rule looks at findings in requests / in responses (else no scanning).
    scans_requests: bool,
    scans_responses: bool,
    /// The detectors when these files declare custom ones (built-in plus custom); `None`:
    /// the shared built-in set.
    custom_guard: Option<Arc<Guard>>,
    /// Rate limits.
    limits: Vec<CompiledLimit>,
    /// Whether some rule reads a run's history or labels runs (else runs are not tracked).
    tracks_runs: bool,
    reads_runs: bool,
    reads_annotations: bool,
    escalates: bool,
    /// Reason codes of decisions no rule took (shared, so a decision allocates none).
    default_reason: Arc<str>,
    observe_reason: Arc<str>,
    unredactable_reason: Arc<str>,
}

/// A compiled rate limit.
#[derive(Debug)]
pub struct CompiledLimit {
    /// Its id.
    pub id: Arc<str>,
    /// Which calls count.
    pub when: compile::Conditions,
    /// One bucket per caller or per run.
    pub per: model::LimitKey,
    /// Calls per second refilled.
    pub rate: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Policy {
    /// Whether every run's steps are recorded for this policy (`when.run` or `label` in some
    /// rule).
    pub fn tracks_runs(&self) -> bool {
        self.tracks_runs
    }

    /// Whether some rule can escalate (then continued runs are recorded too, so a reviewer
    /// sees what the run did before the call).
    pub fn escalates(&self) -> bool {
        self.escalates
    }

    /// Whether some rule looks at the run's history (`when.run`): only then is it read
    /// for every call.
    pub fn reads_runs(&self) -> bool {
        self.reads_runs
    }

    /// Whether some rule looks at tools' MCP annotations (`when.annotations`): only then
    /// are they looked up for every call.
    pub fn reads_annotations(&self) -> bool {
        self.reads_annotations
    }

    /// The rate limits whose conditions hold for the request `facts`.
    pub fn limits_for<'p>(
        &'p self,
        facts: &'p CallFacts<'_>,
    ) -> impl Iterator<Item = &'p CompiledLimit> + 'p {
        self.limits.iter().filter(move |l| l.when.hold(facts))
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether some rule looks at findings in what travels in `phase`: only then is that
    /// data scanned.
    pub fn scans(&self, phase: Direction) -> bool {
        match phase {
            Direction::Request => self.scans_requests,
            Direction::Response => self.scans_responses,
            Direction::Both => self.scans_requests || self.scans_responses,
        }
    }

    /// The detectors this policy scans with (built-in, plus the files' custom ones).
    pub fn guard(&self) -> &Guard {
        match &self.custom_guard {
            Some(g) => g,
            // Loading checked that the built-in set compiles whenever a rule scans.
            None => Guard::built_in().unwrap_or_else(|_| Guard::empty()),
        }
    }

    /// Whether some rule looks at the JSON body of plain HTTP calls, so the proxy must read
    /// (and strictly parse) it before deciding.
    pub fn reads_http_body(&self) -> bool {
        self.reads_http_body
    }

    /// Whether the policy has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule could make a tool never callable (see [`Policy::never_callable`]);
    /// when none can, `tools/list` answers need no filtering.
    pub fn may_hide_tools(&self) -> bool {
        self.mode == Mode::Enforce
            && self.rules.iter().any(|r| {
                r.decision == DecisionKind::Deny && r.mode == Mode::Enforce && r.is_static()
            })
    }

    /// Whether `facts` (a `tools/call` of `facts.tool`) is refused by an enforced deny rule
    /// that depends only on caller, route and tool name: such a call is refused whatever its
    /// arguments, so the tool is removed from `tools/list`.
    pub fn never_callable(&self, facts: &CallFacts<'_>) -> bool {
        if self.mode == Mode::Observe {
            return false;
        }
        self.index.candidates(facts.tool).into_iter().any(|i| {
            let r = &self.rules[i];
            r.decision == DecisionKind::Deny
                && r.mode == Mode::Enforce
                && r.is_static()
                && r.matches(facts)
        })
    }

    /// A decision the gateway takes itself, outside the rules (e.g. a tool withheld because
    /// its descriptor changed): `rule` names the mechanism in the decision's rule list.
    pub fn fixed_decision(&self, kind: DecisionKind, reason: &str, rule: &str) -> Decision {
        Decision {
            decision: kind,
            would_be: kind,
            mode: Mode::Enforce,
            reason: Arc::from(reason),
            redact: Vec::new(),
            rules: vec![Arc::from(rule)],
            labels: Vec::new(),
            flow: None,
            decision_id: next_decision_id(),
            policy_version: self.version.clone(),
            precedent: None,
        }
    }

    /// Decide one call.
    pub fn decide(&self, facts: &CallFacts<'_>) -> Decision {
        let mut m = self.matching(facts);
        let reason_of = |r: Option<&CompiledRule>| {
            r.map_or_else(|| self.default_reason.clone(), |r| r.reason.clone())
        };
        // What happens: enforced rules only (else the default) ...
        let mut decision = m.enforced.map_or(self.default, |r| r.decision);
        let mut reason = reason_of(m.enforced);
        // ... and what would happen if every matching rule were enforced.
        let would_be = m.any.map_or(self.default, |r| r.decision);
        if self.mode == Mode::Observe {
            decision = DecisionKind::Allow;
            reason = self.observe_reason.clone();
        }
        let mode = if would_be != decision {
            Mode::Observe
        } else {
            Mode::Enforce
        };
        if mode == Mode::Observe {
            reason = reason_of(m.any);
        }
        // Precedent rules (`learn export`) answer what would otherwise wait for a reviewer;
        // they never override a denial (a denial is not an escalation).
        let settled = (decision == DecisionKind::Escalate)
            .then(|| Self::precedent_answer(&m.precedents, facts))
            .flatten();
        let mut would_be = would_be;
        if let Some(r) = settled {
            decision = r.decision;
            reason = r.reason.clone();
            m.ids.push(r.id.clone());
            would_be = decision;
        }
        let redact = if decision == DecisionKind::Redact {
            redactions(&m.redactors, facts)
        } else {
            Vec::new()
        };
        // A redaction that cannot be carried out (a finding no single string holds) must
        // not let the data through as it is: it becomes a denial.
        if decision == DecisionKind::Redact && redact.iter().any(|&k| !facts.findings[k].redactable)
        {
            decision = DecisionKind::Deny;
            reason = self.unredactable_reason.clone();
            if would_be == DecisionKind::Redact {
                would_be = DecisionKind::Deny;
            }
        }
        Decision {
            decision,
            would_be,
            mode,
            reason,
            redact,
            rules: m.ids,
            labels: m.labels,
            flow: m
                .enforced
                .and_then(|r| r.flow)
                .filter(|_| settled.is_none()),
            decision_id: next_decision_id(),
            policy_version: self.version.clone(),
            precedent: None,
        }
    }

    /// The rules `facts` match (precedent rules set aside, unmatched: they are looked at
    /// only for an escalation).
    fn matching(&self, facts: &CallFacts<'_>) -> Matched<'_> {
        let mut m = Matched::default();
        for i in self.index.candidates(facts.tool) {
            let rule = &self.rules[i];
            if rule.precedent {
                m.precedents.push(rule);
                continue;
            }
            if !rule.matches(facts) {
                continue;
            }
            m.ids.push(rule.id.clone());
            m.labels.extend(rule.labels.iter().cloned());
            if rule.decision == DecisionKind::Redact && rule.mode == Mode::Enforce {
                m.redactors.push(rule);
            }
            if m.any.is_none_or(|a| rule.decision > a.decision) {
                m.any = Some(rule);
            }
            if rule.mode == Mode::Enforce && m.enforced.is_none_or(|e| rule.decision > e.decision) {
                m.enforced = Some(rule);
            }
        }
        m
    }

    /// The enforced precedent rule that answers an escalated call, if one matches (its
    /// fingerprint computed only now).
    fn precedent_answer<'p>(
        precedents: &[&'p CompiledRule],
        facts: &CallFacts<'_>,
    ) -> Option<&'p CompiledRule> {
        if precedents.is_empty() {
            return None;
        }
        let fp = facts.fingerprint_id();
        let facts = CallFacts {
            fingerprint: Some(&fp),
            ..*facts
        };
        precedents
            .iter()
            .copied()
            .filter(|r| r.mode == Mode::Enforce && r.matches(&facts))
            .max_by_key(|r| r.decision)
    }
}

/// What matched a call, gathered in one pass over the candidate rules.
#[derive(Default)]
struct Matched<'p> {
    /// The most severe enforced rule.
    enforced: Option<&'p CompiledRule>,
    /// The most severe rule, observed or enforced.
    any: Option<&'p CompiledRule>,
    /// Every matching rule's id.
    ids: Vec<Arc<str>>,
    /// Every matching rule's labels.
    labels: Vec<Arc<str>>,
    /// Enforced redact rules (their finding selectors say what is replaced).
    redactors: Vec<&'p CompiledRule>,
    /// Precedent rules among the candidates (not yet matched).
    precedents: Vec<&'p CompiledRule>,
}

/// What a redact decision replaces: the indexes of the findings its rules select.
fn redactions(redactors: &[&CompiledRule], facts: &CallFacts<'_>) -> Vec<usize> {
    (0..facts.findings.len())
        .filter(|&k| {
            redactors
                .iter()
                .any(|r| r.findings().is_some_and(|t| t.selects(&facts.findings[k])))
        })
        .collect()
}

impl Decision {
    /// The decision as it is reported: the would-be decision under observe mode.
    pub fn shown(&self) -> DecisionKind {
        if self.mode == Mode::Observe {
            self.would_be
        } else {
            self.decision
        }
    }
}

/// Counting a decision in the metrics (and logging a refusal): here rather than in
/// `metrics`, which knows nothing of rules.
pub trait RecordDecision {
    /// Count one decision (with the guard's findings it looked at) for route `route`.
    fn record_decision(&self, route: &str, facts: &CallFacts<'_>, d: &Decision);
}

impl RecordDecision for crate::metrics::Metrics {
    fn record_decision(&self, route: &str, facts: &CallFacts<'_>, d: &Decision) {
        let shown = d.shown();
        self.summary.record(route, facts.boundary, shown);
        self.decisions
            .with_label_values(&[
                shown.as_str(),
                facts.boundary.as_str(),
                route,
                &d.reason,
                d.mode.as_str(),
            ])
            .inc();
        let direction = facts.phase.as_str();
        for f in facts.findings {
            self.findings
                .with_label_values(&[route, &f.detector, &f.kind, direction])
                .inc();
        }
        if shown != DecisionKind::Allow {
            self.summary.note(
                &d.decision_id,
                route,
                facts.boundary,
                shown,
                d.mode,
                &d.reason,
                facts.tool,
                direction,
            );
            let kinds: Vec<&str> = facts.findings.iter().map(|f| &*f.kind).collect();
            tracing::info!(
                route,
                direction,
                method = facts.method.unwrap_or("-"),
                tool = facts.tool.unwrap_or("-"),
                decision = shown.as_str(),
                mode = d.mode.as_str(),
                reason = %d.reason,
                rules = ?d.rules,
                findings = ?kinds,
                decision_id = %d.decision_id,
                "policy decision"
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

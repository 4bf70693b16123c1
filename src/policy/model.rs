//! Rules as written in `rules/*.yaml`.
//!
//! ```yaml
//! version: 1
//! default_decision: allow        # or deny / escalate
//! rules:
//!   - id: no-shell
//!     description: agents never get a shell
//!     when: { protocol: mcp, method: tools/call, tool: "shell_*" }
//!     decision: deny
//!     reason: shell_forbidden
//! ```
//! Every `when` key is optional and all must hold; a list means any-of; strings are globs.

use std::collections::BTreeMap;

pub use crate::vocab::{DecisionKind, EscalationFlow, Mode, OneOrMany};
use serde::Deserialize;
use serde_json::Value;

/// One rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Format version; only `1` exists.
    pub version: u32,
    /// Decision when no rule matches (at most one file may set it).
    #[serde(default)]
    pub default_decision: Option<DecisionKind>,
    /// `observe` makes every rule of this file record its would-be decision only.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// The rules, evaluated together (order does not matter: the most severe match wins).
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Custom detectors (named regexes and keyword lists), scanned together with the
    /// built-in ones; rules of any file name them in `when.findings.detectors`.
    #[serde(default)]
    pub detectors: Vec<crate::guard::CustomDetector>,
    /// Rate limits.
    #[serde(default)]
    pub limits: Vec<LimitRule>,
}

/// One rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id, reported with every decision the rule takes part in.
    pub id: String,
    /// Free text for people.
    #[serde(default)]
    pub description: Option<String>,
    /// Conditions; all must hold.
    #[serde(default)]
    pub when: When,
    /// Exceptions (same keys as `when`): the rule does not apply when these all hold.
    #[serde(default)]
    pub unless: Option<When>,
    /// What to do when the rule matches.
    pub decision: DecisionKind,
    /// Stable machine-readable reason code sent to clients and recorded.
    pub reason: String,
    /// `observe`: record the would-be decision, let the call through.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Labels attached to the call's run when the rule matches and the call goes through
    /// (e.g. `private_data` on reading a sensitive resource), for `when.run.labels`.
    #[serde(default)]
    pub label: Option<OneOrMany<String>>,
    /// For `escalate`: `hold` (the call waits for a reviewer) or `defer` (answered at once;
    /// once approved, the same call is allowed when it comes again). Default:
    /// `escalation.flow`.
    #[serde(default)]
    pub flow: Option<EscalationFlow>,
    /// A precedent: the rule answers calls that would otherwise be escalated (with `allow`
    /// or `deny`), and is not looked at otherwise; it never overrides a `deny`. What
    /// `sec0-gateway learn export` writes from reviewers' answers.
    #[serde(default)]
    pub precedent: bool,
}

/// A condition on what the call's run did before it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCondition {
    /// The run called any of these tools (globs).
    #[serde(default)]
    pub called: Option<OneOrMany<String>>,
    /// The run read any of these resources (globs).
    #[serde(default)]
    pub read: Option<OneOrMany<String>>,
    /// The run carries any of these labels.
    #[serde(default)]
    pub labels: Option<OneOrMany<String>>,
    /// The run made more than this many calls before this one.
    #[serde(default)]
    pub count_gt: Option<u64>,
}

/// A rate limit (token bucket per caller or per run), refusing calls beyond it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRule {
    /// Unique id (reported with refusals).
    pub id: String,
    /// Which calls count (same keys as a rule's `when`; request facts only).
    #[serde(default)]
    pub when: When,
    /// One bucket per `caller` or per `run`.
    pub per: LimitKey,
    /// Calls per second refilled.
    pub rate: f64,
    /// Bucket size (calls allowed in a burst).
    pub burst: u32,
}

/// What a rate limit counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKey {
    /// Each verified caller (`anonymous` shares one bucket).
    Caller,
    /// Each run.
    Run,
}

/// The conditions of a rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    /// Route boundary (`agent_to_tool`, …).
    pub boundary: Option<OneOrMany<String>>,
    /// Route name.
    pub route: Option<OneOrMany<String>>,
    /// Upstream name.
    pub upstream: Option<OneOrMany<String>>,
    /// Route protocol (`mcp`, `a2a`, `jsonrpc`, `http`).
    pub protocol: Option<OneOrMany<String>>,
    /// JSON-RPC method (`tools/call`), or the HTTP method on `http` routes.
    pub method: Option<OneOrMany<String>>,
    /// MCP tool name (`tools/call` `params.name`).
    pub tool: Option<OneOrMany<String>>,
    /// MCP resource URI (`resources/read` `params.uri`).
    pub resource: Option<OneOrMany<String>>,
    /// MCP prompt name (`prompts/get` `params.name`).
    pub prompt: Option<OneOrMany<String>>,
    /// A2A target agent: the route's `agent` name, else its upstream's name.
    pub agent: Option<OneOrMany<String>>,
    /// Request host as the client sent it (`Host` or `:authority`, without the port).
    pub host: Option<OneOrMany<String>>,
    /// Request path as the client sent it (before any prefix rewrite), without the query.
    pub path: Option<OneOrMany<String>>,
    /// Raw query string (without `?`), e.g. `"*token=*"`.
    pub query: Option<OneOrMany<String>>,
    /// Caller identity (`anonymous` until caller identity exists).
    pub caller: Option<OneOrMany<String>>,
    /// Header name → glob on its value (all must hold; a missing header does not match).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Conditions on the arguments (`tools/call` arguments, else `params`; on `http`
    /// routes the JSON request body).
    #[serde(default)]
    pub args: Vec<ArgCondition>,
    /// Conditions on the text of the message (A2A message text parts); all must hold.
    #[serde(default)]
    pub text: Vec<TextCondition>,
    /// What the guard's detectors found in the data travelling in `direction`: holds when
    /// at least one finding passes the filter. A rule with `findings` in the response
    /// direction is evaluated on what comes back (results, events, tool descriptors).
    #[serde(default)]
    pub findings: Option<crate::guard::FindingsFilter>,
    /// What the call's run did before it (calls through this gateway instance).
    #[serde(default)]
    pub run: Option<RunCondition>,
    /// Claims of the caller's verified JWT (those listed in `identity.jwt.claims`): claim
    /// name → globs; a string claim must match one, an array claim must hold one matching
    /// element; all named claims must hold. A caller without the claim does not match.
    #[serde(default)]
    pub claims: BTreeMap<String, OneOrMany<String>>,
    /// The call's exact fingerprint id (route, tool, caller, argument features, finding
    /// types, run flags; see docs/review.md), as `learn export` writes it.
    #[serde(default)]
    pub fingerprint: Option<OneOrMany<String>>,
    /// The tool's MCP annotations as its server declared them in `tools/list`
    /// (`readOnlyHint`, `destructiveHint`, `idempotentHint`, `openWorldHint` → true/false;
    /// undeclared hints take the specification's defaults); all must hold.
    #[serde(default)]
    pub annotations: BTreeMap<String, bool>,
}

/// A condition on a message's text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextCondition {
    /// The text contains this substring (case-insensitive).
    #[serde(default)]
    pub contains: Option<String>,
    /// The text matches this regex (use `(?i)` for case-insensitive).
    #[serde(default)]
    pub matches: Option<String>,
}

/// A condition on the values a JSONPath selects in the arguments. It holds when any
/// selected value satisfies the test (`exists` looks at whether anything is selected).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgCondition {
    /// JSONPath into the arguments, e.g. `$.amount` or `$.recipients[*]`.
    pub path: String,
    /// Equal to this JSON value.
    #[serde(default)]
    pub equals: Option<Value>,
    /// Equal to one of these.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
    /// A string matching this regex.
    #[serde(default)]
    pub matches: Option<String>,
    /// A number greater than this.
    #[serde(default)]
    pub gt: Option<f64>,
    /// A number greater than or equal to this.
    #[serde(default)]
    pub gte: Option<f64>,
    /// A number less than this.
    #[serde(default)]
    pub lt: Option<f64>,
    /// A number less than or equal to this.
    #[serde(default)]
    pub lte: Option<f64>,
    /// `true`: the path selects something; `false`: it selects nothing.
    #[serde(default)]
    pub exists: Option<bool>,
    /// A string containing this substring, or an array containing this value.
    #[serde(default)]
    pub contains: Option<Value>,
}

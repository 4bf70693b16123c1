//! The guard on the way back: every JSON-RPC message the upstream sends for a call (the
//! result, and on an SSE stream each notification and server→client request as it
//! arrives) is scanned by the detectors and decided on by the response-direction rules.
//! Allowed messages pass byte for byte; `redact` replaces the findings' spans; `deny` (and
//! an escalation that is not approved, `escalation.on_timeout`) turns a result into a
//! JSON-RPC error for its id and drops a notification or server request.
//!
//! `tools/list` results are looked at tool by tool: a descriptor (name, description,
//! schema) whose findings a rule denies is removed from the list (tool poisoning), and a
//! descriptor that changed since it was first seen gets the configured decision (rug pull,
//! see [`super::descriptors`]).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use super::descriptors::{DescriptorStore, Sighting};
use super::{EventHook, ToolsListFilter};
use crate::config::{Boundary, Protocol};
use crate::error::{RefusalKind, refusal_object};
use crate::guard::{Direction, Finding, redact_json};
use crate::metrics::Metrics;
use crate::policy::RecordDecision;
use crate::policy::{CallFacts, Decision, DecisionKind, Policy};
use crate::protocol::sse::Event;

/// What a request asked, remembered to decide on its answer.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// The request id.
    pub id: Value,
    /// Its method.
    pub method: Option<String>,
    /// `tools/call` tool name.
    pub tool: Option<String>,
    /// `resources/read` URI.
    pub resource: Option<String>,
    /// `prompts/get` name.
    pub prompt: Option<String>,
}

/// The route a response travels on (owned: the inspector lives as long as the stream).
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// Route name.
    pub name: String,
    /// Upstream name.
    pub upstream: String,
    /// Upstream index (descriptor memory is per upstream).
    pub upstream_index: usize,
    /// Boundary.
    pub boundary: Boundary,
    /// Protocol.
    pub protocol: Protocol,
    /// A2A target agent.
    pub agent: Option<String>,
    /// The verified caller whose answer this is (`anonymous` without one).
    pub caller: Arc<str>,
    /// The MCP session the answer belongs to, when there is one.
    pub session: Option<String>,
}

/// Inspects the messages of one call's answer.
pub struct ResponseGuard {
    /// The policy snapshot the call was decided with.
    pub policy: Arc<Policy>,
    /// Where decisions and findings are counted.
    pub metrics: Metrics,
    /// The route.
    pub route: RouteInfo,
    /// The requests of the call (one, or a batch's).
    pub asked: Vec<Asked>,
    /// What an escalation resolves to (no reviewer can answer a response in flight).
    pub on_timeout: DecisionKind,
    /// The JSON-RPC codes a refused result is answered with.
    pub codes: crate::config::RefusalCodes,
    /// Never-callable tools to hide from a `tools/list` result.
    pub tools_filter: Option<ToolsListFilter>,
    /// Tool descriptors seen per upstream, and what a changed one gets.
    pub descriptors: Arc<DescriptorStore>,
    /// Events of the gateway's own to send ahead of the upstream's (a partly forwarded
    /// batch's refusals).
    pub injected: std::collections::VecDeque<Bytes>,
    /// Where decision records go (never waited for on the response path), with the ids of
    /// the call whose answer this is.
    pub audit: Option<(
        crate::audit::writer::AuditTrail,
        Option<Arc<crate::audit::exchange::CallIds>>,
    )>,
    /// SSE events held, in order, while HTTP classifiers are asked about the first.
    pub held: Held,
}

/// SSE events waiting for HTTP classifiers (custom detectors): the first one's question in
/// flight, the others queued behind it so events keep their order.
#[derive(Default)]
pub struct Held {
    events: std::collections::VecDeque<Event>,
    asking: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
}

/// What happens to one message.
pub enum Verdict {
    /// Send it as it is.
    Pass,
    /// Send these bytes instead.
    Replace(Vec<u8>),
    /// Send nothing.
    Drop,
}

/// Most requests a long-lived stream remembers at once (oldest forgotten first).
const MAX_ASKED: usize = 256;

impl ResponseGuard {
    fn asked_for(&self, msg: &Value) -> Option<&Asked> {
        let id = msg.get("id")?;
        self.asked.iter().find(|a| a.id == *id)
    }

    /// Decide on `findings` in a message of this answer.
    fn decide(&self, msg: &Value, findings: &[Finding]) -> Decision {
        let asked = self.asked_for(msg);
        // A response is judged with the facts of its request; a notification or server
        // request with its own method.
        let method = match asked {
            Some(a) if msg.get("method").is_none() => a.method.as_deref(),
            _ => msg.get("method").and_then(Value::as_str),
        };
        self.decide_with(method, None, asked, findings)
    }

    fn decide_with(
        &self,
        method: Option<&str>,
        tool: Option<&str>,
        asked: Option<&Asked>,
        findings: &[Finding],
    ) -> Decision {
        let facts = CallFacts {
            method,
            tool: tool.or(asked.and_then(|a| a.tool.as_deref())),
            resource: asked.and_then(|a| a.resource.as_deref()),
            prompt: asked.and_then(|a| a.prompt.as_deref()),
            agent: self.route.agent.as_deref(),
            phase: Direction::Response,
            findings,
            caller: &self.route.caller,
            ..CallFacts::on_route(
                self.route.boundary,
                &self.route.name,
                &self.route.upstream,
                self.route.protocol,
            )
        };
        let d = self.policy.decide(&facts);
        self.metrics.record_decision(&self.route.name, &facts, &d);
        if let Some((trail, ids)) = &self.audit {
            let mut record =
                crate::audit::record::AuditRecord::decision(&self.route.name, &facts, &d);
            if let Some(ids) = ids {
                record.run_id = ids.run_id.clone();
                record.hop_id = Some(ids.hop_id);
                record.parent_hop = ids.parent_hop.clone();
                record.trace_id = ids.trace_id.clone();
            }
            if trail.try_record(record).is_err() {
                tracing::error!(route = %self.route.name, "audit record of a response decision not queued");
            }
        }
        d
    }

    /// What the decision means for the message: its outcome kind after escalation.
    fn outcome(&self, d: &Decision) -> DecisionKind {
        match d.decision {
            DecisionKind::Escalate => self.on_timeout,
            k => k,
        }
    }

    /// Remember more requests whose answers this (long-lived) stream will carry.
    pub fn remember(&mut self, asked: Vec<Asked>) {
        self.asked.extend(asked);
        if self.asked.len() > MAX_ASKED {
            let extra = self.asked.len() - MAX_ASKED;
            self.asked.drain(..extra);
        }
    }

    /// Inspect one JSON-RPC message (its exact bytes).
    pub fn inspect(&self, bytes: &[u8]) -> Verdict {
        // Parse only when it matters: a listing to check tool by tool, or findings to judge.
        // A clean answer costs one scan of its strings and no `Value`.
        if self
            .asked
            .iter()
            .any(|a| a.method.as_deref() == Some("tools/list"))
        {
            if let Ok(mut msg) = serde_json::from_slice::<Value>(bytes) {
                let is_tools_list = self
                    .asked_for(&msg)
                    .is_some_and(|a| a.method.as_deref() == Some("tools/list"))
                    && msg.pointer("/result/tools").is_some();
                if is_tools_list {
                    return self.inspect_tools_list(&mut msg, bytes);
                }
            }
        }
        if !self.policy.scans(Direction::Response) {
            return Verdict::Pass; // the guard is here for tool descriptors only
        }
        let located = self.policy.guard().scan_json(bytes);
        if located.is_empty() {
            return Verdict::Pass;
        }
        let Ok(msg) = serde_json::from_slice::<Value>(bytes) else {
            return Verdict::Pass; // not JSON: not a message the guard can judge
        };
        let findings: Vec<Finding> = located.iter().map(|l| l.finding.clone()).collect();
        let d = self.decide(&msg, &findings);
        match self.outcome(&d) {
            DecisionKind::Allow => Verdict::Pass,
            DecisionKind::Redact => {
                let chosen: Vec<_> = d.redact.iter().filter_map(|&k| located.get(k)).collect();
                self.metrics
                    .redactions
                    .with_label_values(&[&self.route.name, "response"])
                    .inc_by(chosen.len() as u64);
                Verdict::Replace(redact_json(bytes, &chosen))
            }
            _ => self.refuse(&msg, &d),
        }
    }

    /// A refused message: a result becomes a JSON-RPC error for its id; anything else
    /// (notification, server request) is dropped.
    fn refuse(&self, msg: &Value, d: &Decision) -> Verdict {
        match msg.get("id") {
            Some(id) if msg.get("method").is_none() => {
                let kind = if d.decision == DecisionKind::Escalate {
                    RefusalKind::EscalationTimedOut
                } else {
                    RefusalKind::Denied
                };
                Verdict::Replace(
                    serde_json::to_vec(&refusal_object(id, d, kind, &self.codes))
                        .unwrap_or_default(),
                )
            }
            _ => Verdict::Drop,
        }
    }

    /// A `tools/list` result, tool by tool: poisoned or changed descriptors are removed,
    /// never-callable tools hidden, findings a rule redacts redacted.
    fn inspect_tools_list(&self, msg: &mut Value, original: &[u8]) -> Verdict {
        let mut changed = false;
        if let Some(tools) = msg
            .pointer_mut("/result/tools")
            .and_then(Value::as_array_mut)
        {
            let mut kept = Vec::with_capacity(tools.len());
            for tool in std::mem::take(tools) {
                match self.inspect_tool(tool) {
                    Some((tool, redacted)) => {
                        changed |= redacted;
                        kept.push(tool);
                    }
                    None => changed = true,
                }
            }
            *tools = kept;
        }
        if let Some(f) = &self.tools_filter {
            changed |= f.apply(msg);
        }
        if changed {
            Verdict::Replace(serde_json::to_vec(msg).unwrap_or_else(|_| original.to_vec()))
        } else {
            Verdict::Pass
        }
    }

    /// One tool descriptor of a `tools/list` result: `None` when it is removed (changed
    /// since first seen and refused, or poisoned), else the tool and whether it was redacted.
    fn inspect_tool(&self, tool: Value) -> Option<(Value, bool)> {
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let bytes = serde_json::to_vec(&tool).unwrap_or_default();
        self.descriptors.annotate(
            self.route.upstream_index,
            &name,
            crate::protocol::mcp::ToolAnnotations::of_descriptor(&tool),
        );
        if let Sighting::Changed { first, now } = self.descriptors.sight(
            self.route.upstream_index,
            self.route.session.as_deref(),
            &name,
            &bytes,
        ) {
            self.metrics
                .descriptor_changes
                .with_label_values(&[&self.route.name])
                .inc();
            tracing::warn!(route = %self.route.name, tool = %name, first_seen = %first, now = %now,
                decision = self.descriptors.on_change().as_str(),
                "tool descriptor changed since first seen (possible rug pull)");
            if self.descriptors.refuses_changed() {
                return None;
            }
        }
        if !self.policy.scans(Direction::Response) {
            return Some((tool, false));
        }
        let located = self.policy.guard().scan_json(&bytes);
        if located.is_empty() {
            return Some((tool, false));
        }
        let findings: Vec<Finding> = located.iter().map(|l| l.finding.clone()).collect();
        let d = self.decide_with(Some("tools/list"), Some(&name), None, &findings);
        match self.outcome(&d) {
            DecisionKind::Allow => Some((tool, false)),
            DecisionKind::Redact => {
                let chosen: Vec<_> = d.redact.iter().filter_map(|&k| located.get(k)).collect();
                match serde_json::from_slice(&redact_json(&bytes, &chosen)) {
                    Ok(v) => Some((v, true)),
                    Err(_) => Some((tool, false)),
                }
            }
            _ => {
                tracing::warn!(route = %self.route.name, tool = %name, reason = %d.reason,
                    "tool removed from tools/list: its descriptor was refused (tool poisoning)");
                self.metrics
                    .tools_hidden
                    .with_label_values(&[&self.route.name])
                    .inc();
                None
            }
        }
    }

    /// Ask the policy's HTTP classifiers (custom detectors) about a whole answer before
    /// [`Self::apply_to_json`] scans it (they answer from their cache then). Nothing
    /// without classifiers or response rules.
    pub fn prefetch(&self, body: &Bytes) -> impl std::future::Future<Output = ()> + Send + 'static {
        let ask =
            self.policy.scans(Direction::Response) && !self.policy.guard().classifiers().is_empty();
        let (policy, body) = (self.policy.clone(), body.clone());
        async move {
            if ask {
                crate::guard::classifier::prefetch(policy.guard(), &body).await;
            }
        }
    }

    /// Inspect a whole JSON answer (one message or a batch's array).
    pub fn apply_to_json(&self, body: Bytes) -> Bytes {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first == Some(&b'[') {
            let Ok(items) = serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(&body)
            else {
                return body;
            };
            let mut out = Vec::with_capacity(items.len());
            let mut changed = false;
            for item in items {
                match self.inspect(item.get().as_bytes()) {
                    Verdict::Pass => out.push(item.get().as_bytes().to_vec()),
                    Verdict::Replace(b) => {
                        changed = true;
                        out.push(b);
                    }
                    Verdict::Drop => changed = true,
                }
            }
            if !changed {
                return body;
            }
            let mut joined = vec![b'['];
            for (n, b) in out.iter().enumerate() {
                if n > 0 {
                    joined.push(b',');
                }
                joined.extend_from_slice(b);
            }
            joined.push(b']');
            return Bytes::from(joined);
        }
        match self.inspect(&body) {
            Verdict::Pass => body,
            Verdict::Replace(b) => Bytes::from(b),
            // A lone message that must not be delivered: an empty batch answer would be
            // invalid, so the body becomes empty (the caller answers 202 for notifications).
            Verdict::Drop => Bytes::new(),
        }
    }
}

impl ResponseGuard {
    /// The bytes to send for one event, decided now.
    fn pass_event(&self, event: Event) -> Bytes {
        let Some(data) = event.data.as_deref() else {
            return event.raw; // comments, keep-alives, retry-only events
        };
        match self.inspect(data.as_bytes()) {
            Verdict::Pass => event.raw,
            Verdict::Replace(b) => event.with_data(std::str::from_utf8(&b).unwrap_or(data)),
            Verdict::Drop => Bytes::new(),
        }
    }

    /// The question to the policy's HTTP classifiers an event needs first, if any.
    fn question_for(
        &self,
        event: &Event,
    ) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        let data = event.data.as_deref()?;
        if self.policy.guard().classifiers().is_empty() || !self.policy.scans(Direction::Response) {
            return None;
        }
        let policy = self.policy.clone();
        let data = data.as_bytes().to_vec();
        Some(Box::pin(async move {
            crate::guard::classifier::prefetch(policy.guard(), &data).await;
        }))
    }
}

impl EventHook for ResponseGuard {
    fn poll_injected(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Bytes>> {
        use std::task::Poll;
        loop {
            if let Some(ev) = self.injected.pop_front() {
                return Poll::Ready(Some(ev));
            }
            if let Some(q) = &mut self.held.asking {
                if q.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.held.asking = None;
                // The first held event's answers are in the classifiers' caches now.
                if let Some(ev) = self.held.events.pop_front() {
                    let b = self.pass_event(ev);
                    self.injected.push_back(b);
                }
                continue;
            }
            let Some(ev) = self.held.events.pop_front() else {
                return Poll::Pending;
            };
            match self.question_for(&ev) {
                Some(q) => {
                    self.held.asking = Some(q);
                    self.held.events.push_front(ev);
                }
                None => {
                    let b = self.pass_event(ev);
                    self.injected.push_back(b);
                }
            }
        }
    }

    fn holding(&self) -> bool {
        !self.held.events.is_empty() || !self.injected.is_empty()
    }

    fn on_event(&mut self, event: Event) -> Bytes {
        if !self.held.events.is_empty() {
            self.held.events.push_back(event); // keep the order behind a held event
            return Bytes::new();
        }
        match self.question_for(&event) {
            Some(q) => {
                self.held.asking = Some(q);
                self.held.events.push_back(event);
                Bytes::new()
            }
            None => self.pass_event(event),
        }
    }
}

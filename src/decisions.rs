//! What the gateway decided lately, for the review console (`GET /v1/decisions/summary`):
//! per-minute counts of decisions by route, boundary and decision for the last 24 hours,
//! and the latest decisions that were not plain allows (with their decision ids, to find
//! their audit records).
//!
//! Prometheus (`sec0_gateway_decisions_total`) is the place for long-term dashboards; this
//! is what a console shows without one. Recording is lock-free for the counts: each route
//! has one ring of 1,440 per-minute slots per boundary and decision, each slot one atomic
//! word holding its minute and its count, so a slot left from yesterday is reset by the
//! first decision of its new minute (compare-and-swap, no count lost). Routes are looked up
//! in a map behind `arc-swap` (read without a lock; copied once when a route is first
//! seen); at most [`MAX_ROUTES`] routes are kept apart, later ones are counted as `other`.
//! A decision costs one map lookup, one clock read and one compare-and-swap.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::vocab::{Boundary, DecisionKind, Mode};

/// Minutes kept (24 hours).
pub const MINUTES: usize = 24 * 60;

/// Routes counted apart; decisions on more routes than this are counted as `other`.
pub const MAX_ROUTES: usize = 256;

/// Recent non-allow decisions kept.
pub const RECENT: usize = 100;

const BOUNDARIES: [Boundary; 4] = [
    Boundary::OrchestratorToAgent,
    Boundary::AgentToAgent,
    Boundary::AgentToTool,
    Boundary::ToolToApi,
];

const KINDS: [DecisionKind; 4] = [
    DecisionKind::Allow,
    DecisionKind::Deny,
    DecisionKind::Redact,
    DecisionKind::Escalate,
];

fn boundary_index(b: Boundary) -> usize {
    match b {
        Boundary::OrchestratorToAgent => 0,
        Boundary::AgentToAgent => 1,
        Boundary::AgentToTool => 2,
        Boundary::ToolToApi => 3,
    }
}

fn kind_index(k: DecisionKind) -> usize {
    match k {
        DecisionKind::Allow => 0,
        DecisionKind::Deny => 1,
        DecisionKind::Redact => 2,
        DecisionKind::Escalate => 3,
    }
}

/// One ring of per-minute counts: each slot is `minute << 32 | count`.
struct Ring(Box<[AtomicU64]>);

impl Ring {
    fn new() -> Self {
        Self((0..MINUTES).map(|_| AtomicU64::new(0)).collect())
    }

    fn add(&self, minute: u64) {
        let slot = &self.0[(minute % MINUTES as u64) as usize];
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let next = if cur >> 32 == minute {
                // A count saturates rather than spilling into the minute.
                if cur & 0xffff_ffff == 0xffff_ffff {
                    return;
                }
                cur + 1
            } else {
                (minute << 32) | 1
            };
            match slot.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => cur = seen,
            }
        }
    }

    fn get(&self, minute: u64) -> u64 {
        let v = self.0[(minute % MINUTES as u64) as usize].load(Ordering::Relaxed);
        if v >> 32 == minute {
            v & 0xffff_ffff
        } else {
            0
        }
    }
}

/// A route's rings, one per boundary and decision, made on first use.
#[derive(Default)]
struct RouteRings([OnceLock<Ring>; 16]);

impl RouteRings {
    fn ring(&self, b: usize, k: usize) -> &Ring {
        self.0[b * 4 + k].get_or_init(Ring::new)
    }

    fn existing(&self, b: usize, k: usize) -> Option<&Ring> {
        self.0[b * 4 + k].get()
    }
}

/// A decision that was not a plain allow, as the console lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Recent {
    /// The decision id (the audit records' `decision_id`; an escalation's id).
    pub decision_id: String,
    /// When (RFC 3339).
    pub ts: String,
    /// The route.
    pub route: String,
    /// The route's boundary.
    pub boundary: &'static str,
    /// `deny`, `redact` or `escalate` (the would-be decision in observe mode).
    pub decision: &'static str,
    /// `enforce` or `observe`.
    pub mode: &'static str,
    /// Why.
    pub reason: String,
    /// The tool called, if any.
    pub tool: Option<String>,
    /// `request` or `response`.
    pub direction: &'static str,
}

/// Which stretch of time a summary covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last 60 minutes, one point a minute.
    Hour,
    /// The last 24 hours, one point per 10 minutes.
    Day,
}

impl Window {
    /// `1h` or `24h` (also `hour`, `day`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1h" | "hour" => Some(Self::Hour),
            "24h" | "1d" | "day" => Some(Self::Day),
            _ => None,
        }
    }

    fn points_and_step(self) -> (u64, u64) {
        match self {
            Self::Hour => (60, 1),
            Self::Day => (144, 10),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
        }
    }
}

/// One series of a summary: the decisions of one kind on one route and boundary.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// The route.
    pub route: String,
    /// Its boundary.
    pub boundary: &'static str,
    /// `allow`, `deny`, `redact` or `escalate`.
    pub decision: &'static str,
    /// Decisions per point (same length as [`Summary::times`]).
    pub counts: Vec<u64>,
    /// Their sum.
    pub total: u64,
}

/// The answer of `GET /v1/decisions/summary`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// `1h` or `24h`.
    pub window: &'static str,
    /// Seconds per point.
    pub step_seconds: u64,
    /// Unix time (seconds) at which each point starts, oldest first; the last one is the
    /// current (incomplete) minute or ten minutes.
    pub times: Vec<u64>,
    /// Non-empty series only.
    pub series: Vec<Series>,
    /// Decisions in the window by kind, all routes.
    pub totals: Totals,
    /// When this replica started counting (Unix seconds): points before it are empty, not
    /// quiet.
    pub since: u64,
    /// The latest decisions that were not plain allows, newest first.
    pub recent: Vec<Recent>,
}

/// Decisions by kind.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    /// Allowed.
    pub allow: u64,
    /// Denied.
    pub deny: u64,
    /// Redacted.
    pub redact: u64,
    /// Escalated.
    pub escalate: u64,
}

/// Per-minute decision counts and the latest notable decisions of this replica.
pub struct DecisionSummary {
    routes: arc_swap::ArcSwap<HashMap<Box<str>, Arc<RouteRings>>>,
    other: Arc<RouteRings>,
    recent: Mutex<VecDeque<Recent>>,
    since: u64,
}

impl Default for DecisionSummary {
    fn default() -> Self {
        Self::new()
    }
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

impl DecisionSummary {
    /// An empty summary, counting from now.
    pub fn new() -> Self {
        Self {
            routes: arc_swap::ArcSwap::default(),
            other: Arc::default(),
            recent: Mutex::default(),
            since: unix_now().as_secs(),
        }
    }

    /// The rings of a route not seen before (or `other` past the cap).
    fn add_route(&self, route: &str) -> Arc<RouteRings> {
        let mut found = None;
        self.routes.rcu(|m| {
            if let Some(r) = m.get(route) {
                found = Some(r.clone());
                return m.clone();
            }
            if m.len() >= MAX_ROUTES {
                found = Some(self.other.clone());
                return m.clone();
            }
            let mut m = HashMap::clone(m);
            let r = Arc::new(RouteRings::default());
            m.insert(route.into(), r.clone());
            found = Some(r);
            Arc::new(m)
        });
        found.unwrap_or_else(|| self.other.clone())
    }

    /// Count one decision now.
    pub fn record(&self, route: &str, boundary: Boundary, kind: DecisionKind) {
        self.record_at(route, boundary, kind, unix_now().as_secs() / 60);
    }

    fn record_at(&self, route: &str, boundary: Boundary, kind: DecisionKind, minute: u64) {
        let (b, k) = (boundary_index(boundary), kind_index(kind));
        if let Some(r) = self.routes.load().get(route) {
            r.ring(b, k).add(minute);
            return;
        }
        self.add_route(route).ring(b, k).add(minute);
    }

    /// Remember a decision that was not a plain allow (the newest [`RECENT`] are kept).
    #[allow(clippy::too_many_arguments)]
    pub fn note(
        &self,
        decision_id: &str,
        route: &str,
        boundary: Boundary,
        kind: DecisionKind,
        mode: Mode,
        reason: &str,
        tool: Option<&str>,
        direction: &'static str,
    ) {
        let r = Recent {
            decision_id: decision_id.to_string(),
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            route: route.to_string(),
            boundary: boundary.as_str(),
            decision: kind.as_str(),
            mode: mode.as_str(),
            reason: reason.to_string(),
            tool: tool.map(str::to_string),
            direction,
        };
        if let Ok(mut q) = self.recent.lock() {
            if q.len() >= RECENT {
                q.pop_back();
            }
            q.push_front(r);
        }
    }

    /// The counts of `window` ending now.
    pub fn summary(&self, window: Window) -> Summary {
        self.summary_at(window, unix_now().as_secs() / 60)
    }

    fn summary_at(&self, window: Window, now_minute: u64) -> Summary {
        let (points, step) = window.points_and_step();
        // Points are aligned to their step; the last one holds the current minute.
        let last_start = now_minute - now_minute % step;
        let first = last_start.saturating_sub((points - 1) * step);
        let times: Vec<u64> = (0..points).map(|i| (first + i * step) * 60).collect();
        let mut routes: Vec<(String, Arc<RouteRings>)> = self
            .routes
            .load()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        routes.push(("other".into(), self.other.clone()));
        let mut series = Vec::new();
        let mut totals = Totals::default();
        for (route, rings) in &routes {
            for (bi, b) in BOUNDARIES.iter().enumerate() {
                for (ki, k) in KINDS.iter().enumerate() {
                    let Some(ring) = rings.existing(bi, ki) else {
                        continue;
                    };
                    let counts: Vec<u64> = (0..points)
                        .map(|i| {
                            let start = first + i * step;
                            (start..start + step)
                                .filter(|m| *m <= now_minute && now_minute - m < MINUTES as u64)
                                .map(|m| ring.get(m))
                                .sum()
                        })
                        .collect();
                    let total: u64 = counts.iter().sum();
                    if total == 0 {
                        continue;
                    }
                    match k {
                        DecisionKind::Allow => totals.allow += total,
                        DecisionKind::Deny => totals.deny += total,
                        DecisionKind::Redact => totals.redact += total,
                        DecisionKind::Escalate => totals.escalate += total,
                    }
                    series.push(Series {
                        route: route.clone(),
                        boundary: b.as_str(),
                        decision: k.as_str(),
                        counts,
                        total,
                    });
                }
            }
        }
        Summary {
            window: window.name(),
            step_seconds: step * 60,
            times,
            series,
            totals,
            since: self.since,
            recent: self
                .recent
                .lock()
                .map(|q| q.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_counted_per_route_boundary_and_decision() {
        let s = DecisionSummary::new();
        let now = 29_000_000; // a minute in 2025
        for _ in 0..3 {
            s.record_at("tools", Boundary::AgentToTool, DecisionKind::Allow, now);
        }
        s.record_at("tools", Boundary::AgentToTool, DecisionKind::Deny, now - 1);
        s.record_at(
            "egress",
            Boundary::ToolToApi,
            DecisionKind::Escalate,
            now - 59,
        );
        s.record_at(
            "egress",
            Boundary::ToolToApi,
            DecisionKind::Escalate,
            now - 60,
        );
        let h = s.summary_at(Window::Hour, now);
        assert_eq!(h.times.len(), 60);
        assert_eq!(*h.times.last().expect("last"), now * 60);
        assert_eq!(h.step_seconds, 60);
        assert_eq!(
            (h.totals.allow, h.totals.deny, h.totals.escalate),
            (3, 1, 1)
        );
        let allow = h
            .series
            .iter()
            .find(|x| x.decision == "allow")
            .expect("allow series");
        assert_eq!(
            (allow.route.as_str(), allow.boundary),
            ("tools", "agent_to_tool")
        );
        assert_eq!(allow.counts[59], 3);
        let esc = h
            .series
            .iter()
            .find(|x| x.decision == "escalate")
            .expect("esc");
        assert_eq!(
            esc.counts[0], 1,
            "59 minutes ago is the first point; 60 is out"
        );
        let d = s.summary_at(Window::Day, now);
        assert_eq!((d.times.len(), d.step_seconds), (144, 600));
        assert_eq!(d.totals.escalate, 2);
        assert_eq!(d.totals.allow + d.totals.deny, 4);
    }

    #[test]
    fn a_slot_from_yesterday_starts_again_at_zero() {
        let s = DecisionSummary::new();
        let now = 29_000_000;
        s.record_at(
            "r",
            Boundary::AgentToTool,
            DecisionKind::Allow,
            now - MINUTES as u64,
        );
        s.record_at("r", Boundary::AgentToTool, DecisionKind::Allow, now);
        let h = s.summary_at(Window::Hour, now);
        assert_eq!(h.totals.allow, 1);
        let d = s.summary_at(Window::Day, now);
        assert_eq!(
            d.totals.allow, 1,
            "the day-old minute was replaced, not added to"
        );
    }

    #[test]
    fn routes_past_the_cap_are_counted_as_other_and_recent_is_bounded() {
        let s = DecisionSummary::new();
        let now = 29_000_000;
        for i in 0..MAX_ROUTES + 3 {
            s.record_at(
                &format!("r{i}"),
                Boundary::AgentToTool,
                DecisionKind::Deny,
                now,
            );
        }
        let h = s.summary_at(Window::Hour, now);
        let other = h.series.iter().find(|x| x.route == "other").expect("other");
        assert_eq!(other.total, 3);
        assert_eq!(h.totals.deny, MAX_ROUTES as u64 + 3);
        for i in 0..RECENT + 5 {
            s.note(
                &format!("d{i}"),
                "r",
                Boundary::AgentToTool,
                DecisionKind::Deny,
                Mode::Enforce,
                "x",
                Some("t"),
                "request",
            );
        }
        let h = s.summary_at(Window::Hour, now);
        assert_eq!(h.recent.len(), RECENT);
        assert_eq!(
            h.recent[0].decision_id,
            format!("d{}", RECENT + 4),
            "newest first"
        );
        assert_eq!(Window::parse("1h"), Some(Window::Hour));
        assert_eq!(Window::parse("24h"), Some(Window::Day));
        assert_eq!(Window::parse("week"), None);
    }

    #[test]
    fn concurrent_counts_are_not_lost() {
        let s = Arc::new(DecisionSummary::new());
        let now = 29_000_000;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        s.record_at("r", Boundary::AgentToTool, DecisionKind::Allow, now);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(s.summary_at(Window::Hour, now).totals.allow, 40_000);
    }
}

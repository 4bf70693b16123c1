//! What is decided about a call, and how: the decision, enforce or observe, how an
//! escalation waits and where it stands.

use serde::{Deserialize, Serialize};

/// What the gateway does with a call. Ordered by severity: the most severe match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Forward the call.
    Allow,
    /// Forward with what the guard found replaced (`[REDACTED:<type>]`).
    Redact,
    /// A person decides (held for a reviewer, or answered at once and allowed once
    /// approved; docs/review.md).
    Escalate,
    /// Refuse the call.
    Deny,
}

impl DecisionKind {
    /// The name used on the wire, in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Allow => "allow",
            DecisionKind::Redact => "redact",
            DecisionKind::Escalate => "escalate",
            DecisionKind::Deny => "deny",
        }
    }
}

/// Whether a decision is enforced or only recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decisions take effect.
    #[default]
    Enforce,
    /// Would-be decisions are recorded; calls go through.
    Observe,
}

impl Mode {
    /// The name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Observe => "observe",
        }
    }
}

/// How an escalated call waits for its reviewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationFlow {
    /// Held open up to `escalation.hold_timeout`.
    #[default]
    Hold,
    /// Answered at once (4031 with the escalation id); allowed once after approval.
    Defer,
}

impl EscalationFlow {
    /// The name used in the API and the shared store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Defer => "defer",
        }
    }
}

/// Where an escalation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationState {
    /// Waiting for a reviewer.
    Pending,
    /// A reviewer let it through.
    Approved,
    /// A reviewer refused it.
    Rejected,
    /// Nobody answered in time; `on_timeout` applied.
    Expired,
    /// A webhook took the news of a pending escalation (a state its audit records carry;
    /// the escalation itself stays pending).
    Notified,
    /// The shared store could not be reached (`store.on_unavailable: fail_closed`): the
    /// call was denied without review.
    Unavailable,
}

impl EscalationState {
    /// The name used in records and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Unavailable => "unavailable",
            Self::Notified => "notified",
        }
    }

    /// The state a name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "expired" => Self::Expired,
            "unavailable" => Self::Unavailable,
            "notified" => Self::Notified,
            _ => return None,
        })
    }
}

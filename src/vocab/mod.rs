//! The ground floor: the words every step of a call's path shares, in one place that
//! imports nothing from the rest of the crate. Everything else depends downward on it;
//! it depends on nothing of ours (a test checks that).

pub mod body;
pub mod decision;
pub mod ids;
pub mod route;
pub mod rules;

pub use body::{BoxError, ProxyBody, StreamOutcome, StreamWatch, Watched};
pub use decision::{DecisionKind, EscalationFlow, EscalationState, Mode};
pub use ids::{HopId, instance_id};
pub use route::{Boundary, Direction, Protocol};
pub use rules::OneOrMany;

/// Why a fetched policy bundle was not taken (`sec0_gateway_policy_bundle_fetch_failures_total`
/// `reason` label; `policy::bundle::Refused::reason`). Here so metrics can create every
/// series at zero without importing the policy.
pub const BUNDLE_REFUSALS: &[&str] = &[
    "unreachable",
    "too_large",
    "bad_archive",
    "unsafe_entry",
    "bad_manifest",
    "bad_signature",
    "bad_hash",
    "bad_rules",
    "old_version",
];

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

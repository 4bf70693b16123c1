//! sec0-gateway: the network-boundary policy gateway for AI agent traffic.
//!
//! A call travels one way through the modules, in the order of this tour
//! (`docs/ARCHITECTURE.md` is the map; `server/proxy/` is the path itself, phase by phase):
//!
//! - **accept** — [`server`]: listeners (TLS, mTLS), connections, the admin API, and the
//!   proxy service whose phases (admit, read, decide, act, upstream, respond, finish) live
//!   in `server/proxy/`;
//! - **route** — [`routing`]: which route a request takes (host, then path prefix);
//! - **identify** — [`identify`]: who is calling, verified (mTLS, JWT, API key), and
//!   [`context`]: which run and hop the call belongs to, and what each run did;
//! - **classify** — [`protocol`]: what the bytes mean (JSON-RPC, MCP, A2A; strict JSON);
//!   [`guard`]: what is inside them (secrets, personal data, injection, unsafe commands);
//!   [`features`]: what a call means, as learning sees it;
//! - **decide** — [`policy`]: the rules, compiled, and rate limits; [`review`]: escalations,
//!   reviewers' answers, and the precedents they teach;
//! - **act** — [`act`]: what the decisions mean for the call (forward, part of a batch, or an
//!   answer here);
//! - **forward** — [`forward`]: pooled upstream connections, headers, streamed bodies;
//! - **inspect** — [`inspect`]: what comes back (tool lists, descriptors, results, SSE);
//! - **record** — [`audit`]: the tamper-evident trail; [`metrics`]: Prometheus counters;
//!   [`telemetry`]: logs and hop spans.
//!
//! Underneath: [`vocab`], the ground floor every module shares (decision kinds, modes,
//! protocols, boundaries, directions, escalation states, body ends, ids) and which imports
//! nothing of the crate; [`config`], the typed configuration (it imports only [`vocab`]);
//! [`shared`], the store replicas share (memory or Redis), in its own terms; [`error`], the
//! one place failures become answers; [`pem`] for certificate files. Around it: [`cli`] (the
//! command line), [`probe`] (a small HTTP GET for health probes), [`demo`] and [`devcerts`].

pub mod act;
pub mod audit;
pub mod cli;
pub mod config;
pub mod context;
pub mod decisions;
pub mod demo;
pub mod devcerts;
pub mod error;
pub mod features;
pub mod forward;
pub mod guard;
pub mod identify;
pub mod inspect;
pub mod metrics;
pub mod pem;
pub mod policy;
pub mod probe;
pub mod protocol;
pub mod review;
pub mod routing;
pub mod server;
pub mod shared;
pub mod telemetry;
pub mod vocab;

pub use config::Config;
pub use server::{Gateway, RunningGateway};

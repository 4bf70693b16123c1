//! sec0-gateway: the network-boundary policy gateway for AI agent traffic.
//!
//! A request flows one way through the modules: [`server`] accepts it, [`routing`] picks
//! its route, [`forward`] sends it upstream and streams the answer back, [`error`] turns
//! any failure into the caller's protocol, [`metrics`] counts it all. [`config`] is the typed
//! configuration; [`cli`] the command line; [`demo`] a self-contained walkthrough.
//! `docs/ARCHITECTURE.md` is the map.

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

//! The integration and end-to-end tests, one module per area, in one test binary: one link
//! and one compile of the shared helpers instead of one per area (CI time and disk).
//! Run one area with `cargo test --test integration <area>::`, e.g. `guard::`.
//! Real sockets on 127.0.0.1 only; peers nobody here wrote (official MCP/A2A SDKs, Redis,
//! promtool, Helm) are installed by `integration/run`.

mod common;

mod admin;
mod admin_schema;
mod architecture;
mod audit;
mod audit_collector;
mod bundles;
mod bypass;
mod config_cli;
mod connections;
mod console;
mod context;
mod deploy;
mod e2e_node_mcp;
mod e2e_python_a2a;
mod e2e_python_mcp;
mod e2e_python_mcp_modern;
mod e2e_python_mcp_oauth;
mod guard;
mod guard_acceptance;
mod guard_corpus;
mod guard_public;
mod guard_tuning;
mod identity;
mod learning;
mod limits;
mod mcp_oauth;
mod memory;
mod packaging;
mod parsing;
mod policy;
mod policy_examples;
mod protocols;
mod reload;
mod replicas;
mod review;
mod routing;
mod runs;
mod runs_shared;
mod session_affinity;
mod shutdown;
mod streaming;
mod upstream_errors;
mod upstream_fleet;
mod upstream_pool;

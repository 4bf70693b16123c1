//! `sec0-gateway demo`: the gateway and a sample MCP tool server in one process, and a
//! scripted agent session driven through the gateway, printed hop by hop.

mod sample_server;
mod script;

pub use sample_server::SampleServer;
pub use script::run;

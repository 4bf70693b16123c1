//! Where a call travels: the protocol a route carries, the trust boundary it crosses, and
//! which way the data being looked at moves.

use serde::{Deserialize, Serialize};

/// Protocol carried on a route. The gateway never guesses it from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Model Context Protocol (Streamable HTTP or legacy HTTP+SSE).
    Mcp,
    /// Agent2Agent (JSON-RPC binding).
    A2a,
    /// Plain JSON-RPC 2.0 over HTTP.
    Jsonrpc,
    /// Plain HTTP.
    Http,
}

impl Protocol {
    /// Whether request bodies are JSON-RPC envelopes (errors are answered as JSON-RPC).
    pub fn is_jsonrpc(self) -> bool {
        !matches!(self, Protocol::Http)
    }

    /// The name used in config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Mcp => "mcp",
            Protocol::A2a => "a2a",
            Protocol::Jsonrpc => "jsonrpc",
            Protocol::Http => "http",
        }
    }
}

/// The trust boundary a route crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Boundary {
    /// Orchestrator calling an agent.
    OrchestratorToAgent,
    /// Agent calling another agent.
    AgentToAgent,
    /// Agent calling a tool server.
    AgentToTool,
    /// Tool server calling an external API (egress).
    ToolToApi,
}

impl Boundary {
    /// The name used in config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Boundary::OrchestratorToAgent => "orchestrator_to_agent",
            Boundary::AgentToAgent => "agent_to_agent",
            Boundary::AgentToTool => "agent_to_tool",
            Boundary::ToolToApi => "tool_to_api",
        }
    }
}

/// Which way data travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Arguments and bodies going to the upstream.
    #[default]
    Request,
    /// Results, events and tool descriptors coming back.
    Response,
    /// Either.
    Both,
}

impl Direction {
    /// The name used in rules and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
            Direction::Both => "both",
        }
    }

    /// Whether this direction covers `phase`.
    pub fn covers(self, phase: Direction) -> bool {
        self == Direction::Both || self == phase
    }
}

//! Structured logs via `tracing`: human-readable on a terminal, JSON lines with
//! `--log-format json` (for log shippers). `RUST_LOG` overrides the level filter.

pub mod otlp;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Pretty on a terminal, plain text otherwise.
    Auto,
    /// One JSON object per line.
    Json,
    /// Plain text.
    Text,
}

/// Install the global subscriber. `level` is the default filter (e.g. `info`); `RUST_LOG`
/// wins when set. Calling it twice is harmless (the second call does nothing).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Auto => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

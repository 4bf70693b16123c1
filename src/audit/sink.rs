//! Where chained audit lines go. The writer ([`super::writer`]) chains each record once and
//! hands the same bytes to every configured sink: files ([`super::file`]), the collector's
//! durable spool ([`super::spool`]) and standard output ([`StdoutSink`]).

use std::io::Write;

/// A destination for chained NDJSON lines. Sinks run on the writer's blocking thread, never
/// on a request's path.
pub trait LineSink: Send {
    /// Name in metrics and logs (`file`, `http`, `stdout`).
    fn name(&self) -> &'static str;
    /// Whether lines it could not write must be kept and written again (the writer retries
    /// them, holding every later record back, until they are written) rather than counted as
    /// lost: an audit file must not have gaps. Others lose the lines they fail (counted).
    fn holds_on_error(&self) -> bool {
        false
    }
    /// A new chain starts (the file sink opens a file named after it).
    fn start_chain(&mut self, _chain: &str) -> std::io::Result<()> {
        Ok(())
    }
    /// Whole lines (`count` of them), each ending in `\n`.
    fn write_lines(&mut self, lines: &[u8], count: u64) -> std::io::Result<()>;
    /// The chain ended (its last line was a checkpoint).
    fn end_chain(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// Push buffered lines on; with `sync`, to stable storage.
    fn flush(&mut self, sync: bool) -> std::io::Result<()>;
    /// No more lines (shutdown): end the chain, flush, sync.
    fn close(&mut self) -> std::io::Result<()> {
        self.end_chain()?;
        self.flush(true)
    }
}

/// Standard output, for containers whose log shipper collects it. The gateway's own logs go
/// to standard error, so the two never mix.
pub struct StdoutSink {
    out: std::io::Stdout,
}

impl StdoutSink {
    /// The process's standard output.
    pub fn new() -> Self {
        Self {
            out: std::io::stdout(),
        }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl LineSink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }
    fn write_lines(&mut self, lines: &[u8], _count: u64) -> std::io::Result<()> {
        self.out.lock().write_all(lines)
    }
    fn flush(&mut self, _sync: bool) -> std::io::Result<()> {
        self.out.lock().flush()
    }
}

//! Structured parses of commands found in text: shell command lines ([`shell`]) and SQL
//! statements ([`sql`]). They do not depend on the detectors: the guard uses them to tell a
//! command from prose that mentions one, and the learner builds call features on them
//! (program and subcommand, flags, pipes into a shell or to the network, statement kind,
//! tables, whether a `WHERE`/`LIMIT` bounds it).
//!
//! Both are tolerant (text from the wild: partial commands, prose around them) and capped:
//! input size, number of words/statements and nesting depth are bounded, so any input costs
//! bounded time and memory and nothing panics.

mod lexer;
pub mod select;
pub mod shell;
pub mod sql;

pub use shell::{Pipeline, Redirect, RedirectOp, ShellParse, SimpleCommand, parse_shell};
pub use sql::{SqlKind, SqlParse, SqlStatement, parse_sql};

/// `text` cut to at most `max` bytes at a character boundary, and the error saying so when
/// it was cut: what both parsers read of an input too long for them.
fn capped(text: &str, max: usize) -> (&str, Option<CommandError>) {
    if text.len() <= max {
        return (text, None);
    }
    let end = crate::guard::engine::floor_char(text, max);
    (&text[..end], Some(CommandError::TooLong(max)))
}

/// Why a parse stopped early (the parse keeps what it read before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The input is longer than the parser reads.
    #[error("input longer than {0} bytes")]
    TooLong(usize),
    /// Substitutions or subshells nest deeper than the parser follows.
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
    /// More words, commands or statements than the parser keeps.
    #[error("more than {0} items")]
    TooMany(usize),
}

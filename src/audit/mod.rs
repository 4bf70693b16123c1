//! Record: the audit trail. Every decision the gateway makes will leave one record that
//! cannot be altered unnoticed.
//!
//! What exists so far: the chain ([`chain`]: canonical form, SHA-256 links, Ed25519-signed
//! checkpoints), one chained file ([`file`]), and verification ([`verify`], the
//! `audit verify` command). Not yet: records written from the request path, the bounded
//! queue and writer task, rotation, the HTTP collector sink with its spool, stdout, and
//! `audit run` — the configuration has no `audit` section until they exist.

pub mod chain;
pub mod file;
pub mod verify;

//! Record: the audit trail. Every decision the gateway makes will leave one record that
//! cannot be altered unnoticed.
//!
//! What exists so far: the chain ([`chain`]: canonical form, SHA-256 links, Ed25519-signed
//! checkpoints), one chained file ([`file`]), the file sink's bounded queue and writer task
//! with rotation by size and day, timed checkpoints and the `block` / `fail_closed` policy
//! ([`writer`]), decision and error records ([`record`], written by the proxy when
//! `audit.file` is configured), and verification ([`verify`], the `audit verify` command).
//! Not yet: latencies, body hashes and bytes in records, the HTTP collector sink with its
//! spool, stdout, the metrics, and `audit run`.

pub mod chain;
pub mod file;
pub mod record;
pub mod verify;
pub mod writer;

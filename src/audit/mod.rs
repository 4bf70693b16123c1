//! Record: the audit trail. Every decision the gateway makes, and every call it refuses or
//! fails on its own, leaves one record that cannot be altered unnoticed and is not lost when
//! a collector is down.
//!
//! The path of a record: [`exchange`] builds it as the call is decided and completes it when
//! the answer has ended; [`writer`] queues it (bounded, `block` or `fail_closed`) and chains
//! it once ([`chain`]: canonical form = the serialized [`record::AuditRecord`], SHA-256 links,
//! Ed25519-signed checkpoints); the same line goes to every [`sink`]: rotated files
//! ([`file`](mod@file)), the collector's durable spool ([`spool`], sent on by [`deliver`]) and stdout.
//! [`verify`] re-checks files (`audit verify`), [`trajectory`] prints one run (`audit run`).

pub mod chain;
pub mod deliver;
pub mod exchange;
pub mod file;
pub mod record;
pub mod sink;
pub mod spool;
pub mod trajectory;
pub mod verify;
pub mod writer;

//! One audit file: NDJSON records chained by hash, with signed checkpoints every N records,
//! on demand (rotation, a timer) and when the file is closed.
//!
//! This is the synchronous core a writer task drives; it never runs on a request's path.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::chain::{CheckpointSigner, GENESIS, hash_of};

/// Audit schema version written into every record (`docs/audit.md`).
pub const SCHEMA_VERSION: u64 = 1;

/// When the file reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every batch of records (`flush_batch`).
    EveryBatch,
    /// Never explicitly (the OS decides); checkpoints still flush.
    Never,
}

/// An open audit file and its chain state.
pub struct ChainFile {
    path: PathBuf,
    out: BufWriter<File>,
    prev_hash: String,
    seq: u64,
    since_checkpoint: u64,
    checkpoint_every: u64,
    signer: Option<CheckpointSigner>,
    fsync: Fsync,
}

impl ChainFile {
    /// Create `path` (it must not exist: a chain file is never appended to by a second
    /// writer) and start a chain.
    pub fn create(
        path: &Path,
        signer: Option<CheckpointSigner>,
        checkpoint_every: u64,
        fsync: Fsync,
    ) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(1 << 16, file),
            prev_hash: GENESIS.to_string(),
            seq: 0,
            since_checkpoint: 0,
            checkpoint_every: checkpoint_every.max(1),
            signer,
            fsync,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records written so far (checkpoints included).
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Chain and write one record (a JSON object); a checkpoint follows every
    /// `checkpoint_every` records.
    pub fn append(&mut self, mut record: Value) -> std::io::Result<()> {
        self.link_and_write(&mut record, None)?;
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.checkpoint_every {
            self.checkpoint("interval")?;
        }
        Ok(())
    }

    /// Write a checkpoint record now (`reason`: `interval`, `timer`, `rotation`,
    /// `shutdown`), signed when a key is configured, and flush.
    pub fn checkpoint(&mut self, reason: &str) -> std::io::Result<()> {
        let mut cp = json!({
            "kind": "checkpoint",
            "schema": SCHEMA_VERSION,
            "ts": now_rfc3339(),
            "reason": reason,
            "records": self.seq,
        });
        let key_id = self.signer.as_ref().map(|s| s.key_id.clone());
        if let Some(k) = &key_id {
            cp["key_id"] = Value::from(k.as_str());
        }
        self.link_and_write(&mut cp, key_id.as_deref())?;
        self.since_checkpoint = 0;
        self.out.flush()?;
        if self.fsync == Fsync::EveryBatch {
            self.out.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Flush buffered records (and fsync when the policy says so).
    pub fn flush_batch(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        if self.fsync == Fsync::EveryBatch {
            self.out.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Close the file with a final checkpoint.
    pub fn finish(mut self, reason: &str) -> std::io::Result<()> {
        self.checkpoint(reason)?;
        self.out.get_ref().sync_all()
    }

    fn link_and_write(&mut self, record: &mut Value, signing: Option<&str>) -> std::io::Result<()> {
        let Some(obj) = record.as_object_mut() else {
            return Err(std::io::Error::other(
                "an audit record must be a JSON object",
            ));
        };
        obj.insert("seq".into(), Value::from(self.seq));
        obj.insert("prev_hash".into(), Value::from(self.prev_hash.as_str()));
        let hash = hash_of(record);
        if let (Some(_), Some(s)) = (signing, &self.signer) {
            record["signature"] = Value::from(s.sign_hash(&hash));
        }
        record["hash"] = Value::from(hash.as_str());
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        self.prev_hash = hash;
        self.seq += 1;
        Ok(())
    }
}

/// The current time as RFC 3339 with microseconds, UTC.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

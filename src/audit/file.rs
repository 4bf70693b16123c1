//! The file sink: one NDJSON file per chain, named after it so names sort by time
//! (`audit-20261124T072811Z-<instance>-000001.ndjson`), plus [`ChainFile`], a single chained
//! file for tools, tests and benchmarks.
//!
//! This is synchronous code the writer task drives on the blocking pool; it never runs on a
//! request's path.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::chain::{Chain, CheckpointSigner};
use super::record::AuditRecord;
use super::sink::LineSink;

/// When written lines reach stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// After every batch the writer takes from the queue.
    EveryBatch,
    /// At most this long after a batch (group commit: fewer syncs under load).
    Every(Duration),
    /// Never explicitly (the OS decides); closing a file still syncs it.
    Never,
}

/// Rotated chain files in one directory.
pub struct FileSink {
    dir: PathBuf,
    out: Option<(BufWriter<File>, PathBuf)>,
}

impl FileSink {
    /// Files go to `dir` (created if missing).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            out: None,
        })
    }

    /// The file being written, if any.
    pub fn current(&self) -> Option<&Path> {
        self.out.as_ref().map(|(_, p)| p.as_path())
    }
}

impl LineSink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn start_chain(&mut self, chain: &str) -> std::io::Result<()> {
        self.end_chain()?;
        let path = self.dir.join(format!("{chain}.ndjson"));
        // `create_new`: a chain file is never appended to by a second writer.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        self.out = Some((BufWriter::with_capacity(1 << 16, file), path));
        Ok(())
    }

    fn write_lines(&mut self, lines: &[u8], _count: u64) -> std::io::Result<()> {
        match &mut self.out {
            Some((w, _)) => w.write_all(lines),
            None => Err(std::io::Error::other("no audit file open")),
        }
    }

    fn end_chain(&mut self) -> std::io::Result<()> {
        if let Some((mut w, _)) = self.out.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        Ok(())
    }

    fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        if let Some((w, _)) = &mut self.out {
            w.flush()?;
            if sync {
                w.get_ref().sync_data()?;
            }
        }
        Ok(())
    }
}

/// One chained file written directly (no queue, no rotation): for tests, benchmarks and
/// tools that produce audit files offline.
pub struct ChainFile {
    chain: Chain,
    out: BufWriter<File>,
    line: Vec<u8>,
}

impl ChainFile {
    /// Create `path` (it must not exist) and start a chain named after its file stem.
    pub fn create(
        path: &Path,
        signer: Option<CheckpointSigner>,
        checkpoint_every: u64,
    ) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            chain: Chain::new(&id, signer, checkpoint_every),
            out: BufWriter::with_capacity(1 << 16, file),
            line: Vec::with_capacity(1024),
        })
    }

    /// Chain and write one record (a checkpoint follows every `checkpoint_every`).
    pub fn append(&mut self, mut record: AuditRecord) -> std::io::Result<()> {
        self.line.clear();
        self.chain.append(&mut record, &mut self.line);
        self.out.write_all(&self.line)
    }

    /// Lines written so far (checkpoints included).
    pub fn len(&self) -> u64 {
        self.chain.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.chain.is_empty()
    }

    /// Close the file with a final checkpoint.
    pub fn finish(mut self, reason: &'static str) -> std::io::Result<()> {
        self.line.clear();
        self.chain.checkpoint(reason, &mut self.line);
        self.out.write_all(&self.line)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

//! The file sink: one NDJSON file per chain, named after it so names sort by time
//! (`audit-20261124T072811Z-<instance>-000001.ndjson`), plus [`ChainFile`], a single chained
//! file for tools, tests and benchmarks.
//!
//! This is synchronous code the writer task drives on the blocking pool; it never runs on a
//! request's path.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
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
///
/// Lines go straight to the file (the writer already hands over whole batches), and the
/// sink knows how many bytes of whole lines the file holds: when a write fails part-way (a
/// full disk), the file is cut back to its last whole line, so the same lines can be written
/// again once there is room and the chain stays verifiable. The writer keeps them until then
/// ([`LineSink::holds_on_error`]).
pub struct FileSink {
    dir: PathBuf,
    /// The open file, its path, and the bytes of whole lines written to it.
    out: Option<(File, PathBuf, u64)>,
    /// A chain whose file could not be created yet (created by the next write).
    pending: Option<String>,
}

impl FileSink {
    /// Files go to `dir` (created if missing).
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            out: None,
            pending: None,
        })
    }

    /// The file being written, if any.
    pub fn current(&self) -> Option<&Path> {
        self.out.as_ref().map(|(_, p, _)| p.as_path())
    }

    fn open(&mut self, chain: &str) -> std::io::Result<()> {
        let path = self.dir.join(format!("{chain}.ndjson"));
        // `create_new`: a chain file is never appended to by a second writer. A file left
        // empty by an earlier attempt (created, then the disk was full) is taken over.
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Err(e)
                if e.kind() == std::io::ErrorKind::AlreadyExists
                    && std::fs::metadata(&path).is_ok_and(|m| m.len() == 0) =>
            {
                std::fs::OpenOptions::new().write(true).open(&path)?
            }
            r => r?,
        };
        self.out = Some((file, path, 0));
        Ok(())
    }
}

impl LineSink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn holds_on_error(&self) -> bool {
        true
    }

    fn start_chain(&mut self, chain: &str) -> std::io::Result<()> {
        // The previous file is complete whatever its sync says: the new chain starts.
        let ended = self.end_chain();
        self.pending = Some(chain.to_string());
        self.open(chain)?;
        self.pending = None;
        ended
    }

    fn write_lines(&mut self, lines: &[u8], _count: u64) -> std::io::Result<()> {
        if let Some(chain) = self.pending.clone() {
            self.open(&chain)?;
            self.pending = None;
        }
        let Some((f, _, len)) = &mut self.out else {
            return Err(std::io::Error::other("no audit file open"));
        };
        match f.write_all(lines) {
            Ok(()) => {
                *len += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Part of the lines may be in the file: cut it back to its last whole line
                // (and write from there next time), so that writing the same lines again
                // leaves one copy of each and the chain unbroken.
                let _ = f.set_len(*len);
                let _ = f.seek(SeekFrom::Start(*len));
                Err(e)
            }
        }
    }

    fn end_chain(&mut self) -> std::io::Result<()> {
        if let Some((f, _, _)) = self.out.take() {
            f.sync_all()?;
        }
        Ok(())
    }

    fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        if let Some((f, _, _)) = &mut self.out {
            if sync {
                f.sync_data()?;
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

//! The file sink's writer: records come through a bounded queue to one task that chains and
//! writes them (on the blocking pool), so the request path never waits on the disk.
//!
//! When the queue is full, [`OnFull`] decides: `block` waits (back-pressure on the calls
//! being recorded) and `fail_closed` refuses the record at once, so the caller can refuse
//! the call it describes until the writer catches up. Nothing is dropped silently: a refused
//! or unwritable record is counted. Files rotate by size and by UTC day, each with its own
//! chain and a final `rotation` checkpoint; a checkpoint is also written every
//! `checkpoint_every` records, every `checkpoint_interval`, and at shutdown. File names sort
//! by time: `audit-20261124T072811Z-000001.ndjson`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::mpsc;

use super::chain::CheckpointSigner;
use super::file::{ChainFile, Fsync};

/// What happens to a record when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// Wait for room (the call being recorded waits too).
    Block,
    /// Refuse the record now; the caller refuses its call.
    FailClosed,
}

/// The file sink's settings.
pub struct FileSinkConfig {
    /// Directory of the audit files (created if missing).
    pub dir: PathBuf,
    /// Records queued at most.
    pub queue: usize,
    /// Policy when the queue is full.
    pub on_full: OnFull,
    /// A checkpoint after this many records.
    pub checkpoint_every: u64,
    /// And at least this often while records arrive.
    pub checkpoint_interval: Duration,
    /// Rotate when a file passes this size.
    pub max_file_bytes: u64,
    /// When data reaches the disk.
    pub fsync: Fsync,
    /// Signs checkpoints (unsigned without).
    pub signer: Option<Arc<dyn Fn() -> CheckpointSigner + Send + Sync>>,
}

/// Why a record was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The queue is full and the policy is `fail_closed`.
    #[error("audit queue full: calls are refused until the audit trail catches up")]
    Full,
    /// The writer has stopped (shutdown, or it could not write).
    #[error("audit writer stopped")]
    Stopped,
}

/// Counters the sink keeps (exported as metrics by the caller).
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Records written.
    pub written: AtomicU64,
    /// Records refused (queue full under `fail_closed`) or lost to a write error.
    pub failed: AtomicU64,
    /// Files started.
    pub files: AtomicU64,
}

/// The handle the request path records through.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Value>,
    on_full: OnFull,
    /// The sink's counters.
    pub stats: Arc<SinkStats>,
}

impl AuditSink {
    /// Queue one record.
    pub async fn record(&self, record: Value) -> Result<(), AuditError> {
        let sent = match self.on_full {
            OnFull::Block => self.tx.send(record).await.map_err(|_| AuditError::Stopped),
            OnFull::FailClosed => self.tx.try_send(record).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => AuditError::Full,
                mpsc::error::TrySendError::Closed(_) => AuditError::Stopped,
            }),
        };
        if sent.is_err() {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Queue one record without waiting (for code that cannot wait, such as a response
    /// stream's hook); a full queue counts the record as failed whatever the policy.
    pub fn try_record(&self, record: Value) -> Result<(), AuditError> {
        let sent = self.tx.try_send(record).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => AuditError::Full,
            mpsc::error::TrySendError::Closed(_) => AuditError::Stopped,
        });
        if sent.is_err() {
            self.stats.failed.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// Whether a full queue refuses calls (`fail_closed`).
    pub fn fails_closed(&self) -> bool {
        self.on_full == OnFull::FailClosed
    }

    /// Records waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// Start the writer task; it ends (with a final checkpoint) when every [`AuditSink`] clone is
/// dropped. The returned handle resolves when everything is on disk.
pub fn start_file_sink(
    cfg: FileSinkConfig,
) -> std::io::Result<(AuditSink, tokio::task::JoinHandle<std::io::Result<()>>)> {
    std::fs::create_dir_all(&cfg.dir)?;
    let (tx, rx) = mpsc::channel(cfg.queue.max(1));
    let stats = Arc::new(SinkStats::default());
    let sink = AuditSink {
        tx,
        on_full: cfg.on_full,
        stats: stats.clone(),
    };
    let task = tokio::spawn(write_loop(Arc::new(cfg), rx, stats));
    Ok((sink, task))
}

/// The open file and when it was last checkpointed.
struct Current {
    file: Option<(ChainFile, String)>,
    last_checkpoint: std::time::Instant,
}

/// The writer: waits for batches (or the checkpoint timer) without blocking a runtime
/// thread, and does the file work on the blocking pool.
async fn write_loop(
    cfg: Arc<FileSinkConfig>,
    mut rx: mpsc::Receiver<Value>,
    stats: Arc<SinkStats>,
) -> std::io::Result<()> {
    let mut cur = Current {
        file: None,
        last_checkpoint: std::time::Instant::now(),
    };
    loop {
        let mut batch = Vec::with_capacity(512);
        let closed = match tokio::time::timeout(
            cfg.checkpoint_interval,
            rx.recv_many(&mut batch, 512),
        )
        .await
        {
            Ok(0) => true,
            Ok(_) | Err(_) => false,
        };
        let (c, s) = (cfg.clone(), stats.clone());
        cur = tokio::task::spawn_blocking(move || write_batch(cur, batch, &c, &s))
            .await
            .map_err(std::io::Error::other)??;
        if closed {
            break;
        }
    }
    tokio::task::spawn_blocking(move || match cur.file {
        Some((f, _)) => f.finish("shutdown"),
        None => Ok(()),
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Write one batch (rotating as needed), then checkpoint if the timer is due, else flush.
fn write_batch(
    mut cur: Current,
    batch: Vec<Value>,
    cfg: &FileSinkConfig,
    stats: &SinkStats,
) -> std::io::Result<Current> {
    for record in batch {
        let day = utc_day(SystemTime::now());
        let rotate = match &cur.file {
            None => true,
            Some((f, d)) => *d != day || file_len(f.path()) >= cfg.max_file_bytes,
        };
        if rotate {
            if let Some((f, _)) = cur.file.take() {
                f.finish("rotation")?;
            }
            let n = stats.files.fetch_add(1, Ordering::Relaxed) + 1;
            let path = cfg.dir.join(file_name(SystemTime::now(), n));
            let signer = cfg.signer.as_ref().map(|s| s());
            cur.file = Some((
                ChainFile::create(&path, signer, cfg.checkpoint_every, cfg.fsync)?,
                day,
            ));
            cur.last_checkpoint = std::time::Instant::now();
        }
        if let Some((f, _)) = &mut cur.file {
            match f.append(record) {
                Ok(()) => {
                    stats.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "audit record could not be written");
                }
            }
        }
    }
    if let Some((f, _)) = &mut cur.file {
        if cur.last_checkpoint.elapsed() >= cfg.checkpoint_interval {
            f.checkpoint("timer")?;
            cur.last_checkpoint = std::time::Instant::now();
        } else {
            f.flush_batch()?;
        }
    }
    Ok(cur)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// `2026-11-24` of a time (UTC).
fn utc_day(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// `audit-20261124T072811Z-000001.ndjson`: sorts by time, then by file number.
fn file_name(t: SystemTime, n: u64) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("audit-{stamp}-{n:06}.ndjson")
}

#[cfg(test)]
mod tests {
    use super::super::verify::verify_file;
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn cfg(dir: &Path, queue: usize, on_full: OnFull, max_file_bytes: u64) -> FileSinkConfig {
        FileSinkConfig {
            dir: dir.to_path_buf(),
            queue,
            on_full,
            checkpoint_every: 100,
            checkpoint_interval: Duration::from_secs(60),
            max_file_bytes,
            fsync: Fsync::Never,
            signer: Some(Arc::new(|| CheckpointSigner::from_seed([1; 32], "k"))),
        }
    }

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        v.sort();
        v
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_record_lands_in_verifiable_rotated_files() {
        let dir = tempfile::tempdir().expect("dir");
        let (sink, task) =
            start_file_sink(cfg(dir.path(), 64, OnFull::Block, 64 << 10)).expect("start");
        let mut senders = Vec::new();
        for t in 0..4 {
            let s = sink.clone();
            senders.push(tokio::spawn(async move {
                for i in 0..1000 {
                    s.record(json!({"kind": "decision", "t": t, "i": i, "pad": "x".repeat(64)}))
                        .await
                        .expect("queued");
                }
            }));
        }
        for s in senders {
            s.await.expect("sender");
        }
        let stats = sink.stats.clone();
        drop(sink);
        task.await.expect("task").expect("writer");
        assert_eq!(stats.written.load(Ordering::Relaxed), 4000);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 0);
        let fs = files(dir.path());
        assert!(fs.len() >= 3, "rotated by size: {fs:?}");
        let key = CheckpointSigner::from_seed([1; 32], "k").verifying_key();
        let keys = HashMap::from([("k".to_string(), key)]);
        let mut decisions = 0;
        for f in &fs {
            verify_file(f, &keys, true).unwrap_or_else(|e| panic!("{e}"));
            decisions += std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .filter(|l| l.contains("\"kind\":\"decision\""))
                .count();
        }
        assert_eq!(decisions, 4000, "each record exactly once across the files");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_under_fail_closed_and_counts_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (sink, task) =
            start_file_sink(cfg(dir.path(), 1, OnFull::FailClosed, 1 << 30)).expect("start");
        let mut refused = 0;
        for i in 0..10_000 {
            if sink.record(json!({"kind": "decision", "i": i})).await == Err(AuditError::Full) {
                refused += 1;
            }
        }
        assert!(refused > 0, "a one-slot queue fills under a burst");
        let stats = sink.stats.clone();
        drop(sink);
        task.await.expect("task").expect("writer");
        assert_eq!(
            stats.written.load(Ordering::Relaxed) + stats.failed.load(Ordering::Relaxed),
            10_000,
            "every record is either written or counted as failed"
        );
        assert_eq!(stats.failed.load(Ordering::Relaxed), refused);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_sink_still_checkpoints_on_its_timer() {
        let dir = tempfile::tempdir().expect("dir");
        let mut c = cfg(dir.path(), 8, OnFull::Block, 1 << 30);
        c.checkpoint_interval = Duration::from_millis(50);
        let (sink, task) = start_file_sink(c).expect("start");
        sink.record(json!({"kind": "decision"}))
            .await
            .expect("queued");
        let file = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if let Some(f) = files(dir.path()).pop() {
                    if std::fs::read_to_string(&f).is_ok_and(|t| t.contains("\"reason\":\"timer\""))
                    {
                        break f;
                    }
                }
            }
        })
        .await
        .expect("a timer checkpoint within 10 s");
        drop(sink);
        task.await.expect("task").expect("writer");
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(text.trim_end().ends_with('}') && text.contains("\"reason\":\"shutdown\""));
    }

    #[test]
    fn file_names_sort_by_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_500_000);
        assert_eq!(file_name(t, 7), "audit-20261124T060000Z-000007.ndjson");
        assert_eq!(utc_day(t), "2026-11-24");
    }
}

//! The audit writer: records come through one bounded queue to one task that chains each
//! record once and hands the same line to every sink (file, collector spool, stdout) on the
//! blocking pool, so the request path never waits on a disk or a network.
//!
//! A call reserves its queue slot when it is decided ([`AuditTrail::reserve`]) and fills it
//! when its answer has ended, so the record carries status, body hashes and latencies without
//! the call ever waiting for the writer. When the queue is full, [`OnFull`] decides: `block`
//! waits for room (back-pressure on the calls being recorded), `fail_closed` refuses at once
//! so the call is refused until the writer catches up. Nothing is dropped silently: a refused
//! or unwritable record is counted (`sec0_gateway_audit_records_total{result="failed"}`).
//!
//! Chains rotate by size and by UTC day (each chain is one file, ending in a `rotation`
//! checkpoint); a checkpoint is also written every `checkpoint_every` records, every
//! `checkpoint_interval`, and at shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::chain::{Chain, CheckpointSigner};
use super::file::Fsync;
use super::record::{AuditRecord, instance_id};
use super::sink::LineSink;
use crate::metrics::AuditMetrics;

/// What happens to a record when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFull {
    /// Wait for room (the call being recorded waits too).
    Block,
    /// Refuse the record now; the caller refuses its call.
    FailClosed,
}

/// The writer's settings.
#[derive(Clone)]
pub struct TrailConfig {
    /// Records queued at most.
    pub queue: usize,
    /// Policy when the queue is full.
    pub on_full: OnFull,
    /// A checkpoint after this many records.
    pub checkpoint_every: u64,
    /// And at least this often while records arrive.
    pub checkpoint_interval: Duration,
    /// A new chain (file) when the current one passes this size.
    pub max_chain_bytes: u64,
    /// When lines reach stable storage.
    pub fsync: Fsync,
    /// Signs checkpoints (unsigned without).
    pub signer: Option<CheckpointSigner>,
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

/// The handle the request path records through.
#[derive(Clone)]
pub struct AuditTrail {
    tx: mpsc::Sender<Box<AuditRecord>>,
    on_full: OnFull,
    metrics: Arc<AuditMetrics>,
}

/// A reserved place in the queue: sending through it cannot fail or wait.
pub struct Slot(mpsc::OwnedPermit<Box<AuditRecord>>);

impl Slot {
    /// Queue the record.
    pub fn send(self, record: AuditRecord) {
        self.0.send(Box::new(record));
    }
}

impl AuditTrail {
    /// Reserve a place for one record: under `block` this waits for room, under
    /// `fail_closed` a full queue is an error now.
    pub async fn reserve(&self) -> Result<Slot, AuditError> {
        let r = match self.on_full {
            OnFull::Block => self
                .tx
                .clone()
                .reserve_owned()
                .await
                .map_err(|_| AuditError::Stopped),
            OnFull::FailClosed => self.try_reserve_inner(),
        };
        if r.is_err() {
            self.metrics.failed("queue", 1);
        }
        r.map(Slot)
    }

    fn try_reserve_inner(&self) -> Result<mpsc::OwnedPermit<Box<AuditRecord>>, AuditError> {
        self.tx.clone().try_reserve_owned().map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => AuditError::Full,
            mpsc::error::TrySendError::Closed(_) => AuditError::Stopped,
        })
    }

    /// Queue one record (waiting for room under `block`).
    pub async fn record(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.reserve().await?.send(record);
        Ok(())
    }

    /// Queue one record without waiting (for code that cannot wait, such as a response
    /// stream's hook); a full queue counts the record as failed whatever the policy.
    pub fn try_record(&self, record: AuditRecord) -> Result<(), AuditError> {
        match self.try_reserve_inner() {
            Ok(p) => {
                p.send(Box::new(record));
                Ok(())
            }
            Err(e) => {
                self.metrics.failed("queue", 1);
                Err(e)
            }
        }
    }

    /// Whether a full queue refuses calls (`fail_closed`).
    pub fn fails_closed(&self) -> bool {
        self.on_full == OnFull::FailClosed
    }

    /// Records waiting in the queue (reserved places included).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The trail's metrics.
    pub fn metrics(&self) -> &Arc<AuditMetrics> {
        &self.metrics
    }
}

/// A handle that does not keep the writer alive (for services that outlive the proxy, such
/// as the admin listener): records are taken while the trail is open, refused after.
#[derive(Clone)]
pub struct WeakAuditTrail {
    tx: mpsc::WeakSender<Box<AuditRecord>>,
    metrics: Arc<AuditMetrics>,
}

impl AuditTrail {
    /// A handle that does not keep the writer alive.
    pub fn downgrade(&self) -> WeakAuditTrail {
        WeakAuditTrail {
            tx: self.tx.downgrade(),
            metrics: self.metrics.clone(),
        }
    }
}

impl WeakAuditTrail {
    /// Queue one record without waiting, if the trail is still open (a full queue or a
    /// closed trail counts the record as failed).
    pub fn try_record(&self, record: AuditRecord) -> Result<(), AuditError> {
        match self.tx.upgrade() {
            Some(tx) => AuditTrail {
                tx,
                on_full: OnFull::FailClosed,
                metrics: self.metrics.clone(),
            }
            .try_record(record),
            None => {
                self.metrics.failed("queue", 1);
                Err(AuditError::Stopped)
            }
        }
    }
}

/// Start the writer task with `sinks`; it ends (final checkpoint written, sinks closed) when
/// every [`AuditTrail`] clone and reserved [`Slot`] is gone.
pub fn start(
    cfg: TrailConfig,
    sinks: Vec<Box<dyn LineSink>>,
    metrics: Arc<AuditMetrics>,
) -> (AuditTrail, tokio::task::JoinHandle<std::io::Result<()>>) {
    let (tx, rx) = mpsc::channel(cfg.queue.max(1));
    let trail = AuditTrail {
        tx,
        on_full: cfg.on_full,
        metrics: metrics.clone(),
    };
    let task = tokio::spawn(write_loop(cfg, rx, sinks, metrics));
    (trail, task)
}

/// Records the writer takes from the queue at once.
const BATCH: usize = 1024;

/// How long the writer lets records gather after a partial batch (see `write_loop`).
const LINGER: Duration = Duration::from_millis(2);

/// The writer's state between batches (moved to the blocking pool and back).
struct Writer {
    cfg: TrailConfig,
    metrics: Arc<AuditMetrics>,
    sinks: Vec<Box<dyn LineSink>>,
    chain: Option<Chain>,
    chain_day: String,
    chain_bytes: u64,
    last_checkpoint: Instant,
    last_sync: Instant,
    unsynced: bool,
    /// Records written since the last checkpoint (a quiet chain gets no timer checkpoint).
    uncheckpointed: bool,
    buf: Vec<u8>,
    lines: u64,
    /// Shutting down: a sink that holds its lines is retried for a bounded time only.
    closing: bool,
}

/// Waits for batches (or a timer) without blocking a runtime thread and does the sink work
/// on the blocking pool.
async fn write_loop(
    cfg: TrailConfig,
    mut rx: mpsc::Receiver<Box<AuditRecord>>,
    sinks: Vec<Box<dyn LineSink>>,
    metrics: Arc<AuditMetrics>,
) -> std::io::Result<()> {
    let tick = match cfg.fsync {
        Fsync::Every(d) => d.min(cfg.checkpoint_interval),
        _ => cfg.checkpoint_interval,
    }
    .max(Duration::from_millis(1));
    let mut w = Writer {
        cfg,
        metrics: metrics.clone(),
        sinks,
        chain: None,
        chain_day: String::new(),
        chain_bytes: 0,
        last_checkpoint: Instant::now(),
        last_sync: Instant::now(),
        unsynced: false,
        uncheckpointed: false,
        buf: Vec::with_capacity(1 << 16),
        lines: 0,
        closing: false,
    };
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let closed = matches!(
            tokio::time::timeout(tick, rx.recv_many(&mut batch, BATCH)).await,
            Ok(0)
        );
        metrics.queue_depth.set(rx.len() as i64);
        w.closing = closed;
        w = tokio::task::spawn_blocking(move || {
            w.write(batch);
            w
        })
        .await
        .map_err(std::io::Error::other)?;
        if closed {
            break;
        }
        if rx.len() < BATCH {
            // Group commit: let records gather for a moment instead of waiting on an empty
            // queue. A waiting writer must be woken by the next call's record — a cross-thread
            // wake-up (a system call, tens of µs on a busy VM) on that call's path; a writer
            // that lingers finds records already queued and nobody pays for waking it.
            tokio::time::sleep(LINGER).await;
        }
    }
    tokio::task::spawn_blocking(move || w.close())
        .await
        .map_err(std::io::Error::other)?
}

impl Writer {
    /// Chain and write one batch (rotating as needed), then a timer checkpoint if due, then
    /// flush (and sync when the policy says so).
    // The batch is what `recv_many` hands over: the queue holds boxes so that each of its
    // (up to 65,536) slots is one pointer, not a whole record.
    #[allow(clippy::vec_box)]
    fn write(&mut self, batch: Vec<Box<AuditRecord>>) {
        for mut record in batch {
            let day = utc_day(SystemTime::now());
            if self.chain.is_none()
                || self.chain_day != day
                || self.chain_bytes >= self.cfg.max_chain_bytes
            {
                self.rotate(day);
            }
            if let Some(chain) = &mut self.chain {
                let before = self.buf.len();
                let lines = chain.append(&mut record, &mut self.buf);
                self.lines += lines;
                // Two lines: the record and an interval checkpoint.
                self.uncheckpointed = lines == 1;
                self.chain_bytes += (self.buf.len() - before) as u64;
            }
            if self.buf.len() >= 1 << 20 {
                self.emit();
            }
        }
        if let Some(chain) = &mut self.chain {
            if self.last_checkpoint.elapsed() >= self.cfg.checkpoint_interval && self.uncheckpointed
            {
                self.uncheckpointed = false;
                chain.checkpoint("timer", &mut self.buf);
                self.lines += 1;
                self.last_checkpoint = Instant::now();
            }
        }
        if !self.buf.is_empty() {
            self.emit();
            self.unsynced = true;
        }
        if self.unsynced {
            let sync = match self.cfg.fsync {
                Fsync::EveryBatch => true,
                Fsync::Never => false,
                Fsync::Every(d) => self.last_sync.elapsed() >= d,
            };
            if sync || self.cfg.fsync == Fsync::Never {
                self.flush(sync);
                self.unsynced = false;
                self.last_sync = Instant::now();
            } else {
                self.flush(false);
            }
        }
    }

    /// Hand the buffered lines to every sink.
    fn emit(&mut self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        for sink in &mut self.sinks {
            match sink.write_lines(&self.buf, self.lines) {
                Ok(()) if sink.name() == "http" => {
                    self.metrics
                        .records
                        .with_label_values(&["http", "spooled"])
                        .inc_by(self.lines);
                }
                Ok(()) => {
                    self.metrics.written(sink.name(), self.lines);
                    self.metrics
                        .last_delivery
                        .with_label_values(&[sink.name()])
                        .set(now);
                }
                Err(e) if sink.holds_on_error() => {
                    // A full disk: nothing is dropped. The writer keeps these lines and tries
                    // again until they are written; meanwhile records wait in the queue, and
                    // once it is full `on_full` decides (calls wait, or are refused).
                    match hold_until_written(sink.as_mut(), &self.buf, self.lines, e, self.closing)
                    {
                        Ok(()) => self.metrics.written(sink.name(), self.lines),
                        Err(e) => {
                            self.metrics.failed(sink.name(), self.lines);
                            tracing::error!(sink = sink.name(), records = self.lines, error = %e, "audit records could not be written at shutdown: lost");
                        }
                    }
                }
                Err(e) => {
                    self.metrics.failed(sink.name(), self.lines);
                    tracing::error!(sink = sink.name(), records = self.lines, error = %e, "audit records could not be written");
                }
            }
        }
        self.buf.clear();
        self.lines = 0;
    }

    fn flush(&mut self, sync: bool) {
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush(sync) {
                tracing::error!(sink = sink.name(), error = %e, "audit sink could not flush");
            }
        }
    }

    /// End the current chain (rotation checkpoint) and start a new one.
    fn rotate(&mut self, day: String) {
        if let Some(mut chain) = self.chain.take() {
            chain.checkpoint("rotation", &mut self.buf);
            self.lines += 1;
            self.emit();
            for sink in &mut self.sinks {
                if let Err(e) = sink.end_chain() {
                    tracing::error!(sink = sink.name(), error = %e, "audit chain could not be closed");
                }
            }
        }
        // Numbered per process, not per writer: two trails in one process (tests, an
        // embedding) never name two chains alike.
        static CHAINS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = CHAINS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let id = chain_name(SystemTime::now(), instance_id(), n);
        for sink in &mut self.sinks {
            if let Err(e) = sink.start_chain(&id) {
                tracing::error!(sink = sink.name(), chain = %id, error = %e, "audit chain could not be started");
            }
        }
        self.chain = Some(Chain::new(
            &id,
            self.cfg.signer.clone(),
            self.cfg.checkpoint_every,
        ));
        self.chain_day = day;
        self.chain_bytes = 0;
        self.uncheckpointed = false;
        self.last_checkpoint = Instant::now();
    }

    /// Final checkpoint, then close every sink.
    fn close(mut self) -> std::io::Result<()> {
        self.closing = true;
        if let Some(chain) = &mut self.chain {
            chain.checkpoint("shutdown", &mut self.buf);
            self.lines += 1;
            self.emit();
        }
        let mut first_err = None;
        for sink in &mut self.sinks {
            if let Err(e) = sink.close() {
                tracing::error!(sink = sink.name(), error = %e, "audit sink could not be closed");
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// How long a closing writer keeps trying a sink that holds its lines (then they are lost,
/// counted and logged): a gateway whose disk stays full must still stop.
const CLOSE_RETRY: Duration = Duration::from_secs(30);

/// Write `lines` to a sink that keeps what it could not write ([`LineSink::holds_on_error`]),
/// retrying with backoff (50 ms up to 1 s) until it takes them — or, once the writer is
/// closing, for at most [`CLOSE_RETRY`]. One error when it starts failing, one warning when
/// it recovers.
fn hold_until_written(
    sink: &mut dyn LineSink,
    lines: &[u8],
    count: u64,
    first: std::io::Error,
    closing: bool,
) -> std::io::Result<()> {
    tracing::error!(sink = sink.name(), records = count, error = %first, "audit records could not be written; they are kept and later records wait until they are");
    let started = Instant::now();
    let mut delay = Duration::from_millis(50);
    loop {
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_secs(1));
        match sink.write_lines(lines, count) {
            Ok(()) => {
                tracing::warn!(
                    sink = sink.name(),
                    records = count,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "audit records written after the sink failed"
                );
                return Ok(());
            }
            Err(e) if closing && started.elapsed() >= CLOSE_RETRY => return Err(e),
            Err(_) => {}
        }
    }
}

/// `2026-11-24` of a time (UTC).
fn utc_day(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// `audit-20261124T072811Z-<instance>-000001`: sorts by time, then by number; unique across
/// gateway instances and restarts.
fn chain_name(t: SystemTime, instance: &str, n: u64) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    format!("audit-{stamp}-{instance}-{n:06}")
}

#[cfg(test)]
mod tests {
    use super::super::file::FileSink;
    use super::super::verify::verify_file;
    use super::*;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    fn cfg(queue: usize, on_full: OnFull, max_chain_bytes: u64) -> TrailConfig {
        TrailConfig {
            queue,
            on_full,
            checkpoint_every: 100,
            checkpoint_interval: Duration::from_secs(60),
            max_chain_bytes,
            fsync: Fsync::Never,
            signer: Some(CheckpointSigner::from_seed([1; 32], "k")),
        }
    }

    fn start_files(
        dir: &Path,
        c: TrailConfig,
    ) -> (
        AuditTrail,
        tokio::task::JoinHandle<std::io::Result<()>>,
        Arc<AuditMetrics>,
    ) {
        let m = Arc::new(AuditMetrics::unregistered());
        let sink = FileSink::new(dir).expect("sink");
        let (t, task) = start(c, vec![Box::new(sink)], m.clone());
        (t, task, m)
    }

    fn record(i: u64) -> AuditRecord {
        AuditRecord {
            method: Some(format!("m{i}")),
            detail: Some("x".repeat(64)),
            ..AuditRecord::error(None, 200, "test", String::new())
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

    /// A sink whose every write fails, as a full or vanished disk would.
    struct BrokenSink;

    impl crate::audit::sink::LineSink for BrokenSink {
        fn name(&self) -> &'static str {
            "stdout"
        }
        fn write_lines(&mut self, _lines: &[u8], _count: u64) -> std::io::Result<()> {
            Err(std::io::Error::other("no space left on device"))
        }
        fn flush(&mut self, _sync: bool) -> std::io::Result<()> {
            Err(std::io::Error::other("no space left on device"))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_sink_counts_every_record_it_lost_and_the_others_get_them_all() {
        let dir = tempfile::tempdir().expect("dir");
        let m = Arc::new(AuditMetrics::unregistered());
        let file = FileSink::new(dir.path()).expect("sink");
        let (trail, task) = start(
            cfg(64, OnFull::Block, 64 << 20),
            vec![Box::new(BrokenSink), Box::new(file)],
            m.clone(),
        );
        for i in 0..250 {
            trail.record(record(i)).await.expect("queued");
        }
        drop(trail);
        let closed = task.await.expect("task");
        assert!(closed.is_err(), "closing a broken sink is reported");
        let lines: usize = files(dir.path())
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("read").lines().count())
            .sum();
        // 250 records and the checkpoints (every 100 records, and the final one).
        assert_eq!(lines, 253, "the healthy sink got every line");
        assert_eq!(m.count("file", "written"), 253);
        assert_eq!(
            m.count("stdout", "failed"),
            253,
            "every line the broken sink lost is counted"
        );
        assert_eq!(m.count("queue", "failed"), 0);
    }

    /// A file sink on a disk that is full while `full` is set (every write: ENOSPC).
    struct FullDisk {
        inner: FileSink,
        full: Arc<std::sync::atomic::AtomicBool>,
    }

    impl crate::audit::sink::LineSink for FullDisk {
        fn name(&self) -> &'static str {
            "file"
        }
        fn holds_on_error(&self) -> bool {
            self.inner.holds_on_error()
        }
        fn start_chain(&mut self, chain: &str) -> std::io::Result<()> {
            self.inner.start_chain(chain)
        }
        fn write_lines(&mut self, lines: &[u8], count: u64) -> std::io::Result<()> {
            if self.full.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.inner.write_lines(lines, count)
        }
        fn end_chain(&mut self) -> std::io::Result<()> {
            self.inner.end_chain()
        }
        fn flush(&mut self, sync: bool) -> std::io::Result<()> {
            self.inner.flush(sync)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_audit_disk_holds_records_until_there_is_room_and_loses_none() {
        let dir = tempfile::tempdir().expect("dir");
        let m = Arc::new(AuditMetrics::unregistered());
        let full = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sink = FullDisk {
            inner: FileSink::new(dir.path()).expect("sink"),
            full: full.clone(),
        };
        let (trail, task) = start(
            cfg(64, OnFull::Block, 64 << 20),
            vec![Box::new(sink)],
            m.clone(),
        );
        let sender = {
            let trail = trail.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    trail.record(record(i)).await.expect("queued");
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !sender.is_finished(),
            "the queue fills while the disk is full: calls wait"
        );
        let on_disk: usize = files(dir.path())
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("read").lines().count())
            .sum();
        assert_eq!(on_disk, 0, "nothing written while the disk is full");
        full.store(false, std::sync::atomic::Ordering::SeqCst);
        sender.await.expect("sender");
        drop(trail);
        task.await.expect("task").expect("writer");
        let fs = files(dir.path());
        let key = CheckpointSigner::from_seed([1; 32], "k").verifying_key();
        let keys = HashMap::from([("k".to_string(), key)]);
        let mut records = 0;
        for f in &fs {
            verify_file(f, &keys, true).unwrap_or_else(|e| panic!("{e}"));
            records += std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .filter(|l| l.contains("\"kind\":\"error\""))
                .count();
        }
        assert_eq!(records, 300, "every record written once the disk has room");
        assert_eq!(m.count("file", "failed"), 0, "none lost");
        assert_eq!(m.count("queue", "failed"), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_record_lands_in_verifiable_rotated_files() {
        let dir = tempfile::tempdir().expect("dir");
        let (trail, task, m) = start_files(dir.path(), cfg(64, OnFull::Block, 64 << 10));
        let mut senders = Vec::new();
        for t in 0..4 {
            let s = trail.clone();
            senders.push(tokio::spawn(async move {
                for i in 0..1000 {
                    s.record(record(t * 1000 + i)).await.expect("queued");
                }
            }));
        }
        for s in senders {
            s.await.expect("sender");
        }
        drop(trail);
        task.await.expect("task").expect("writer");
        assert_eq!(m.count("queue", "failed"), 0);
        let fs = files(dir.path());
        assert!(fs.len() >= 3, "rotated by size: {fs:?}");
        let key = CheckpointSigner::from_seed([1; 32], "k").verifying_key();
        let keys = HashMap::from([("k".to_string(), key)]);
        let mut seen = std::collections::HashSet::new();
        let mut lines = 0;
        for f in &fs {
            verify_file(f, &keys, true).unwrap_or_else(|e| panic!("{e}"));
            for l in std::fs::read_to_string(f).expect("read").lines() {
                lines += 1;
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                assert_eq!(
                    v["chain"].as_str(),
                    f.file_stem().and_then(|s| s.to_str()),
                    "a record names the chain (file) it belongs to"
                );
                if v["kind"] == "error" {
                    assert!(seen.insert(v["method"].as_str().expect("m").to_string()));
                }
            }
        }
        assert_eq!(
            seen.len(),
            4000,
            "each record exactly once across the files"
        );
        assert_eq!(m.count("file", "written"), lines, "every line counted");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_under_fail_closed_and_counts_it() {
        let dir = tempfile::tempdir().expect("dir");
        let (trail, task, m) = start_files(dir.path(), cfg(1, OnFull::FailClosed, 1 << 30));
        let mut refused = 0;
        for i in 0..10_000 {
            if trail.record(record(i)).await == Err(AuditError::Full) {
                refused += 1;
            }
        }
        assert!(refused > 0, "a one-slot queue fills under a burst");
        drop(trail);
        task.await.expect("task").expect("writer");
        assert_eq!(m.count("queue", "failed"), refused);
        let written = std::fs::read_to_string(&files(dir.path())[0])
            .expect("read")
            .lines()
            .filter(|l| l.contains("\"kind\":\"error\""))
            .count() as u64;
        assert_eq!(
            written + refused,
            10_000,
            "every record is written or counted as failed"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reserved_slot_keeps_the_writer_open_until_it_is_used() {
        let dir = tempfile::tempdir().expect("dir");
        let (trail, task, _m) = start_files(dir.path(), cfg(8, OnFull::Block, 1 << 30));
        let slot = trail.reserve().await.expect("slot");
        drop(trail);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !task.is_finished(),
            "a pending record holds the writer open"
        );
        slot.send(record(1));
        task.await.expect("task").expect("writer");
        let text = std::fs::read_to_string(&files(dir.path())[0]).expect("read");
        assert!(text.contains("\"method\":\"m1\""));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quiet_trail_still_checkpoints_on_its_timer() {
        let dir = tempfile::tempdir().expect("dir");
        let mut c = cfg(8, OnFull::Block, 1 << 30);
        c.checkpoint_interval = Duration::from_millis(50);
        let (trail, task, _m) = start_files(dir.path(), c);
        trail.record(record(0)).await.expect("queued");
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
        drop(trail);
        task.await.expect("task").expect("writer");
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(text.trim_end().ends_with('}') && text.contains("\"reason\":\"shutdown\""));
    }

    #[test]
    fn chain_names_sort_by_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_500_000);
        assert_eq!(
            chain_name(t, "00ff00ff00ff00ff", 7),
            "audit-20261124T060000Z-00ff00ff00ff00ff-000007"
        );
        assert_eq!(utc_day(t), "2026-11-24");
    }
}

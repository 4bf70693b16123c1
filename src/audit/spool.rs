//! The collector sink's durable spool: every line bound for the collector is first appended
//! here (write-ahead), and the delivery task ([`super::deliver`]) sends it on from here, in
//! order, advancing a cursor only after the collector acknowledged a batch. A collector
//! outage therefore only makes the spool grow; a gateway restart picks up where the cursor
//! stands. Delivery is at-least-once (a crash between acknowledgement and cursor write sends a
//! batch again); every record has a `record_id` for the receiver to drop duplicates.
//!
//! Layout: `<dir>/000000000001.spool`, `000000000002.spool`, … (segments of at most
//! [`SEGMENT_BYTES`], a new one per gateway start) and `<dir>/cursor` (`segment offset`).
//! When the undelivered bytes reach the configured maximum, the writer waits for room, which
//! fills the queue and applies `audit.on_full` to new calls: records are never dropped.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::sink::LineSink;

/// A segment holds at most this many bytes (a line is never split across two).
pub const SEGMENT_BYTES: u64 = 8 << 20;

/// State shared by the spool's writer and reader.
pub struct SpoolShared {
    dir: PathBuf,
    max_bytes: u64,
    /// Undelivered bytes on disk.
    pub bytes: AtomicU64,
    /// Undelivered records on disk.
    pub records: AtomicU64,
    /// Set when the writer has written its last line (shutdown).
    pub closed: AtomicBool,
    /// Woken when lines are written (or the writer closes).
    pub wake: tokio::sync::Notify,
    /// Set when delivery gives up at shutdown, so a writer waiting for room stops waiting.
    pub abandon: AtomicBool,
}

/// Open the spool in `dir` (created if missing): the writer side and the reader side.
pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<(SpoolWriter, SpoolReader)> {
    std::fs::create_dir_all(dir)?;
    let cursor = read_cursor(dir)?;
    let segments = segments(dir)?;
    // Count what is still undelivered (left by an earlier run).
    let (mut bytes, mut records) = (0u64, 0u64);
    for &seg in segments.iter().filter(|&&s| s >= cursor.0) {
        let mut f = File::open(segment_path(dir, seg))?;
        if seg == cursor.0 {
            f.seek(SeekFrom::Start(cursor.1))?;
        }
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        bytes += buf.len() as u64;
        records += buf.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let next = segments.last().map_or(1, |s| s + 1).max(cursor.0);
    let shared = Arc::new(SpoolShared {
        dir: dir.to_path_buf(),
        max_bytes: max_bytes.max(SEGMENT_BYTES),
        bytes: AtomicU64::new(bytes),
        records: AtomicU64::new(records),
        closed: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
        abandon: AtomicBool::new(false),
    });
    let writer = SpoolWriter {
        shared: shared.clone(),
        seg: next,
        out: None,
        seg_bytes: 0,
    };
    let reader = SpoolReader { shared, cursor };
    Ok((writer, reader))
}

/// The writer side: a [`LineSink`] appending to the newest segment.
pub struct SpoolWriter {
    shared: Arc<SpoolShared>,
    seg: u64,
    out: Option<BufWriter<File>>,
    seg_bytes: u64,
}

impl SpoolWriter {
    /// The shared counters (for metrics).
    pub fn shared(&self) -> Arc<SpoolShared> {
        self.shared.clone()
    }

    fn wait_for_room(&self, len: u64) {
        let mut warned = false;
        while self.shared.bytes.load(Ordering::Acquire) + len > self.shared.max_bytes
            && !self.shared.abandon.load(Ordering::Acquire)
        {
            if !warned {
                tracing::warn!(
                    max_bytes = self.shared.max_bytes,
                    "audit spool full: waiting for the collector (new calls wait or are refused per audit.on_full)"
                );
                warned = true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl LineSink for SpoolWriter {
    fn name(&self) -> &'static str {
        "http"
    }

    fn write_lines(&mut self, lines: &[u8], count: u64) -> std::io::Result<()> {
        let len = lines.len() as u64;
        self.wait_for_room(len);
        if self.out.is_none() || self.seg_bytes + len > SEGMENT_BYTES && self.seg_bytes > 0 {
            if let Some(mut w) = self.out.take() {
                w.flush()?;
                w.get_ref().sync_data()?;
                self.seg += 1;
            }
            let f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(segment_path(&self.shared.dir, self.seg))?;
            self.out = Some(BufWriter::with_capacity(1 << 16, f));
            self.seg_bytes = 0;
        }
        if let Some(w) = &mut self.out {
            w.write_all(lines)?;
        }
        self.seg_bytes += len;
        self.shared.bytes.fetch_add(len, Ordering::AcqRel);
        self.shared.records.fetch_add(count, Ordering::AcqRel);
        Ok(())
    }

    fn flush(&mut self, sync: bool) -> std::io::Result<()> {
        if let Some(w) = &mut self.out {
            w.flush()?;
            if sync {
                w.get_ref().sync_data()?;
            }
        }
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Mark the spool closed (no more lines) and wake the reader.
    fn close(&mut self) -> std::io::Result<()> {
        let r = self.flush(true);
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        r
    }
}

/// A batch read from the spool, not yet acknowledged.
pub struct Batch {
    /// Whole lines.
    pub lines: Vec<u8>,
    /// How many.
    pub records: u64,
    end: (u64, u64),
}

/// The reader side, used by the delivery task (blocking calls: run them off the runtime).
pub struct SpoolReader {
    shared: Arc<SpoolShared>,
    cursor: (u64, u64),
}

impl SpoolReader {
    /// The shared counters and wake-up.
    pub fn shared(&self) -> Arc<SpoolShared> {
        self.shared.clone()
    }

    /// The next batch of at most `max_records` lines and (unless one line is larger) about
    /// `max_bytes`, or `None` when everything written so far was delivered.
    pub fn next_batch(
        &mut self,
        max_records: u64,
        max_bytes: u64,
    ) -> std::io::Result<Option<Batch>> {
        loop {
            let (seg, off) = self.cursor;
            let path = segment_path(&self.shared.dir, seg);
            let newer = segments(&self.shared.dir)?.into_iter().find(|&s| s > seg);
            let mut f = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match newer {
                    Some(n) => {
                        self.cursor = (n, 0);
                        continue;
                    }
                    None => return Ok(None),
                },
                Err(e) => return Err(e),
            };
            f.seek(SeekFrom::Start(off))?;
            let mut buf = Vec::new();
            (&mut f).take(max_bytes.max(1)).read_to_end(&mut buf)?;
            // One line longer than max_bytes: read on to its end.
            if !buf.contains(&b'\n') && buf.len() as u64 >= max_bytes {
                let mut rest = Vec::new();
                f.read_to_end(&mut rest)?;
                buf.extend_from_slice(&rest);
            }
            let mut records = 0u64;
            let mut end = 0usize;
            for (i, &b) in buf.iter().enumerate() {
                if b == b'\n' {
                    records += 1;
                    end = i + 1;
                    if records >= max_records {
                        break;
                    }
                }
            }
            if records > 0 {
                buf.truncate(end);
                return Ok(Some(Batch {
                    lines: buf,
                    records,
                    end: (seg, off + end as u64),
                }));
            }
            match newer {
                // This segment is finished (the writer only writes the newest one); any
                // partial line at its end was cut by a crash and cannot be delivered.
                Some(n) => {
                    if !buf.is_empty() {
                        tracing::error!(
                            segment = seg,
                            bytes = buf.len(),
                            "audit spool segment ends in a partial line (cut by a crash); skipped"
                        );
                        self.shared.bytes.fetch_sub(
                            (buf.len() as u64).min(self.shared.bytes.load(Ordering::Acquire)),
                            Ordering::AcqRel,
                        );
                    }
                    self.advance_to((n, 0))?;
                }
                None => return Ok(None),
            }
        }
    }

    /// The collector acknowledged `batch`: move the cursor past it (durably) and delete
    /// segments that are fully delivered.
    pub fn commit(&mut self, batch: &Batch) -> std::io::Result<()> {
        self.advance_to(batch.end)?;
        let len = batch.lines.len() as u64;
        self.shared.bytes.fetch_sub(
            len.min(self.shared.bytes.load(Ordering::Acquire)),
            Ordering::AcqRel,
        );
        self.shared.records.fetch_sub(
            batch
                .records
                .min(self.shared.records.load(Ordering::Acquire)),
            Ordering::AcqRel,
        );
        Ok(())
    }

    fn advance_to(&mut self, cursor: (u64, u64)) -> std::io::Result<()> {
        let dir = &self.shared.dir;
        let tmp = dir.join("cursor.tmp");
        {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{} {}", cursor.0, cursor.1)?;
            f.sync_data()?;
        }
        std::fs::rename(&tmp, dir.join("cursor"))?;
        for old in segments(dir)?.into_iter().filter(|&s| s < cursor.0) {
            std::fs::remove_file(segment_path(dir, old))?;
        }
        self.cursor = cursor;
        Ok(())
    }
}

fn segment_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{seg:012}.spool"))
}

/// Segment numbers in `dir`, ascending.
fn segments(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".spool")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn read_cursor(dir: &Path) -> std::io::Result<(u64, u64)> {
    match std::fs::read_to_string(dir.join("cursor")) {
        Ok(s) => {
            let mut it = s.split_whitespace().map(str::parse::<u64>);
            match (it.next(), it.next()) {
                (Some(Ok(seg)), Some(Ok(off))) => Ok((seg, off)),
                _ => Err(std::io::Error::other(format!(
                    "{}: not a spool cursor (`segment offset`)",
                    dir.join("cursor").display()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((segments(dir)?.first().copied().unwrap_or(1), 0))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(from: u64, n: u64) -> (Vec<u8>, u64) {
        let mut v = Vec::new();
        for i in from..from + n {
            v.extend_from_slice(format!("{{\"i\":{i}}}\n").as_bytes());
        }
        (v, n)
    }

    fn drain(r: &mut SpoolReader, max: u64) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(b) = r.next_batch(max, 1 << 20).expect("read") {
            out.extend(
                String::from_utf8(b.lines.clone())
                    .expect("utf8")
                    .lines()
                    .map(str::to_owned),
            );
            r.commit(&b).expect("commit");
        }
        out
    }

    #[test]
    fn lines_come_out_in_order_once_and_survive_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut w, mut r) = open(dir.path(), 1 << 30).expect("open");
        let (b, n) = lines(0, 10);
        w.write_lines(&b, n).expect("write");
        w.flush(false).expect("flush");
        let first = r.next_batch(4, 1 << 20).expect("read").expect("batch");
        assert_eq!(first.records, 4);
        r.commit(&first).expect("commit");
        // An unacknowledged batch is read again after a restart.
        let _unacked = r.next_batch(4, 1 << 20).expect("read").expect("batch");
        w.close().expect("close");
        drop(r);
        let (mut w2, mut r2) = open(dir.path(), 1 << 30).expect("reopen");
        assert_eq!(r2.shared().records.load(Ordering::Acquire), 6);
        let (b, n) = lines(10, 5);
        w2.write_lines(&b, n).expect("write");
        w2.flush(false).expect("flush");
        let got = drain(&mut r2, 3);
        let want: Vec<String> = (4..15).map(|i| format!("{{\"i\":{i}}}")).collect();
        assert_eq!(got, want);
        assert_eq!(r2.shared().bytes.load(Ordering::Acquire), 0);
        assert_eq!(
            segments(dir.path()).expect("segments").len(),
            1,
            "delivered segments are deleted"
        );
    }

    #[test]
    fn a_partial_line_is_not_delivered_until_it_is_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let (mut w, mut r) = open(dir.path(), 1 << 30).expect("open");
        w.write_lines(b"{\"a\":1}\n{\"b\":", 1).expect("write");
        w.flush(false).expect("flush");
        let b = r.next_batch(100, 1 << 20).expect("read").expect("batch");
        assert_eq!(b.lines, b"{\"a\":1}\n");
        r.commit(&b).expect("commit");
        assert!(r.next_batch(100, 1 << 20).expect("read").is_none());
        w.write_lines(b"2}\n", 1).expect("write");
        w.flush(false).expect("flush");
        let b = r.next_batch(100, 1 << 20).expect("read").expect("batch");
        assert_eq!(b.lines, b"{\"b\":2}\n");
    }

    #[test]
    fn a_full_spool_makes_the_writer_wait_until_the_collector_takes_a_batch() {
        let dir = tempfile::tempdir().expect("dir");
        // The smallest spool there is: one segment.
        let (mut w, mut r) = open(dir.path(), 0).expect("open");
        let mut big = vec![b'a'; (1 << 20) - 1];
        big.push(b'\n');
        for _ in 0..8 {
            w.write_lines(&big, 1).expect("fills the spool");
        }
        w.flush(false).expect("flush");
        assert_eq!(r.shared().bytes.load(Ordering::Acquire), SEGMENT_BYTES);
        // One more line does not fit: the write waits (nothing dropped, nothing written yet).
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let writer = std::thread::spawn(move || {
            let res = w.write_lines(b"{\"after\":1}\n", 1);
            let _ = done_tx.send(());
            res.map(|()| w)
        });
        assert!(
            done_rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "a write into a full spool returned instead of waiting"
        );
        // The collector acknowledges one batch: room again, the write completes.
        let b = r.next_batch(1, 1 << 21).expect("read").expect("batch");
        r.commit(&b).expect("commit");
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the write completes once there is room");
        let mut w = writer.join().expect("thread").expect("written");
        w.flush(false).expect("flush");
        let rest = drain(&mut r, 100);
        assert_eq!(rest.len(), 8, "seven big lines and the one that waited");
        assert_eq!(rest.last().map(String::as_str), Some("{\"after\":1}"));
    }

    #[test]
    fn a_corrupt_cursor_is_an_error_not_a_silent_restart() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("cursor"), "garbage").expect("write");
        let err = open(dir.path(), 1 << 30).err().expect("refused");
        assert!(err.to_string().contains("not a spool cursor"), "{err}");
    }
}

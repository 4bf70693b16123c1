//! The Redis backend of run histories, shared by every replica.
//!
//! Keys, under the configured prefix (`sec0:` by default):
//! - `<prefix>run:<h>`: one hash per run, `h` the first 32 hex digits of the SHA-256 of the
//!   run id — run ids are caller-supplied, so a key never holds one (bounded length, no
//!   separators, nothing to inject) and runs stay apart exactly as their ids do. Fields:
//!   `t:<tool>`, `r:<resource>`, `o:<route>`, `l:<label>`, `i:<identifier key>` (value
//!   `1`), a count per kind (`#t`, `#r`, `#o`, `#l`, `#i`; at most [`MAX_ITEMS`] of each kind) and `n`, the calls forwarded.
//!   The hash expires `context.run_ttl` after its last write.
//! - `<prefix>runs`: a sorted set of the runs by last write (Unix ms), trimmed to
//!   `context.max_runs` (the least recently written runs are deleted; expired ones are
//!   dropped from it as they age out).
//!
//! A read is `HGETALL` and `PTTL` in one round trip (the expiry tells whether the run was
//! just written: [`super::Seen`]); a write is one script ([`WRITE`]) carrying all a call
//! adds.
//! Names longer than [`MAX_ITEM_BYTES`] are kept as their start and end around `…` (glob
//! patterns anchored at either end still match), so a run's hash stays under about 1 MiB.
//! The script touches keys it computes (evicted runs): one Redis server (or one shard), as
//! the rest of the shared store assumes.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use super::{MAX_ITEMS, Record, RunHistory, add};
use crate::shared::redis::{Connector, bounded};
use crate::shared::{RedisStore, StoreError};

/// Longest tool, resource, route or label name kept whole (bytes).
pub const MAX_ITEM_BYTES: usize = 1024;

/// Record what a call adds to a run. KEYS: the run's hash, the index of runs. ARGV: ttl
/// (ms), cap per kind, calls to add, now (Unix ms), max runs, the run's index member, the
/// prefix of run keys, then the fields. Returns the number of runs evicted to make room.
pub const WRITE: &str = r#"
local run, index = KEYS[1], KEYS[2]
local ttl, cap, calls = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now, max_runs = tonumber(ARGV[4]), tonumber(ARGV[5])
for i = 8, #ARGV do
  local f = ARGV[i]
  if redis.call('HEXISTS', run, f) == 0 then
    local kind = '#' .. string.sub(f, 1, 1)
    if tonumber(redis.call('HGET', run, kind) or '0') < cap then
      redis.call('HSET', run, f, '1')
      redis.call('HINCRBY', run, kind, 1)
    end
  end
end
if calls > 0 then redis.call('HINCRBY', run, 'n', calls) end
redis.call('PEXPIRE', run, ttl)
redis.call('ZADD', index, now, ARGV[6])
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - ttl)
local evicted = 0
local over = redis.call('ZCARD', index) - max_runs
if over > 0 then
  local gone = redis.call('ZPOPMIN', index, over)
  for j = 1, #gone, 2 do
    redis.call('DEL', ARGV[7] .. gone[j])
    evicted = evicted + 1
  end
end
redis.call('PEXPIRE', index, ttl)
return evicted
"#;

thread_local! {
    /// This thread's own connections to the shared run stores, each with the token of the
    /// [`SharedRuns`] it serves (a dropped store's connection goes at this thread's next
    /// new connection).
    static CONNECTIONS: RefCell<Vec<(Weak<()>, ConnectionManager)>> =
        const { RefCell::new(Vec::new()) };
}

/// The runs in the shared Redis.
///
/// Each thread that reads or writes runs uses a connection of its own (made on its first
/// use, re-made after failures): a per-core worker's commands and their answers stay on its
/// core — no wake-up of another thread's connection task per command — and the commands of
/// the calls a worker has in flight at once go out together (the connection is
/// multiplexed: pipelined). Redis runs one connection's commands in order; see
/// [`super::Runs`] for what replicas and workers see of each other's writes.
pub struct SharedRuns {
    /// Used where a thread's own connection cannot be made (never, in practice).
    conn: ConnectionManager,
    connector: Connector,
    /// Identifies this store's connections in [`CONNECTIONS`].
    token: Arc<()>,
    /// `<prefix>run:`, the start of every run's key.
    run_prefix: String,
    /// `<prefix>runs`, the index of runs by last write.
    index: String,
    timeout: Duration,
    ttl: Duration,
    max_runs: u64,
    write: Script,
}

/// The part of a run's key after the prefix: 32 hex digits of the SHA-256 of its id.
pub fn run_hash(run: &str) -> String {
    let digest = Sha256::digest(run.as_bytes());
    hex::encode(&digest[..16])
}

/// `name`, shortened to at most [`MAX_ITEM_BYTES`] (plus the `…`): its start and its end,
/// cut at character boundaries.
pub fn shorten(name: &str) -> Cow<'_, str> {
    if name.len() <= MAX_ITEM_BYTES {
        return Cow::Borrowed(name);
    }
    let half = MAX_ITEM_BYTES / 2;
    let mut head = half;
    while !name.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = name.len() - half;
    while !name.is_char_boundary(tail) {
        tail += 1;
    }
    Cow::Owned(format!("{}…{}", &name[..head], &name[tail..]))
}

/// The hash fields a record sets (each once, names shortened) and the calls it adds.
pub fn fields_of(rec: &Record<'_>) -> (u64, BTreeSet<String>) {
    let mut fields = BTreeSet::new();
    let mut put = |kind: char, name: &str| {
        // A call cannot add more than a run can hold of each kind.
        if fields.len() < 5 * MAX_ITEMS {
            let mut f = String::with_capacity(name.len().min(MAX_ITEM_BYTES + 4) + 2);
            f.push(kind);
            f.push(':');
            f.push_str(&shorten(name));
            fields.insert(f);
        }
    };
    for m in &rec.marks {
        put('l', m);
    }
    for s in &rec.steps {
        put('o', s.route);
        if let Some(t) = s.tool {
            put('t', t);
        }
        if let Some(r) = s.resource {
            put('r', r);
        }
        for l in s.labels {
            put('l', l);
        }
        for i in &s.ids {
            put('i', i);
        }
    }
    (rec.steps.len() as u64, fields)
}

/// A run's history from its hash's fields (name, value), as `HGETALL` returns them.
pub fn history_of<'v>(
    fields: impl IntoIterator<Item = (&'v [u8], &'v [u8])>,
) -> Result<RunHistory, StoreError> {
    let mut h = RunHistory::default();
    for (f, v) in fields {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if f == b"n" {
            h.calls = std::str::from_utf8(v)
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| StoreError::Data(format!("run call count {:?}", text(v))))?;
            continue;
        }
        let set = match f {
            [b't', b':', ..] => &mut h.called,
            [b'r', b':', ..] => &mut h.read,
            [b'o', b':', ..] => &mut h.routes,
            [b'l', b':', ..] => &mut h.labels,
            [b'i', b':', ..] => &mut h.ids,
            // The counts per kind.
            [b'#', ..] => continue,
            _ => return Err(StoreError::Data(format!("run field {:?}", text(f)))),
        };
        // Written by the gateway from `&str` names: a field that is not UTF-8 is not ours.
        let name = std::str::from_utf8(&f[2..])
            .map_err(|_| StoreError::Data(format!("run field {:?}", text(f))))?;
        add(set, name);
    }
    Ok(h)
}

/// A run's history from an `HGETALL` reply as it comes off the wire (a flat array of
/// names and values under RESP2, a map under RESP3): read in place, no map built first.
pub fn history_of_reply(reply: &redis::Value) -> Result<RunHistory, StoreError> {
    use redis::Value;
    fn bytes(v: &Value) -> Result<&[u8], StoreError> {
        match v {
            Value::BulkString(b) => Ok(b),
            Value::SimpleString(s) => Ok(s.as_bytes()),
            other => Err(StoreError::Data(format!("run field of type {other:?}"))),
        }
    }
    match reply {
        Value::Nil => Ok(RunHistory::default()),
        Value::Array(items) if items.len() % 2 == 0 => {
            let pairs = items
                .chunks_exact(2)
                .map(|p| Ok((bytes(&p[0])?, bytes(&p[1])?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            history_of(pairs)
        }
        Value::Map(pairs) => {
            let pairs = pairs
                .iter()
                .map(|(k, v)| Ok((bytes(k)?, bytes(v)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            history_of(pairs)
        }
        other => Err(StoreError::Data(format!("run hash reply {other:?}"))),
    }
}

impl SharedRuns {
    /// Runs in `redis`, kept `ttl` after their last write, `max_runs` at most.
    pub fn new(redis: &RedisStore, ttl: Duration, max_runs: u64) -> Self {
        Self {
            conn: redis.connection(),
            connector: redis.connector(),
            token: Arc::new(()),
            run_prefix: redis.key(&["run", ""]),
            index: redis.key(&["runs"]),
            timeout: redis.timeout(),
            ttl,
            max_runs: max_runs.max(1),
            write: Script::new(WRITE),
        }
    }

    /// This thread's connection to the store (made on first use).
    fn connection(&self) -> ConnectionManager {
        CONNECTIONS.with(|conns| {
            let mut conns = conns.borrow_mut();
            let mine = Arc::as_ptr(&self.token);
            if let Some((_, c)) = conns.iter().find(|(t, _)| t.as_ptr() == mine) {
                return c.clone();
            }
            conns.retain(|(t, _)| t.strong_count() > 0);
            let c = self.connector.connect().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "shared runs use the store's common connection");
                self.conn.clone()
            });
            conns.push((Arc::downgrade(&self.token), c.clone()));
            c
        })
    }

    /// The key of `run`'s hash.
    pub fn key(&self, run: &str) -> String {
        let mut k = self.run_prefix.clone();
        k.push_str(&run_hash(run));
        k
    }

    /// The run's history (empty for a new or expired run) and how long its hash has left
    /// to live (`None`: no such hash): `HGETALL` and `PTTL`, pipelined — one round trip.
    pub async fn read(&self, run: &str) -> Result<(RunHistory, Option<Duration>), StoreError> {
        let mut c = self.connection();
        let key = self.key(run);
        let mut p = redis::pipe();
        p.cmd("HGETALL").arg(&key).cmd("PTTL").arg(&key);
        let (reply, pttl): (redis::Value, i64) =
            bounded(self.timeout, p.query_async(&mut c)).await?;
        // PTTL: -2 for no key, -1 for a key without expiry (not one the gateway wrote).
        let left = u64::try_from(pttl).ok().map(Duration::from_millis);
        Ok((history_of_reply(&reply)?, left))
    }

    /// The time to live above which a run's hash counts as just written ([`super::REFRESH`]
    /// before its full TTL, or a tenth of the TTL when that is shorter).
    pub fn fresh_above(&self) -> Duration {
        self.ttl - super::REFRESH.min(self.ttl / 10)
    }

    /// Add what `rec` holds to the run, refresh its expiry: one script. Returns the runs
    /// evicted to make room.
    pub async fn write(&self, run: &str, rec: &Record<'_>) -> Result<u64, StoreError> {
        let (calls, fields) = fields_of(rec);
        let hash = run_hash(run);
        let mut c = self.connection();
        let mut inv = self.write.key(self.key(run));
        inv.key(&self.index)
            .arg(
                u64::try_from(self.ttl.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .arg(MAX_ITEMS)
            .arg(calls)
            .arg(crate::shared::now_ms())
            .arg(self.max_runs)
            .arg(&hash)
            .arg(&self.run_prefix);
        for f in &fields {
            inv.arg(f);
        }
        bounded(self.timeout, inv.invoke_async(&mut c)).await
    }
}

#[cfg(test)]
mod tests {
    use super::super::Step;
    use super::*;
    use std::sync::Arc;

    fn names(set: &BTreeSet<Arc<str>>) -> Vec<&str> {
        set.iter().map(|s| &**s).collect()
    }

    #[test]
    fn keys_are_hashed_bounded_and_distinct() {
        let long = "x".repeat(100_000);
        for id in ["run-1", "run 2:with:colons\n", long.as_str()] {
            let h = run_hash(id);
            assert_eq!(h.len(), 32);
            assert!(h.bytes().all(|b| b.is_ascii_hexdigit()), "{h}");
        }
        assert_ne!(run_hash("run-1"), run_hash("run-2"));
        assert_eq!(
            run_hash("run-1"),
            run_hash("run-1"),
            "stable across replicas"
        );
    }

    #[test]
    fn a_record_becomes_fields_and_back() {
        let labels = [Arc::from("private_data")];
        let rec = Record {
            steps: vec![
                Step {
                    route: "files",
                    tool: None,
                    resource: Some("file:///private/a:b.csv"),
                    labels: &labels,
                    ids: Vec::new(),
                },
                Step {
                    route: "files",
                    tool: Some("read_db"),
                    resource: None,
                    labels: &[],
                    ids: vec!["#00aa11bb22cc33dd".into()],
                },
            ],
            marks: vec![super::super::SENSITIVE],
        };
        let (calls, fields) = fields_of(&rec);
        assert_eq!(calls, 2);
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "i:#00aa11bb22cc33dd",
                "l:private_data",
                "l:sec0:sensitive",
                "o:files",
                "r:file:///private/a:b.csv",
                "t:read_db"
            ]
        );
        let mut stored: Vec<(&[u8], &[u8])> =
            fields.iter().map(|f| (f.as_bytes(), &b"1"[..])).collect();
        stored.push((b"n", b"2"));
        stored.push((b"#l", b"2"));
        let h = history_of(stored).expect("history");
        assert_eq!(h.calls, 2);
        assert_eq!(names(&h.read), ["file:///private/a:b.csv"]);
        assert_eq!(names(&h.labels), ["private_data", "sec0:sensitive"]);
        assert_eq!(names(&h.called), ["read_db"]);
        assert_eq!(names(&h.routes), ["files"]);
        assert_eq!(names(&h.ids), ["#00aa11bb22cc33dd"]);
    }

    #[test]
    fn unreadable_data_is_an_error_not_a_guess() {
        let bad = |k: &[u8], v: &[u8]| history_of([(k, v)]).is_err();
        assert!(bad(b"n", b"many"));
        assert!(bad(b"x:what", b"1"));
        assert!(bad(b"nonsense", b"1"));
        assert!(bad(b"t:\xff", b"1"), "not UTF-8");
        assert!(!bad(b"#t", b"3"));
        assert_eq!(history_of([]).expect("empty"), RunHistory::default());
    }

    #[test]
    fn long_names_keep_their_ends_and_a_call_adds_a_bounded_number() {
        let long = format!("file:///private/{}é.csv", "a".repeat(5000));
        let s = shorten(&long);
        assert!(s.len() <= MAX_ITEM_BYTES + '…'.len_utf8(), "{}", s.len());
        assert!(s.starts_with("file:///private/") && s.ends_with("é.csv"));
        assert_eq!(shorten("short"), "short");
        let many: Vec<String> = (0..5000).map(|i| format!("tool-{i}")).collect();
        let rec = Record {
            steps: many
                .iter()
                .map(|t| Step {
                    route: "r",
                    tool: Some(t),
                    resource: None,
                    labels: &[],
                    ids: Vec::new(),
                })
                .collect(),
            marks: vec![],
        };
        let (calls, fields) = fields_of(&rec);
        assert_eq!(calls, 5000);
        assert!(fields.len() <= 5 * MAX_ITEMS);
    }

    #[test]
    fn a_read_history_is_capped_like_memory() {
        let names: Vec<String> = (0..1000).map(|i| format!("t:tool-{i}")).collect();
        let stored = names.iter().map(|f| (f.as_bytes(), &b"1"[..]));
        assert_eq!(history_of(stored).expect("h").called.len(), MAX_ITEMS);
    }

    #[test]
    fn a_reply_is_read_in_place_under_resp2_and_resp3() {
        use redis::Value;
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![
            bulk("l:private_data"),
            bulk("1"),
            bulk("n"),
            bulk("3"),
        ]);
        let resp3 = Value::Map(vec![
            (bulk("l:private_data"), bulk("1")),
            (bulk("n"), bulk("3")),
        ]);
        for reply in [resp2, resp3] {
            let h = history_of_reply(&reply).expect("history");
            assert_eq!(h.calls, 3);
            assert_eq!(names(&h.labels), ["private_data"]);
        }
        assert_eq!(
            history_of_reply(&Value::Array(vec![])).expect("empty"),
            RunHistory::default()
        );
        assert!(
            history_of_reply(&Value::Array(vec![bulk("n")])).is_err(),
            "odd"
        );
        assert!(history_of_reply(&Value::Int(3)).is_err());
        assert!(history_of_reply(&Value::Array(vec![bulk("n"), Value::Int(1)])).is_err());
    }

    #[tokio::test]
    async fn a_thread_keeps_one_connection_per_store_and_drops_a_gone_stores() {
        // Nothing listens on port 1; connections are made lazily, so none is tried here.
        let store = crate::shared::RedisStore::new(&crate::config::RedisConfig {
            url: "redis://127.0.0.1:1/".into(),
            prefix: "t:".into(),
            timeout: Duration::from_millis(200),
        })
        .expect("store");
        let held = || CONNECTIONS.with(|c| c.borrow().len());
        let before = held();
        let a = SharedRuns::new(&store, Duration::from_secs(60), 10);
        let b = SharedRuns::new(&store, Duration::from_secs(60), 10);
        for _ in 0..3 {
            let _ = a.connection();
        }
        assert_eq!(held(), before + 1, "one for a, however often it asks");
        let _ = b.connection();
        assert_eq!(held(), before + 2);
        drop(a);
        let c = SharedRuns::new(&store, Duration::from_secs(60), 10);
        let _ = c.connection();
        assert_eq!(held(), before + 2, "a's went when c's came");
        // Another thread has its own.
        let other = std::thread::spawn(|| CONNECTIONS.with(|c| c.borrow().len()))
            .join()
            .expect("thread");
        assert_eq!(other, 0);
    }

    #[test]
    fn a_run_counts_as_just_written_within_a_second_or_a_tenth_of_its_ttl() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _in = rt.enter();
        let store = crate::shared::RedisStore::new(&crate::config::RedisConfig {
            url: "redis://127.0.0.1:1/".into(),
            prefix: "t:".into(),
            timeout: Duration::from_millis(200),
        })
        .expect("store");
        let hour = SharedRuns::new(&store, Duration::from_secs(3600), 10);
        assert_eq!(hour.fresh_above(), Duration::from_secs(3599));
        let short = SharedRuns::new(&store, Duration::from_secs(2), 10);
        assert_eq!(short.fresh_above(), Duration::from_millis(1800));
    }
}

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
//! A read is one `HGETALL`; a write is one script ([`WRITE`]) carrying all a call adds.
//! Names longer than [`MAX_ITEM_BYTES`] are kept as their start and end around `…` (glob
//! patterns anchored at either end still match), so a run's hash stays under about 1 MiB.
//! The script touches keys it computes (evicted runs): one Redis server (or one shard), as
//! the rest of the shared store assumes.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use super::{MAX_ITEMS, Record, RunHistory, add};
use crate::shared::redis::bounded;
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

/// The runs in the shared Redis.
pub struct SharedRuns {
    conn: ConnectionManager,
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

/// A run's history from its hash's fields (as `HGETALL` returns them).
pub fn history_of(fields: HashMap<String, String>) -> Result<RunHistory, StoreError> {
    let mut h = RunHistory::default();
    for (f, v) in fields {
        if f == "n" {
            h.calls = v
                .parse()
                .map_err(|_| StoreError::Data(format!("run call count {v:?}")))?;
            continue;
        }
        let set = match f.split_once(':') {
            Some(("t", _)) => &mut h.called,
            Some(("r", _)) => &mut h.read,
            Some(("o", _)) => &mut h.routes,
            Some(("l", _)) => &mut h.labels,
            Some(("i", _)) => &mut h.ids,
            // The counts per kind.
            _ if f.starts_with('#') => continue,
            _ => return Err(StoreError::Data(format!("run field {f:?}"))),
        };
        add(set, &f[2..]);
    }
    Ok(h)
}

impl SharedRuns {
    /// Runs in `redis`, kept `ttl` after their last write, `max_runs` at most.
    pub fn new(redis: &RedisStore, ttl: Duration, max_runs: u64) -> Self {
        Self {
            conn: redis.connection(),
            run_prefix: redis.key(&["run", ""]),
            index: redis.key(&["runs"]),
            timeout: redis.timeout(),
            ttl,
            max_runs: max_runs.max(1),
            write: Script::new(WRITE),
        }
    }

    /// The key of `run`'s hash.
    pub fn key(&self, run: &str) -> String {
        let mut k = self.run_prefix.clone();
        k.push_str(&run_hash(run));
        k
    }

    /// The run's history (empty for a new or expired run): one `HGETALL`.
    pub async fn read(&self, run: &str) -> Result<RunHistory, StoreError> {
        let mut c = self.conn.clone();
        let fields: HashMap<String, String> = bounded(
            self.timeout,
            redis::cmd("HGETALL").arg(self.key(run)).query_async(&mut c),
        )
        .await?;
        history_of(fields)
    }

    /// Add what `rec` holds to the run, refresh its expiry: one script. Returns the runs
    /// evicted to make room.
    pub async fn write(&self, run: &str, rec: &Record<'_>) -> Result<u64, StoreError> {
        let (calls, fields) = fields_of(rec);
        let hash = run_hash(run);
        let mut c = self.conn.clone();
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
        let mut stored: HashMap<String, String> = fields
            .iter()
            .map(|f| (f.to_string(), "1".to_string()))
            .collect();
        stored.insert("n".into(), "2".into());
        stored.insert("#l".into(), "2".into());
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
        let bad =
            |k: &str, v: &str| history_of(HashMap::from([(k.to_string(), v.to_string())])).is_err();
        assert!(bad("n", "many"));
        assert!(bad("x:what", "1"));
        assert!(bad("nonsense", "1"));
        assert!(!bad("#t", "3"));
        assert_eq!(
            history_of(HashMap::new()).expect("empty"),
            RunHistory::default()
        );
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
        let stored: HashMap<String, String> = (0..1000)
            .map(|i| (format!("t:tool-{i}"), "1".to_string()))
            .collect();
        assert_eq!(history_of(stored).expect("h").called.len(), MAX_ITEMS);
    }
}

//! The Redis backend: the store's operations as Redis commands and scripts. Keys (all
//! under the configured prefix, `sec0:` by default) are named by the callers' spaces:
//!
//! - `<space>:<id>`: a record (a hash: `data` and the caller's fields), and `<space>` a
//!   sorted set of record ids by creation time (records are kept for their `keep` time);
//!   a compare-and-set script changes a record's state once for all replicas;
//! - `once:<key>`: set once (`SET NX`), for what may happen once across replicas;
//! - `<log>`: a list (appended, trimmed to the newest entries, expiring);
//! - `<hash>`: a hash of fields;
//! - `bucket:<key>`: a token bucket (`tokens`, `ts`), refilled on Redis's clock;
//! - channel `events`: what replicas tell each other.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{CasOutcome, CasRule, StoreError};
use crate::config::RedisConfig;

/// Compare-and-set of a record's field: only when it holds `ARGV[1]` is it set to
/// `ARGV[2]` (with the other fields after it); past the record's deadline field plus a
/// grace, any value but the lapse value becomes the lapse value instead.
const CAS: &str = r#"
local st = redis.call('HGET', KEYS[1], ARGV[3])
if not st then return {'missing', ''} end
if st ~= ARGV[1] then return {'decided', st} end
local lapsed = ARGV[4]
if lapsed ~= '' and ARGV[2] ~= lapsed
   and tonumber(ARGV[7]) >= tonumber(redis.call('HGET', KEYS[1], ARGV[5]) or '0') + tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], ARGV[3], lapsed)
  return {'decided', lapsed}
end
redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])
for i = 9, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[8])
return {'done', redis.call('HGET', KEYS[1], 'data')}
"#;

/// A token bucket on Redis's clock: returns 0 when a token was taken, else the wait in ms.
const BUCKET: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000 * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate * 1000) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"#;

/// A connection to the shared Redis server.
pub struct RedisStore {
    client: redis::Client,
    /// How connections are made and re-made (for [`Self::new_connection`] too).
    manager: ConnectionManagerConfig,
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    cas: Script,
    bucket: Script,
}

/// Makes connections of their own to the shared Redis server ([`RedisStore::connector`]).
#[derive(Clone)]
pub struct Connector {
    client: redis::Client,
    manager: ConnectionManagerConfig,
}

impl Connector {
    /// A new connection, made lazily on first use — its driver task then runs on the
    /// runtime of that first use, so a per-core worker that keeps its own connection never
    /// waits on another thread for its commands — and re-made after failures.
    pub fn connect(&self) -> Result<ConnectionManager, StoreError> {
        ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager.clone())
            .map_err(|e| StoreError::Config(e.to_string()))
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RedisStore {
    /// Prepare the connection (made lazily, re-made after failures: a Redis that is down
    /// when the gateway starts is not fatal).
    pub fn new(cfg: &RedisConfig) -> Result<Self, StoreError> {
        let client =
            redis::Client::open(cfg.url.as_str()).map_err(|e| StoreError::Config(e.to_string()))?;
        let mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), mc.clone())
            .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Self {
            client,
            manager: mc,
            conn,
            prefix: cfg.prefix.clone(),
            timeout: cfg.timeout,
            cas: Script::new(CAS),
            bucket: Script::new(BUCKET),
        })
    }

    /// The key named by `parts` under the configured prefix (`<prefix><a>:<b>…`).
    pub fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }

    /// A handle on the shared connection (cheap: it is multiplexed), for callers that run
    /// their own commands and scripts (`crate::context::runs`).
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// What makes more connections to the same server, with the same settings: for callers
    /// that keep one per worker thread (`crate::context::runs`).
    pub fn connector(&self) -> Connector {
        Connector {
            client: self.client.clone(),
            manager: self.manager.clone(),
        }
    }

    /// How long one operation may take (`store.redis.timeout`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn channel(&self) -> String {
        self.key(&["events"])
    }

    /// A new connection subscribed to the events channel.
    pub async fn subscribe(&self) -> Result<redis::aio::PubSub, StoreError> {
        let mut ps = bounded(self.timeout, self.client.get_async_pubsub()).await?;
        bounded(self.timeout, ps.subscribe(self.channel())).await?;
        Ok(ps)
    }

    /// Send `message` to every replica following the events channel.
    pub async fn publish(&self, message: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: i64 = bounded(self.timeout, c.publish(self.channel(), message)).await?;
        Ok(())
    }

    /// Store record `id` in `space`: `data` and `fields`, kept for `keep`, indexed by now.
    pub async fn put_record(
        &self,
        space: &str,
        id: &str,
        data: &str,
        fields: &[(&str, &str)],
        keep: Duration,
    ) -> Result<(), StoreError> {
        let key = self.key(&[space, id]);
        let mut all: Vec<(&str, &str)> = vec![("data", data)];
        all.extend_from_slice(fields);
        let now = super::now_ms();
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        p.atomic()
            .hset_multiple(&key, &all)
            .ignore()
            .pexpire(&key, ms(keep))
            .ignore()
            .zadd(self.key(&[space]), id, now)
            .ignore()
            .zrembyscore(
                self.key(&[space]),
                0,
                now.saturating_sub(u64::try_from(keep.as_millis()).unwrap_or(u64::MAX)),
            )
            .ignore();
        bounded(self.timeout, p.query_async(&mut c)).await
    }

    /// Compare-and-set a record's field (see [`CasRule`]).
    pub async fn cas(
        &self,
        space: &str,
        id: &str,
        rule: &CasRule<'_>,
    ) -> Result<CasOutcome, StoreError> {
        let mut c = self.conn.clone();
        let mut inv = self.cas.key(self.key(&[space, id]));
        let (lapse, deadline_field, grace) = rule
            .lapse
            .map_or(("", "", 0), |l| (l.value, l.deadline_field, ms(l.grace)));
        inv.arg(rule.expect)
            .arg(rule.set)
            .arg(rule.field)
            .arg(lapse)
            .arg(deadline_field)
            .arg(grace)
            .arg(super::now_ms())
            .arg(ms(rule.keep));
        for (k, v) in rule.also {
            inv.arg(*k).arg(*v);
        }
        let r: Vec<String> = bounded(self.timeout, inv.invoke_async(&mut c)).await?;
        match r.as_slice() {
            [k, data] if k == "done" => Ok(CasOutcome::Done(data.clone())),
            [k, st] if k == "decided" => Ok(CasOutcome::Decided(st.clone())),
            [k, _] if k == "missing" => Ok(CasOutcome::Missing),
            _ => Err(StoreError::Data(format!("compare-and-set returned {r:?}"))),
        }
    }

    /// The newest `n` records of `space`: for each, `fields` (`None` where absent); a record
    /// gone meanwhile is left out.
    pub async fn recent(
        &self,
        space: &str,
        n: isize,
        fields: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let mut c = self.conn.clone();
        let ids: Vec<String> =
            bounded(self.timeout, c.zrevrange(self.key(&[space]), 0, n - 1)).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for id in &ids {
            p.hmget(self.key(&[space, id]), fields);
        }
        let rows: Vec<Vec<Option<String>>> =
            bounded(self.timeout * 4, p.query_async(&mut c)).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.first().is_some_and(Option::is_some))
            .collect())
    }

    /// `true` for the one caller, across replicas, that claims `key` first (kept `ttl`).
    pub async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let opts = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(
                u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1),
            ));
        let r: Option<String> = bounded(
            self.timeout,
            c.set_options(self.key(&["once", key]), "used", opts),
        )
        .await?;
        Ok(r.is_some())
    }

    /// Append `entry` to the log `log`, keeping the newest `keep_last`, expiring after `ttl`
    /// without appends.
    pub async fn append(
        &self,
        log: &str,
        entry: &str,
        keep_last: isize,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.key(&[log]);
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        p.atomic()
            .rpush(&key, entry)
            .ignore()
            .ltrim(&key, -keep_last, -1)
            .ignore()
            .pexpire(&key, ms(ttl))
            .ignore();
        bounded(self.timeout, p.query_async(&mut c)).await
    }

    /// Every entry of the log `log`, oldest first.
    pub async fn read_log(&self, log: &str) -> Result<Vec<String>, StoreError> {
        let mut c = self.conn.clone();
        bounded(self.timeout * 4, c.lrange(self.key(&[log]), 0, -1)).await
    }

    /// Set `field` of the hash `hash`.
    pub async fn set_field(&self, hash: &str, field: &str, value: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        bounded(self.timeout, c.hset(self.key(&[hash]), field, value)).await
    }

    /// Every field of the hash `hash`.
    pub async fn fields(&self, hash: &str) -> Result<HashMap<String, String>, StoreError> {
        let mut c = self.conn.clone();
        bounded(self.timeout, c.hgetall(self.key(&[hash]))).await
    }

    /// Take a token from the bucket `key`: `None` when there was one, else the wait.
    pub async fn take_token(
        &self,
        key: &str,
        rate: f64,
        burst: f64,
    ) -> Result<Option<Duration>, StoreError> {
        let mut c = self.conn.clone();
        let mut inv = self.bucket.key(self.key(&["bucket", key]));
        inv.arg(rate).arg(burst);
        let wait: u64 = bounded(self.timeout, inv.invoke_async(&mut c)).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }
}

/// One Redis operation, never waiting longer than `limit`.
pub async fn bounded<T>(
    limit: Duration,
    f: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() => {
            Err(StoreError::Connection(e.to_string()))
        }
        Ok(Err(e)) => Err(StoreError::Redis(e.to_string())),
        Err(_) => Err(StoreError::Timeout(limit)),
    }
}

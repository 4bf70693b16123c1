//! The Redis store: what replicas share, in a Redis server every replica talks to.
//!
//! Keys (all under the configured prefix, `sec0:` by default):
//! - `esc:<id>`: hash of one escalation (`data` = its JSON when opened, `state`, `reviewer`,
//!   `comment`, `flow`, `deadline` in Unix ms). Answers change `state` with a
//!   compare-and-set script, so two reviewers on two replicas cannot both answer.
//! - `escalations`: sorted set of escalation ids by creation time (for a replica that
//!   starts or reconnects).
//! - `grant:<id>`: set once when a deferred approval is used (used once, on any replica).
//! - `lessons`: list of reviewers' answers as learning took them (JSON: the call's
//!   features, its fingerprints at every level, approved or not, the spot check it answered,
//!   when, and a unique id), the newest [`MAX_LESSONS`] kept, expiring with the learning
//!   window; `revoked`: hash of precedent id → Unix ms of its revocation.
//! - `bucket:<limit>:<key>`: a token bucket (`tokens`, `ts`), refilled on Redis's clock.
//! - channel `events`: every new escalation, answer and revocation, for the other replicas.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::SharedError;
use crate::config::RedisConfig;
use crate::review::Escalation;

/// Most lessons kept in Redis (older ones are trimmed; they are old answers of long-lived
/// precedents, whose newer answers remain).
pub const MAX_LESSONS: isize = 50_000;

/// How long decided escalations stay in Redis for the API.
const KEEP_DECIDED: Duration = Duration::from_secs(24 * 3600);
/// Escalations a replica loads when it starts or reconnects.
pub const LOAD_ESCALATIONS: isize = 10_000;

/// Compare-and-set of an escalation's state: only a pending escalation is answered.
const ANSWER: &str = r#"
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing', ''} end
if st ~= 'pending' then return {'decided', st} end
if ARGV[1] ~= 'expired'
   and tonumber(ARGV[5]) >= tonumber(redis.call('HGET', KEYS[1], 'deadline') or '0') + tonumber(ARGV[6]) then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  return {'decided', 'expired'}
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'reviewer', ARGV[2], 'comment', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
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

/// What the answer script found.
#[derive(Debug, PartialEq, Eq)]
pub enum Answered {
    /// Answered now; the escalation as opened (JSON).
    Done(String),
    /// Already in this state.
    Decided(String),
    /// No such escalation.
    Missing,
}

/// A reviewer's answer as stored and announced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LessonNote {
    /// Unique id (a replica counts each answer once).
    pub id: String,
    /// What learning took from the answer.
    pub lesson: crate::review::learn::Lesson,
    /// When (Unix ms).
    pub at_ms: u64,
}

/// What replicas tell each other on the events channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An escalation opened or changed state.
    Escalation {
        /// The escalation as it stands.
        escalation: Box<Escalation>,
    },
    /// A reviewer's answer taught precedents.
    Lesson(Box<LessonNote>),
    /// A precedent was revoked (its answers until then forgotten).
    Revoke {
        /// `precedent-<fingerprint id>`.
        precedent: String,
        /// When (Unix ms).
        at_ms: u64,
    },
}

/// A connection to the shared Redis server.
pub struct RedisStore {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    answer: Script,
    bucket: Script,
}

impl RedisStore {
    /// Prepare the connection (made lazily, re-made after failures: a Redis that is down
    /// when the gateway starts is not fatal).
    pub fn new(cfg: &RedisConfig) -> Result<Self, SharedError> {
        let client = redis::Client::open(cfg.url.as_str())
            .map_err(|e| SharedError::Config(e.to_string()))?;
        let mc = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), mc)
            .map_err(|e| SharedError::Config(e.to_string()))?;
        Ok(Self {
            client,
            conn,
            prefix: cfg.prefix.clone(),
            timeout: cfg.timeout,
            answer: Script::new(ANSWER),
            bucket: Script::new(BUCKET),
        })
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        k.push_str(&parts.join(":"));
        k
    }

    /// The events channel's name.
    pub fn channel(&self) -> String {
        self.key(&["events"])
    }

    /// The longest wait for one operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// A new connection for the events channel.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub, SharedError> {
        let mut ps = bounded(self.timeout, self.client.get_async_pubsub()).await?;
        bounded(self.timeout, ps.subscribe(self.channel())).await?;
        Ok(ps)
    }

    async fn publish(&self, event: &Event) -> Result<(), SharedError> {
        let msg = serde_json::to_string(event).map_err(|e| SharedError::Data(e.to_string()))?;
        let mut c = self.conn.clone();
        let _: i64 = bounded(self.timeout, c.publish(self.channel(), msg)).await?;
        Ok(())
    }

    /// Store a new escalation and announce it.
    pub async fn open(&self, e: &Escalation, wait: Duration) -> Result<(), SharedError> {
        let data = serde_json::to_string(e).map_err(|err| SharedError::Data(err.to_string()))?;
        let key = self.key(&["esc", &e.id]);
        let deadline = now_ms() + wait.as_millis() as u64;
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        p.atomic()
            .hset_multiple(
                &key,
                &[
                    ("data", data.as_str()),
                    ("state", "pending"),
                    ("flow", e.flow.as_str()),
                    ("deadline", &deadline.to_string()),
                ],
            )
            .ignore()
            .pexpire(&key, (wait + KEEP_DECIDED).as_millis() as i64)
            .ignore()
            .zadd(self.key(&["escalations"]), &e.id, now_ms())
            .ignore()
            .zrembyscore(
                self.key(&["escalations"]),
                0,
                now_ms().saturating_sub(KEEP_DECIDED.as_millis() as u64 * 7),
            )
            .ignore();
        let () = bounded(self.timeout, p.query_async(&mut c)).await?;
        self.publish(&Event::Escalation {
            escalation: Box::new(e.clone()),
        })
        .await
    }

    /// Answer a pending escalation (`approved`, `rejected` or `expired`), atomically.
    pub async fn answer(
        &self,
        id: &str,
        state: &str,
        reviewer: &str,
        comment: &str,
    ) -> Result<Answered, SharedError> {
        let mut c = self.conn.clone();
        let mut inv = self.answer.key(self.key(&["esc", id]));
        inv.arg(state)
            .arg(reviewer)
            .arg(comment)
            .arg(KEEP_DECIDED.as_millis() as u64)
            .arg(now_ms())
            .arg(crate::review::SETTLE_GRACE.as_millis() as u64);
        let r: Vec<String> = bounded(self.timeout, inv.invoke_async(&mut c)).await?;
        match r.as_slice() {
            [k, data] if k == "done" => Ok(Answered::Done(data.clone())),
            [k, st] if k == "decided" => Ok(Answered::Decided(st.clone())),
            [k, _] if k == "missing" => Ok(Answered::Missing),
            _ => Err(SharedError::Data(format!("answer script returned {r:?}"))),
        }
    }

    /// Tell the other replicas how an escalation stands.
    pub async fn announce(&self, e: &Escalation) -> Result<(), SharedError> {
        self.publish(&Event::Escalation {
            escalation: Box::new(e.clone()),
        })
        .await
    }

    /// The most recent escalations, as they stand.
    pub async fn escalations(&self) -> Result<Vec<Escalation>, SharedError> {
        let mut c = self.conn.clone();
        let ids: Vec<String> = bounded(
            self.timeout,
            c.zrevrange(self.key(&["escalations"]), 0, LOAD_ESCALATIONS - 1),
        )
        .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for id in &ids {
            p.hmget(
                self.key(&["esc", id]),
                &["data", "state", "reviewer", "comment"],
            );
        }
        let rows: Vec<Vec<Option<String>>> =
            bounded(self.timeout * 4, p.query_async(&mut c)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let [Some(data), Some(state), reviewer, comment] =
                    <[Option<String>; 4]>::try_from(row).ok()?
                else {
                    return None; // expired meanwhile
                };
                let mut e: Escalation = serde_json::from_str(&data).ok()?;
                e.state = crate::review::State::parse(&state)?;
                e.reviewer = reviewer.filter(|r| !r.is_empty());
                e.comment = comment.filter(|c| !c.is_empty());
                Some(e)
            })
            .collect())
    }

    /// Use a deferred escalation's approval: `true` for the one replica that gets it.
    pub async fn claim_grant(&self, id: &str, ttl: Duration) -> Result<bool, SharedError> {
        let mut c = self.conn.clone();
        let opts = redis::SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(redis::SetExpiry::PX(ttl.as_millis().max(1) as u64));
        let r: Option<String> = bounded(
            self.timeout,
            c.set_options(self.key(&["grant", id]), "used", opts),
        )
        .await?;
        Ok(r.is_some())
    }

    /// Store a reviewer's answer for precedents and announce it.
    pub async fn record_lesson(&self, l: &LessonNote, window: Duration) -> Result<(), SharedError> {
        let key = self.key(&["lessons"]);
        let json = serde_json::to_string(l).map_err(|e| SharedError::Data(e.to_string()))?;
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        p.atomic()
            .rpush(&key, json)
            .ignore()
            .ltrim(&key, -MAX_LESSONS, -1)
            .ignore()
            .pexpire(&key, window.as_millis().min(i64::MAX as u128) as i64)
            .ignore();
        let () = bounded(self.timeout, p.query_async(&mut c)).await?;
        self.publish(&Event::Lesson(Box::new(l.clone()))).await
    }

    /// Revoke a precedent for every replica (answers before `at_ms` no longer count for
    /// it) and announce it.
    pub async fn revoke(&self, precedent: &str, at_ms: u64) -> Result<(), SharedError> {
        let mut c = self.conn.clone();
        let () = bounded(
            self.timeout,
            c.hset(self.key(&["revoked"]), precedent, at_ms),
        )
        .await?;
        self.publish(&Event::Revoke {
            precedent: precedent.to_string(),
            at_ms,
        })
        .await
    }

    /// Every stored lesson (unreadable ones skipped, with a warning) and every revocation.
    pub async fn lessons(&self) -> Result<(Vec<LessonNote>, Vec<(String, u64)>), SharedError> {
        let mut c = self.conn.clone();
        let raw: Vec<String> =
            bounded(self.timeout * 4, c.lrange(self.key(&["lessons"]), 0, -1)).await?;
        let revoked: std::collections::HashMap<String, u64> =
            bounded(self.timeout, c.hgetall(self.key(&["revoked"]))).await?;
        let mut out = Vec::with_capacity(raw.len());
        for r in raw {
            match serde_json::from_str::<LessonNote>(&r) {
                Ok(l) => out.push(l),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable lesson in the shared store skipped")
                }
            }
        }
        Ok((out, revoked.into_iter().collect()))
    }

    /// Take a token from a shared bucket: `Ok(None)` when there was one, else the wait.
    pub async fn take_token(
        &self,
        limit: &str,
        key: &str,
        rate: f64,
        burst: f64,
    ) -> Result<Option<Duration>, SharedError> {
        let mut c = self.conn.clone();
        let mut inv = self.bucket.key(self.key(&["bucket", limit, key]));
        inv.arg(rate).arg(burst);
        let wait: u64 = bounded(self.timeout, inv.invoke_async(&mut c)).await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One Redis operation, never waiting longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    f: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, SharedError> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() => {
            Err(SharedError::Connection(e.to_string()))
        }
        Ok(Err(e)) => Err(SharedError::Redis(e.to_string())),
        Err(_) => Err(SharedError::Timeout(limit)),
    }
}

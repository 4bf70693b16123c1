//! Token buckets for the rules files' `limits`: one bucket per limit and caller (or run),
//! refilled at `rate` per second up to `burst`. [`RateLimits`] keeps them in the shared
//! store when replicas share one (every replica counts against the same bucket), else in
//! [`RateLimiter`]: in memory, per gateway instance, bounded:
//! past `MAX_BUCKETS` the fullest (least recently used) buckets are dropped, which only ever
//! errs towards letting a call through that a remembered bucket would also have allowed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;

use super::CompiledLimit;
use crate::shared::{Store, StoreError};

/// Buckets kept at most.
const MAX_BUCKETS: usize = 100_000;

/// A bucket's key: the limit's id and the caller or run it counts.
type BucketKey = (Arc<str>, Arc<str>);

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Where the buckets live: the shared store's, when it keeps buckets, else this instance's.
pub struct RateLimits {
    local: RateLimiter,
    store: Arc<Store>,
}

impl RateLimits {
    /// Buckets in `store` when it keeps them (Redis), else in memory.
    pub fn new(store: Arc<Store>) -> Self {
        Self {
            local: RateLimiter::default(),
            store,
        }
    }

    /// Take one call from `limit`'s bucket for `key`: `None` when there was room, else how
    /// long until there is (`Err`: the shared store cannot be reached under `fail_closed`).
    pub async fn take(
        &self,
        limit: &CompiledLimit,
        key: &str,
    ) -> Result<Option<Duration>, StoreError> {
        let bucket = format!("{}:{key}", limit.id);
        Ok(
            match self
                .store
                .take_token(&bucket, limit.rate, limit.burst)
                .await?
            {
                Some(shared) => shared,
                None => self.local.take(limit, key).err(),
            },
        )
    }
}

/// The buckets of every limit (kept across policy reloads, keyed by limit id).
#[derive(Default)]
pub struct RateLimiter {
    buckets: DashMap<BucketKey, Bucket>,
}

impl RateLimiter {
    /// Take one call from `limit`'s bucket for `key`: `Ok` when there was room, else how
    /// long until there is.
    pub fn take(&self, limit: &CompiledLimit, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let verdict = {
            let mut b = self
                .buckets
                .entry((limit.id.clone(), Arc::from(key)))
                .or_insert(Bucket {
                    tokens: limit.burst,
                    last: now,
                });
            let elapsed = now.duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * limit.rate).min(limit.burst);
            b.last = now;
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err(Duration::from_secs_f64((1.0 - b.tokens) / limit.rate))
            }
        };
        if self.buckets.len() > MAX_BUCKETS {
            self.shrink(now);
        }
        verdict
    }

    /// Drop buckets idle long enough to be full again, then the least recently used.
    fn shrink(&self, now: Instant) {
        let idle = Duration::from_secs(60);
        self.buckets
            .retain(|_, b| now.duration_since(b.last) < idle);
        if self.buckets.len() > MAX_BUCKETS {
            let mut ages: Vec<(Instant, BucketKey)> = self
                .buckets
                .iter()
                .map(|e| (e.value().last, e.key().clone()))
                .collect();
            ages.sort_unstable_by_key(|(t, _)| *t);
            for (_, k) in ages.into_iter().take(MAX_BUCKETS / 8) {
                self.buckets.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::{LimitKey, When};

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let limit = CompiledLimit {
            id: Arc::from("l"),
            when: crate::policy::compile::Conditions::compile(&When::default(), "when")
                .expect("when"),
            per: LimitKey::Caller,
            rate: 20.0,
            burst: 3.0,
        };
        let r = RateLimiter::default();
        for _ in 0..3 {
            assert_eq!(r.take(&limit, "a"), Ok(()));
        }
        let wait = r.take(&limit, "a").expect_err("empty");
        assert!(wait <= Duration::from_millis(50), "{wait:?}");
        assert_eq!(r.take(&limit, "b"), Ok(()), "buckets are per key");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(r.take(&limit, "a"), Ok(()), "refilled");
    }
}

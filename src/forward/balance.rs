//! Which endpoint a call goes to: round robin, least request, or by MCP session — a
//! session stays on the endpoint whose answer created it (a bounded, expiring map), and a
//! session this replica does not know is placed by a hash of its id, the same on every
//! replica. Ejected or unhealthy endpoints are skipped, unless every endpoint is (then all
//! are tried rather than none: "panic mode"). With an affinity key the fleet places sealed
//! sessions itself (`super::affinity`) and this map is not used.

use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use lru::LruCache;

use super::endpoint::Endpoint;
use crate::config::{Balance, SessionMapConfig};

/// The balancer of one upstream.
pub struct Picker {
    policy: Balance,
    next: AtomicUsize,
    sessions: Option<SessionMap>,
}

impl Picker {
    /// A balancer with `policy` (`sessions` sizes the session map of `balance: session`).
    pub fn new(policy: Balance, sessions: &SessionMapConfig) -> Self {
        Self {
            policy,
            next: AtomicUsize::new(0),
            sessions: (policy == Balance::Session).then(|| SessionMap::new(sessions)),
        }
    }

    /// Whether calls are placed by their MCP session.
    pub fn by_session(&self) -> bool {
        self.sessions.is_some()
    }

    /// The index in `eps` for a call (of session `session`, if any) at `now`, skipping the
    /// endpoints in `tried`; `None` when every endpoint was tried.
    pub fn pick(
        &self,
        eps: &[Arc<Endpoint>],
        now: u64,
        session: Option<&str>,
        tried: &[usize],
    ) -> Option<usize> {
        let n = eps.len();
        if n == 0 || tried.len() >= n {
            return None;
        }
        let fresh = |i: usize| !tried.contains(&i);
        if let (Some(map), Some(s)) = (&self.sessions, session) {
            if let Some(i) = map
                .get(s, now)
                .and_then(|a| eps.iter().position(|e| e.authority.as_str() == &*a))
                .filter(|&i| fresh(i))
            {
                // Only this endpoint holds the session: it gets the call even when ejected.
                return Some(i);
            }
            let i = hash_index(s, n);
            if fresh(i) && eps[i].available(now) {
                return Some(i);
            }
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let choose = |usable: &dyn Fn(usize) -> bool| match self.policy {
            Balance::LeastRequest => least_request(eps, start, usable),
            Balance::RoundRobin | Balance::Session => {
                (0..n).map(|k| (start + k) % n).find(|&i| usable(i))
            }
        };
        choose(&|i| fresh(i) && eps[i].available(now)).or_else(|| choose(&fresh))
    }

    /// Remember that `session` lives on the endpoint at `authority`.
    pub fn remember(&self, session: &str, authority: &str, now: u64) {
        if let Some(m) = &self.sessions {
            m.insert(session, authority, now);
        }
    }

    /// Forget `session` (it was ended with DELETE).
    pub fn forget(&self, session: &str) {
        if let Some(m) = &self.sessions {
            m.remove(session);
        }
    }

    /// The endpoint `session` is remembered on (tests, diagnostics).
    pub fn session_endpoint(&self, session: &str, now: u64) -> Option<Arc<str>> {
        self.sessions.as_ref()?.get(session, now)
    }
}

/// The usable endpoint with the fewest calls in flight, ties broken from `start` on.
fn least_request(
    eps: &[Arc<Endpoint>],
    start: usize,
    usable: &dyn Fn(usize) -> bool,
) -> Option<usize> {
    let n = eps.len();
    (0..n)
        .map(|k| (start + k) % n)
        .filter(|&i| usable(i))
        .min_by_key(|&i| eps[i].in_flight())
}

/// Where a hash of `session` falls among `n` endpoints (the same in every process of this
/// build: SipHash with fixed keys).
pub fn hash_index(session: &str, n: usize) -> usize {
    let mut h = std::hash::DefaultHasher::new();
    session.hash(&mut h);
    // `n` is at least 1 where this is called; `max` keeps it so.
    (h.finish() % n.max(1) as u64) as usize
}

/// Where a session lives (the endpoint's `host:port`) and when it was last used.
type Placed = (Arc<str>, u64);

/// MCP session id → the endpoint that created it: at most `max` sessions, each forgotten
/// after `idle_ttl` unused.
struct SessionMap {
    map: Mutex<LruCache<Box<str>, Placed>>,
    idle_ms: u64,
}

impl SessionMap {
    fn new(cfg: &SessionMapConfig) -> Self {
        let cap = NonZeroUsize::new(cfg.max).unwrap_or(NonZeroUsize::MIN);
        Self {
            map: Mutex::new(LruCache::new(cap)),
            idle_ms: u64::try_from(cfg.idle_ttl.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn get(&self, session: &str, now: u64) -> Option<Arc<str>> {
        // A poisoned lock only means another call panicked mid-update; the map is still a
        // usable cache.
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let (ep, used) = m.get_mut(session)?;
        if now.saturating_sub(*used) > self.idle_ms {
            m.pop(session);
            return None;
        }
        *used = now;
        Some(ep.clone())
    }

    fn insert(&self, session: &str, authority: &str, now: u64) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.put(session.into(), (Arc::from(authority), now));
    }

    fn remove(&self, session: &str) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.pop(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OutlierConfig;
    use crate::forward::metrics::EndpointMetrics;
    use http::uri::{Authority, Scheme};
    use std::time::Duration;

    fn eps(n: usize) -> Vec<Arc<Endpoint>> {
        (0..n)
            .map(|i| {
                Arc::new(Endpoint::new(
                    Scheme::HTTP,
                    Authority::try_from(format!("127.0.0.1:{}", 1000 + i)).expect("authority"),
                    None,
                    EndpointMetrics::unregistered(),
                ))
            })
            .collect()
    }

    fn picker(policy: Balance) -> Picker {
        Picker::new(policy, &SessionMapConfig::default())
    }

    #[test]
    fn round_robin_takes_turns_and_skips_ejected() {
        let e = eps(3);
        let p = picker(Balance::RoundRobin);
        let got: Vec<_> = (0..6)
            .map(|_| p.pick(&e, 1, None, &[]).expect("pick"))
            .collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        e[1].eject(1, &OutlierConfig::default());
        let got: Vec<_> = (0..4)
            .map(|_| p.pick(&e, 2, None, &[]).expect("pick"))
            .collect();
        assert!(!got.contains(&1), "{got:?}");
        assert!(got.contains(&0) && got.contains(&2));
    }

    #[test]
    fn every_endpoint_out_means_all_are_tried() {
        let e = eps(2);
        for x in &e {
            x.set_healthy(false);
        }
        let p = picker(Balance::RoundRobin);
        assert!(p.pick(&e, 1, None, &[]).is_some(), "panic mode");
        assert_eq!(p.pick(&e, 1, None, &[0]), Some(1));
        assert_eq!(p.pick(&e, 1, None, &[0, 1]), None, "all tried");
    }

    #[test]
    fn least_request_prefers_the_idle_endpoint() {
        let e = eps(3);
        let p = picker(Balance::LeastRequest);
        let _a = e[0].start_call();
        let _b = e[0].start_call();
        let _c = e[2].start_call();
        for _ in 0..5 {
            assert_eq!(p.pick(&e, 1, None, &[]), Some(1));
        }
        assert_eq!(
            p.pick(&e, 1, None, &[1]),
            Some(2),
            "then the next least busy"
        );
    }

    #[test]
    fn sessions_stay_where_they_were_created() {
        let e = eps(3);
        let p = picker(Balance::Session);
        p.remember("s-1", "127.0.0.1:1002", 1);
        for _ in 0..10 {
            assert_eq!(p.pick(&e, 2, Some("s-1"), &[]), Some(2));
        }
        // Even when ejected: only that endpoint holds the session.
        e[2].eject(3, &OutlierConfig::default());
        assert_eq!(p.pick(&e, 4, Some("s-1"), &[]), Some(2));
        p.forget("s-1");
        assert_eq!(p.session_endpoint("s-1", 5), None);
    }

    #[test]
    fn unknown_sessions_are_placed_by_hash_and_sessions_expire() {
        let e = eps(3);
        let p = picker(Balance::Session);
        let i = hash_index("from-another-replica", 3);
        for _ in 0..5 {
            assert_eq!(p.pick(&e, 1, Some("from-another-replica"), &[]), Some(i));
        }
        let p = Picker::new(
            Balance::Session,
            &SessionMapConfig {
                max: 2,
                idle_ttl: Duration::from_millis(100),
                ..SessionMapConfig::default()
            },
        );
        p.remember("a", "x:1", 1);
        assert!(p.session_endpoint("a", 50).is_some());
        assert!(p.session_endpoint("a", 140).is_some(), "use refreshes it");
        assert!(p.session_endpoint("a", 300).is_none(), "expired");
        p.remember("b", "x:1", 1);
        p.remember("c", "x:1", 1);
        p.remember("d", "x:1", 1);
        assert!(
            p.session_endpoint("b", 2).is_none(),
            "bounded: oldest dropped"
        );
        assert!(p.session_endpoint("d", 2).is_some());
    }
}

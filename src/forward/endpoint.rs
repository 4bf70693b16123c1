//! One endpoint of a fleet upstream and what is known of its health: calls in flight (for
//! `least_request`), consecutive failures and ejections (passive outlier detection), the
//! active health check's verdict. Counters are atomics shared by every worker; the
//! arithmetic of ejection is in plain functions below, tested on their own.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::HeaderValue;
use http::uri::{Authority, Scheme};

use super::metrics::EndpointMetrics;
use crate::config::OutlierConfig;

/// Milliseconds since the process's first call, never 0 (0 means "not set" below).
pub fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let e = EPOCH.get_or_init(Instant::now);
    u64::try_from(e.elapsed().as_millis()).unwrap_or(u64::MAX) + 1
}

/// How a call to an endpoint went, as outlier detection counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An answer below 500.
    Success,
    /// No connection could be made.
    ConnectFailure,
    /// A 5xx answer, or the exchange broke after connecting.
    ServerError,
    /// A failure that says nothing about the endpoint (timeouts, the client's body).
    Neutral,
}

/// One endpoint: where it is and how it is doing.
pub struct Endpoint {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// `host:port` it is reached at.
    pub authority: Authority,
    /// Its stable name in sealed MCP session ids (a hash of scheme and authority).
    pub key: super::affinity::EndpointKey,
    /// `Host` for it when the upstream's `host_header` is `upstream` and the endpoints
    /// come from a list (DNS endpoints keep the service's name).
    pub host: Option<HeaderValue>,
    /// Its metric handles.
    pub metrics: EndpointMetrics,
    in_flight: AtomicU32,
    connect_failures: AtomicU32,
    server_errors: AtomicU32,
    /// `now_ms()` until which it is ejected; 0 when it is not.
    ejected_until: AtomicU64,
    /// When it last came back (for the decay of `times_ejected`).
    back_at: AtomicU64,
    times_ejected: AtomicU32,
    /// The active health check's verdict (true until a check says otherwise).
    healthy: AtomicBool,
}

impl Endpoint {
    /// A new endpoint, healthy and never ejected.
    pub fn new(
        scheme: Scheme,
        authority: Authority,
        host: Option<HeaderValue>,
        metrics: EndpointMetrics,
    ) -> Self {
        metrics.healthy.set(1);
        metrics.ejected.set(0);
        Self {
            key: super::affinity::endpoint_key(&scheme, &authority),
            scheme,
            authority,
            host,
            metrics,
            in_flight: AtomicU32::new(0),
            connect_failures: AtomicU32::new(0),
            server_errors: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            back_at: AtomicU64::new(0),
            times_ejected: AtomicU32::new(0),
            healthy: AtomicBool::new(true),
        }
    }

    /// Calls sent to it and not yet answered.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Count a call in flight until the guard is dropped.
    pub fn start_call(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.metrics.requests.inc();
        InFlight(self)
    }

    /// Whether it is ejected at `now`.
    pub fn is_ejected(&self, now: u64) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && until > now
    }

    /// Whether it takes calls at `now`: healthy and not ejected.
    pub fn available(&self, now: u64) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.is_ejected(now)
    }

    /// Record the active health check's verdict.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
        self.metrics.healthy.set(i64::from(healthy));
    }

    /// Count `outcome`; true when a threshold of `cfg` is reached (eject it, if allowed).
    pub fn record(&self, outcome: Outcome, cfg: Option<&OutlierConfig>) -> bool {
        let reset = |c: &AtomicU32| {
            if c.load(Ordering::Relaxed) != 0 {
                c.store(0, Ordering::Relaxed);
            }
        };
        match outcome {
            Outcome::Success => {
                reset(&self.connect_failures);
                reset(&self.server_errors);
                false
            }
            Outcome::ConnectFailure => {
                self.metrics.failures_connect.inc();
                let n = self.connect_failures.fetch_add(1, Ordering::Relaxed) + 1;
                cfg.is_some_and(|c| reached(n, c.consecutive_connect_failures))
            }
            Outcome::ServerError => {
                self.metrics.failures_5xx.inc();
                reset(&self.connect_failures);
                let n = self.server_errors.fetch_add(1, Ordering::Relaxed) + 1;
                cfg.is_some_and(|c| reached(n, c.consecutive_5xx))
            }
            Outcome::Neutral => {
                self.metrics.failures_other.inc();
                false
            }
        }
    }

    /// Eject it at `now` under `cfg` (the caller checked the ejection share); returns how
    /// long.
    pub fn eject(&self, now: u64, cfg: &OutlierConfig) -> Duration {
        let times = self.times_ejected.fetch_add(1, Ordering::Relaxed) + 1;
        let d = ejection_time(cfg.base_ejection_time, cfg.max_ejection_time, times);
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.ejected_until
            .store(now.saturating_add(ms).max(1), Ordering::Relaxed);
        self.connect_failures.store(0, Ordering::Relaxed);
        self.server_errors.store(0, Ordering::Relaxed);
        self.metrics.ejections.inc();
        self.metrics.ejected.set(1);
        d
    }

    /// Bring it back when its ejection is over at `now` (true when it just came back), and
    /// let its ejection count decay while it stays well.
    pub fn tick(&self, now: u64, cfg: &OutlierConfig) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        if until != 0 {
            if until > now {
                return false;
            }
            self.ejected_until.store(0, Ordering::Relaxed);
            self.back_at.store(now, Ordering::Relaxed);
            self.metrics.ejected.set(0);
            return true;
        }
        let times = self.times_ejected.load(Ordering::Relaxed);
        let back = self.back_at.load(Ordering::Relaxed);
        let (t, b) = decayed(times, back, now, cfg.base_ejection_time);
        if t != times {
            self.times_ejected.store(t, Ordering::Relaxed);
            self.back_at.store(b, Ordering::Relaxed);
        }
        false
    }
}

/// A call in flight to an endpoint.
pub struct InFlight<'a>(&'a Endpoint);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether `n` consecutive failures reach `threshold` (0: the check is off).
pub fn reached(n: u32, threshold: u32) -> bool {
    threshold != 0 && n >= threshold
}

/// How long the `times`-th ejection lasts: `base × times`, at most `max`.
pub fn ejection_time(base: Duration, max: Duration, times: u32) -> Duration {
    base.saturating_mul(times.max(1)).min(max)
}

/// Whether one more of `total` endpoints may be ejected while `ejected` are: at most
/// `max_percent` of them, at least one when there are two or more; never the only one.
pub fn may_eject(ejected: usize, total: usize, max_percent: u32) -> bool {
    if total < 2 || max_percent == 0 {
        return false;
    }
    let allowed = (total * max_percent as usize / 100).max(1);
    ejected < allowed
}

/// An ejection count decays by one for every `base` an endpoint stays back: `(times,
/// back_at)` after `now`.
pub fn decayed(times: u32, back_at: u64, now: u64, base: Duration) -> (u32, u64) {
    let base_ms = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(1);
    if times == 0 || back_at == 0 || now < back_at.saturating_add(base_ms) {
        return (times, back_at);
    }
    (times - 1, now)
}

/// The active health check's streaks: a verdict changes after `healthy_threshold` good or
/// `unhealthy_threshold` failed probes in a row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HealthStreak {
    /// Good probes in a row.
    pub ok: u32,
    /// Failed probes in a row.
    pub failed: u32,
}

impl HealthStreak {
    /// Count a probe; the new verdict when it changes from `healthy`.
    pub fn observe(&mut self, ok: bool, healthy: bool, up: u32, down: u32) -> Option<bool> {
        if ok {
            self.ok += 1;
            self.failed = 0;
            (!healthy && self.ok >= up).then_some(true)
        } else {
            self.failed += 1;
            self.ok = 0;
            (healthy && self.failed >= down).then_some(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OutlierConfig {
        OutlierConfig {
            consecutive_connect_failures: 3,
            consecutive_5xx: 2,
            base_ejection_time: Duration::from_secs(10),
            max_ejection_time: Duration::from_secs(25),
            max_ejection_percent: 50,
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint::new(
            Scheme::HTTP,
            Authority::from_static("127.0.0.1:1"),
            None,
            EndpointMetrics::unregistered(),
        )
    }

    #[test]
    fn ejection_time_grows_with_each_ejection_up_to_the_max() {
        let (b, m) = (Duration::from_secs(10), Duration::from_secs(25));
        assert_eq!(ejection_time(b, m, 1), Duration::from_secs(10));
        assert_eq!(ejection_time(b, m, 2), Duration::from_secs(20));
        assert_eq!(ejection_time(b, m, 3), Duration::from_secs(25));
        assert_eq!(ejection_time(b, m, u32::MAX), Duration::from_secs(25));
    }

    #[test]
    fn ejection_share_is_capped() {
        assert!(!may_eject(0, 1, 100), "never the only endpoint");
        assert!(may_eject(0, 2, 10), "at least one of two");
        assert!(!may_eject(1, 2, 50));
        assert!(may_eject(1, 3, 100));
        assert!(!may_eject(1, 3, 50), "3 × 50% = 1");
        assert!(may_eject(4, 10, 50));
        assert!(!may_eject(5, 10, 50));
        assert!(!may_eject(0, 10, 0), "0% ejects nothing");
    }

    #[test]
    fn consecutive_failures_reach_thresholds_and_success_resets() {
        let e = endpoint();
        let c = cfg();
        assert!(!e.record(Outcome::ConnectFailure, Some(&c)));
        assert!(!e.record(Outcome::ConnectFailure, Some(&c)));
        assert!(!e.record(Outcome::Success, Some(&c)), "reset");
        assert!(!e.record(Outcome::ConnectFailure, Some(&c)));
        assert!(!e.record(Outcome::ConnectFailure, Some(&c)));
        assert!(
            e.record(Outcome::ConnectFailure, Some(&c)),
            "third in a row"
        );
        assert!(!e.record(Outcome::ServerError, Some(&c)));
        assert!(
            e.record(Outcome::ServerError, Some(&c)),
            "second 5xx in a row"
        );
        assert!(!e.record(Outcome::Neutral, Some(&c)));
        assert!(
            !e.record(Outcome::ConnectFailure, None),
            "no outlier config"
        );
    }

    #[test]
    fn an_ejected_endpoint_comes_back_after_its_time() {
        let e = endpoint();
        let c = cfg();
        let now = 1_000;
        assert_eq!(e.eject(now, &c), Duration::from_secs(10));
        assert!(e.is_ejected(now + 9_999) && !e.available(now + 1));
        assert_eq!(e.metrics.ejected.get(), 1);
        assert!(!e.tick(now + 9_999, &c));
        assert!(e.tick(now + 10_000, &c), "back");
        assert!(e.available(now + 10_000));
        assert_eq!(e.metrics.ejected.get(), 0);
        // The second ejection lasts twice as long.
        assert_eq!(e.eject(now + 11_000, &c), Duration::from_secs(20));
        assert_eq!(e.metrics.ejections.get(), 2);
    }

    #[test]
    fn ejection_count_decays_while_well() {
        let base = Duration::from_secs(10);
        assert_eq!(decayed(2, 1_000, 5_000, base), (2, 1_000));
        assert_eq!(decayed(2, 1_000, 11_000, base), (1, 11_000));
        assert_eq!(decayed(0, 1_000, 99_000, base), (0, 1_000));
    }

    #[test]
    fn health_verdicts_need_streaks() {
        let mut s = HealthStreak::default();
        assert_eq!(s.observe(false, true, 2, 3), None);
        assert_eq!(s.observe(false, true, 2, 3), None);
        assert_eq!(s.observe(false, true, 2, 3), Some(false));
        assert_eq!(s.observe(true, false, 2, 3), None);
        assert_eq!(s.observe(false, false, 2, 3), None, "streak broken");
        assert_eq!(s.observe(true, false, 2, 3), None);
        assert_eq!(s.observe(true, false, 2, 3), Some(true));
    }
}

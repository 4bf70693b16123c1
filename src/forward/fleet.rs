//! An upstream with several endpoints (`endpoints:` or `dns:`), or with any resilience
//! setting: each call is placed by the [`Picker`], held to the circuit breaker, counted
//! for outlier detection, and retried on another endpoint where that is safe
//! ([`RetryPolicy`]). A background task per fleet brings ejected endpoints back, resolves
//! the DNS name again and runs the active health checks; it ends with the fleet.
//!
//! An upstream with one `url` and none of these settings has no fleet: its calls take the
//! plain path of [`super::Upstream::send`], costing nothing of this.

use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{HeaderValue, Method, Request, Response, Uri, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use prometheus::{IntCounter, IntGauge};

use super::affinity::SessionSeal;
use super::balance::Picker;
use super::circuit::{CircuitError, RequestLimit};
use super::endpoint::{Endpoint, HealthStreak, Outcome, may_eject, now_ms};
use super::metrics::FleetMetrics;
use super::retry::{RetryPolicy, Saved};
use super::{Client, ForwardError, Upstream};
use crate::config::{
    Balance, DnsConfig, HealthCheckConfig, HostHeader, OutlierConfig, UpstreamConfig,
};
use crate::forward::body::ProxyBody;

/// The MCP session header (Streamable HTTP).
const MCP_SESSION_ID: &str = "mcp-session-id";
/// How often the background task looks at the fleet.
const TICK: Duration = Duration::from_millis(200);

/// What the caller knows about a call that lets it be sent again.
#[derive(Default)]
pub struct SendHints {
    /// The whole request body, when the gateway holds it (JSON-RPC routes, bodiless
    /// requests): only such a call can be sent twice.
    pub replay: Option<Bytes>,
    /// Whether the body is a JSON-RPC message (methods are read from it for `retry`).
    pub jsonrpc: bool,
}

/// The endpoints of one upstream and how calls are spread over them.
pub struct Fleet {
    name: String,
    picker: Picker,
    /// With an affinity key: sessions are sealed to their endpoint (no session map).
    seal: Option<SessionSeal>,
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    outlier: Option<OutlierConfig>,
    /// Held while deciding an ejection (the ejected share is counted under it).
    eject_lock: Mutex<()>,
    requests: Option<Arc<RequestLimit>>,
    retry: RetryPolicy,
    budget_exhausted: IntCounter,
    /// `Host` per endpoint (a list of endpoints with `host_header: upstream`).
    host_per_endpoint: bool,
    health: Option<HealthCheckConfig>,
    dns: Option<DnsConfig>,
    /// `Host` for health probes when endpoints have none of their own.
    probe_host: Option<HeaderValue>,
    base_path: String,
    metrics: FleetMetrics,
    count: IntGauge,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Whether upstream `cfg` needs a fleet.
pub fn needed(cfg: &UpstreamConfig) -> bool {
    !cfg.endpoints.is_empty()
        || cfg.dns.is_some()
        || cfg.health_check.is_some()
        || cfg.outlier.is_some()
        || cfg.circuit_breaker.is_some()
        || cfg.retry.is_some()
}

impl Fleet {
    /// The fleet of upstream `name` (`base`: its scheme, logical authority and path;
    /// `seal`: its affinity key, when configured).
    pub fn new(
        name: &str,
        cfg: &UpstreamConfig,
        base: (&Scheme, &Authority, &str),
        metrics: &FleetMetrics,
        seal: Option<SessionSeal>,
    ) -> Arc<Self> {
        let (scheme, authority, base_path) = base;
        let several = !cfg.endpoints.is_empty() || cfg.dns.is_some();
        let outlier = cfg
            .outlier
            .clone()
            .or_else(|| several.then(OutlierConfig::default));
        let requests = cfg
            .circuit_breaker
            .as_ref()
            .and_then(|c| c.max_requests)
            .map(|n| RequestLimit::new(n, metrics.limit(name, "requests")));
        let fleet = Arc::new(Self {
            name: name.to_string(),
            // Sealed sessions are placed by their id: no session map (calls without a
            // session go round robin, as under `balance: session`).
            picker: match seal {
                Some(_) => Picker::new(Balance::RoundRobin, &cfg.sessions),
                None => Picker::new(cfg.balance, &cfg.sessions),
            },
            seal,
            endpoints: ArcSwap::from_pointee(Vec::new()),
            outlier,
            eject_lock: Mutex::new(()),
            requests,
            retry: RetryPolicy::new(cfg.retry.as_ref()),
            budget_exhausted: metrics.budget_exhausted(name),
            host_per_endpoint: cfg.dns.is_none() && cfg.host_header == HostHeader::Upstream,
            health: cfg.health_check.clone(),
            dns: cfg.dns.clone(),
            // HTTP/2 carries the authority in `:authority`; no `Host` then.
            probe_host: (!cfg.http2)
                .then(|| HeaderValue::from_str(authority.as_str()).ok())
                .flatten(),
            base_path: base_path.to_string(),
            metrics: metrics.clone(),
            count: metrics.endpoint_count(name),
            task: Mutex::new(None),
        });
        let initial: Vec<Authority> = match &cfg.dns {
            Some(d) => resolve_blocking(d),
            None if cfg.endpoints.is_empty() => vec![authority.clone()],
            None => cfg
                .endpoints
                .iter()
                .filter_map(|u| u.parse::<Uri>().ok()?.authority().cloned())
                .collect(),
        };
        fleet.set_endpoints(scheme, initial);
        fleet
    }

    /// Start the background task (on the current runtime, if any) with `client`.
    pub fn start(self: &Arc<Self>, client: Client) {
        if self.outlier.is_none() && self.dns.is_none() && self.health.is_none() {
            return; // nothing to look after
        }
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                let task = rt.spawn(maintain(Arc::downgrade(self), client));
                *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task.abort_handle());
            }
            Err(_) => tracing::warn!(
                upstream = %self.name,
                "no runtime: ejected endpoints return only when called, no DNS refresh or health checks"
            ),
        }
    }

    /// The endpoints now.
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.load_full()
    }

    /// Replace the endpoint list by `found` (state kept for those already known).
    fn set_endpoints(&self, scheme: &Scheme, mut found: Vec<Authority>) {
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        found.dedup();
        let old = self.endpoints.load();
        let next: Vec<Arc<Endpoint>> = found
            .into_iter()
            .map(|a| {
                old.iter()
                    .find(|e| e.authority == a)
                    .cloned()
                    .unwrap_or_else(|| {
                        let host = self
                            .host_per_endpoint
                            .then(|| HeaderValue::from_str(a.as_str()).ok())
                            .flatten();
                        let m = self.metrics.endpoint(&self.name, a.as_str());
                        Arc::new(Endpoint::new(scheme.clone(), a, host, m))
                    })
            })
            .collect();
        self.count
            .set(i64::try_from(next.len()).unwrap_or(i64::MAX));
        self.endpoints.store(Arc::new(next));
    }

    /// Send a call: place it, send it, count how it went, retry it elsewhere if safe.
    pub async fn send(
        &self,
        up: &Upstream,
        req: Request<ProxyBody>,
        hints: &SendHints,
    ) -> Result<(Response<Incoming>, Duration), ForwardError> {
        let started = Instant::now();
        let _slot = match &self.requests {
            Some(l) => Some(l.acquire().map_err(|e| self.circuit(e))?),
            None => None,
        };
        self.retry.budget().note_call(now_ms());
        let eps = self.endpoints.load_full();
        if eps.is_empty() {
            return Err(ForwardError::NoEndpoints {
                upstream: self.name.clone(),
            });
        }
        let (mut parts, body) = req.into_parts();
        // A sealed session goes to its endpoint only (nowhere else holds it): no retry.
        let sealed_to = match &self.seal {
            Some(s) => s
                .unseal_request(&mut parts.headers, &eps)
                .map_err(|why| self.unknown_session(why))?,
            None => None,
        };
        let session = self
            .picker
            .by_session()
            .then(|| parts.headers.get(MCP_SESSION_ID)?.to_str().ok())
            .flatten()
            .map(str::to_owned);
        let replayable = hints.replay.is_some()
            && self.retry.attempts > 1
            && eps.len() > 1
            && sealed_to.is_none();
        let saved = replayable.then(|| Saved::of(&parts));
        let method = parts.method.clone();
        let mut first = Some((parts, body));
        let mut tried: Vec<usize> = Vec::with_capacity(2);
        let mut idempotent: Option<bool> = None;
        loop {
            let now = now_ms();
            let no_endpoint = || ForwardError::NoEndpoints {
                upstream: self.name.clone(),
            };
            let i = match sealed_to {
                Some(i) => Some(i).filter(|_| tried.is_empty()),
                None => self.picker.pick(&eps, now, session.as_deref(), &tried),
            }
            .ok_or_else(no_endpoint)?;
            tried.push(i);
            let ep = eps.get(i).ok_or_else(no_endpoint)?;
            let (mut parts, body) = match (first.take(), &saved, &hints.replay) {
                (Some(p), _, _) => p,
                (None, Some(s), Some(b)) => (s.parts(), super::body::full(b.clone())),
                // A retry is only decided when `saved` is set; no other case reaches here.
                _ => {
                    return Err(ForwardError::NoEndpoints {
                        upstream: self.name.clone(),
                    });
                }
            };
            parts.uri = on_endpoint(std::mem::take(&mut parts.uri), ep)?;
            if let Some(h) = &ep.host {
                parts.headers.insert(header::HOST, h.clone());
            }
            let result = {
                let _in_flight = ep.start_call();
                up.send_once(Request::from_parts(parts, body)).await
            };
            let more = saved.is_some()
                && tried.len() < self.retry.attempts as usize
                && tried.len() < eps.len();
            let mut idem = || {
                *idempotent.get_or_insert_with(|| {
                    let body = hints.replay.as_deref().filter(|_| hints.jsonrpc);
                    self.retry.has_methods() && self.retry.idempotent(body, &method)
                })
            };
            match result {
                Ok((mut resp, _)) => {
                    let status = resp.status();
                    if status.is_server_error() {
                        self.outcome(ep, Outcome::ServerError, &eps, now);
                        let retryable = matches!(status.as_u16(), 502..=504);
                        if retryable && more && idem() && self.spend(ep, now) {
                            continue;
                        }
                    } else {
                        self.outcome(ep, Outcome::Success, &eps, now);
                    }
                    match &self.seal {
                        Some(s) => s.seal_response(resp.headers_mut(), ep).map_err(|why| {
                            ForwardError::UnsealableSession {
                                upstream: self.name.clone(),
                                why,
                            }
                        })?,
                        None => self.note_session(ep, session.as_deref(), &method, &resp, now),
                    }
                    return Ok((resp, started.elapsed()));
                }
                Err(e) => {
                    let (outcome, safe) = match &e {
                        ForwardError::Unreachable { .. } => (Outcome::ConnectFailure, true),
                        ForwardError::Upstream { .. } => (Outcome::ServerError, false),
                        ForwardError::Timeout { .. } => (Outcome::Neutral, false),
                        _ => return Err(e),
                    };
                    self.outcome(ep, outcome, &eps, now);
                    let allowed = outcome != Outcome::Neutral && (safe || idem());
                    if !(more && allowed && self.spend(ep, now)) {
                        return Err(e);
                    }
                    tracing::debug!(upstream = %self.name, endpoint = %ep.authority, error = %e, "retrying on another endpoint");
                }
            }
        }
    }

    /// Refuse a request whose MCP session is not one this upstream's gateways sealed (or
    /// whose endpoint is gone) before anything is sent (`Ok` without an affinity key).
    pub fn check_session(&self, headers: &http::HeaderMap) -> Result<(), ForwardError> {
        match &self.seal {
            Some(s) => s
                .place(headers, &self.endpoints.load())
                .map(drop)
                .map_err(|why| self.unknown_session(why)),
            None => Ok(()),
        }
    }

    fn unknown_session(&self, why: super::affinity::AffinityError) -> ForwardError {
        tracing::debug!(upstream = %self.name, %why, "MCP session refused");
        ForwardError::UnknownSession {
            upstream: self.name.clone(),
            why,
        }
    }

    fn circuit(&self, e: CircuitError) -> ForwardError {
        ForwardError::CircuitOpen {
            upstream: self.name.clone(),
            limit: e.limit(),
        }
    }

    /// Spend a retry of the budget on a call that failed on `ep`.
    fn spend(&self, ep: &Endpoint, now: u64) -> bool {
        if self.retry.budget().try_retry(now) {
            ep.metrics.retries.inc();
            true
        } else {
            self.budget_exhausted.inc();
            false
        }
    }

    /// Count `outcome` on `ep`; eject it when a threshold is reached and the share allows.
    fn outcome(&self, ep: &Endpoint, outcome: Outcome, eps: &[Arc<Endpoint>], now: u64) {
        if !ep.record(outcome, self.outlier.as_ref()) {
            return;
        }
        let Some(cfg) = &self.outlier else { return };
        let _held = self.eject_lock.lock().unwrap_or_else(|p| p.into_inner());
        if ep.is_ejected(now) {
            return;
        }
        let ejected = eps.iter().filter(|e| e.is_ejected(now)).count();
        if may_eject(ejected, eps.len(), cfg.max_ejection_percent) {
            let d = ep.eject(now, cfg);
            tracing::warn!(upstream = %self.name, endpoint = %ep.authority, ?outcome, seconds = d.as_secs_f64(), "endpoint ejected");
        }
    }

    /// Remember the session an answer created (or forget one ended with DELETE).
    fn note_session(
        &self,
        ep: &Endpoint,
        asked: Option<&str>,
        method: &Method,
        resp: &Response<Incoming>,
        now: u64,
    ) {
        if !self.picker.by_session() {
            return;
        }
        if *method == Method::DELETE && resp.status().is_success() {
            if let Some(s) = asked {
                self.picker.forget(s);
            }
            return;
        }
        let given = resp
            .headers()
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok());
        if let Some(s) = given.filter(|s| Some(*s) != asked) {
            self.picker.remember(s, ep.authority.as_str(), now);
        }
    }

    /// Resolve the DNS name again and take what it gives (the last list stays when the
    /// name does not resolve).
    async fn refresh_dns(&self, d: &DnsConfig, scheme: &Scheme) {
        match tokio::net::lookup_host((d.name.as_str(), d.port)).await {
            Ok(addrs) => {
                let found: Vec<Authority> = addrs
                    .filter_map(|a| Authority::try_from(a.to_string()).ok())
                    .collect();
                if found.is_empty() {
                    tracing::warn!(upstream = %self.name, name = %d.name, "DNS name resolved to no address; keeping the last endpoints");
                    return;
                }
                let mut sorted = found.clone();
                sorted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                sorted.dedup();
                let same = {
                    let now = self.endpoints.load();
                    now.len() == sorted.len()
                        && now.iter().zip(&sorted).all(|(e, a)| e.authority == *a)
                };
                if !same {
                    tracing::info!(upstream = %self.name, endpoints = sorted.len(), "endpoints changed (DNS)");
                    self.set_endpoints(scheme, sorted);
                }
            }
            Err(e) => {
                tracing::warn!(upstream = %self.name, name = %d.name, error = %e, "DNS refresh failed; keeping the last endpoints")
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(t) = self.task.get_mut().ok().and_then(Option::take) {
            t.abort();
        }
    }
}

/// `uri` pointed at endpoint `ep`.
fn on_endpoint(uri: Uri, ep: &Endpoint) -> Result<Uri, ForwardError> {
    let mut p = uri.into_parts();
    p.scheme = Some(ep.scheme.clone());
    p.authority = Some(ep.authority.clone());
    Uri::from_parts(p).map_err(|e| ForwardError::BadTarget(e.to_string()))
}

/// The first resolution, at start (blocking, once).
fn resolve_blocking(d: &DnsConfig) -> Vec<Authority> {
    match (d.name.as_str(), d.port).to_socket_addrs() {
        Ok(a) => a
            .filter_map(|a| Authority::try_from(a.to_string()).ok())
            .collect(),
        Err(e) => {
            tracing::warn!(name = %d.name, error = %e, "DNS name does not resolve yet; calls get 503 until it does");
            Vec::new()
        }
    }
}

/// The fleet's background task: ejections over, DNS refresh, health checks.
async fn maintain(fleet: Weak<Fleet>, client: Client) {
    let mut last_dns = Instant::now();
    let mut last_probe: Option<Instant> = None;
    let mut streaks: HashMap<Authority, HealthStreak> = HashMap::new();
    loop {
        tokio::time::sleep(TICK).await;
        let Some(f) = fleet.upgrade() else { return };
        let now = now_ms();
        let eps = f.endpoints();
        if let Some(o) = &f.outlier {
            for e in eps.iter() {
                if e.tick(now, o) {
                    tracing::info!(upstream = %f.name, endpoint = %e.authority, "ejected endpoint back in rotation");
                }
            }
        }
        if let Some(d) = f.dns.clone() {
            if last_dns.elapsed() >= d.refresh {
                last_dns = Instant::now();
                let scheme = if d.scheme == "https" {
                    Scheme::HTTPS
                } else {
                    Scheme::HTTP
                };
                f.refresh_dns(&d, &scheme).await;
            }
        }
        if let Some(h) = f.health.clone() {
            if last_probe.is_none_or(|t| t.elapsed() >= h.interval) {
                last_probe = Some(Instant::now());
                let probes = eps.iter().map(|e| probe(&client, &f, e, &h));
                let results = futures_util::future::join_all(probes).await;
                streaks.retain(|a, _| eps.iter().any(|e| e.authority == *a));
                for (e, ok) in eps.iter().zip(results) {
                    let healthy = e.metrics.healthy.get() == 1;
                    let s = streaks.entry(e.authority.clone()).or_default();
                    if let Some(v) =
                        s.observe(ok, healthy, h.healthy_threshold, h.unhealthy_threshold)
                    {
                        e.set_healthy(v);
                        if v {
                            tracing::info!(upstream = %f.name, endpoint = %e.authority, "endpoint passes its health check again");
                        } else {
                            tracing::warn!(upstream = %f.name, endpoint = %e.authority, "endpoint fails its health check");
                        }
                    }
                }
            }
        }
    }
}

/// One health probe of `e`: GET `health_check.path`; a 2xx or 3xx within the timeout.
async fn probe(client: &Client, f: &Fleet, e: &Endpoint, h: &HealthCheckConfig) -> bool {
    let uri = format!("{}://{}{}{}", e.scheme, e.authority, f.base_path, h.path);
    let mut req = Request::get(uri);
    if let Some(host) = f
        .probe_host
        .as_ref()
        .and(e.host.as_ref().or(f.probe_host.as_ref()))
    {
        req = req.header(header::HOST, host.clone());
    }
    let Ok(req) = req.body(super::body::full(Bytes::new())) else {
        return false;
    };
    match tokio::time::timeout(h.timeout, client.request(req)).await {
        Ok(Ok(resp)) => {
            let ok = resp.status().is_success() || resp.status().is_redirection();
            // Read the (small) body so the connection can be reused.
            let _ = tokio::time::timeout(h.timeout, resp.into_body().collect()).await;
            ok
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;

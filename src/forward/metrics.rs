//! Metrics of upstreams with several endpoints (or any resilience setting): per endpoint
//! calls, failures, ejections and health; per upstream circuit-breaker state, retries and
//! the endpoint count. Handles are resolved once per endpoint, so a call hashes no labels.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use super::circuit::LimitMetrics;

/// The metric families, registered once with the gateway's registry.
#[derive(Clone)]
pub struct FleetMetrics {
    requests: IntCounterVec,
    failures: IntCounterVec,
    ejections: IntCounterVec,
    ejected: IntGaugeVec,
    healthy: IntGaugeVec,
    retries: IntCounterVec,
    circuit_open: IntGaugeVec,
    circuit_rejections: IntCounterVec,
    budget_exhausted: IntCounterVec,
    endpoints: IntGaugeVec,
}

/// Handles of one endpoint.
#[derive(Clone)]
pub struct EndpointMetrics {
    /// Calls sent to it (retries included).
    pub requests: IntCounter,
    /// Connects that failed.
    pub failures_connect: IntCounter,
    /// 5xx answers and broken exchanges.
    pub failures_5xx: IntCounter,
    /// Other failures (timeouts).
    pub failures_other: IntCounter,
    /// Times it was ejected.
    pub ejections: IntCounter,
    /// 1 while ejected.
    pub ejected: IntGauge,
    /// 1 while the active health check (if any) finds it healthy.
    pub healthy: IntGauge,
    /// Calls that failed on it and were sent again to another endpoint.
    pub retries: IntCounter,
}

impl EndpointMetrics {
    /// Handles registered nowhere (unit tests).
    pub fn unregistered() -> Self {
        FleetMetrics::unregistered().endpoint("u", "e")
    }
}

impl FleetMetrics {
    /// Create the families and register them with `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self::build()?;
        for c in [
            &m.requests,
            &m.failures,
            &m.ejections,
            &m.retries,
            &m.circuit_rejections,
            &m.budget_exhausted,
        ] {
            registry.register(Box::new(c.clone()))?;
        }
        for g in [&m.ejected, &m.healthy, &m.circuit_open, &m.endpoints] {
            registry.register(Box::new(g.clone()))?;
        }
        Ok(m)
    }

    /// The families, registered nowhere (tests, or when registering failed).
    pub fn unregistered() -> Self {
        // The names and labels are static and distinct; building cannot fail.
        Self::build().unwrap_or_else(|e| panic!("fleet metrics: {e}"))
    }

    fn build() -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, help), labels)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let ep = &["upstream", "endpoint"];
        Ok(Self {
            requests: counter(
                "sec0_gateway_upstream_endpoint_requests_total",
                "Calls sent to an upstream endpoint (retries included).",
                ep,
            )?,
            failures: counter(
                "sec0_gateway_upstream_endpoint_failures_total",
                "Failed calls to an upstream endpoint, by kind (connect, 5xx, other).",
                &["upstream", "endpoint", "kind"],
            )?,
            ejections: counter(
                "sec0_gateway_upstream_endpoint_ejections_total",
                "Times an endpoint was ejected by outlier detection.",
                ep,
            )?,
            ejected: gauge(
                "sec0_gateway_upstream_endpoint_ejected",
                "1 while an endpoint is ejected by outlier detection.",
                ep,
            )?,
            healthy: gauge(
                "sec0_gateway_upstream_endpoint_healthy",
                "1 while an endpoint passes its active health check (1 without checks).",
                ep,
            )?,
            retries: counter(
                "sec0_gateway_upstream_endpoint_retries_total",
                "Calls that failed on an endpoint and were sent again to another one.",
                ep,
            )?,
            circuit_open: gauge(
                "sec0_gateway_upstream_circuit_open",
                "1 while a circuit-breaker limit of an upstream is reached (requests, pending, connections).",
                &["upstream", "limit"],
            )?,
            circuit_rejections: counter(
                "sec0_gateway_upstream_circuit_rejections_total",
                "Calls refused with 503 because a circuit-breaker limit was reached.",
                &["upstream", "limit"],
            )?,
            budget_exhausted: counter(
                "sec0_gateway_upstream_retry_budget_exhausted_total",
                "Retries not made because the upstream's retry budget was spent.",
                &["upstream"],
            )?,
            endpoints: gauge(
                "sec0_gateway_upstream_endpoints",
                "Endpoints an upstream has now (from its list or its DNS name).",
                &["upstream"],
            )?,
        })
    }

    /// Handles of endpoint `endpoint` (its `host:port`) of `upstream`.
    pub fn endpoint(&self, upstream: &str, endpoint: &str) -> EndpointMetrics {
        let l = [upstream, endpoint];
        let f = |kind: &str| self.failures.with_label_values(&[upstream, endpoint, kind]);
        EndpointMetrics {
            requests: self.requests.with_label_values(&l),
            failures_connect: f("connect"),
            failures_5xx: f("5xx"),
            failures_other: f("other"),
            ejections: self.ejections.with_label_values(&l),
            ejected: self.ejected.with_label_values(&l),
            healthy: self.healthy.with_label_values(&l),
            retries: self.retries.with_label_values(&l),
        }
    }

    /// Handles of circuit-breaker limit `limit` of `upstream`.
    pub fn limit(&self, upstream: &str, limit: &str) -> LimitMetrics {
        LimitMetrics {
            open: self.circuit_open.with_label_values(&[upstream, limit]),
            rejected: self
                .circuit_rejections
                .with_label_values(&[upstream, limit]),
        }
    }

    /// Counter of retries refused by `upstream`'s budget.
    pub fn budget_exhausted(&self, upstream: &str) -> IntCounter {
        self.budget_exhausted.with_label_values(&[upstream])
    }

    /// Gauge of `upstream`'s endpoint count.
    pub fn endpoint_count(&self, upstream: &str) -> IntGauge {
        self.endpoints.with_label_values(&[upstream])
    }
}

//! Prometheus registry and typed handles. Every name starts with `sec0_gateway_`.
//!
//! Per-route handles are resolved once when the gateway starts ([`RouteMetrics`]) so the hot
//! path does no label hashing for them; only the status label is looked up per request.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// All gateway metrics, registered in one registry (served on `/metrics`).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Responses sent, by route and HTTP status.
    pub requests: IntCounterVec,
    /// Time from forwarding a request to the upstream's response head, by route.
    pub upstream_latency: HistogramVec,
    /// Upstream failures, by route and kind (`connect`, `timeout`, `protocol`).
    pub upstream_errors: IntCounterVec,
    /// Requests whose response has not finished yet (streams included).
    pub in_flight: IntGauge,
    /// SSE responses currently streaming to clients.
    pub open_sse_streams: IntGauge,
    /// Request body bytes received from clients, by route.
    pub bytes_in: IntCounterVec,
    /// Response body bytes sent to clients, by route.
    pub bytes_out: IntCounterVec,
    /// Downstream connections currently open.
    pub open_connections: IntGauge,
    /// Downstream connections accepted since start.
    pub connections: IntCounter,
    /// TLS handshakes on the proxy listener that failed.
    pub tls_handshake_failures: IntCounter,
    /// TLS certificate reloads by result (`ok`, `error`).
    pub tls_reloads: IntCounterVec,
    /// Run histories dropped (expired or over `context.max_runs`).
    pub run_evictions: IntCounter,
    /// The shared run store's metrics (`store.backend: redis`).
    pub run_store: std::sync::Arc<RunStoreMetrics>,
    /// Escalations answered or expired, by state (`approved`, `rejected`, `expired`).
    pub escalations: IntCounterVec,
    /// Escalations waiting for a reviewer now.
    pub escalations_pending: IntGauge,
    /// Failed shared-store operations, by operation.
    pub shared_state_errors: IntCounterVec,
    /// Whether this replica follows the shared store's events.
    pub shared_state_synced: IntGauge,
    /// Hop spans for OTLP export, by result.
    pub otlp_spans: IntCounterVec,
    /// Webhook notifications by result (`delivered`, `failed`, `missed`).
    pub escalation_notifications: IntCounterVec,
    /// Seconds from an escalation to its answer (held escalations).
    pub escalation_answer_seconds: Histogram,
    /// Precedents in force, by verdict.
    pub precedents: prometheus::IntGaugeVec,
    /// Policy decisions, by decision, boundary, route, reason and mode.
    pub decisions: IntCounterVec,
    /// Time to decide one call.
    pub policy_eval: Histogram,
    /// The loaded policy's version (value 1 for the current one).
    pub policy_version: prometheus::IntGaugeVec,
    /// Policy reloads by result (`ok`, `error`).
    pub policy_reloads: IntCounterVec,
    /// The version of the policy bundle serving (`policy.source`; 0 for rules from files).
    pub policy_bundle_version: IntGauge,
    /// Unix time of the last fetch that confirmed or replaced the serving bundle.
    pub policy_bundle_last_fetch: prometheus::Gauge,
    /// Bundle fetches that left the serving policy in place, by reason.
    pub policy_bundle_fetch_failures: IntCounterVec,
    /// Tools removed from `tools/list` answers, by route.
    pub tools_hidden: IntCounterVec,
    /// Guard findings, by route, detector, type and direction.
    pub findings: IntCounterVec,
    /// Findings replaced by `[REDACTED:<type>]`, by route and direction.
    pub redactions: IntCounterVec,
    /// Tool descriptors that changed after they were first seen (rug pulls), by route.
    pub descriptor_changes: IntCounterVec,
    /// The audit trail's metrics.
    pub audit: std::sync::Arc<AuditMetrics>,
    /// Per-minute decision counts and the latest notable decisions, for the console
    /// (`GET /v1/decisions/summary`).
    pub summary: std::sync::Arc<crate::decisions::DecisionSummary>,
}

/// The shared run store's metrics: its round trips to Redis (and how long they took), the
/// ones that failed, and the calls served or recorded from this replica's memory instead
/// (`store.on_unavailable: local`). `op` is `read` (a run's history before deciding) or
/// `write` (what the call added to it).
pub struct RunStoreMetrics {
    /// Round trips to Redis by operation, timed (the histogram's count is the number).
    pub round_trips: HistogramVec,
    /// Round trips that failed or timed out, by operation.
    pub errors: IntCounterVec,
    /// Operations served from (or kept only in) this replica's memory after a failure.
    pub fallbacks: IntCounterVec,
}

impl RunStoreMetrics {
    /// Handles not registered anywhere (tests, benchmarks).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new())
    }

    fn register(registry: &Registry) -> Self {
        let round_trips = must(HistogramVec::new(
            HistogramOpts::new(
                "sec0_gateway_run_store_round_trip_seconds",
                "Round trips to the shared run store (Redis), by operation (read, write).",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5,
            ]),
            &["op"],
        ));
        must(registry.register(Box::new(round_trips.clone())));
        let counter = |name: &str, help: &str| {
            let c = must(IntCounterVec::new(Opts::new(name, help), &["op"]));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let errors = counter(
            "sec0_gateway_run_store_errors_total",
            "Round trips to the shared run store that failed or timed out, by operation.",
        );
        let fallbacks = counter(
            "sec0_gateway_run_store_fallbacks_total",
            "Run-store operations served from this replica's memory because Redis failed (store.on_unavailable: local), by operation.",
        );
        Self {
            round_trips,
            errors,
            fallbacks,
        }
    }
}

/// The audit trail's metrics: what each sink wrote or could not write, the queue, the
/// collector's spool and when it last took a batch.
pub struct AuditMetrics {
    /// Records by sink (`queue`, `file`, `http`, `stdout`) and result (`written`: in the
    /// file / on stdout / acknowledged by the collector; `spooled`: on disk for the
    /// collector; `failed`: could not be queued or written).
    pub records: IntCounterVec,
    /// Records waiting in the queue to the writer.
    pub queue_depth: IntGauge,
    /// Undelivered bytes in the collector's spool.
    pub spool_bytes: IntGauge,
    /// Undelivered records in the collector's spool.
    pub spool_records: IntGauge,
    /// Unix time of the last successful write (file, stdout) or delivery (http), by sink.
    pub last_delivery: prometheus::GaugeVec,
    /// POSTs to the collector that failed (each is retried).
    pub delivery_failures: IntCounter,
}

impl AuditMetrics {
    /// Handles not registered anywhere (tests, benchmarks).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new())
    }

    fn register(registry: &Registry) -> Self {
        let records = must(IntCounterVec::new(
            Opts::new(
                "sec0_gateway_audit_records_total",
                "Audit records by sink and result (written, spooled, failed).",
            ),
            &["sink", "result"],
        ));
        let gauge = |name: &str, help: &str| {
            let g = must(IntGauge::new(name, help));
            must(registry.register(Box::new(g.clone())));
            g
        };
        must(registry.register(Box::new(records.clone())));
        let queue_depth = gauge(
            "sec0_gateway_audit_queue_depth",
            "Audit records waiting for the writer.",
        );
        let spool_bytes = gauge(
            "sec0_gateway_audit_spool_bytes",
            "Undelivered bytes in the audit collector's spool.",
        );
        let spool_records = gauge(
            "sec0_gateway_audit_spool_records",
            "Undelivered records in the audit collector's spool.",
        );
        let last_delivery = must(prometheus::GaugeVec::new(
            Opts::new(
                "sec0_gateway_audit_last_delivery_timestamp_seconds",
                "Unix time of the last successful write or delivery, by sink.",
            ),
            &["sink"],
        ));
        must(registry.register(Box::new(last_delivery.clone())));
        let delivery_failures = must(IntCounter::new(
            "sec0_gateway_audit_delivery_failures_total",
            "POSTs to the audit collector that failed (the batch stays in the spool and is retried).",
        ));
        must(registry.register(Box::new(delivery_failures.clone())));
        Self {
            records,
            queue_depth,
            spool_bytes,
            spool_records,
            last_delivery,
            delivery_failures,
        }
    }

    /// Count `n` records written by `sink`.
    pub fn written(&self, sink: &str, n: u64) {
        self.records.with_label_values(&[sink, "written"]).inc_by(n);
    }

    /// Count `n` records `sink` could not take.
    pub fn failed(&self, sink: &str, n: u64) {
        self.records.with_label_values(&[sink, "failed"]).inc_by(n);
    }

    /// How many records `sink` has counted with `result` (tests, `audit` summaries).
    pub fn count(&self, sink: &str, result: &str) -> u64 {
        self.records.with_label_values(&[sink, result]).get()
    }
}

/// `requests_total` counters of one route, one per HTTP status, each resolved on first use
/// and then reached without hashing or locking.
pub struct StatusCounters {
    vec: IntCounterVec,
    route: String,
    slots: Box<[OnceLock<IntCounter>]>,
}

impl StatusCounters {
    fn new(vec: IntCounterVec, route: &str) -> Self {
        Self {
            vec,
            route: route.to_string(),
            slots: (100..600).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Count one response with `status`.
    pub fn inc(&self, status: http::StatusCode) {
        let code = status.as_u16();
        match self.slots.get(usize::from(code).wrapping_sub(100)) {
            Some(slot) => slot
                .get_or_init(|| self.vec.with_label_values(&[&self.route, status.as_str()]))
                .inc(),
            None => self
                .vec
                .with_label_values(&[&self.route, status.as_str()])
                .inc(),
        }
    }
}

/// Handles for one route, resolved once.
pub struct RouteMetrics {
    /// See [`Metrics::requests`].
    pub requests: StatusCounters,
    /// See [`Metrics::upstream_latency`].
    pub upstream_latency: Histogram,
    /// See [`Metrics::bytes_in`].
    pub bytes_in: IntCounter,
    /// See [`Metrics::bytes_out`].
    pub bytes_out: IntCounter,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric names and label sets below are static and distinct; registration can only
    // fail on a programming error, caught by the unit test `registry_builds`.
    r.unwrap_or_else(|e| panic!("metric registration: {e}"))
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let gauge = |name: &str, help: &str| {
            let g = must(IntGauge::new(name, help));
            must(registry.register(Box::new(g.clone())));
            g
        };
        let requests = counter_vec(
            "sec0_gateway_requests_total",
            "Responses sent to clients, by route and HTTP status.",
            &["route", "status"],
        );
        let upstream_errors = counter_vec(
            "sec0_gateway_upstream_errors_total",
            "Upstream failures by route and kind (connect, timeout, protocol).",
            &["route", "kind"],
        );
        let bytes_in = counter_vec(
            "sec0_gateway_request_bytes_total",
            "Request body bytes received from clients.",
            &["route"],
        );
        let bytes_out = counter_vec(
            "sec0_gateway_response_bytes_total",
            "Response body bytes sent to clients.",
            &["route"],
        );
        let upstream_latency = must(HistogramVec::new(
            HistogramOpts::new(
                "sec0_gateway_upstream_latency_seconds",
                "Time from forwarding a request to the upstream's response head.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ]),
            &["route"],
        ));
        must(registry.register(Box::new(upstream_latency.clone())));
        let in_flight = gauge(
            "sec0_gateway_in_flight_requests",
            "Requests whose response has not finished (open streams included).",
        );
        let open_sse_streams = gauge(
            "sec0_gateway_open_sse_streams",
            "SSE responses currently streaming to clients.",
        );
        let open_connections = gauge(
            "sec0_gateway_open_connections",
            "Downstream connections currently open.",
        );
        let connections = must(IntCounter::new(
            "sec0_gateway_connections_total",
            "Downstream connections accepted.",
        ));
        must(registry.register(Box::new(connections.clone())));
        let tls_handshake_failures = must(IntCounter::new(
            "sec0_gateway_tls_handshake_failures_total",
            "TLS handshakes on the proxy listener that failed (bad or missing client certificate, timeout, not TLS).",
        ));
        must(registry.register(Box::new(tls_handshake_failures.clone())));
        let tls_reloads = counter_vec(
            "sec0_gateway_tls_reloads_total",
            "TLS certificate reloads, by result (ok, error).",
            &["result"],
        );
        let run_evictions = must(IntCounter::new(
            "sec0_gateway_run_evictions_total",
            "Run histories dropped to make room under context.max_runs (least recently seen first; expired runs are the oldest).",
        ));
        must(registry.register(Box::new(run_evictions.clone())));
        let escalations = counter_vec(
            "sec0_gateway_escalations_total",
            "Escalations decided, by state (approved, rejected, expired).",
            &["state"],
        );
        let escalation_notifications = counter_vec(
            "sec0_gateway_escalation_notifications_total",
            "Escalation webhook notifications, by result (delivered, failed after retries, missed).",
            &["result"],
        );
        let escalation_answer_seconds = must(Histogram::with_opts(
            HistogramOpts::new(
                "sec0_gateway_escalation_answer_seconds",
                "Time from an escalation to its answer (held escalations; expiries included).",
            )
            .buckets(vec![
                1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0,
            ]),
        ));
        must(registry.register(Box::new(escalation_answer_seconds.clone())));
        let precedents = must(prometheus::IntGaugeVec::new(
            Opts::new(
                "sec0_gateway_precedents",
                "Precedents in force, by verdict (allow, deny).",
            ),
            &["verdict"],
        ));
        must(registry.register(Box::new(precedents.clone())));
        let shared_state_errors = counter_vec(
            "sec0_gateway_shared_state_errors_total",
            "Operations on the shared store (Redis) that failed or timed out, by operation.",
            &["op"],
        );
        let shared_state_synced = gauge(
            "sec0_gateway_shared_state_synced",
            "1 while this replica follows the shared store's events (always 1 in memory).",
        );
        let otlp_spans = counter_vec(
            "sec0_gateway_otlp_spans_total",
            "Hop spans for OTLP export, by result (exported, failed, dropped when the queue was full, invalid).",
            &["result"],
        );
        let escalations_pending = gauge(
            "sec0_gateway_escalations_pending",
            "Escalations waiting for a reviewer.",
        );
        let decisions = counter_vec(
            "sec0_gateway_decisions_total",
            "Policy decisions, by decision, boundary, route, reason and mode (enforce/observe).",
            &["decision", "boundary", "route", "reason", "mode"],
        );
        let policy_eval = must(Histogram::with_opts(
            HistogramOpts::new(
                "sec0_gateway_policy_eval_seconds",
                "Time to decide one call.",
            )
            .buckets(vec![
                0.000_001, 0.000_002, 0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_5,
                0.001, 0.01,
            ]),
        ));
        must(registry.register(Box::new(policy_eval.clone())));
        let policy_version = must(prometheus::IntGaugeVec::new(
            Opts::new(
                "sec0_gateway_policy_version_info",
                "Loaded policy version (1 for the current one).",
            ),
            &["version"],
        ));
        must(registry.register(Box::new(policy_version.clone())));
        let policy_reloads = counter_vec(
            "sec0_gateway_policy_reload_total",
            "Policy reloads by result (ok, error); after an error the previous policy keeps serving.",
            &["result"],
        );
        let policy_bundle_version = gauge(
            "sec0_gateway_policy_bundle_version",
            "Version of the signed policy bundle serving (policy.source); 0 when the rules come from files.",
        );
        let policy_bundle_last_fetch = must(prometheus::Gauge::new(
            "sec0_gateway_policy_bundle_last_fetch_timestamp_seconds",
            "Unix time of the last bundle fetch that confirmed or replaced the serving policy (0: none yet).",
        ));
        must(registry.register(Box::new(policy_bundle_last_fetch.clone())));
        let policy_bundle_fetch_failures = counter_vec(
            "sec0_gateway_policy_bundle_fetch_failures_total",
            "Policy bundle fetches that left the serving policy in place, by reason (unreachable, too_large, bad_archive, unsafe_entry, bad_manifest, bad_signature, bad_hash, bad_rules, old_version).",
            &["reason"],
        );
        for reason in crate::vocab::BUNDLE_REFUSALS {
            policy_bundle_fetch_failures.with_label_values(&[reason]);
        }
        let tools_hidden = counter_vec(
            "sec0_gateway_tools_hidden_total",
            "Tools removed from tools/list answers because the caller can never call them.",
            &["route"],
        );
        let findings = counter_vec(
            "sec0_gateway_findings_total",
            "What the guard's detectors found (type and location only, never values).",
            &["route", "detector", "type", "direction"],
        );
        let redactions = counter_vec(
            "sec0_gateway_redactions_total",
            "Findings replaced by [REDACTED:<type>] before the data went on.",
            &["route", "direction"],
        );
        let descriptor_changes = counter_vec(
            "sec0_gateway_tool_descriptor_changes_total",
            "Tool descriptors that changed after they were first seen (possible rug pulls).",
            &["route"],
        );
        let build = must(IntCounterVec::new(
            Opts::new("sec0_gateway_build_info", "Build information; always 1."),
            &["version"],
        ));
        must(registry.register(Box::new(build.clone())));
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).inc();
        let audit = std::sync::Arc::new(AuditMetrics::register(&registry));
        let run_store = std::sync::Arc::new(RunStoreMetrics::register(&registry));
        Self {
            audit,
            run_store,
            registry,
            requests,
            upstream_latency,
            upstream_errors,
            in_flight,
            open_sse_streams,
            bytes_in,
            bytes_out,
            open_connections,
            connections,
            tls_handshake_failures,
            tls_reloads,
            run_evictions,
            escalations,
            escalations_pending,
            shared_state_errors,
            shared_state_synced,
            otlp_spans,
            escalation_notifications,
            escalation_answer_seconds,
            precedents,
            decisions,
            policy_eval,
            policy_version,
            policy_reloads,
            policy_bundle_version,
            policy_bundle_last_fetch,
            policy_bundle_fetch_failures,
            tools_hidden,
            findings,
            redactions,
            descriptor_changes,
            summary: std::sync::Arc::default(),
        }
    }

    /// Handles for the route named `route`.
    pub fn route(&self, route: &str) -> RouteMetrics {
        RouteMetrics {
            requests: StatusCounters::new(self.requests.clone(), route),
            upstream_latency: self.upstream_latency.with_label_values(&[route]),
            bytes_in: self.bytes_in.with_label_values(&[route]),
            bytes_out: self.bytes_out.with_label_values(&[route]),
        }
    }

    /// The registry, for metric families kept beside their step (upstream endpoints).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Status counters for requests that matched no route (label `route="-"`).
    pub fn unrouted(&self) -> StatusCounters {
        StatusCounters::new(self.requests.clone(), "-")
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format except on invalid metric
        // families, which `new` cannot produce.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_builds() {
        let m = Metrics::new();
        m.requests.with_label_values(&["r", "200"]).inc();
        m.route("r").bytes_in.inc_by(5);
        let rm = m.route("r");
        rm.requests.inc(http::StatusCode::OK);
        rm.requests.inc(http::StatusCode::OK);
        let text = m.render();
        assert!(text.contains("sec0_gateway_requests_total{route=\"r\",status=\"200\"} 3"));
        assert!(text.contains("sec0_gateway_request_bytes_total{route=\"r\"} 5"));
        assert!(text.contains("sec0_gateway_build_info"));
    }
}

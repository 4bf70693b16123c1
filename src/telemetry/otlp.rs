//! OTLP trace export: one span per hop — a call through the gateway — in the call's W3C
//! trace, so a collector (Jaeger, Tempo, …) shows the gateway between the agent and the tool
//! with the decision on it.
//!
//! The span's ids are the ones the gateway already puts on the wire: the trace id it
//! continued or started, the hop id as the span id (it is the parent id in the
//! `traceparent` sent upstream, so the tool's spans hang below it), and the caller's span
//! from the inbound `traceparent` as the parent. Only sampled traces are exported (flag
//! `01`; traces the gateway starts are sampled).
//!
//! Spans never slow a call: they go through a bounded queue to one export task, which sends
//! batches with the official OTLP exporter (protobuf over HTTP); a full queue drops the span
//! and counts it. At shutdown the queue is flushed.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use prometheus::IntCounterVec;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::OtlpConfig;
use crate::vocab::{ProxyBody, StreamOutcome, StreamWatch, Watched};

/// Why export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The exporter refused the settings.
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Where hop spans go: the queue to the export task.
pub struct HopSpans {
    tx: mpsc::Sender<SpanData>,
    results: IntCounterVec,
    scope: InstrumentationScope,
}

/// What a hop's span says, known when the call's answer starts; it ends when the answer's
/// body does.
pub struct HopSpan {
    /// W3C trace id (32 hex).
    pub trace_id: String,
    /// The hop id (16 hex): the span's id.
    pub span_id: String,
    /// The caller's span (16 hex), when it sent a `traceparent`.
    pub parent_id: Option<String>,
    /// W3C trace flags (2 hex).
    pub flags: String,
    /// The span's name.
    pub name: String,
    /// When the call arrived.
    pub start: SystemTime,
    /// The answer's status.
    pub status: u16,
    /// Attributes (route, caller, run, decision, …).
    pub attributes: Vec<KeyValue>,
}

impl HopSpan {
    /// The span of the call on `route` in context `ctx`, answered with `resp` (`error`: the
    /// failure's reason code, if it failed), that arrived at `start`.
    pub fn of(
        route: &crate::routing::Route,
        ctx: &crate::context::CallContext,
        method: &http::Method,
        resp: &http::Response<ProxyBody>,
        error: Option<&'static str>,
        start: SystemTime,
    ) -> Self {
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.to_string()),
            KeyValue::new("sec0.route", route.name.clone()),
            KeyValue::new("sec0.boundary", route.boundary.as_str()),
            KeyValue::new("sec0.protocol", route.protocol.as_str()),
            KeyValue::new("sec0.upstream", route.upstream_name.clone()),
            KeyValue::new("sec0.caller", ctx.node_id.to_string()),
            KeyValue::new("sec0.run_id", ctx.run_id.clone()),
            KeyValue::new("sec0.hop_id", ctx.hop_id.to_string()),
        ];
        if let Some(tag) = resp.extensions().get::<crate::context::DecisionTag>() {
            attributes.push(KeyValue::new("sec0.decision", tag.decision));
            attributes.push(KeyValue::new("sec0.decision_id", tag.decision_id.clone()));
            attributes.push(KeyValue::new(
                "sec0.policy_version",
                tag.policy_version.to_string(),
            ));
        }
        if let Some(e) = error {
            attributes.push(KeyValue::new("error.type", e));
        }
        Self {
            trace_id: ctx.trace_id.clone(),
            span_id: ctx.hop_id.to_string(),
            parent_id: ctx.trace_parent.clone(),
            flags: ctx.trace_flags.clone(),
            name: format!("{} {}", method, route.name),
            start,
            status: resp.status().as_u16(),
            attributes,
        }
    }
}

impl HopSpans {
    /// Start the export task for `cfg`; spans are counted in `results`
    /// (`sec0_gateway_otlp_spans_total{result}`).
    pub fn start(
        cfg: &OtlpConfig,
        results: IntCounterVec,
    ) -> Result<(Arc<Self>, JoinHandle<()>), OtlpError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| OtlpError::Exporter(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = opentelemetry_http::hyper::HyperClient::new(connector, cfg.timeout, None);
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_endpoint(cfg.endpoint.clone())
            .with_timeout(cfg.timeout)
            .with_headers(cfg.headers.clone().into_iter().collect())
            .build()
            .map_err(|e| OtlpError::Exporter(e.to_string()))?;
        exporter.set_resource(
            &Resource::builder_empty()
                .with_attributes([
                    KeyValue::new("service.name", cfg.service_name.clone()),
                    KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                ])
                .build(),
        );
        let (tx, rx) = mpsc::channel(cfg.queue);
        let task = tokio::spawn(export(
            exporter,
            rx,
            cfg.batch,
            cfg.interval,
            results.clone(),
        ));
        let spans = Arc::new(Self {
            tx,
            results,
            scope: InstrumentationScope::builder("sec0-gateway")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        });
        Ok((spans, task))
    }

    /// End `span` when `resp`'s body ends (or is dropped), and queue it for export.
    pub fn finish_with(
        self: &Arc<Self>,
        span: HopSpan,
        resp: http::Response<ProxyBody>,
    ) -> http::Response<ProxyBody> {
        if !span
            .flags
            .ends_with(['1', '3', '5', '7', '9', 'b', 'd', 'f'])
        {
            return resp; // not sampled
        }
        let (parts, inner) = resp.into_parts();
        let body = Watched::new(
            inner,
            SpanWatch {
                span,
                spans: self.clone(),
            },
        );
        http::Response::from_parts(parts, http_body_util::BodyExt::boxed_unsync(body))
    }

    fn end(&self, span: HopSpan, outcome: &'static str) {
        let Some(data) = self.data(span, outcome) else {
            self.results.with_label_values(&["invalid"]).inc();
            return;
        };
        if self.tx.try_send(data).is_err() {
            self.results.with_label_values(&["dropped"]).inc();
        }
    }

    fn data(&self, s: HopSpan, outcome: &'static str) -> Option<SpanData> {
        let trace_id = TraceId::from_hex(&s.trace_id).ok()?;
        let span_id = SpanId::from_hex(&s.span_id).ok()?;
        let parent = s
            .parent_id
            .as_deref()
            .and_then(|p| SpanId::from_hex(p).ok())
            .unwrap_or(SpanId::INVALID);
        let mut attributes = s.attributes;
        attributes.push(KeyValue::new(
            "http.response.status_code",
            i64::from(s.status),
        ));
        attributes.push(KeyValue::new("sec0.outcome", outcome));
        Some(SpanData {
            span_context: SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: parent,
            parent_span_is_remote: parent != SpanId::INVALID,
            span_kind: SpanKind::Server,
            name: s.name.into(),
            start_time: s.start,
            end_time: SystemTime::now(),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: if s.status >= 500 || outcome != "complete" {
                Status::error(format!("{} ({outcome})", s.status))
            } else {
                Status::Unset
            },
            instrumentation_scope: self.scope.clone(),
        })
    }
}

/// The export task: batches of up to `batch` spans, at least every `interval`; when every
/// sender is gone (shutdown), what is left is sent and the task ends.
async fn export(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<SpanData>,
    batch: usize,
    interval: Duration,
    results: IntCounterVec,
) {
    let mut buf = Vec::with_capacity(batch);
    loop {
        let closed = tokio::select! {
            n = rx.recv_many(&mut buf, batch) => n == 0,
            () = tokio::time::sleep(interval), if !buf.is_empty() => false,
        };
        if !buf.is_empty() && (buf.len() >= batch || closed || rx.is_empty()) {
            let n = buf.len() as u64;
            match exporter.export(std::mem::take(&mut buf)).await {
                Ok(()) => results.with_label_values(&["exported"]).inc_by(n),
                Err(e) => {
                    results.with_label_values(&["failed"]).inc_by(n);
                    tracing::warn!(error = %e, spans = n, "OTLP export failed");
                }
            }
        }
        if closed {
            return;
        }
    }
}

/// The hop's span, ended with the answer's body (`complete`, `error`, or `cut` when the
/// client went away or the stream was cut).
struct SpanWatch {
    span: HopSpan,
    spans: Arc<HopSpans>,
}

impl StreamWatch for SpanWatch {
    fn end(self, outcome: StreamOutcome) {
        let outcome = match outcome {
            StreamOutcome::Complete => "complete",
            StreamOutcome::Failed => "error",
            StreamOutcome::Cut => "cut",
        };
        self.spans.end(self.span, outcome);
    }
}

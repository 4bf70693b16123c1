//! The audit of one exchange (one HTTP request through the gateway and its answer).
//!
//! Decisions reserve their queue slot when they are taken (so `fail_closed` can still refuse
//! the call), and the records are sent when the answer has ended: then they carry the HTTP
//! status, the SHA-256 and size of both bodies, and the latencies. Hashing happens as the
//! bytes stream past (the answer and a streamed request body are
//! [`Watched`]); nothing is buffered for it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, Response};
use http_body::Body;
use sha2::{Digest, Sha256};

use super::record::{AuditRecord, HopId, Latency, Sha256Hex};
use super::writer::{AuditError, AuditTrail, Slot};
use crate::vocab::{DecisionKind, EscalationState, ProxyBody, StreamOutcome, StreamWatch, Watched};

/// The ids that tie a call to its run, its caller's hop and its trace. Until verified
/// identity exists (the identity work), `run_id`, `parent_hop` and `trace_id` are what the
/// caller sent — validated for shape and length, recorded as claims, never used to decide.
#[derive(Debug, Clone, Default)]
pub struct CallIds {
    /// `x-sec0-run-id`, else the sec0 SDK's `x-agent-ref`.
    pub run_id: Option<String>,
    /// Minted here: this hop's id.
    pub hop_id: HopId,
    /// `x-sec0-hop-id`, else the sec0 SDK's `x-cause-span`: the calling hop.
    pub parent_hop: Option<String>,
    /// The trace id of a W3C `traceparent`, else the sec0 SDK's `x-cause-trace`.
    pub trace_id: Option<String>,
}

impl CallIds {
    /// Read the ids a caller sent (ill-formed values are ignored) and mint a hop id.
    pub fn from_headers(h: &HeaderMap) -> Self {
        let claimed = crate::vocab::ids::Claimed::from_headers(h);
        Self {
            trace_id: claimed.trace_id(),
            run_id: claimed.run,
            hop_id: HopId::next(),
            parent_hop: claimed.parent_hop,
        }
    }
}

/// What a streamed request body looked like (filled as it streams upstream).
#[derive(Default)]
struct Tally {
    hasher: Sha256,
    bytes: u64,
    complete: bool,
}

/// The audit of one exchange; see the module docs.
pub struct CallAudit {
    trail: AuditTrail,
    started: Instant,
    arrived: SystemTime,
    ids: Arc<CallIds>,
    pending: Vec<(Slot, AuditRecord)>,
    request: Option<(Sha256Hex, u64)>,
    streamed: Option<Arc<Mutex<Tally>>>,
    policy: Duration,
    upstream: Option<Duration>,
}

impl CallAudit {
    /// Start the audit of a request with these headers.
    pub fn new(trail: AuditTrail, headers: &HeaderMap) -> Self {
        Self {
            trail,
            started: Instant::now(),
            arrived: SystemTime::now(),
            ids: Arc::new(CallIds::from_headers(headers)),
            pending: Vec::new(),
            request: None,
            streamed: None,
            policy: Duration::ZERO,
            upstream: None,
        }
    }

    /// Replace the ids read at arrival with the ones the context step established.
    pub fn set_ids(&mut self, ids: CallIds) {
        self.ids = Arc::new(ids);
    }

    /// The call's ids (response-direction records carry them too).
    pub fn ids(&self) -> &Arc<CallIds> {
        &self.ids
    }

    /// The trail (for records taken while the answer streams).
    pub fn trail(&self) -> &AuditTrail {
        &self.trail
    }

    /// The request body, read whole (JSON-RPC, inspected JSON bodies).
    pub fn request_body(&mut self, body: &[u8]) {
        self.request = Some((Sha256Hex(Sha256::digest(body).into()), body.len() as u64));
    }

    /// A streamed request body: hashed as it goes upstream.
    pub fn tally_request<B: Body>(&mut self, body: B) -> Watched<B, Tallied> {
        let t = Arc::new(Mutex::new(Tally::default()));
        self.streamed = Some(t.clone());
        Watched::new(body, Tallied(t))
    }

    /// Time spent deciding.
    pub fn policy_took(&mut self, d: Duration) {
        self.policy += d;
    }

    /// Time from sending upstream to the response head.
    pub fn upstream_took(&mut self, d: Duration) {
        self.upstream = Some(d);
    }

    /// Whether a record is pending (a decision was recorded).
    pub fn has_records(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A decision was taken: reserve its record's place now (under `fail_closed` a full
    /// queue is an error the caller turns into a refusal; under `block` this waits).
    pub async fn decided(&mut self, record: AuditRecord) -> Result<(), AuditError> {
        let slot = self.trail.reserve().await?;
        self.pending.push((slot, record));
        Ok(())
    }

    /// The call failed or was refused without a decision: its record, whatever the queue
    /// policy (a full queue under `fail_closed` is counted and logged; the call is refused
    /// anyway).
    pub async fn failed(&mut self, record: AuditRecord) {
        match self.trail.reserve().await {
            Ok(slot) => self.pending.push((slot, record)),
            Err(e) => tracing::error!(error = %e, "audit record of a failed call not queued"),
        }
    }

    /// Set what became of the escalation of decision `id` on its pending record.
    pub fn set_escalation(
        &mut self,
        id: &str,
        state: EscalationState,
        outcome: Option<DecisionKind>,
    ) {
        for (_, r) in &mut self.pending {
            if r.decision_id.as_deref() == Some(id) {
                r.escalation = Some(super::record::Escalation {
                    id: id.to_string(),
                    outcome,
                    state,
                });
            }
        }
    }

    /// The call failed after it was decided (upstream down, answer too large…): its
    /// decision records say so instead of a separate error record.
    pub fn failed_after_decision(&mut self, reason: &'static str, detail: String) {
        for (_, r) in &mut self.pending {
            r.error = Some(reason);
            r.detail = Some(detail.clone());
        }
    }

    /// Attach the audit to the answer: the records are sent when its body ends (or is
    /// dropped: client gone, stream cut).
    pub fn finish(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let status = resp.status().as_u16();
        let (parts, inner) = resp.into_parts();
        if inner.is_end_stream() {
            // Nothing to stream (e.g. 202): complete now; hyper may never poll the body.
            let mut audit = self;
            audit.complete(Some(status), Some(EMPTY_SHA256), 0, StreamOutcome::Complete);
            return Response::from_parts(parts, inner);
        }
        let watch = AnswerWatch {
            audit: self,
            status,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let body = Watched::new(inner, watch);
        Response::from_parts(parts, http_body_util::BodyExt::boxed_unsync(body))
    }

    /// Send the pending records with how the exchange ended (`status` is `None` when no
    /// answer was sent: the call was dropped before its response head). Sends each record
    /// once: afterwards nothing is pending.
    fn complete(
        &mut self,
        status: Option<u16>,
        response_sha256: Option<Sha256Hex>,
        bytes_out: u64,
        outcome: StreamOutcome,
    ) {
        if self.pending.is_empty() {
            return;
        }
        let total = self.started.elapsed();
        let (request_sha256, bytes_in) = match (&self.request, &self.streamed) {
            (Some((h, n)), _) => (Some(*h), Some(*n)),
            (None, Some(t)) => match t.lock() {
                Ok(t) if t.complete => (
                    Some(Sha256Hex(t.hasher.clone().finalize().into())),
                    Some(t.bytes),
                ),
                Ok(t) => (None, Some(t.bytes)),
                Err(_) => (None, None),
            },
            (None, None) => (Some(EMPTY_SHA256), Some(0)),
        };
        let latency = Latency {
            policy: micros(self.policy),
            total: micros(total),
            upstream: self.upstream.map(micros),
        };
        for (slot, mut r) in std::mem::take(&mut self.pending) {
            r.ts = super::record::Timestamp(self.arrived);
            r.run_id = self.ids.run_id.clone();
            r.hop_id = Some(self.ids.hop_id);
            r.parent_hop = self.ids.parent_hop.clone();
            r.trace_id = self.ids.trace_id.clone();
            r.http_status = status;
            r.request_sha256 = request_sha256;
            r.response_sha256 = response_sha256;
            r.bytes_in = bytes_in;
            r.bytes_out = Some(bytes_out);
            r.latency_us = Some(latency);
            r.outcome = Some(outcome);
            slot.send(r);
        }
    }
}

/// A call dropped before its answer existed — the client went away while the gateway
/// waited for the upstream's head or a reviewer, or shutdown cut it — still leaves its
/// records: `outcome: aborted`, no `http_status` (none was sent). Without this, a decision
/// counted in the metrics would be missing from the trail (found by `benches/soak.sh`).
impl Drop for CallAudit {
    fn drop(&mut self) {
        self.complete(None, None, 0, StreamOutcome::Cut);
    }
}

/// SHA-256 of nothing (e3b0c442…b855).
const EMPTY_SHA256: Sha256Hex = Sha256Hex([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The answer's body: hashed and counted as it streams; the exchange's records are sent when
/// it ends (`complete`, or `aborted` when it failed or was cut).
struct AnswerWatch {
    audit: CallAudit,
    status: u16,
    hasher: Sha256,
    bytes: u64,
}

impl StreamWatch for AnswerWatch {
    fn data(&mut self, chunk: &Bytes) {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
    }

    fn end(self, outcome: StreamOutcome) {
        let complete = outcome == StreamOutcome::Complete;
        let hash = complete.then(|| Sha256Hex(self.hasher.finalize().into()));
        let mut audit = self.audit;
        audit.complete(Some(self.status), hash, self.bytes, outcome);
    }
}

/// A streamed request body on its way upstream, hashed and counted (complete only when it
/// went through whole).
pub struct Tallied(Arc<Mutex<Tally>>);

impl StreamWatch for Tallied {
    fn data(&mut self, chunk: &Bytes) {
        if let Ok(mut t) = self.0.lock() {
            t.hasher.update(chunk);
            t.bytes += chunk.len() as u64;
        }
    }

    fn end(self, outcome: StreamOutcome) {
        if outcome == StreamOutcome::Complete {
            if let Ok(mut t) = self.0.lock() {
                t.complete = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_digest_is_sha256_of_nothing() {
        assert_eq!(EMPTY_SHA256.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn trace_ids_come_only_from_well_formed_traceparents() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace_id_of = |tp: &str| crate::context::parse_traceparent(tp).map(|t| t.trace_id);
        assert_eq!(
            trace_id_of(ok).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn ids_from_headers_ignore_ill_formed_values() {
        let mut h = HeaderMap::new();
        h.insert("x-agent-ref", "run-42".parse().expect("hv"));
        h.insert("x-sec0-hop-id", "has space".parse().expect("hv"));
        h.insert("x-cause-span", "00f067aa0ba902b7".parse().expect("hv"));
        let ids = CallIds::from_headers(&h);
        assert_eq!(ids.run_id.as_deref(), Some("run-42"));
        assert_eq!(ids.parent_hop.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(ids.hop_id.to_string().len(), 16);
        assert_ne!(ids.hop_id, CallIds::from_headers(&h).hop_id);
        h.insert("x-sec0-run-id", "r".repeat(129).parse().expect("hv"));
        assert_eq!(CallIds::from_headers(&h).run_id.as_deref(), Some("run-42"));
    }
}

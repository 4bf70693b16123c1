//! The ids that tie calls together — this process's instance, each hop — and the one reader
//! of what a caller claims about its run, its calling hop and its trace (`x-sec0-run-id`,
//! `x-sec0-hop-id`, W3C `traceparent`, and the sec0 SDK's `x-agent-ref`, `x-cause-span`,
//! `x-cause-trace`). Claims are only read here; whether to trust them is the context step's
//! decision.

use http::{HeaderMap, HeaderName};
use serde::{Serialize, Serializer};

/// This process's random id (16 hex digits), also in audit file names.
pub fn instance_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let b = uuid::Uuid::new_v4().into_bytes();
        hex::encode(&b[..8])
    })
}

/// A hop id: 16 hex digits (the instance's first 8 and a counter), minted per exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HopId(pub u64);

impl HopId {
    /// The next id.
    pub fn next() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        Self(COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

impl std::fmt::Display for HopId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{:08x}", &instance_id()[..8], self.0 as u32)
    }
}

impl Serialize for HopId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A new 32-hex trace id for hop `hop`: the hop counter through two keyed 64-bit
/// permutations (keys drawn once per process). Unique within the process, not sequential,
/// not derivable from the public instance id — and a few nanoseconds, where hashing cost
/// more than a whole decision.
pub fn mint_trace_id(hop: HopId) -> String {
    static KEYS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    let (k0, k1) = *KEYS.get_or_init(|| {
        let b = uuid::Uuid::new_v4().as_u128();
        ((b >> 64) as u64, b as u64)
    });
    let mut raw = [0u8; 16];
    raw[..8].copy_from_slice(&permute(hop.0 ^ k0, 0xbf58_476d_1ce4_e5b9).to_be_bytes());
    raw[8..].copy_from_slice(&permute(hop.0 ^ k1, 0x94d0_49bb_1331_11eb).to_be_bytes());
    let mut hex = [0u8; 32];
    // Both cannot fail: 16 bytes fill 32 hex digits exactly, and hex digits are UTF-8.
    let _ = hex::encode_to_slice(raw, &mut hex);
    std::str::from_utf8(&hex).unwrap_or_default().to_owned()
}

/// A bijection on `u64` (splitmix64's finaliser with multiplier `m`, odd): xor-shifts and
/// an odd multiplication are each invertible.
fn permute(mut x: u64, m: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(m);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb | 1);
    x ^ (x >> 31)
}

/// The parts of a W3C `traceparent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 hex.
    pub trace_id: String,
    /// The caller's span (16 hex).
    pub parent_id: String,
    /// 2 hex (`01`: sampled).
    pub flags: String,
}

/// The parts of a valid W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all
/// zeros, version not `ff`).
pub fn parse_traceparent(tp: &str) -> Option<TraceParent> {
    let mut parts = tp.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    (hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0'))
    .then(|| TraceParent {
        trace_id: trace.to_owned(),
        parent_id: parent.to_owned(),
        flags: flags.to_owned(),
    })
}

/// Longest id taken from a header.
const MAX_ID: usize = 128;

/// A header's value as text, trimmed; `None` when absent, empty or not text.
pub fn header(h: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn id_from(h: &HeaderMap, name: &HeaderName) -> Option<String> {
    header(h, name)
        .filter(|v| v.len() <= MAX_ID && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
}

/// What a caller claims about the call's run, calling hop and trace (ill-formed values are
/// ignored; nothing here is trusted yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    /// `x-sec0-run-id`, else the sec0 SDK's `x-agent-ref`.
    pub run: Option<String>,
    /// `x-sec0-hop-id`, else the sec0 SDK's `x-cause-span`: the calling hop.
    pub parent_hop: Option<String>,
    /// A valid W3C `traceparent`.
    pub traceparent: Option<TraceParent>,
    /// The sec0 SDK's `x-cause-trace`.
    pub cause_trace: Option<String>,
}

/// The names of the headers claims arrive in, built at compile time: looking a header up
/// by a `&str` parses and lowercases the name on every call.
mod claims {
    use http::HeaderName;
    pub const RUN_ID: HeaderName = HeaderName::from_static("x-sec0-run-id");
    pub const AGENT_REF: HeaderName = HeaderName::from_static("x-agent-ref");
    pub const HOP_ID: HeaderName = HeaderName::from_static("x-sec0-hop-id");
    pub const CAUSE_SPAN: HeaderName = HeaderName::from_static("x-cause-span");
    pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    pub const CAUSE_TRACE: HeaderName = HeaderName::from_static("x-cause-trace");
}

impl Claimed {
    /// Read the claims in `h`.
    pub fn from_headers(h: &HeaderMap) -> Self {
        Self {
            run: id_from(h, &claims::RUN_ID).or_else(|| id_from(h, &claims::AGENT_REF)),
            parent_hop: id_from(h, &claims::HOP_ID).or_else(|| id_from(h, &claims::CAUSE_SPAN)),
            traceparent: header(h, &claims::TRACEPARENT).and_then(parse_traceparent),
            cause_trace: id_from(h, &claims::CAUSE_TRACE),
        }
    }

    /// The trace id claimed: the `traceparent`'s, else the SDK's cause trace.
    pub fn trace_id(&self) -> Option<String> {
        self.traceparent
            .as_ref()
            .map(|t| t.trace_id.clone())
            .or_else(|| self.cause_trace.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_trace_ids_are_w3c_shaped_unique_and_not_sequential() {
        let ids: Vec<String> = (0..10_000).map(|n| mint_trace_id(HopId(n))).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
            assert_ne!(id, &"0".repeat(32), "the all-zero trace id is invalid");
        }
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "every hop gets its own trace id");
        // Neighbouring hops share no long prefix (nothing sequential to read).
        let shared = ids
            .windows(2)
            .filter(|w| w[0][..8] == w[1][..8] || w[0][16..24] == w[1][16..24])
            .count();
        assert!(shared < 5, "{shared} neighbouring ids share an 8-digit run");
        assert_eq!(
            mint_trace_id(HopId(7)),
            mint_trace_id(HopId(7)),
            "a function of the hop"
        );
    }
}

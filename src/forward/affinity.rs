//! Session affinity that holds across gateway replicas without shared state: the MCP
//! session id an upstream endpoint creates is handed to the client *sealed* — it names the
//! endpoint and carries an HMAC-SHA-256 under a key every replica shares — so whichever
//! replica gets the session's next call sends it to the endpoint holding the session, and a
//! client cannot steer calls to an endpoint of its choice.
//!
//! Wire form (visible ASCII only, as the MCP spec wants of session ids):
//! `s1.<endpoint key: 16 hex>.<tag: 22 base64url>.<upstream session id>`. The endpoint key
//! is the first 8 bytes of SHA-256 of the endpoint's `scheme://host:port` — the same on every
//! replica and across config reloads (not a position in a list). The tag is the first 16
//! bytes of HMAC-SHA-256 over the upstream's name, the endpoint key and the upstream session
//! id; it is checked in constant time. The upstream never sees the sealed form: the gateway
//! sends it the id it created.

use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::endpoint::Endpoint;

/// The longest upstream session id the gateway seals (longer ones are refused, either way).
pub const MAX_UPSTREAM_SESSION_ID: usize = 512;
/// The version prefix of the sealed form.
const VERSION: &str = "s1";
/// Bytes of the HMAC kept as the tag (128 bits).
const TAG_BYTES: usize = 16;
/// Length of the tag in unpadded base64url.
const TAG_CHARS: usize = 22;
/// What sealing adds to an upstream session id: `s1.` + 16 hex + `.` + 22 + `.`.
const OVERHEAD: usize = VERSION.len() + 1 + 16 + 1 + TAG_CHARS + 1;
/// The longest sealed id accepted from a client (checked before anything else is done).
pub const MAX_SEALED_SESSION_ID: usize = MAX_UPSTREAM_SESSION_ID + OVERHEAD;

/// The stable name of an endpoint inside sealed session ids.
pub type EndpointKey = [u8; 8];

/// Why a session id could not be sealed or opened. None of these says which part failed to
/// a client: every one is answered as an unknown session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AffinityError {
    /// Longer than the cap.
    #[error("session id longer than {0} bytes")]
    TooLong(usize),
    /// A character outside visible ASCII (0x21–0x7E), or empty.
    #[error("session id is empty or not visible ASCII")]
    NotVisibleAscii,
    /// Not of the sealed form (version, parts, encodings).
    #[error("session id is not sealed by this gateway")]
    Malformed,
    /// The tag does not verify under the key (forged, tampered, another key).
    #[error("session id does not verify")]
    BadTag,
    /// It verifies, but its endpoint is no longer among the upstream's endpoints.
    #[error("the session's endpoint is gone")]
    EndpointGone,
}

/// The endpoint key of the endpoint at `scheme://authority` (host compared case-blind).
pub fn endpoint_key(scheme: &Scheme, authority: &Authority) -> EndpointKey {
    let mut h = Sha256::new();
    h.update(scheme.as_str().to_ascii_lowercase().as_bytes());
    h.update(b"://");
    h.update(authority.as_str().to_ascii_lowercase().as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 8];
    k.copy_from_slice(&d[..8]);
    k
}

/// A sealed session id, opened: the endpoint it names and the upstream's own id.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened<'a> {
    /// The endpoint holding the session.
    pub endpoint: EndpointKey,
    /// The session id the endpoint created (what it is sent).
    pub upstream_id: &'a str,
}

/// The sealing key of one upstream. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SessionSeal {
    /// The HMAC with the key already absorbed (cloned per use).
    mac: Hmac<Sha256>,
    upstream: Box<str>,
}

impl std::fmt::Debug for SessionSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSeal")
            .field("upstream", &self.upstream)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SessionSeal {
    /// The seal of upstream `upstream` under `key` (config validation asks for at least
    /// 32 bytes).
    pub fn new(upstream: &str, key: &[u8]) -> Self {
        // Provably safe: HMAC takes a key of any length (longer ones are hashed), so
        // `new_from_slice` has no error for it. Called at setup, not per call.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        Self {
            mac,
            upstream: upstream.into(),
        }
    }

    /// The HMAC over this upstream, `ep` and `id`, ready to finalize or verify.
    fn mac_of(&self, ep: &EndpointKey, id: &str) -> Hmac<Sha256> {
        let mut m = self.mac.clone();
        m.update(VERSION.as_bytes());
        // Length-prefixed: no two (upstream, id) pairs feed the same bytes.
        m.update(&(self.upstream.len() as u64).to_be_bytes());
        m.update(self.upstream.as_bytes());
        m.update(ep);
        m.update(id.as_bytes());
        m
    }

    /// `id` (an upstream's session id) sealed for endpoint `ep`.
    pub fn seal(&self, ep: &EndpointKey, id: &str) -> Result<String, AffinityError> {
        if id.len() > MAX_UPSTREAM_SESSION_ID {
            return Err(AffinityError::TooLong(MAX_UPSTREAM_SESSION_ID));
        }
        if !visible_ascii(id) {
            return Err(AffinityError::NotVisibleAscii);
        }
        let tag = self.mac_of(ep, id).finalize().into_bytes();
        let mut out = String::with_capacity(OVERHEAD + id.len());
        out.push_str(VERSION);
        out.push('.');
        out.push_str(&hex::encode(ep));
        out.push('.');
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(&tag[..TAG_BYTES], &mut out);
        out.push('.');
        out.push_str(id);
        Ok(out)
    }

    /// Open the sealed id `sealed`: its endpoint and upstream id, when its tag verifies.
    pub fn open<'a>(&self, sealed: &'a str) -> Result<Opened<'a>, AffinityError> {
        if sealed.len() > MAX_SEALED_SESSION_ID {
            return Err(AffinityError::TooLong(MAX_SEALED_SESSION_ID));
        }
        if !visible_ascii(sealed) {
            return Err(AffinityError::NotVisibleAscii);
        }
        let mut parts = sealed.splitn(4, '.');
        let (Some(v), Some(ep), Some(tag), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AffinityError::Malformed);
        };
        if v != VERSION || ep.len() != 16 || tag.len() != TAG_CHARS || id.is_empty() {
            return Err(AffinityError::Malformed);
        }
        let mut endpoint = [0u8; 8];
        hex::decode_to_slice(ep, &mut endpoint).map_err(|_| AffinityError::Malformed)?;
        let mut t = [0u8; TAG_BYTES + 2];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(tag, &mut t)
            .map_err(|_| AffinityError::Malformed)?;
        if n != TAG_BYTES {
            return Err(AffinityError::Malformed);
        }
        // `verify_truncated_left` compares in constant time.
        self.mac_of(&endpoint, id)
            .verify_truncated_left(&t[..TAG_BYTES])
            .map_err(|_| AffinityError::BadTag)?;
        Ok(Opened {
            endpoint,
            upstream_id: id,
        })
    }
}

/// The MCP session header (Streamable HTTP).
const MCP_SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

/// The one `Mcp-Session-Id` of `headers`: `Ok(None)` without one; two are refused.
fn session_header(headers: &HeaderMap) -> Result<Option<&str>, AffinityError> {
    let mut all = headers.get_all(&MCP_SESSION_ID).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(AffinityError::Malformed);
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| AffinityError::NotVisibleAscii)
}

impl SessionSeal {
    /// Where the session of a request with `headers` lives among `eps`: `Ok(None)` when it
    /// names no session, the endpoint's index and the upstream's own session id when its
    /// sealed id verifies and its endpoint is still there.
    pub fn place<'h>(
        &self,
        headers: &'h HeaderMap,
        eps: &[Arc<Endpoint>],
    ) -> Result<Option<(usize, &'h str)>, AffinityError> {
        let Some(sealed) = session_header(headers)? else {
            return Ok(None);
        };
        let o = self.open(sealed)?;
        let i = eps
            .iter()
            .position(|e| e.key == o.endpoint)
            .ok_or(AffinityError::EndpointGone)?;
        Ok(Some((i, o.upstream_id)))
    }

    /// Unseal the session of a request bound for `eps`: its endpoint's index (`None`: no
    /// session), with the header replaced by the id the endpoint created.
    pub fn unseal_request(
        &self,
        headers: &mut HeaderMap,
        eps: &[Arc<Endpoint>],
    ) -> Result<Option<usize>, AffinityError> {
        let Some((i, id)) = self.place(headers, eps)? else {
            return Ok(None);
        };
        // Visible ASCII (checked in `open`), so a valid header value.
        let v = HeaderValue::from_str(id).map_err(|_| AffinityError::NotVisibleAscii)?;
        headers.insert(MCP_SESSION_ID, v);
        Ok(Some(i))
    }

    /// Seal the session id an answer of endpoint `ep` gives (created or repeated), in place.
    pub fn seal_response(
        &self,
        headers: &mut HeaderMap,
        ep: &Endpoint,
    ) -> Result<(), AffinityError> {
        let Some(id) = session_header(headers)? else {
            return Ok(());
        };
        let sealed = self.seal(&ep.key, id)?;
        let v = HeaderValue::from_str(&sealed).map_err(|_| AffinityError::NotVisibleAscii)?;
        headers.insert(MCP_SESSION_ID, v);
        Ok(())
    }
}

/// Whether `s` is non-empty and only visible ASCII (0x21–0x7E), as MCP session ids are.
fn visible_ascii(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn ep(port: u16) -> EndpointKey {
        endpoint_key(
            &Scheme::HTTP,
            &Authority::try_from(format!("127.0.0.1:{port}")).expect("authority"),
        )
    }

    #[test]
    fn a_sealed_id_opens_to_its_endpoint_and_upstream_id() {
        let s = SessionSeal::new("tools", KEY);
        let id = "3f2a.b9c-e_d~!";
        let sealed = s.seal(&ep(1), id).expect("seal");
        assert!(sealed.starts_with("s1."), "{sealed}");
        assert!(visible_ascii(&sealed));
        assert_eq!(sealed.len(), OVERHEAD + id.len());
        let o = s.open(&sealed).expect("open");
        assert_eq!(o.endpoint, ep(1));
        assert_eq!(o.upstream_id, id, "dots in the upstream's id survive");
        assert_eq!(s.seal(&ep(1), id).expect("seal"), sealed, "deterministic");
        // Another replica with the same key and config opens it the same way.
        let other = SessionSeal::new("tools", KEY);
        assert_eq!(other.open(&sealed).expect("open").endpoint, ep(1));
    }

    #[test]
    fn tampering_anywhere_fails() {
        let s = SessionSeal::new("tools", KEY);
        let sealed = s.seal(&ep(1), "abc123").expect("seal");
        // Another endpoint with the same tag.
        let moved = sealed.replacen(&hex::encode(ep(1)), &hex::encode(ep(2)), 1);
        assert_eq!(s.open(&moved), Err(AffinityError::BadTag));
        // Another upstream id with the same tag.
        let swapped = format!("{}abc124", &sealed[..sealed.len() - 6]);
        assert_eq!(s.open(&swapped), Err(AffinityError::BadTag));
        // Every single character flipped.
        for i in 0..sealed.len() {
            let mut b = sealed.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(b).expect("ascii");
            if t != sealed {
                assert!(s.open(&t).is_err(), "flip at {i}: {t}");
            }
        }
        for bad in [
            "",
            "abc123",
            "s1..x.y",
            "s2.0000000000000000.AAAAAAAAAAAAAAAAAAAAAA.x",
            "s1.zz00000000000000.AAAAAAAAAAAAAAAAAAAAAA.x",
        ] {
            assert!(s.open(bad).is_err(), "{bad:?}");
        }
        assert_eq!(s.open("s1.a b"), Err(AffinityError::NotVisibleAscii));
    }

    #[test]
    fn another_key_or_upstream_does_not_open_it() {
        let sealed = SessionSeal::new("tools", KEY)
            .seal(&ep(1), "abc")
            .expect("seal");
        let wrong = SessionSeal::new("tools", b"fedcba9876543210fedcba9876543210");
        assert_eq!(wrong.open(&sealed), Err(AffinityError::BadTag));
        let elsewhere = SessionSeal::new("files", KEY);
        assert_eq!(elsewhere.open(&sealed), Err(AffinityError::BadTag));
    }

    #[test]
    fn lengths_are_capped_and_ids_must_be_visible_ascii() {
        let s = SessionSeal::new("tools", KEY);
        let max = "x".repeat(MAX_UPSTREAM_SESSION_ID);
        let sealed = s.seal(&ep(1), &max).expect("the longest id");
        assert_eq!(sealed.len(), MAX_SEALED_SESSION_ID);
        assert!(s.open(&sealed).is_ok());
        assert_eq!(
            s.seal(&ep(1), &format!("{max}x")),
            Err(AffinityError::TooLong(MAX_UPSTREAM_SESSION_ID))
        );
        assert_eq!(
            s.open(&format!("{sealed}x")),
            Err(AffinityError::TooLong(MAX_SEALED_SESSION_ID))
        );
        assert_eq!(s.seal(&ep(1), "a b"), Err(AffinityError::NotVisibleAscii));
        assert_eq!(s.seal(&ep(1), ""), Err(AffinityError::NotVisibleAscii));
        assert_eq!(s.seal(&ep(1), "é"), Err(AffinityError::NotVisibleAscii));
    }

    fn eps(ports: &[u16]) -> Vec<Arc<Endpoint>> {
        ports
            .iter()
            .map(|p| {
                Arc::new(Endpoint::new(
                    Scheme::HTTP,
                    Authority::try_from(format!("127.0.0.1:{p}")).expect("authority"),
                    None,
                    super::super::metrics::EndpointMetrics::unregistered(),
                ))
            })
            .collect()
    }

    #[test]
    fn requests_go_to_the_sealed_endpoint_with_the_upstream_id_and_answers_are_sealed() {
        let s = SessionSeal::new("tools", KEY);
        let fleet = eps(&[1, 2, 3]);
        let mut answer = HeaderMap::new();
        answer.insert(MCP_SESSION_ID, HeaderValue::from_static("up-42"));
        s.seal_response(&mut answer, &fleet[2]).expect("sealed");
        let sealed = answer[&MCP_SESSION_ID].to_str().expect("ascii").to_string();
        assert!(
            sealed.ends_with(".up-42") && sealed.starts_with("s1."),
            "{sealed}"
        );

        // Another replica lists the endpoints in another order: same endpoint.
        let reordered = eps(&[3, 1, 2]);
        let mut req = HeaderMap::new();
        req.insert(
            MCP_SESSION_ID,
            HeaderValue::from_str(&sealed).expect("value"),
        );
        assert_eq!(s.unseal_request(&mut req, &reordered), Ok(Some(0)));
        assert_eq!(
            req[&MCP_SESSION_ID], "up-42",
            "the upstream gets its own id"
        );

        let mut req = HeaderMap::new();
        req.insert(
            MCP_SESSION_ID,
            HeaderValue::from_str(&sealed).expect("value"),
        );
        assert_eq!(
            s.unseal_request(&mut req, &eps(&[1, 2])),
            Err(AffinityError::EndpointGone)
        );
        req.append(
            MCP_SESSION_ID,
            HeaderValue::from_str(&sealed).expect("value"),
        );
        assert_eq!(
            s.place(&req, &fleet),
            Err(AffinityError::Malformed),
            "two ids"
        );
        assert_eq!(s.place(&HeaderMap::new(), &fleet), Ok(None), "no session");
        let mut none = HeaderMap::new();
        assert_eq!(s.seal_response(&mut none, &fleet[0]), Ok(()));
        assert!(none.is_empty());
    }

    #[test]
    fn endpoint_keys_name_the_endpoint_not_its_place() {
        assert_ne!(ep(1), ep(2));
        assert_eq!(
            endpoint_key(&Scheme::HTTP, &Authority::from_static("Tools.Example:80")),
            endpoint_key(&Scheme::HTTP, &Authority::from_static("tools.example:80")),
        );
        assert_ne!(
            endpoint_key(&Scheme::HTTPS, &Authority::from_static("h:1")),
            endpoint_key(&Scheme::HTTP, &Authority::from_static("h:1")),
        );
        let s = format!("{:?}", SessionSeal::new("tools", KEY));
        assert!(!s.contains("0123456789abcdef"), "{s}");
    }
}

//! Header rewriting on the way up and down.
//!
//! Up: hop-by-hop headers go, the gateway's own `x-sec0-*` headers sent by callers go (a
//! caller could forge them), `X-Forwarded-*`/`Forwarded` are kept only from trusted proxies
//! and then appended to, and `Host` is what the upstream expects. Session headers
//! (`Mcp-Session-Id`, `Last-Event-ID`) pass byte for byte. Down: hop-by-hop headers go.

use std::net::{IpAddr, SocketAddr};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::config::HostHeader;

/// Headers that describe one connection, never the message (RFC 9110 §7.6.1), plus the
/// legacy ones proxies must not forward either.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// Prefix of the gateway's own context headers.
pub const SEC0_PREFIX: &str = "x-sec0-";

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// What a header name means to the proxy.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `Connection` (names further hop-by-hop headers).
    Connection,
    /// Another hop-by-hop header: its index in [`HOP_BY_HOP`].
    Hop(u8),
    /// `X-Forwarded-*`, `Forwarded`, `X-Real-IP`.
    Forwarding,
    /// The gateway's own `x-sec0-*`.
    Own,
    /// Everything else: end-to-end, passed on.
    EndToEnd,
}

fn kind(name: &HeaderName) -> Kind {
    match name.as_str() {
        "connection" => Kind::Connection,
        "keep-alive" => Kind::Hop(1),
        "proxy-connection" => Kind::Hop(2),
        "transfer-encoding" => Kind::Hop(3),
        "te" => Kind::Hop(4),
        "trailer" => Kind::Hop(5),
        "upgrade" => Kind::Hop(6),
        "proxy-authorization" => Kind::Hop(7),
        "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-real-ip"
        | "forwarded" => Kind::Forwarding,
        n if n.starts_with(SEC0_PREFIX) => Kind::Own,
        _ => Kind::EndToEnd,
    }
}

/// Which kinds of headers a map holds, found in one pass (most requests hold none of the
/// ones the proxy must remove, so the removals are skipped entirely).
#[derive(Default)]
struct Present {
    connection: bool,
    /// Bit i set: `HOP_BY_HOP[i]` is present.
    hop: u8,
    forwarding: bool,
    own: bool,
}

fn scan(headers: &HeaderMap) -> Present {
    let mut p = Present::default();
    for name in headers.keys() {
        match kind(name) {
            Kind::Connection => p.connection = true,
            Kind::Hop(i) => p.hop |= 1 << i,
            Kind::Forwarding => p.forwarding = true,
            Kind::Own => p.own = true,
            Kind::EndToEnd => {}
        }
    }
    p
}

fn remove_hop_by_hop(headers: &mut HeaderMap, p: &Present) {
    if p.connection {
        // Options named by `Connection` other than the usual `keep-alive`/`close` tokens
        // are rare; only those need a name parse and a removal.
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(header::CONNECTION);
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate().skip(1) {
        if p.hop & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Remove hop-by-hop headers, including every header the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let p = scan(headers);
    remove_hop_by_hop(headers, &p);
}

/// What the forwarding step knows about the downstream connection; built once per
/// connection so requests reuse the rendered header values.
#[derive(Debug, Clone)]
pub struct Downstream {
    /// The client's address.
    pub peer: SocketAddr,
    /// `"http"` or `"https"` as the client reached the gateway.
    pub scheme: &'static str,
    /// Whether the peer is a trusted proxy whose forwarding headers are kept.
    pub trusted_proxy: bool,
    /// The caller named by the connection's verified client certificate (mTLS).
    pub cert_caller: Option<std::sync::Arc<str>>,
    peer_ip: String,
    peer_ip_value: HeaderValue,
    forwarded_node: String,
}

impl Downstream {
    /// Facts of a new connection from `peer`.
    pub fn new(peer: SocketAddr, scheme: &'static str, trusted_proxy: bool) -> Self {
        let ip = peer.ip();
        let peer_ip = ip.to_string();
        let node = match ip {
            IpAddr::V4(_) => peer_ip.clone(),
            IpAddr::V6(_) => format!("\"[{peer_ip}]\""),
        };
        Self {
            peer,
            scheme,
            trusted_proxy,
            cert_caller: None,
            // An IP address is always a valid header value.
            peer_ip_value: HeaderValue::from_str(&peer_ip)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            forwarded_node: format!("for={node};proto={scheme}"),
            peer_ip,
        }
    }
}

/// How the `Host` header should look upstream.
#[derive(Debug, Clone)]
pub enum UpstreamHost {
    /// Set `Host` to this value (the upstream's authority, or a fixed value).
    Set(HeaderValue),
    /// Keep the client's `Host`.
    Preserve,
}

impl UpstreamHost {
    /// From the config setting and the upstream's own authority.
    pub fn from_config(mode: &HostHeader, authority: &http::uri::Authority) -> Self {
        let value = |s: &str| HeaderValue::from_str(s).ok();
        match mode {
            HostHeader::Upstream => value(authority.as_str()).map_or(Self::Preserve, Self::Set),
            HostHeader::Preserve => Self::Preserve,
            HostHeader::Fixed(h) => value(h).map_or(Self::Preserve, Self::Set),
        }
    }
}

/// Rewrite request headers for the upstream. `client_host` is the host the client
/// addressed (its `Host` or `:authority`), used for `X-Forwarded-Host` and `Preserve`.
pub fn prepare_upstream_request(
    headers: &mut HeaderMap,
    down: &Downstream,
    client_host: Option<HeaderValue>,
    host: &UpstreamHost,
) {
    let present = scan(headers);
    remove_hop_by_hop(headers, &present);
    if present.own {
        strip_own_headers(headers);
    }
    let keep_forwarding = down.trusted_proxy && present.forwarding;
    if present.forwarding && !down.trusted_proxy {
        for name in [
            X_FORWARDED_FOR,
            X_FORWARDED_PROTO,
            X_FORWARDED_HOST,
            X_REAL_IP,
            header::FORWARDED,
        ] {
            headers.remove(name);
        }
    }

    if keep_forwarding && headers.contains_key(X_FORWARDED_FOR) {
        append_list(headers, X_FORWARDED_FOR, &down.peer_ip);
    } else {
        headers.insert(X_FORWARDED_FOR, down.peer_ip_value.clone());
    }
    if !keep_forwarding || !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(down.scheme));
    }
    let host_str = client_host.as_ref().and_then(|h| h.to_str().ok());
    let mut forwarded =
        String::with_capacity(down.forwarded_node.len() + host_str.map_or(0, |h| h.len() + 8));
    forwarded.push_str(&down.forwarded_node);
    if let Some(h) = host_str {
        forwarded.push_str(";host=\"");
        forwarded.push_str(h);
        forwarded.push('"');
    }
    if keep_forwarding && headers.contains_key(header::FORWARDED) {
        append_list(headers, header::FORWARDED, &forwarded);
    } else if let Ok(v) = HeaderValue::from_maybe_shared(bytes::Bytes::from(forwarded)) {
        headers.insert(header::FORWARDED, v);
    }
    if let Some(h) = &client_host {
        if !keep_forwarding || !headers.contains_key(X_FORWARDED_HOST) {
            headers.insert(X_FORWARDED_HOST, h.clone());
        }
    }

    match host {
        UpstreamHost::Set(v) => {
            headers.insert(header::HOST, v.clone());
        }
        UpstreamHost::Preserve => {
            if let Some(h) = client_host {
                headers.insert(header::HOST, h);
            }
        }
    }
}

/// Drop every inbound `x-sec0-*` header: only the gateway sets those.
pub fn strip_own_headers(headers: &mut HeaderMap) {
    let own: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with(SEC0_PREFIX))
        .cloned()
        .collect();
    for k in own {
        headers.remove(k);
    }
}

fn append_list(headers: &mut HeaderMap, name: HeaderName, item: &str) {
    let joined = {
        let existing: Vec<&str> = headers
            .get_all(&name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if existing.is_empty() {
            item.to_string()
        } else {
            format!("{}, {item}", existing.join(", "))
        }
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name, v);
    }
}

/// Whether a `Content-Type` value is `text/event-stream` (media type essence, any case).
pub fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/event-stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down(trusted: bool) -> Downstream {
        Downstream::new("10.0.0.7:5555".parse().expect("addr"), "http", trusted)
    }

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).expect("header value")
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, hv("keep-alive, x-secret-hop"));
        h.insert("x-secret-hop", hv("1"));
        h.insert("keep-alive", hv("timeout=5"));
        h.insert(header::TE, hv("trailers"));
        h.insert(header::UPGRADE, hv("websocket"));
        h.insert("mcp-session-id", hv("AbC123"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("mcp-session-id").expect("kept"), "AbC123");
    }

    #[test]
    fn untrusted_forwarding_headers_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", hv("1.2.3.4"));
        h.insert("forwarded", hv("for=1.2.3.4"));
        h.insert("x-sec0-decision", hv("allow"));
        h.insert("X-Sec0-Run-Id", hv("forged"));
        prepare_upstream_request(
            &mut h,
            &down(false),
            Some(hv("gw.example:8080")),
            &UpstreamHost::Preserve,
        );
        assert_eq!(h.get("x-forwarded-for").expect("xff"), "10.0.0.7");
        assert_eq!(
            h.get("forwarded").expect("fwd"),
            "for=10.0.0.7;proto=http;host=\"gw.example:8080\""
        );
        assert!(h.keys().all(|k| !k.as_str().starts_with("x-sec0-")));
        assert_eq!(h.get("host").expect("host"), "gw.example:8080");
        assert_eq!(h.get("x-forwarded-host").expect("xfh"), "gw.example:8080");
    }

    #[test]
    fn trusted_forwarding_headers_are_appended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", hv("1.2.3.4"));
        h.insert("x-forwarded-proto", hv("https"));
        prepare_upstream_request(&mut h, &down(true), None, &UpstreamHost::Set(hv("up:9000")));
        assert_eq!(h.get("x-forwarded-for").expect("xff"), "1.2.3.4, 10.0.0.7");
        assert_eq!(h.get("x-forwarded-proto").expect("proto"), "https");
        assert_eq!(h.get("host").expect("host"), "up:9000");
    }

    #[test]
    fn ipv6_forwarded_node_is_quoted() {
        let mut h = HeaderMap::new();
        let d = Downstream::new("[::1]:1".parse().expect("addr"), "http", false);
        prepare_upstream_request(&mut h, &d, None, &UpstreamHost::Preserve);
        assert_eq!(h.get("forwarded").expect("fwd"), "for=\"[::1]\";proto=http");
    }

    #[test]
    fn event_stream_detection() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, hv("Text/Event-Stream; charset=utf-8"));
        assert!(is_event_stream(&h));
        h.insert(header::CONTENT_TYPE, hv("application/json"));
        assert!(!is_event_stream(&h));
    }
}

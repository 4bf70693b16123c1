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

/// Remove hop-by-hop headers, including every header the `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// What the forwarding step knows about the downstream connection.
#[derive(Debug, Clone, Copy)]
pub struct Downstream {
    /// The client's address.
    pub peer: SocketAddr,
    /// `"http"` or `"https"` as the client reached the gateway.
    pub scheme: &'static str,
    /// Whether the peer is a trusted proxy whose forwarding headers are kept.
    pub trusted_proxy: bool,
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
    strip_hop_by_hop(headers);
    strip_own_headers(headers);

    if !down.trusted_proxy {
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
    let ip = down.peer.ip();
    append_list(headers, X_FORWARDED_FOR, &ip.to_string());
    if !headers.contains_key(X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(down.scheme));
    }
    if let Some(h) = &client_host {
        if !headers.contains_key(X_FORWARDED_HOST) {
            headers.insert(X_FORWARDED_HOST, h.clone());
        }
    }
    let node = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let mut forwarded = format!("for={node};proto={}", down.scheme);
    if let Some(h) = client_host.as_ref().and_then(|h| h.to_str().ok()) {
        forwarded.push_str(";host=\"");
        forwarded.push_str(h);
        forwarded.push('"');
    }
    append_list(headers, header::FORWARDED, &forwarded);

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
        Downstream {
            peer: "10.0.0.7:5555".parse().expect("addr"),
            scheme: "http",
            trusted_proxy: trusted,
        }
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
        let d = Downstream {
            peer: "[::1]:1".parse().expect("addr"),
            scheme: "http",
            trusted_proxy: false,
        };
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

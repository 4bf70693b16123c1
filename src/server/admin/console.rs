//! The review console's static page (`/console`): HTML, CSS and JavaScript modules from
//! `console/` in the repository, embedded in the binary (no build step; the one vendored
//! library, uPlot, is committed with its licence — `console/vendor/README.md`).
//!
//! The files themselves hold no data and are served without the token; everything they
//! show comes from the admin API, which the page calls with the token in the
//! `Authorization` header (no cookies, so no cross-site request can act for a reviewer).
//! Every answer carries a strict Content-Security-Policy: scripts, styles and connections
//! from this origin only, no inline script, no frames. With no `admin.token_file`, the page
//! is served only to loopback clients that name the listener by a loopback address or
//! `localhost` — and says so.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::forward::body::ProxyBody;

/// The console's Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

macro_rules! asset {
    ($name:literal, $ty:literal) => {
        (
            $name,
            $ty,
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $name)) as &[u8],
        )
    };
}

/// Every file of the console: path under `/console/`, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("ui.js", "text/javascript; charset=utf-8"),
    asset!("pending.js", "text/javascript; charset=utf-8"),
    asset!("history.js", "text/javascript; charset=utf-8"),
    asset!("precedents.js", "text/javascript; charset=utf-8"),
    asset!("decisions.js", "text/javascript; charset=utf-8"),
    asset!("runs.js", "text/javascript; charset=utf-8"),
    asset!("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    asset!("vendor/uPlot.min.css", "text/css; charset=utf-8"),
    asset!("vendor/LICENSE-uPlot.txt", "text/plain; charset=utf-8"),
];

/// The file at `path` (`/console`, `/console/`, `/console/<name>`).
fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    let name = match path.strip_prefix("/console") {
        Some("" | "/") => "index.html",
        Some(rest) => rest.strip_prefix('/')?,
        None => return None,
    };
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ty, bytes)| (*ty, *bytes))
}

/// A weak validator of the embedded bytes (FNV-1a), so a reload costs a 304.
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// Whether `host` (a `Host` header value) names this machine's loopback interface.
pub fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn host(req: &Request<hyper::body::Incoming>) -> &str {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("")
}

/// Why a browser's request to the admin API is refused, if it is: an `Origin` other than
/// the listener's own (a page elsewhere acting for a reviewer), or — with no token
/// configured — a browser (it sends `Sec-Fetch-Mode`) that reached the listener by a name
/// other than a loopback one (DNS rebinding). Clients that are not browsers send neither
/// header and are not affected.
pub fn browser_refusal(
    req: &Request<hyper::body::Incoming>,
    has_token: bool,
) -> Option<&'static str> {
    let host = host(req);
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let own = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host));
        if !own {
            return Some("a request from another origin is refused");
        }
    }
    if !has_token && req.headers().contains_key("sec-fetch-mode") && !loopback_host(host) {
        return Some(
            "no admin token is configured: browsers may reach the admin listener only as localhost or a loopback address",
        );
    }
    None
}

/// The 403 answer for a refused browser request.
pub fn refuse(why: Option<&'static str>) -> Response<ProxyBody> {
    crate::error::admin_error(StatusCode::FORBIDDEN, "forbidden", why.unwrap_or("refused"))
}

fn secure(resp: &mut Response<ProxyBody>) {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

fn plain(status: StatusCode, msg: &'static str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(msg.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    secure(&mut resp);
    resp
}

/// Serve a console file to `peer`.
pub fn serve(
    req: &Request<hyper::body::Incoming>,
    has_token: bool,
    peer: SocketAddr,
) -> Response<ProxyBody> {
    if !has_token && (!peer.ip().is_loopback() || !loopback_host(host(req))) {
        return plain(
            StatusCode::FORBIDDEN,
            "The review console is served only on loopback (http://127.0.0.1:<admin port>/console) while no admin token is configured: set admin.token_file to open it from elsewhere.\n",
        );
    }
    let Some((ty, bytes)) = asset(req.uri().path()) else {
        return plain(StatusCode::NOT_FOUND, "no such console file\n");
    };
    let tag = etag(bytes);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let body = if fresh || req.method() == Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from_static(bytes)
    };
    let mut resp = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    if fresh {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ty));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    secure(&mut resp);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_nothing_else() {
        assert_eq!(
            asset("/console").map(|a| a.0),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(
            asset("/console/").map(|a| a.0),
            Some("text/html; charset=utf-8")
        );
        for (name, ty, bytes) in ASSETS {
            let got = asset(&format!("/console/{name}")).expect(name);
            assert_eq!((got.0, got.1.len()), (*ty, bytes.len()));
            assert!(!bytes.is_empty(), "{name}");
        }
        assert!(asset("/console/../Cargo.toml").is_none());
        assert!(asset("/console/nope.js").is_none());
        assert!(asset("/consolex").is_none());
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "127.0.0.1:9090",
            "localhost:9090",
            "LOCALHOST",
            "[::1]:9090",
            "127.0.0.2",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example:9090",
            "10.0.0.1:9090",
            "",
            "[fe80::1]:1",
            "localhost.evil",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }

    #[test]
    fn no_inline_script_or_third_party_host_in_the_page() {
        let html = std::str::from_utf8(asset("/console").expect("index").1).expect("utf-8");
        assert!(!html.contains("<script>"), "no inline script");
        assert!(!html.contains("style="), "no inline style");
        for (name, _, bytes) in ASSETS {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains("http://") || name.starts_with("vendor/"),
                "{name}"
            );
            assert!(
                !text.contains("https://") || name.starts_with("vendor/"),
                "{name}"
            );
        }
    }
}

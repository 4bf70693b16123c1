//! Which route a request takes: host match first (exact beats `*.domain` beats any host),
//! then the longest path prefix at a segment boundary. Built once from the config; lookups
//! allocate nothing.

use std::sync::Arc;

use crate::config::{Boundary, Config, Protocol};

/// A compiled route.
#[derive(Debug)]
pub struct Route {
    /// Position in the config's `routes` list (indexes per-route state).
    pub index: usize,
    /// Name for metrics and logs.
    pub name: String,
    /// Index of the upstream in the gateway's upstream list.
    pub upstream: usize,
    /// Upstream name, for logs and error bodies.
    pub upstream_name: String,
    /// What the route carries.
    pub protocol: Protocol,
    /// Which boundary it crosses.
    pub boundary: Boundary,
    /// Largest request body, in bytes.
    pub max_request_body: u64,
    /// `a2a` routes: the target agent's name (configured, else the upstream's name).
    pub agent: Option<String>,
    /// Which proofs of identity the route accepts.
    pub auth: crate::config::RouteAuth,
    /// Which context headers its answers carry back.
    pub client_context: crate::config::ClientContext,
    /// Refused `tools/call`s are answered as tool results with `isError: true`.
    pub soft_deny: bool,
    host: HostPattern,
    /// Normalised prefix without trailing '/'; empty matches every path.
    prefix: String,
    rewrite: Rewrite,
}

impl Route {
    /// The facts every call on this route by `caller` has.
    pub fn facts<'a>(&'a self, caller: &'a str) -> crate::policy::CallFacts<'a> {
        crate::policy::CallFacts {
            caller,
            ..crate::policy::CallFacts::on_route(
                self.boundary,
                &self.name,
                &self.upstream_name,
                self.protocol,
            )
        }
    }
}

#[derive(Debug)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com` stored as `.example.com`.
    Suffix(String),
}

#[derive(Debug)]
enum Rewrite {
    Keep,
    Strip,
    Replace(String),
}

impl HostPattern {
    fn rank(&self, host: Option<&str>) -> Option<usize> {
        match (self, host) {
            (HostPattern::Any, _) => Some(0),
            (HostPattern::Exact(h), Some(req)) if h == req => Some(usize::MAX),
            (HostPattern::Suffix(s), Some(req))
                if req.len() > s.len() && req.ends_with(s.as_str()) =>
            {
                Some(1 + s.len())
            }
            _ => None,
        }
    }
}

/// All routes of a config, ready for lookups.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
}

impl RouteTable {
    /// Compile the routes of a validated config. `upstream_index` maps an upstream name to
    /// its position in the gateway's upstream list.
    pub fn new(cfg: &Config, upstream_index: impl Fn(&str) -> usize) -> Self {
        let routes = cfg
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let host = match r.host.as_deref().map(str::to_ascii_lowercase) {
                    None => HostPattern::Any,
                    Some(h) => match h.strip_prefix('*') {
                        Some(suffix) => HostPattern::Suffix(suffix.to_string()),
                        None => HostPattern::Exact(h),
                    },
                };
                let rewrite = match (&r.rewrite_prefix, r.strip_prefix) {
                    (Some(p), _) => Rewrite::Replace(p.trim_end_matches('/').to_string()),
                    (None, true) => Rewrite::Strip,
                    (None, false) => Rewrite::Keep,
                };
                Arc::new(Route {
                    index: i,
                    name: r.display_name(i),
                    upstream: upstream_index(&r.upstream),
                    upstream_name: r.upstream.clone(),
                    protocol: r.protocol,
                    boundary: r.boundary,
                    max_request_body: r
                        .max_request_body
                        .unwrap_or(cfg.limits.max_request_body)
                        .as_u64(),
                    agent: (r.protocol == Protocol::A2a)
                        .then(|| r.agent.clone().unwrap_or_else(|| r.upstream.clone())),
                    auth: r.auth.clone(),
                    client_context: r.client_context,
                    soft_deny: r.soft_deny,
                    host,
                    prefix: r
                        .path_prefix
                        .as_deref()
                        .unwrap_or("")
                        .trim_end_matches('/')
                        .to_string(),
                    rewrite,
                })
            })
            .collect();
        Self { routes }
    }

    /// The route for a request to `host` (lower-case, no port; `None` when absent) and
    /// `path` (the URI path, without query).
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Arc<Route>> {
        let mut best: Option<(&Arc<Route>, (usize, usize))> = None;
        for route in &self.routes {
            let Some(host_rank) = route.host.rank(host) else {
                continue;
            };
            if !prefix_matches(&route.prefix, path) {
                continue;
            }
            let score = (host_rank, route.prefix.len());
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((route, score));
            }
        }
        best.map(|(r, _)| r)
    }

    /// All routes, in config order.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }
}

impl Route {
    /// The path to send upstream (before the upstream's base path is prepended).
    pub fn upstream_path<'a>(&self, path: &'a str) -> std::borrow::Cow<'a, str> {
        use std::borrow::Cow;
        // `find` matched, so `path` starts with `prefix` at a segment boundary.
        let rest = path.get(self.prefix.len()..).unwrap_or("");
        match &self.rewrite {
            Rewrite::Keep => Cow::Borrowed(path),
            Rewrite::Strip if rest.is_empty() => Cow::Borrowed("/"),
            Rewrite::Strip => Cow::Borrowed(rest),
            Rewrite::Replace(p) if p.is_empty() && rest.is_empty() => Cow::Borrowed("/"),
            Rewrite::Replace(p) => Cow::Owned(format!("{p}{rest}")),
        }
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// The host a request is addressed to: the URI authority (HTTP/2, absolute-form) or the
/// `Host` header, lower-cased, port removed. `None` when neither is present or it is not
/// ASCII.
pub fn request_host<B>(req: &http::Request<B>) -> Option<String> {
    let raw = match req.uri().authority() {
        Some(a) => a.host().to_string(),
        None => {
            let h = req.headers().get(http::header::HOST)?.to_str().ok()?;
            let auth: http::uri::Authority = h.parse().ok()?;
            auth.host().to_string()
        }
    };
    Some(raw.to_ascii_lowercase())
}

/// Refuse paths that different servers would read differently: dot segments (also
/// percent-encoded), NUL and backslashes. Such a path could reach another resource upstream
/// than the one the route matched.
pub fn path_is_unambiguous(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    if bytes.iter().any(|&b| b == b'\\' || b == 0) {
        return false;
    }
    let encoded = |i: usize, hex: &[u8; 2]| {
        bytes
            .get(i + 1..i + 3)
            .is_some_and(|h| h.eq_ignore_ascii_case(hex))
    };
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' && (encoded(i, b"00") || encoded(i, b"5c")) {
            return false;
        }
    }
    // A segment that decodes to "." or ".." (each dot raw or as %2e).
    path.split('/').all(|seg| {
        let s = seg.as_bytes();
        let mut dots = 0;
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'.' {
                i += 1;
            } else if s[i] == b'%'
                && s.get(i + 1..i + 3)
                    .is_some_and(|h| h.eq_ignore_ascii_case(b"2e"))
            {
                i += 3;
            } else {
                return true;
            }
            dots += 1;
        }
        !(dots == 1 || dots == 2)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_from_str;
    use std::collections::HashMap;

    fn table(routes: &str) -> RouteTable {
        let yaml = format!(
            "listen: 127.0.0.1:1\nadmin: {{ listen: 127.0.0.1:2 }}\nupstreams: {{ a: {{ url: 'http://h:1' }}, b: {{ url: 'http://h:2' }} }}\nroutes:\n{routes}"
        );
        let cfg = load_from_str(&yaml, "t", Some(HashMap::new())).expect("valid");
        RouteTable::new(&cfg, |n| if n == "a" { 0 } else { 1 })
    }

    const R: &str = "protocol: http, boundary: tool_to_api";

    #[test]
    fn longest_prefix_wins_at_segment_boundary() {
        let t = table(&format!(
            "  - {{ name: root, path_prefix: /, upstream: a, {R} }}\n  - {{ name: mcp, path_prefix: /mcp, upstream: b, {R} }}\n  - {{ name: deep, path_prefix: /mcp/admin/, upstream: a, {R} }}\n"
        ));
        let name = |p: &str| t.find(None, p).map(|r| r.name.as_str());
        assert_eq!(name("/mcp"), Some("mcp"));
        assert_eq!(name("/mcp/x"), Some("mcp"));
        assert_eq!(name("/mcpx"), Some("root"));
        assert_eq!(name("/mcp/admin"), Some("deep"));
        assert_eq!(name("/mcp/admin/z"), Some("deep"));
        assert_eq!(name("/other"), Some("root"));
    }

    #[test]
    fn host_beats_prefix_and_exact_beats_wildcard() {
        let t = table(&format!(
            "  - {{ name: any, path_prefix: /mcp/long, upstream: a, {R} }}\n  - {{ name: wild, host: '*.example.com', upstream: a, {R} }}\n  - {{ name: exact, host: api.example.com, upstream: b, {R} }}\n"
        ));
        let name = |h: Option<&str>, p: &str| t.find(h, p).map(|r| r.name.as_str());
        assert_eq!(name(Some("api.example.com"), "/mcp/long"), Some("exact"));
        assert_eq!(name(Some("x.example.com"), "/mcp/long"), Some("wild"));
        assert_eq!(name(Some("example.com"), "/mcp/long"), Some("any"));
        assert_eq!(name(Some("example.com"), "/nope"), None);
        assert_eq!(name(None, "/nope"), None);
    }

    #[test]
    fn strip_and_rewrite() {
        let t = table(&format!(
            "  - {{ name: s, path_prefix: /s, strip_prefix: true, upstream: a, {R} }}\n  - {{ name: r, path_prefix: /r/, rewrite_prefix: /mcp, upstream: a, {R} }}\n  - {{ name: k, path_prefix: /k, upstream: a, {R} }}\n"
        ));
        let up = |p: &str| {
            t.find(None, p)
                .expect("route")
                .upstream_path(p)
                .into_owned()
        };
        assert_eq!(up("/s"), "/");
        assert_eq!(up("/s/a/b"), "/a/b");
        assert_eq!(up("/r"), "/mcp");
        assert_eq!(up("/r/x"), "/mcp/x");
        assert_eq!(up("/k/x"), "/k/x");
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for bad in [
            "/a/../b",
            "/a/%2e%2E/b",
            "/a/./b",
            "/a\\b",
            "/a%00",
            "/a/%5cb",
            "a",
            "/..",
        ] {
            assert!(!path_is_unambiguous(bad), "{bad}");
        }
        for good in [
            "/",
            "/mcp",
            "/a/b.c/..d",
            "/a%2Fb",
            "/v1/x?y",
            "/...",
            "/a/%2e%2e%2e",
            "/x/.hidden",
            "/%",
        ] {
            assert!(path_is_unambiguous(good), "{good}");
        }
    }

    #[test]
    fn host_from_header_or_authority() {
        let req = http::Request::builder()
            .uri("/x")
            .header("host", "API.Example.com:8443")
            .body(())
            .expect("request");
        assert_eq!(request_host(&req).as_deref(), Some("api.example.com"));
        let req = http::Request::builder()
            .uri("http://[::1]:80/x")
            .body(())
            .expect("request");
        assert_eq!(request_host(&req).as_deref(), Some("[::1]"));
    }
}

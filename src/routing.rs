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
    /// MCP authorization on this route (`routes[].oauth`).
    pub oauth: Option<OAuthRoute>,
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

/// A route's MCP authorization as routing and the answers need it: who the resource server
/// is, and the public URLs clients see.
#[derive(Debug, Clone)]
pub struct OAuthRoute {
    /// Whether the upstream or the gateway is the resource server.
    pub mode: crate::config::OAuthMode,
    /// The canonical resource URL (`public_url` as configured).
    pub public_url: String,
    /// Its path, without a trailing `/` (empty for the root).
    pub public_path: String,
    /// Where its protected-resource metadata is:
    /// `<origin>/.well-known/oauth-protected-resource<path>` (RFC 9728 §3.1).
    pub metadata_url: String,
    /// Whether the authorization-server endpoints are forwarded to this route's upstream.
    pub authorization_server_paths: bool,
}

impl OAuthRoute {
    /// From a validated config (`None` only for a URL validation refused).
    fn new(o: &crate::config::RouteOAuth) -> Option<Self> {
        let (origin, path) = crate::config::public_url_parts(&o.public_url).ok()?;
        Some(Self {
            mode: o.mode,
            public_url: o.public_url.clone(),
            metadata_url: format!("{origin}{PROTECTED_RESOURCE}{path}"),
            public_path: path,
            authorization_server_paths: o.authorization_server_paths,
        })
    }
}

/// The well-known path of protected-resource metadata (RFC 9728).
pub const PROTECTED_RESOURCE: &str = "/.well-known/oauth-protected-resource";

/// Which OAuth document or endpoint a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthPath {
    /// The route's protected-resource metadata.
    ProtectedResource,
    /// An authorization-server endpoint or metadata (pass-through routes that take them).
    AuthorizationServer,
}

/// Whether `path` is one of the authorization server's (2025-03-26 era: served on the MCP
/// server's origin).
fn is_authorization_server_path(path: &str) -> bool {
    let under = |p: &str, base: &str| {
        p.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under(path, "/.well-known/oauth-authorization-server")
        || under(path, "/.well-known/openid-configuration")
        || matches!(path, "/authorize" | "/token" | "/register")
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
                    auth: r.auth.clone().unwrap_or_default(),
                    client_context: r.client_context,
                    soft_deny: r.soft_deny,
                    oauth: r.oauth.as_ref().and_then(OAuthRoute::new),
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

    /// The route whose OAuth document or endpoint `path` is, when it is one: the
    /// protected-resource metadata of a route's public path (the root form only when one
    /// route serves the root or is the only route with `oauth`), or, for the route that takes
    /// them, the authorization-server paths.
    pub fn find_oauth(&self, host: Option<&str>, path: &str) -> Option<(&Arc<Route>, OAuthPath)> {
        let on_host = || {
            self.routes
                .iter()
                .filter(move |r| r.oauth.is_some() && r.host.rank(host).is_some())
        };
        if let Some(rest) = path.strip_prefix(PROTECTED_RESOURCE) {
            if !(rest.is_empty() || rest.starts_with('/')) {
                return None;
            }
            let rest = rest.trim_end_matches('/');
            let exact = on_host().find(|r| r.oauth.as_ref().is_some_and(|o| o.public_path == rest));
            let found = match exact {
                Some(r) => Some(r),
                None if rest.is_empty() => {
                    let mut all = on_host();
                    match (all.next(), all.next()) {
                        (Some(only), None) => Some(only),
                        _ => None,
                    }
                }
                None => None,
            };
            return found.map(|r| (r, OAuthPath::ProtectedResource));
        }
        if is_authorization_server_path(path) {
            return on_host()
                .find(|r| {
                    r.oauth
                        .as_ref()
                        .is_some_and(|o| o.authorization_server_paths)
                })
                .map(|r| (r, OAuthPath::AuthorizationServer));
        }
        None
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
    fn oauth_paths_belong_to_their_route() {
        let t = table(
            "  - { name: a, path_prefix: /mcp, upstream: a, protocol: mcp, boundary: agent_to_tool, oauth: { mode: pass_through, public_url: 'https://gw/mcp', authorization_server_paths: true } }\n  - { name: b, path_prefix: /b, upstream: b, protocol: mcp, boundary: agent_to_tool, oauth: { mode: pass_through, public_url: 'https://gw/b/mcp' } }\n",
        );
        let find = |p: &str| t.find_oauth(None, p).map(|(r, w)| (r.name.as_str(), w));
        let prm = OAuthPath::ProtectedResource;
        assert_eq!(
            find("/.well-known/oauth-protected-resource/mcp"),
            Some(("a", prm))
        );
        assert_eq!(
            find("/.well-known/oauth-protected-resource/mcp/"),
            Some(("a", prm))
        );
        assert_eq!(
            find("/.well-known/oauth-protected-resource/b/mcp"),
            Some(("b", prm))
        );
        assert_eq!(find("/.well-known/oauth-protected-resource/b"), None);
        assert_eq!(find("/.well-known/oauth-protected-resourcex/mcp"), None);
        // Two routes: the root form names neither.
        assert_eq!(find("/.well-known/oauth-protected-resource"), None);
        let asp = OAuthPath::AuthorizationServer;
        for p in [
            "/token",
            "/authorize",
            "/register",
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/tenant",
            "/.well-known/openid-configuration",
        ] {
            assert_eq!(find(p), Some(("a", asp)), "{p}");
        }
        assert_eq!(find("/tokens"), None);
        assert_eq!(find("/mcp"), None);
        let r = t.find(None, "/b/mcp").expect("route");
        let o = r.oauth.as_ref().expect("oauth");
        assert_eq!(
            o.metadata_url,
            "https://gw/.well-known/oauth-protected-resource/b/mcp"
        );
        assert_eq!(o.public_path, "/b/mcp");
        let one = table(
            "  - { name: a, path_prefix: /mcp, upstream: a, protocol: mcp, boundary: agent_to_tool, oauth: { mode: pass_through, public_url: 'https://gw/mcp' } }\n",
        );
        assert!(
            one.find_oauth(None, "/.well-known/oauth-protected-resource")
                .is_some()
        );
        assert!(
            one.find_oauth(None, "/token").is_none(),
            "not taken without authorization_server_paths"
        );
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

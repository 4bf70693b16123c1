//! Cross-field checks: things serde cannot see (a route naming a missing upstream, two
//! routes that would match the same requests, a URL that is not a usable base).

use std::collections::HashSet;
use std::fmt;

use http::Uri;

use super::{Config, Protocol};

/// One thing wrong with a config, located by its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, such as `routes[1].upstream`.
    pub key: String,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem in `cfg`; empty means usable.
pub fn validate(cfg: &Config) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut bad = |key: String, message: String| out.push(Problem { key, message });

    if cfg.listen == cfg.admin.listen && cfg.listen.port() != 0 {
        bad("admin.listen".into(), "must differ from `listen`".into());
    }
    for (name, levels) in [
        ("learn.confidence", &cfg.learn.confidence),
        ("learn.strict_confidence", &cfg.learn.strict_confidence),
        ("learn.deny_confidence", &cfg.learn.deny_confidence),
    ] {
        for (level, v) in [
            ("exact", levels.exact),
            ("known", levels.known),
            ("any_caller", levels.any_caller),
            ("features", levels.features),
        ] {
            if !(v > 0.0 && v <= 1.0) {
                bad(
                    format!("{name}.{level}"),
                    format!("must be above 0 and at most 1 (1 turns the level off), not {v}"),
                );
            }
        }
    }
    let spot = &cfg.learn.spot_checks;
    for (key, v) in [
        ("rate", spot.rate),
        ("young_rate", spot.young_rate),
        ("deny_rate", spot.deny_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            bad(
                format!("learn.spot_checks.{key}"),
                format!("must be a share between 0 and 1, not {v}"),
            );
        }
    }
    if cfg.limits.max_connections == 0 {
        bad("limits.max_connections".into(), "must be at least 1".into());
    }
    let c = cfg.answers.codes;
    let codes = [
        ("unauthenticated", c.unauthenticated),
        ("denied", c.denied),
        ("escalated", c.escalated),
        ("rejected", c.rejected),
        ("insufficient_scope", c.insufficient_scope),
    ];
    for (i, (name, code)) in codes.iter().enumerate() {
        if (-32768..=-32000).contains(code) {
            bad(
                format!("answers.codes.{name}"),
                format!(
                    "{code} is in the range JSON-RPC reserves (-32768…-32000; MCP defines its own codes there): pick a code outside it"
                ),
            );
        }
        if let Some((other, _)) = codes[..i].iter().find(|(_, c)| c == code) {
            bad(
                format!("answers.codes.{name}"),
                format!("{code} is already the code for `{other}`: each refusal needs its own"),
            );
        }
    }
    if cfg.limits.header_read_timeout.is_zero() {
        bad(
            "limits.header_read_timeout".into(),
            "must be greater than 0".into(),
        );
    }
    if cfg.limits.idle_timeout.is_zero() {
        bad(
            "limits.idle_timeout".into(),
            "must be greater than 0".into(),
        );
    }
    if let Some(path) = &cfg.admin.token_file {
        match std::fs::read_to_string(path) {
            Ok(t) if t.trim().len() >= 16 => {}
            Ok(_) => bad(
                "admin.token_file".into(),
                format!("{}: token must be at least 16 characters", path.display()),
            ),
            Err(e) => bad(
                "admin.token_file".into(),
                format!("{}: {e}", path.display()),
            ),
        }
    }

    for (name, up) in &cfg.upstreams {
        for (key, msg) in super::upstream::check(name, up) {
            bad(key, msg);
        }
        if up.connect_timeout.is_zero() || up.response_header_timeout.is_zero() {
            bad(
                format!("upstreams.{name}"),
                "timeouts must be greater than 0".into(),
            );
        }
        if up.http2 && up.host_header != super::HostHeader::Upstream {
            bad(
                format!("upstreams.{name}.host_header"),
                "with http2 the authority is always the upstream's own (`:authority`); only `upstream` is possible".into(),
            );
        }
        if let super::HostHeader::Fixed(h) = &up.host_header {
            if h.parse::<http::uri::Authority>().is_err() {
                bad(
                    format!("upstreams.{name}.host_header"),
                    format!("{h:?} is not a valid host"),
                );
            }
        }
    }

    if let Some(policy) = &cfg.policy {
        policy.problems(&mut bad);
    }
    if !matches!(
        cfg.escalation.on_timeout,
        crate::vocab::DecisionKind::Allow | crate::vocab::DecisionKind::Deny
    ) {
        bad(
            "escalation.on_timeout".into(),
            "must be allow or deny".into(),
        );
    }
    match (&cfg.store.backend, &cfg.store.redis) {
        (crate::config::StoreBackend::Redis, None) => bad(
            "store.redis".into(),
            "backend redis needs store.redis.url".into(),
        ),
        (crate::config::StoreBackend::Redis, Some(r))
            if redis::Client::open(r.url.as_str()).is_err() =>
        {
            bad(
                "store.redis.url".into(),
                "not a redis:// or rediss:// URL".into(),
            )
        }
        (_, Some(r)) if r.timeout.is_zero() => bad(
            "store.redis.timeout".into(),
            "must be more than zero".into(),
        ),
        _ => {}
    }
    if let Some(o) = &cfg.otlp {
        match o.endpoint.parse::<http::Uri>() {
            Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => {}
            _ => bad(
                "otlp.endpoint".into(),
                format!("{:?} is not an http(s) URL", o.endpoint),
            ),
        }
        if o.queue == 0 || o.batch == 0 || o.timeout.is_zero() || o.interval.is_zero() {
            bad(
                "otlp".into(),
                "queue, batch, timeout and interval must be more than zero".into(),
            );
        }
    }
    if cfg.guard.on_descriptor_change == crate::vocab::DecisionKind::Redact {
        bad(
            "guard.on_descriptor_change".into(),
            "must be allow, deny or escalate (a descriptor cannot be redacted)".into(),
        );
    }
    if let Some(t) = &cfg.tls {
        if t.client_auth != crate::config::ClientAuth::None && t.client_ca.is_none() {
            bad(
                "tls.client_ca".into(),
                "client_auth optional/required needs the CA that client certificates chain to"
                    .into(),
            );
        }
    }
    if let Some(j) = &cfg.identity.jwt {
        match (&j.jwks_file, &j.jwks_url, &j.hs256_secret_file) {
            (Some(_), Some(_), _) => bad(
                "identity.jwt".into(),
                "jwks_file and jwks_url: choose one".into(),
            ),
            (None, None, None) => bad(
                "identity.jwt".into(),
                "needs keys: jwks_file, jwks_url or hs256_secret_file".into(),
            ),
            _ => {}
        }
        if j.audience.is_empty() {
            bad(
                "identity.jwt.audience".into(),
                "at least one audience".into(),
            );
        }
    }
    let mtls = cfg
        .tls
        .as_ref()
        .is_some_and(|t| t.client_auth != crate::config::ClientAuth::None);
    for (i, r) in cfg.routes.iter().enumerate() {
        use crate::config::AuthMethod as M;
        let auth = r.auth.clone().unwrap_or_default();
        let usable = auth.methods.iter().any(|m| match m {
            M::Mtls => mtls,
            M::Jwt => cfg.identity.jwt.is_some(),
            M::ApiKey => cfg.identity.api_keys.is_some(),
        });
        if !auth.anonymous && !usable {
            bad(
                format!("routes[{i}].auth"),
                "anonymous callers are refused, but none of the accepted methods is configured (tls.client_auth, identity.jwt, identity.api_keys)".into(),
            );
        }
    }
    for (key, message) in oauth_problems(cfg) {
        bad(key, message);
    }
    let a = &cfg.audit;
    if a.queue == 0 {
        bad("audit.queue".into(), "must be at least 1".into());
    }
    if a.checkpoint_every == 0 {
        bad("audit.checkpoint_every".into(), "must be at least 1".into());
    }
    if a.key_id.is_some() && a.signing_key.is_none() {
        bad(
            "audit.key_id".into(),
            "names a key, but no audit.signing_key is set".into(),
        );
    }
    if let Some(h) = &a.http {
        if let Err(e) = check_upstream_url(&h.url) {
            bad("audit.http.url".into(), e);
        }
        if h.batch_records == 0 {
            bad(
                "audit.http.batch_records".into(),
                "must be at least 1".into(),
            );
        }
    }
    if cfg.routes.is_empty() {
        bad("routes".into(), "at least one route is needed".into());
    }
    let mut names = HashSet::new();
    let mut matchers = HashSet::new();
    for (i, r) in cfg.routes.iter().enumerate() {
        let key = |k: &str| format!("routes[{i}].{k}");
        if !cfg.upstreams.contains_key(&r.upstream) {
            let known: Vec<&str> = cfg.upstreams.keys().map(String::as_str).collect();
            bad(
                key("upstream"),
                format!(
                    "unknown upstream {:?} (known: {})",
                    r.upstream,
                    known.join(", ")
                ),
            );
        }
        let name = r.display_name(i);
        if !names.insert(name.clone()) {
            bad(key("name"), format!("duplicate route name {name:?}"));
        }
        if let Some(p) = &r.path_prefix {
            if !p.starts_with('/') {
                bad(key("path_prefix"), format!("{p:?} must start with '/'"));
            }
        }
        if let Some(p) = &r.rewrite_prefix {
            if !p.starts_with('/') {
                bad(key("rewrite_prefix"), format!("{p:?} must start with '/'"));
            }
            if r.strip_prefix {
                bad(
                    key("rewrite_prefix"),
                    "use either strip_prefix or rewrite_prefix, not both".into(),
                );
            }
        }
        if r.agent.is_some() && r.protocol != Protocol::A2a {
            bad(key("agent"), "only `a2a` routes name a target agent".into());
        }
        if (r.strip_prefix || r.rewrite_prefix.is_some()) && r.path_prefix.is_none() {
            bad(
                key("path_prefix"),
                "needed when the prefix is stripped or rewritten".into(),
            );
        }
        if let Some(h) = &r.host {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            if bare.is_empty()
                || bare.contains('*')
                || bare.parse::<http::uri::Authority>().is_err()
            {
                bad(
                    key("host"),
                    format!("{h:?} is not a host or a `*.domain` pattern"),
                );
            }
        }
        let matcher = (
            r.host.as_deref().map(str::to_ascii_lowercase),
            r.path_prefix
                .as_deref()
                .map(|p| p.trim_end_matches('/').to_string()),
        );
        if !matchers.insert(matcher) {
            bad(
                key("path_prefix"),
                "another route already matches the same host and prefix".into(),
            );
        }
    }
    out
}

/// The problems of the routes' `oauth` settings: each one's own, and how they sit together
/// (one route per protected-resource path, one route taking the authorization-server paths).
fn oauth_problems(cfg: &Config) -> Vec<(String, String)> {
    use crate::config::OAuthMode;
    let mut out = Vec::new();
    let mut resource_paths = HashSet::new();
    let mut as_paths = 0;
    for (i, r) in cfg.routes.iter().enumerate() {
        let Some(o) = &r.oauth else { continue };
        let key = format!("routes[{i}].oauth");
        if r.protocol != Protocol::Mcp {
            out.push((key.clone(), "MCP authorization is for `mcp` routes".into()));
        }
        super::oauth::problems(&key, o, &mut out);
        if o.mode == OAuthMode::ResourceServer && r.auth.is_some() {
            out.push((
                format!("routes[{i}].auth"),
                "a resource_server route takes only the OAuth bearer token: remove `auth`".into(),
            ));
        }
        if let Ok((_, path)) = super::oauth::public_url_parts(&o.public_url) {
            let prefix = r.path_prefix.as_deref().unwrap_or("").trim_end_matches('/');
            let within = path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'));
            if !within {
                out.push((
                    format!("{key}.public_url"),
                    format!("its path {path:?} is not under the route's path_prefix {prefix:?}: the gateway could not tell this route's calls by it"),
                ));
            }
            if !resource_paths.insert((r.host.clone(), path.clone())) {
                out.push((
                    format!("{key}.public_url"),
                    format!("another route already serves the protected resource at path {path:?}"),
                ));
            }
        }
        if o.authorization_server_paths {
            as_paths += 1;
            if as_paths > 1 {
                out.push((
                    format!("{key}.authorization_server_paths"),
                    "only one route may take /authorize, /token, /register and the authorization-server metadata".into(),
                ));
            }
        }
    }
    out
}

pub(super) fn check_upstream_url(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("{url:?} must start with http:// or https://")),
    }
    if uri.authority().is_none() {
        return Err(format!("{url:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!("{url:?} must not carry a query"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::load_from_str;
    use std::collections::HashMap;

    fn problems(yaml: &str) -> String {
        load_from_str(yaml, "t.yaml", Some(HashMap::new()))
            .unwrap_err()
            .to_string()
    }

    const HEAD: &str = "listen: 127.0.0.1:8080\nadmin: { listen: 127.0.0.1:9090 }\n";

    #[test]
    fn unknown_upstream_names_key_and_known_ones() {
        let y = format!(
            "{HEAD}upstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ upstream: b, protocol: http, boundary: tool_to_api }}\n"
        );
        let e = problems(&y);
        assert!(
            e.contains("routes[0].upstream: unknown upstream \"b\" (known: a)"),
            "{e}"
        );
    }

    #[test]
    fn refusal_codes_stay_outside_the_reserved_range_and_apart() {
        let tail = "upstreams: { a: { url: 'http://h:1' } }\nroutes:\n  - { upstream: a, protocol: mcp, boundary: agent_to_tool }\n";
        let e = problems(&format!(
            "{HEAD}answers: {{ codes: {{ denied: -32030, rejected: 4031 }} }}\n{tail}"
        ));
        assert!(
            e.contains("answers.codes.denied: -32030 is in the range JSON-RPC reserves"),
            "{e}"
        );
        assert!(
            e.contains("answers.codes.rejected: 4031 is already the code for `escalated`"),
            "{e}"
        );
        let fine = format!("{HEAD}answers: {{ codes: {{ denied: 1 }} }}\n{tail}");
        assert!(load_from_str(&fine, "t.yaml", Some(HashMap::new())).is_ok());
    }

    #[test]
    fn otlp_needs_an_http_endpoint() {
        let tail = "upstreams: { a: { url: 'http://h:1' } }\nroutes:\n  - { upstream: a, protocol: mcp, boundary: agent_to_tool }\n";
        let e = problems(&format!(
            "{HEAD}otlp: {{ endpoint: 'collector:4318' }}\n{tail}"
        ));
        assert!(
            e.contains("otlp.endpoint: \"collector:4318\" is not an http(s) URL"),
            "{e}"
        );
        let e = problems(&format!(
            "{HEAD}otlp: {{ endpoint: 'http://c:4318/v1/traces', batch: 0 }}\n{tail}"
        ));
        assert!(e.contains("otlp: queue, batch"), "{e}");
    }

    #[test]
    fn a_redis_store_needs_a_usable_url() {
        let tail = "upstreams: { a: { url: 'http://h:1' } }\nroutes:\n  - { upstream: a, protocol: mcp, boundary: agent_to_tool }\n";
        let e = problems(&format!("{HEAD}store: {{ backend: redis }}\n{tail}"));
        assert!(
            e.contains("store.redis: backend redis needs store.redis.url"),
            "{e}"
        );
        let e = problems(&format!(
            "{HEAD}store: {{ backend: redis, redis: {{ url: 'http://h:6379' }} }}\n{tail}"
        ));
        assert!(e.contains("store.redis.url: not a redis://"), "{e}");
        let e = problems(&format!(
            "{HEAD}store: {{ backend: redis, on_unavailable: maybe, redis: {{ url: 'redis://h' }} }}\n{tail}"
        ));
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn learning_shares_and_confidences_are_checked() {
        let tail = "upstreams: { a: { url: 'http://h:1' } }\nroutes:\n  - { upstream: a, protocol: mcp, boundary: agent_to_tool }\n";
        let e = problems(&format!(
            "{HEAD}learn: {{ confidence: {{ known: 1.5 }}, spot_checks: {{ rate: -0.1 }} }}\n{tail}"
        ));
        assert!(e.contains("learn.confidence.known: must be above 0"), "{e}");
        assert!(e.contains("learn.spot_checks.rate: must be a share"), "{e}");
        let e = problems(&format!(
            "{HEAD}learn: {{ spot_checks: {{ flow: later }} }}\n{tail}"
        ));
        assert!(e.contains("later"), "{e}");
    }

    #[test]
    fn guard_and_agent_settings_are_checked() {
        let y = format!(
            "{HEAD}guard: {{ on_descriptor_change: redact }}\nupstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ upstream: a, protocol: mcp, boundary: agent_to_tool, agent: x }}\n"
        );
        let e = problems(&y);
        assert!(
            e.contains("guard.on_descriptor_change: must be allow, deny or escalate"),
            "{e}"
        );
        assert!(
            e.contains("routes[0].agent: only `a2a` routes name a target agent"),
            "{e}"
        );
    }

    #[test]
    fn bad_url_and_same_listen_are_all_reported() {
        let y = "listen: 127.0.0.1:8080\nadmin: { listen: 127.0.0.1:8080 }\nupstreams: { a: { url: 'ftp://h' } }\nroutes:\n  - { upstream: a, protocol: http, boundary: tool_to_api }\n";
        let e = problems(y);
        assert!(e.contains("2 problems"), "{e}");
        assert!(e.contains("admin.listen"), "{e}");
        assert!(e.contains("upstreams.a.url"), "{e}");
    }

    #[test]
    fn duplicate_matchers_are_refused() {
        let y = format!(
            "{HEAD}upstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ path_prefix: /x, upstream: a, protocol: http, boundary: tool_to_api }}\n  - {{ path_prefix: /x/, upstream: a, protocol: http, boundary: tool_to_api }}\n"
        );
        assert!(problems(&y).contains("routes[1].path_prefix"));
    }

    #[test]
    fn strip_and_rewrite_together_are_refused() {
        let y = format!(
            "{HEAD}upstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ path_prefix: /x, strip_prefix: true, rewrite_prefix: /y, upstream: a, protocol: http, boundary: tool_to_api }}\n"
        );
        assert!(problems(&y).contains("not both"));
    }

    #[test]
    fn bad_host_pattern_is_refused() {
        let y = format!(
            "{HEAD}upstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes:\n  - {{ host: 'a.*.com', upstream: a, protocol: http, boundary: tool_to_api }}\n"
        );
        assert!(problems(&y).contains("routes[0].host"));
    }

    #[test]
    fn http2_upstreams_cannot_rewrite_host() {
        let y = format!(
            "{HEAD}upstreams: {{ a: {{ url: 'http://h:1', http2: true, host_header: preserve }} }}\nroutes:\n  - {{ upstream: a, protocol: http, boundary: tool_to_api }}\n"
        );
        assert!(problems(&y).contains("upstreams.a.host_header"));
    }

    #[test]
    fn empty_routes_are_refused() {
        let y = format!("{HEAD}upstreams: {{ a: {{ url: 'http://h:1' }} }}\nroutes: []\n");
        assert!(problems(&y).contains("at least one route"));
    }
}

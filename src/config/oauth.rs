//! MCP authorization per route (`routes[].oauth`): who is the OAuth resource server for the
//! route's MCP endpoint — the upstream (`pass_through`: the gateway forwards the caller's
//! token and the discovery documents, rewriting the URLs in them to its public URL) or the
//! gateway itself (`resource_server`: it serves the protected-resource metadata, validates
//! the bearer JWT for its own public URL, asks for more scope when a call needs it, and sends
//! the upstream its own credential, never the caller's token).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

// The same defaults as the JWT verifier of `security.jwt`: one token check, one set of defaults.
use super::security::{default_caller_claim, default_jwks_refresh, default_leeway};

/// Who is the OAuth resource server on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthMode {
    /// The upstream MCP server is: its `Authorization` header, 401/403 answers and discovery
    /// documents pass through the gateway, their URLs rewritten to `public_url`.
    PassThrough,
    /// The gateway is: it validates the bearer token, serves the metadata and answers 401/403
    /// itself; the upstream gets `upstream_credential`.
    ResourceServer,
}

/// `routes[].oauth`: MCP authorization on one route.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RouteOAuth {
    /// `pass_through` or `resource_server`.
    pub mode: OAuthMode,
    /// The MCP endpoint's URL as clients connect to it (`https://gw.example.com/mcp`): the
    /// `resource` of its protected-resource metadata, the audience its tokens must carry.
    /// Never taken from a request's `Host` (a caller could name any audience).
    pub public_url: String,
    /// `pass_through`: also forward the 2025-03-26-era authorization-server endpoints to the
    /// upstream (`/.well-known/oauth-authorization-server*`, `/.well-known/openid-configuration*`,
    /// `/authorize`, `/token`, `/register`), for servers that are their own authorization server.
    #[serde(default)]
    pub authorization_server_paths: bool,
    /// `resource_server`: the authorization servers listed in the metadata (issuer URLs).
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// `resource_server`: the required `iss` (default: the first authorization server).
    #[serde(default)]
    pub issuer: Option<String>,
    /// `resource_server`: the authorization server's JWKS URL.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// `resource_server`: or a JWKS file.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// `resource_server`: how often the JWKS is read again.
    #[serde(default = "default_jwks_refresh", with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// `resource_server`: clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
    /// `resource_server`: the claim naming the caller.
    #[serde(default = "default_caller_claim")]
    pub caller_claim: String,
    /// `resource_server`: claims exposed to rules as `when.claims` besides `scope` (always
    /// exposed, as a list of scopes).
    #[serde(default)]
    pub claims: Vec<String>,
    /// `resource_server`: scopes listed in the metadata (`scopes_supported`).
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// `resource_server`: scopes every call needs (asked for in the 401 challenge; a token
    /// without them is answered 403 `insufficient_scope`).
    #[serde(default)]
    pub scopes_required: Vec<String>,
    /// `resource_server`: scopes that calls to some tools need besides `scopes_required`
    /// (step-up: a token without them is answered 403 `insufficient_scope` naming them).
    #[serde(default)]
    pub tool_scopes: Vec<ToolScopes>,
    /// `resource_server`: what the upstream gets instead of the caller's token.
    #[serde(default)]
    pub upstream_credential: UpstreamCredential,
}

/// Scopes a `tools/call` of matching tools needs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolScopes {
    /// Tool name glob (`write_*`).
    pub tool: String,
    /// The scopes the call needs, all of them.
    pub scopes: Vec<String>,
}

/// The gateway's own credential towards the upstream of a `resource_server` route.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamCredential {
    /// Nothing: the upstream is reached without a credential.
    #[default]
    None,
    /// `Authorization: Bearer <token>`, the token read from this file at start.
    BearerFile(PathBuf),
    /// `Authorization: Bearer <token>`, the token from this environment variable at start.
    BearerEnv(String),
    /// Any header, its value from a file or an environment variable.
    Header(HeaderCredential),
    /// `Authorization: Bearer <token>`, the token obtained from an authorization server
    /// with the OAuth 2.1 client-credentials grant, cached until shortly before it expires.
    ClientCredentials(ClientCredentials),
}

/// `upstream_credential: { client_credentials: … }`: the gateway's own OAuth client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentials {
    /// The authorization server's token endpoint (`https://`; `http://` only on loopback).
    pub token_url: String,
    /// The gateway's client id there.
    pub client_id: String,
    /// File holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Scopes to ask for, space-separated (none: the server's default).
    #[serde(default)]
    pub scope: Option<String>,
    /// The upstream's resource URL (RFC 8707 `resource`), so the token is for it alone.
    #[serde(default)]
    pub resource: Option<String>,
    /// How the client authenticates: `basic` (client_secret_basic, the default) or `post`
    /// (client_secret_post).
    #[serde(default)]
    pub auth: TokenEndpointAuth,
    /// A token is fetched again this long before it expires.
    #[serde(default = "default_refresh_before", with = "humantime_serde")]
    pub refresh_before: Duration,
}

/// How the gateway's OAuth client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuth {
    /// HTTP Basic with the client id and secret (client_secret_basic).
    #[default]
    Basic,
    /// Client id and secret in the form body (client_secret_post).
    Post,
}

fn default_refresh_before() -> Duration {
    Duration::from_secs(30)
}

/// `upstream_credential: { header: … }`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderCredential {
    /// The header's name (`x-api-key`).
    pub name: String,
    /// File holding its value.
    #[serde(default)]
    pub value_file: Option<PathBuf>,
    /// Environment variable holding its value.
    #[serde(default)]
    pub value_env: Option<String>,
}

/// The problems of one route's `oauth` (`key`: its key path), for `validate`.
pub(super) fn problems(key: &str, o: &RouteOAuth, out: &mut Vec<(String, String)>) {
    let mut bad = |k: &str, m: String| out.push((format!("{key}.{k}"), m));
    match public_url_parts(&o.public_url) {
        Ok(_) => {}
        Err(e) => bad("public_url", e),
    }
    let rs = o.mode == OAuthMode::ResourceServer;
    if rs {
        if o.authorization_servers.is_empty() {
            bad(
                "authorization_servers",
                "a resource_server route must list at least one authorization server".into(),
            );
        }
        for (i, s) in o.authorization_servers.iter().enumerate() {
            if let Err(e) = public_url_parts(s) {
                bad(&format!("authorization_servers[{i}]"), e);
            }
        }
        match (&o.jwks_url, &o.jwks_file) {
            (None, None) => bad(
                "jwks_url",
                "a resource_server route needs the authorization server's keys: jwks_url or jwks_file".into(),
            ),
            (Some(_), Some(_)) => bad("jwks_file", "give jwks_url or jwks_file, not both".into()),
            _ => {}
        }
        for (i, t) in o.tool_scopes.iter().enumerate() {
            if let Err(e) = globset::Glob::new(&t.tool) {
                bad(&format!("tool_scopes[{i}].tool"), e.to_string());
            }
            if t.scopes.is_empty() {
                bad(
                    &format!("tool_scopes[{i}].scopes"),
                    "name at least one scope".into(),
                );
            }
        }
        let scopes = o
            .scopes_required
            .iter()
            .chain(o.tool_scopes.iter().flat_map(|t| &t.scopes));
        for s in scopes {
            if !is_scope_token(s) {
                bad(
                    "scopes",
                    format!(
                        "{s:?} is not a scope (RFC 6749: printable ASCII, no space, quote or backslash)"
                    ),
                );
            }
        }
        match &o.upstream_credential {
            UpstreamCredential::ClientCredentials(c) => {
                let k = "upstream_credential.client_credentials";
                match c.token_url.parse::<http::Uri>() {
                    Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() => {}
                    Ok(u)
                        if u.scheme_str() == Some("http")
                            && u.host().is_some_and(is_loopback_host) => {}
                    Ok(_) => bad(
                        &format!("{k}.token_url"),
                        "must be an https:// URL (http:// only on loopback)".into(),
                    ),
                    Err(e) => bad(&format!("{k}.token_url"), e.to_string()),
                }
                if c.client_id.trim().is_empty() {
                    bad(&format!("{k}.client_id"), "must not be empty".into());
                }
                if c.client_secret_file.is_some() == c.client_secret_env.is_some() {
                    bad(
                        k,
                        "give exactly one of client_secret_file and client_secret_env".into(),
                    );
                }
                if let Some(scope) = &c.scope {
                    if !scope.split(' ').all(is_scope_token) {
                        bad(
                            &format!("{k}.scope"),
                            format!("{scope:?} is not a list of scopes"),
                        );
                    }
                }
            }
            UpstreamCredential::Header(h) => {
                if http::HeaderName::from_bytes(h.name.as_bytes()).is_err() {
                    bad(
                        "upstream_credential.header.name",
                        format!("{:?} is not a header name", h.name),
                    );
                }
                if h.value_file.is_some() == h.value_env.is_some() {
                    bad(
                        "upstream_credential.header",
                        "give exactly one of value_file and value_env".into(),
                    );
                }
            }
            _ => {}
        }
    } else {
        let only_rs = [
            ("authorization_servers", !o.authorization_servers.is_empty()),
            ("issuer", o.issuer.is_some()),
            ("jwks_url", o.jwks_url.is_some()),
            ("jwks_file", o.jwks_file.is_some()),
            ("claims", !o.claims.is_empty()),
            ("scopes_supported", !o.scopes_supported.is_empty()),
            ("scopes_required", !o.scopes_required.is_empty()),
            ("tool_scopes", !o.tool_scopes.is_empty()),
            (
                "upstream_credential",
                !matches!(o.upstream_credential, UpstreamCredential::None),
            ),
        ];
        for (k, set) in only_rs {
            if set {
                bad(
                    k,
                    "only for mode resource_server (in pass_through the upstream is the resource server)".into(),
                );
            }
        }
    }
    if rs && o.authorization_server_paths {
        bad(
            "authorization_server_paths",
            "only for mode pass_through (the gateway as resource server forwards no authorization-server endpoints)".into(),
        );
    }
}

/// A scope token as RFC 6749 §3.3 allows it (and safe inside a quoted challenge parameter).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`): the only place a
/// client secret may travel over plain `http://`.
fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `(origin, path)` of an absolute `http(s)` URL without query or fragment; the path has no
/// trailing `/` (empty for the root).
pub fn public_url_parts(url: &str) -> Result<(String, String), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let scheme = uri.scheme_str().unwrap_or("");
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "{url:?} must be an absolute http:// or https:// URL"
        ));
    }
    let Some(authority) = uri.authority() else {
        return Err(format!("{url:?} has no host"));
    };
    if uri.query().is_some() || url.contains('#') {
        return Err(format!("{url:?} must not have a query or fragment"));
    }
    if url.contains('"') || url.contains('\\') {
        return Err(format!("{url:?} must not contain quotes or backslashes"));
    }
    let path = uri.path().trim_end_matches('/').to_string();
    Ok((format!("{scheme}://{authority}"), path))
}

#[cfg(test)]
mod tests {
    use super::super::load_from_str;
    use std::collections::HashMap;

    const HEAD: &str = "listen: 127.0.0.1:8080\nadmin: { listen: 127.0.0.1:9090 }\nupstreams: { a: { url: 'http://h:1' } }\n";

    /// The config error for a route with `extra` (YAML flow-map entries).
    fn problems(extra: &str) -> String {
        let y = format!(
            "{HEAD}routes:\n  - {{ path_prefix: /mcp, upstream: a, protocol: mcp, boundary: agent_to_tool, {extra} }}\n"
        );
        match load_from_str(&y, "t.yaml", Some(HashMap::new())) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    const RS: &str = "mode: resource_server, public_url: 'https://gw/mcp', authorization_servers: ['https://as/'], jwks_url: 'https://as/jwks'";

    #[test]
    fn good_configurations_load() {
        assert_eq!(
            problems(
                "oauth: { mode: pass_through, public_url: 'https://gw/mcp', authorization_server_paths: true }"
            ),
            ""
        );
        assert_eq!(
            problems(&format!(
                "oauth: {{ {RS}, scopes_required: [mcp], tool_scopes: [ {{ tool: 'w*', scopes: [x] }} ], upstream_credential: {{ bearer_env: T }} }}"
            )),
            ""
        );
        assert_eq!(
            problems(&format!("oauth: {{ {RS}, upstream_credential: none }}")),
            ""
        );
    }

    #[test]
    fn every_oauth_mistake_is_named_by_its_key() {
        let cases: &[(&str, &str)] = &[
            (
                "oauth: { mode: pass_through, public_url: 'ftp://gw/mcp' }",
                "routes[0].oauth.public_url: \"ftp://gw/mcp\" must be an absolute http:// or https:// URL",
            ),
            (
                "oauth: { mode: pass_through, public_url: '/mcp' }",
                "routes[0].oauth.public_url",
            ),
            (
                "oauth: { mode: pass_through, public_url: 'https://gw/mcp?x=1' }",
                "must not have a query or fragment",
            ),
            (
                "oauth: { mode: pass_through, public_url: 'https://gw/other' }",
                "routes[0].oauth.public_url: its path \"/other\" is not under the route's path_prefix \"/mcp\"",
            ),
            (
                "oauth: { mode: pass_through, public_url: 'https://gw/mcp', jwks_url: 'https://as/jwks' }",
                "routes[0].oauth.jwks_url: only for mode resource_server",
            ),
            (
                "oauth: { mode: pass_through, public_url: 'https://gw/mcp', scopes_required: [a] }",
                "routes[0].oauth.scopes_required: only for mode resource_server",
            ),
            (
                "oauth: { mode: pass_through, public_url: 'https://gw/mcp', upstream_credential: { bearer_env: T } }",
                "routes[0].oauth.upstream_credential: only for mode resource_server",
            ),
            (
                "oauth: { mode: resource_server, public_url: 'https://gw/mcp', jwks_url: 'https://as/jwks' }",
                "routes[0].oauth.authorization_servers: a resource_server route must list at least one authorization server",
            ),
            (
                "oauth: { mode: resource_server, public_url: 'https://gw/mcp', authorization_servers: [as] }",
                "routes[0].oauth.authorization_servers[0]",
            ),
            (
                "oauth: { mode: resource_server, public_url: 'https://gw/mcp', authorization_servers: ['https://as/'] }",
                "routes[0].oauth.jwks_url: a resource_server route needs the authorization server's keys",
            ),
            (
                "oauth: { mode: resource_server, public_url: 'https://gw/mcp', authorization_servers: ['https://as/'], jwks_url: 'https://as/jwks', jwks_file: /k }",
                "routes[0].oauth.jwks_file: give jwks_url or jwks_file, not both",
            ),
            (
                &format!("oauth: {{ {RS}, authorization_server_paths: true }}"),
                "routes[0].oauth.authorization_server_paths: only for mode pass_through",
            ),
            (
                &format!("oauth: {{ {RS}, tool_scopes: [ {{ tool: 'a[', scopes: [x] }} ] }}"),
                "routes[0].oauth.tool_scopes[0].tool",
            ),
            (
                &format!("oauth: {{ {RS}, tool_scopes: [ {{ tool: a, scopes: [] }} ] }}"),
                "routes[0].oauth.tool_scopes[0].scopes: name at least one scope",
            ),
            (
                &format!("oauth: {{ {RS}, scopes_required: ['a\"b'] }}"),
                "routes[0].oauth.scopes: \"a\\\"b\" is not a scope",
            ),
            (
                &format!(
                    "oauth: {{ {RS}, upstream_credential: {{ client_credentials: {{ token_url: 'http://as.example/token', client_id: gw, client_secret_env: S }} }} }}"
                ),
                "routes[0].oauth.upstream_credential.client_credentials.token_url: must be an https:// URL",
            ),
            (
                &format!(
                    "oauth: {{ {RS}, upstream_credential: {{ header: {{ name: 'bad name' , value_env: K }} }} }}"
                ),
                "routes[0].oauth.upstream_credential.header.name",
            ),
            (
                &format!("oauth: {{ {RS}, upstream_credential: {{ header: {{ name: x-key }} }} }}"),
                "routes[0].oauth.upstream_credential.header: give exactly one of value_file and value_env",
            ),
            (
                &format!("auth: {{ methods: [jwt] }}, oauth: {{ {RS} }}"),
                "routes[0].auth: a resource_server route takes only the OAuth bearer token",
            ),
            (
                "oauth: { mode: bouncer, public_url: 'https://gw/mcp' }",
                "bouncer",
            ),
        ];
        for (extra, want) in cases {
            let e = problems(extra);
            assert!(e.contains(want), "{extra}\n  wanted: {want}\n  got: {e}");
        }
    }

    #[test]
    fn oauth_is_for_mcp_routes_and_one_route_per_resource() {
        let y = format!(
            "{HEAD}routes:\n  - {{ path_prefix: /j, upstream: a, protocol: jsonrpc, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: 'https://gw/j' }} }}\n"
        );
        let e = load_from_str(&y, "t.yaml", Some(HashMap::new()))
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("routes[0].oauth: MCP authorization is for `mcp` routes"),
            "{e}"
        );
        let y = format!(
            "{HEAD}routes:\n  - {{ path_prefix: /mcp, upstream: a, protocol: mcp, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: 'https://gw/mcp', authorization_server_paths: true }} }}\n  - {{ path_prefix: /mcp/x, upstream: a, protocol: mcp, boundary: agent_to_tool, oauth: {{ mode: pass_through, public_url: 'https://gw/mcp', authorization_server_paths: true }} }}\n"
        );
        let e = load_from_str(&y, "t.yaml", Some(HashMap::new()))
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains(
                "routes[1].oauth.public_url: another route already serves the protected resource"
            ),
            "{e}"
        );
        assert!(
            e.contains("routes[1].oauth.authorization_server_paths: only one route may take"),
            "{e}"
        );
    }
}

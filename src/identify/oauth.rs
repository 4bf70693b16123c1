//! The gateway as the OAuth 2.1 resource server of an MCP route (`routes[].oauth.mode:
//! resource_server`), and the URL rewrites a pass-through route needs.
//!
//! A resource server checks that a bearer token was issued *for it*: signed by the
//! authorization server's keys, by the configured issuer, unexpired, with the route's public
//! URL as audience (RFC 8707 — a token for another resource is refused, so a token obtained
//! for one MCP server cannot be replayed against this one). The token's scopes become the
//! `scope` claim rules match (`when.claims.scope`), a call without the scopes its route or
//! tool needs is refused with `insufficient_scope` (the client re-authorises: step-up), and
//! the token stops here: the upstream gets the gateway's own credential.

use std::sync::Arc;

use bytes::Bytes;
use globset::{Glob, GlobMatcher};
use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::{Map, Value};

use super::client_credentials::TokenSource;
use super::jwt::JwtVerifier;
use super::{Identity, IdentityError, bearer};
use crate::config::{AuthMethod, JwtConfig, RouteOAuth, UpstreamCredential};

/// One route's resource server: the token verifier, the scopes calls need, the metadata
/// document it serves and the credential the upstream gets.
pub struct ResourceServer {
    verifier: Arc<JwtVerifier>,
    scopes_required: Vec<String>,
    tool_scopes: Vec<(GlobMatcher, Vec<String>)>,
    metadata: Bytes,
    credential: Option<UpstreamAuth>,
}

/// What the upstream of a resource-server route gets instead of the caller's token.
pub enum UpstreamAuth {
    /// A header read at start (`bearer_file`, `bearer_env`, `header`).
    Static(HeaderName, HeaderValue),
    /// A bearer token obtained by the client-credentials grant, cached (`client_credentials`).
    Fetched(Box<TokenSource>),
}

impl ResourceServer {
    /// Load the authorization server's keys and the upstream credential (an error stops
    /// start-up). `o` is validated.
    pub async fn new(o: &RouteOAuth) -> Result<Self, IdentityError> {
        let issuer = o
            .issuer
            .clone()
            .or_else(|| o.authorization_servers.first().cloned())
            .ok_or_else(|| IdentityError::Setup("oauth: no issuer".into()))?;
        let mut claims = o.claims.clone();
        claims.extend(["scope".to_string(), "scp".to_string()]);
        let verifier = JwtVerifier::new(&JwtConfig {
            jwks_file: o.jwks_file.clone(),
            jwks_url: o.jwks_url.clone(),
            jwks_refresh: o.jwks_refresh,
            hs256_secret_file: None,
            issuer,
            audience: vec![o.public_url.clone()],
            leeway: o.leeway,
            caller_claim: o.caller_claim.clone(),
            claims,
        })
        .await?;
        let tool_scopes = o
            .tool_scopes
            .iter()
            .map(|t| {
                Glob::new(&t.tool)
                    .map(|g| (g.compile_matcher(), t.scopes.clone()))
                    .map_err(|e| IdentityError::Setup(format!("oauth.tool_scopes: {e}")))
            })
            .collect::<Result<_, _>>()?;
        let mut scopes_supported = o.scopes_supported.clone();
        for s in o
            .scopes_required
            .iter()
            .chain(o.tool_scopes.iter().flat_map(|t| &t.scopes))
        {
            if !scopes_supported.contains(s) {
                scopes_supported.push(s.clone());
            }
        }
        let metadata = serde_json::json!({
            "resource": o.public_url,
            "authorization_servers": o.authorization_servers,
            "scopes_supported": scopes_supported,
            "bearer_methods_supported": ["header"],
        });
        Ok(Self {
            verifier: Arc::new(verifier),
            scopes_required: o.scopes_required.clone(),
            tool_scopes,
            metadata: Bytes::from(metadata.to_string()),
            credential: credential(&o.upstream_credential)?,
        })
    }

    /// The token verifier (for its JWKS refresh task).
    pub fn verifier(&self) -> &Arc<JwtVerifier> {
        &self.verifier
    }

    /// The protected-resource metadata document (RFC 9728), JSON.
    pub fn metadata(&self) -> Bytes {
        self.metadata.clone()
    }

    /// The scopes every call needs, space-separated (the 401 challenge's `scope`).
    pub fn required_scope(&self) -> String {
        self.scopes_required.join(" ")
    }

    /// What the upstream gets instead of the caller's token, if anything.
    pub fn upstream_credential(&self) -> Option<&UpstreamAuth> {
        self.credential.as_ref()
    }

    /// Identify the caller by its bearer token. The `Authorization` header is removed
    /// whatever the outcome: it never goes upstream.
    pub async fn identify(&self, headers: &mut HeaderMap) -> Result<Identity, IdentityError> {
        let token = bearer(headers).map(str::to_owned);
        headers.remove(header::AUTHORIZATION);
        let token = token.ok_or(IdentityError::Required)?;
        let verified = self.verifier.verify(&token).await?;
        let mut claims = verified.claims;
        let scopes = scopes_of(&mut claims);
        let missing = missing(&scopes, &self.scopes_required);
        if !missing.is_empty() {
            return Err(IdentityError::InsufficientScope {
                scope: union(&scopes, &self.scopes_required),
            });
        }
        claims.insert(
            "scope".into(),
            Value::Array(scopes.into_iter().map(Value::String).collect()),
        );
        Ok(Identity {
            caller: Arc::from(verified.caller),
            method: Some(AuthMethod::Jwt),
            claims: Arc::new(claims),
        })
    }

    /// Whether the caller `who` may call `tool` (step-up): the scopes it still needs refused
    /// as `insufficient_scope`, naming all the scopes the call needs together with those the
    /// token has (a client asks for exactly what the challenge names).
    pub fn check_tool(&self, who: &Identity, tool: &str) -> Result<(), IdentityError> {
        let mut needed: Vec<String> = Vec::new();
        for (glob, scopes) in &self.tool_scopes {
            if glob.is_match(tool) {
                needed.extend(scopes.iter().cloned());
            }
        }
        if needed.is_empty() {
            return Ok(());
        }
        let held: Vec<String> = match who.claims.get("scope") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        if missing(&held, &needed).is_empty() {
            return Ok(());
        }
        let mut all = union(&held, &self.scopes_required);
        for s in needed {
            if !all.split(' ').any(|h| h == s) {
                all.push(' ');
                all.push_str(&s);
            }
        }
        Err(IdentityError::InsufficientScope {
            scope: all.trim().to_string(),
        })
    }
}

/// The token's scopes: `scope` (space-separated string, RFC 8693/9068) or `scp` (a list, as
/// some providers write it); `scp` is dropped from the claims (rules read `scope`).
fn scopes_of(claims: &mut Map<String, Value>) -> Vec<String> {
    let from = |v: Option<Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let scp = claims.remove("scp");
    match claims.remove("scope") {
        Some(s) => from(Some(s)),
        None => from(scp),
    }
}

/// The scopes of `needed` that `held` lacks.
fn missing<'a>(held: &[String], needed: &'a [String]) -> Vec<&'a str> {
    needed
        .iter()
        .filter(|n| !held.contains(n))
        .map(String::as_str)
        .collect()
}

/// `a` and then those of `b` not in it, space-separated.
fn union(a: &[String], b: &[String]) -> String {
    let mut out: Vec<&str> = a.iter().map(String::as_str).collect();
    for s in b {
        if !out.contains(&s.as_str()) {
            out.push(s);
        }
    }
    out.join(" ")
}

/// The upstream credential as a header, read now (files and variables at start).
fn credential(c: &UpstreamCredential) -> Result<Option<UpstreamAuth>, IdentityError> {
    let read_file = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .map_err(|e| IdentityError::Setup(format!("upstream credential {}: {e}", p.display())))
    };
    let read_env = |v: &str| {
        std::env::var(v)
            .map(|s| s.trim().to_string())
            .map_err(|_| IdentityError::Setup(format!("upstream credential: ${v} is not set")))
    };
    let (name, value) = match c {
        UpstreamCredential::None => return Ok(None),
        UpstreamCredential::BearerFile(p) => {
            (header::AUTHORIZATION, format!("Bearer {}", read_file(p)?))
        }
        UpstreamCredential::BearerEnv(v) => {
            (header::AUTHORIZATION, format!("Bearer {}", read_env(v)?))
        }
        UpstreamCredential::Header(h) => {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|e| IdentityError::Setup(format!("upstream credential header: {e}")))?;
            let value = match (&h.value_file, &h.value_env) {
                (Some(p), _) => read_file(p)?,
                (None, Some(v)) => read_env(v)?,
                (None, None) => {
                    return Err(IdentityError::Setup(
                        "upstream credential header: no value".into(),
                    ));
                }
            };
            (name, value)
        }
        UpstreamCredential::ClientCredentials(cc) => {
            return TokenSource::new(cc)
                .map(|s| Some(UpstreamAuth::Fetched(Box::new(s))))
                .map_err(|e| IdentityError::Setup(format!("upstream credential: {e}")));
        }
    };
    if value.trim().is_empty() || value == "Bearer " {
        return Err(IdentityError::Setup("upstream credential is empty".into()));
    }
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| IdentityError::Setup("upstream credential is not a header value".into()))?;
    // Kept out of HTTP/2 header compression tables and debug output.
    value.set_sensitive(true);
    Ok(Some(UpstreamAuth::Static(name, value)))
}

/// Pass-through: a `WWW-Authenticate` challenge of the upstream with its `resource_metadata`
/// URL replaced by the route's public one (`metadata_url`), so the client fetches the
/// metadata through the gateway. `None` when it names no `resource_metadata`.
pub fn rewrite_challenge(value: &HeaderValue, metadata_url: &str) -> Option<HeaderValue> {
    let text = value.to_str().ok()?;
    let at = find_param(text, "resource_metadata")?;
    let after = &text[at..];
    let eq = after.find('=')?;
    let rest = after[eq + 1..].trim_start();
    let consumed = after.len() - rest.len();
    let end = if let Some(quoted) = rest.strip_prefix('"') {
        1 + quoted.find('"')? + 1
    } else {
        rest.find([',', ' ']).unwrap_or(rest.len())
    };
    let out = format!(
        "{}resource_metadata=\"{metadata_url}\"{}",
        &text[..at],
        &text[at + consumed + end..]
    );
    HeaderValue::from_str(&out).ok()
}

/// Where parameter `name` starts in a challenge (a whole parameter name, not inside a value).
fn find_param(text: &str, name: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        let before = lower[..at].chars().next_back();
        let after = lower[at + name.len()..].trim_start().starts_with('=');
        let quotes_before = text[..at].matches('"').count();
        if after && quotes_before % 2 == 0 && before.is_none_or(|c| c == ' ' || c == ',') {
            return Some(at);
        }
        from = at + name.len();
    }
    None
}

/// Pass-through: protected-resource metadata of the upstream with `resource` set to the
/// route's public URL (the official Python client refuses metadata naming another resource).
/// `None` when the body is not a JSON object.
pub fn rewrite_metadata(body: &[u8], public_url: &str) -> Option<Bytes> {
    let mut doc: Map<String, Value> = serde_json::from_slice(body).ok()?;
    doc.insert("resource".into(), Value::String(public_url.to_string()));
    serde_json::to_vec(&doc).ok().map(Bytes::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_with(scopes: &[&str]) -> Identity {
        let mut claims = Map::new();
        claims.insert(
            "scope".into(),
            Value::Array(scopes.iter().map(|s| Value::from(*s)).collect()),
        );
        Identity {
            caller: Arc::from("c"),
            method: Some(AuthMethod::Jwt),
            claims: Arc::new(claims),
        }
    }

    fn server(required: &[&str], tool: (&str, &[&str])) -> ResourceServer {
        ResourceServer {
            verifier: Arc::new(
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("rt")
                    .block_on(JwtVerifier::new(&JwtConfig {
                        jwks_file: None,
                        jwks_url: None,
                        jwks_refresh: std::time::Duration::from_secs(1),
                        hs256_secret_file: None,
                        issuer: "i".into(),
                        audience: vec!["a".into()],
                        leeway: std::time::Duration::ZERO,
                        caller_claim: "sub".into(),
                        claims: vec![],
                    }))
                    .expect("verifier"),
            ),
            scopes_required: required.iter().map(|s| s.to_string()).collect(),
            tool_scopes: vec![(
                Glob::new(tool.0).expect("glob").compile_matcher(),
                tool.1.iter().map(|s| s.to_string()).collect(),
            )],
            metadata: Bytes::new(),
            credential: None,
        }
    }

    #[test]
    fn a_tool_needing_more_scope_names_every_scope_the_call_needs() {
        let rs = server(&["mcp"], ("write_*", &["files:write"]));
        assert!(rs.check_tool(&id_with(&["mcp"]), "read_file").is_ok());
        match rs.check_tool(&id_with(&["mcp"]), "write_file") {
            Err(IdentityError::InsufficientScope { scope }) => assert_eq!(scope, "mcp files:write"),
            other => panic!("{other:?}"),
        }
        assert!(
            rs.check_tool(&id_with(&["mcp", "files:write"]), "write_file")
                .is_ok()
        );
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let mut c = Map::new();
        c.insert("scope".into(), Value::from("a  b"));
        assert_eq!(scopes_of(&mut c), ["a", "b"]);
        let mut c = Map::new();
        c.insert("scp".into(), serde_json::json!(["x", 1, "y"]));
        assert_eq!(scopes_of(&mut c), ["x", "y"]);
        assert!(!c.contains_key("scp"));
        assert!(scopes_of(&mut Map::new()).is_empty());
    }

    #[test]
    fn the_upstream_challenge_points_at_the_public_metadata() {
        let v = HeaderValue::from_static(
            r#"Bearer error="invalid_token", resource_metadata="http://10.0.0.5:8000/.well-known/oauth-protected-resource/mcp", scope="a b""#,
        );
        let out = rewrite_challenge(
            &v,
            "https://gw.example/.well-known/oauth-protected-resource/mcp",
        )
        .expect("rewritten");
        assert_eq!(
            out.to_str().expect("ascii"),
            r#"Bearer error="invalid_token", resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", scope="a b""#
        );
        let unquoted = HeaderValue::from_static("Bearer resource_metadata=http://x/y, scope=\"a\"");
        assert_eq!(
            rewrite_challenge(&unquoted, "https://p/m").expect("rewritten"),
            "Bearer resource_metadata=\"https://p/m\", scope=\"a\""
        );
        // A name inside another parameter's value is not the parameter.
        let inside = HeaderValue::from_static(r#"Bearer error_description="resource_metadata=x""#);
        assert!(rewrite_challenge(&inside, "https://p/m").is_none());
        assert!(rewrite_challenge(&HeaderValue::from_static("Bearer realm=\"r\""), "u").is_none());
    }

    #[test]
    fn upstream_metadata_names_the_public_resource() {
        let out = rewrite_metadata(
            br#"{"resource":"http://10.0.0.5:8000/mcp","authorization_servers":["https://as"]}"#,
            "https://gw.example/mcp",
        )
        .expect("json");
        let v: Value = serde_json::from_slice(&out).expect("json");
        assert_eq!(v["resource"], "https://gw.example/mcp");
        assert_eq!(v["authorization_servers"][0], "https://as");
        assert!(rewrite_metadata(b"[1]", "u").is_none());
        assert!(rewrite_metadata(b"not json", "u").is_none());
    }

    #[test]
    fn upstream_credentials_are_read_at_start_and_never_empty() {
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("t");
        std::fs::write(&p, "s3cret\n").expect("write");
        let Some(UpstreamAuth::Static(n, v)) =
            credential(&UpstreamCredential::BearerFile(p.clone())).expect("ok")
        else {
            panic!("a static credential");
        };
        assert_eq!(n, header::AUTHORIZATION);
        assert_eq!(v, "Bearer s3cret");
        assert!(v.is_sensitive());
        std::fs::write(&p, "\n").expect("write");
        assert!(credential(&UpstreamCredential::BearerFile(p)).is_err());
        assert!(credential(&UpstreamCredential::BearerFile("/nonexistent/x".into())).is_err());
        assert!(
            credential(&UpstreamCredential::BearerEnv(
                "SEC0_TEST_SURELY_UNSET_VAR".into()
            ))
            .is_err()
        );
        // A client-credentials client needs its secret at start (the token comes later).
        let cc = crate::config::ClientCredentials {
            token_url: "https://as.example/token".into(),
            client_id: "gw".into(),
            client_secret_file: None,
            client_secret_env: Some("SEC0_TEST_SURELY_UNSET_VAR".into()),
            scope: None,
            resource: None,
            auth: Default::default(),
            refresh_before: std::time::Duration::from_secs(30),
        };
        assert!(credential(&UpstreamCredential::ClientCredentials(cc)).is_err());
        assert!(credential(&UpstreamCredential::None).expect("ok").is_none());
    }
}

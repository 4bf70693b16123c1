//! `policy:` — where the rules come from and how they apply.
//!
//! Two sources, exactly one of them: `rules` (a file or directory on this machine, watched
//! and reloaded) or `source` (an `http(s)://` URL serving a signed policy bundle, polled; see
//! `crate::policy::bundle`). The bundle keys (`trusted_keys`, `cache_dir`, `poll_interval`,
//! `fetch_timeout`, `max_bundle_size`, `allow_downgrade`) belong to `source` and are refused
//! without it, so a half-configured bundle never silently falls back to files.

use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;
use http::Uri;
use serde::{Deserialize, Serialize};

/// Where the rules are and how they apply.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// A rules file, or a directory whose `*.yaml` files are loaded in name order.
    #[serde(default)]
    pub rules: Option<PathBuf>,
    /// An `http://` or `https://` URL serving a signed policy bundle (instead of `rules`).
    #[serde(default)]
    pub source: Option<String>,
    /// `observe`: record what every rule would decide, let all calls through.
    #[serde(default)]
    pub mode: crate::vocab::Mode,
    /// How often the rules files are checked for changes (`0s`: only on SIGHUP or
    /// `POST /v1/reload`). Files only; a bundle source has `poll_interval`.
    #[serde(default = "default_reload_interval", with = "humantime_serde")]
    pub reload_interval: Duration,
    /// Public keys a bundle's signature may be made with (several, for key rotation): each
    /// an SPKI PEM text (`-----BEGIN PUBLIC KEY-----`, inline) or the path of a file
    /// holding one.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// Where the last good bundle is kept, for starts while the source is down.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// How often the source is asked for a new bundle (default 30s; `0s`: only at start,
    /// on SIGHUP and on `POST /v1/reload`).
    #[serde(default, with = "humantime_serde")]
    pub poll_interval: Option<Duration>,
    /// Longest wait for one download, body included (default 10s).
    #[serde(default, with = "humantime_serde")]
    pub fetch_timeout: Option<Duration>,
    /// Largest bundle downloaded, compressed (default 8 MiB).
    #[serde(default)]
    pub max_bundle_size: Option<ByteSize>,
    /// Take a bundle whose version is lower than the serving one (a rollback by
    /// republishing an old bundle), or the same version with other content. Off by
    /// default: only a higher version replaces the serving policy.
    #[serde(default)]
    pub allow_downgrade: bool,
}

fn default_reload_interval() -> Duration {
    Duration::from_secs(5)
}

/// Default of `policy.poll_interval`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);
/// Default of `policy.fetch_timeout`.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of `policy.max_bundle_size`.
pub const DEFAULT_MAX_BUNDLE_SIZE: u64 = 8 * 1024 * 1024;

impl PolicyConfig {
    /// A policy read from a rules file or directory, with the other keys at their defaults.
    pub fn from_rules(rules: PathBuf) -> Self {
        Self {
            rules: Some(rules),
            source: None,
            mode: crate::vocab::Mode::default(),
            reload_interval: default_reload_interval(),
            trusted_keys: Vec::new(),
            cache_dir: None,
            poll_interval: None,
            fetch_timeout: None,
            max_bundle_size: None,
            allow_downgrade: false,
        }
    }

    /// `poll_interval` or its default.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL)
    }

    /// `fetch_timeout` or its default.
    pub fn fetch_timeout(&self) -> Duration {
        self.fetch_timeout.unwrap_or(DEFAULT_FETCH_TIMEOUT)
    }

    /// `max_bundle_size` in bytes, or its default.
    pub fn max_bundle_size(&self) -> u64 {
        self.max_bundle_size
            .map_or(DEFAULT_MAX_BUNDLE_SIZE, |b| b.as_u64())
    }

    /// Every problem with these keys, as `(key, message)`.
    pub(super) fn problems(&self, bad: &mut dyn FnMut(String, String)) {
        match (&self.rules, &self.source) {
            (Some(_), Some(_)) => bad(
                "policy".into(),
                "set either `rules` (files on this machine) or `source` (a bundle URL), not both"
                    .into(),
            ),
            (None, None) => bad(
                "policy".into(),
                "needs `rules` (a rules file or directory) or `source` (an http(s) URL serving a signed bundle)".into(),
            ),
            (Some(rules), None) => {
                if !rules.exists() {
                    bad(
                        "policy.rules".into(),
                        format!("{}: no such file or directory", rules.display()),
                    );
                }
                let bundle_only = [
                    ("trusted_keys", !self.trusted_keys.is_empty()),
                    ("cache_dir", self.cache_dir.is_some()),
                    ("poll_interval", self.poll_interval.is_some()),
                    ("fetch_timeout", self.fetch_timeout.is_some()),
                    ("max_bundle_size", self.max_bundle_size.is_some()),
                    ("allow_downgrade", self.allow_downgrade),
                ];
                for (key, set) in bundle_only {
                    if set {
                        bad(
                            format!("policy.{key}"),
                            "applies only to a bundle source (`policy.source`)".into(),
                        );
                    }
                }
            }
            (None, Some(url)) => self.source_problems(url, bad),
        }
    }

    fn source_problems(&self, url: &str, bad: &mut dyn FnMut(String, String)) {
        let lower = url.to_ascii_lowercase();
        let http = lower.starts_with("http://") || lower.starts_with("https://");
        match url.parse::<Uri>() {
            Ok(u) if http && u.host().is_some() => {}
            Err(e) if http => bad("policy.source".into(), format!("{url:?} is not a URL: {e}")),
            _ => bad(
                "policy.source".into(),
                format!(
                    "{url:?} must be an http:// or https:// URL with a host (for files on this machine use `policy.rules`)"
                ),
            ),
        }
        if self.trusted_keys.is_empty() {
            bad(
                "policy.trusted_keys".into(),
                "a bundle source needs at least one public key to verify bundles with".into(),
            );
        }
        // The keys themselves are read where bundles are verified (`policy::bundle`; the
        // config imports nothing above it): at start, and by `check`.
        if self.cache_dir.is_none() {
            bad(
                "policy.cache_dir".into(),
                "a bundle source needs a directory for the last good bundle (starts while the source is down)".into(),
            );
        }
        if self.fetch_timeout.is_some_and(|t| t.is_zero()) {
            bad(
                "policy.fetch_timeout".into(),
                "must be more than zero".into(),
            );
        }
        if self.max_bundle_size.is_some_and(|s| s.as_u64() == 0) {
            bad(
                "policy.max_bundle_size".into(),
                "must be more than zero".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::load_from_str;
    use std::collections::HashMap;

    const HEAD: &str = "listen: 127.0.0.1:8080\nadmin: { listen: 127.0.0.1:9090 }\nupstreams: { u: { url: \"http://127.0.0.1:1\" } }\nroutes: [ { path_prefix: /, upstream: u, protocol: http, boundary: tool_to_api } ]\n";

    fn problems(policy: &str) -> String {
        match load_from_str(
            &format!("{HEAD}policy: {policy}\n"),
            "t.yaml",
            Some(HashMap::new()),
        ) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    fn public_key() -> String {
        crate::policy::bundle::keys::generate().expect("keygen").1
    }

    #[test]
    fn a_bundle_source_needs_an_http_url_keys_and_a_cache() {
        let key = public_key();
        let ok = format!(
            "{{ source: \"https://p.example/b.tar.gz\", trusted_keys: [{key:?}], cache_dir: /tmp/c }}"
        );
        assert_eq!(problems(&ok), "ok");
        let e =
            problems("{ source: \"file:///etc/b.tar.gz\", trusted_keys: [x], cache_dir: /tmp/c }");
        assert!(
            e.contains("policy.source") && e.contains("http:// or https://"),
            "{e}"
        );
        let e = problems("{ source: \"https://p.example/b\" }");
        assert!(
            e.contains("policy.trusted_keys: a bundle source needs"),
            "{e}"
        );
        assert!(e.contains("policy.cache_dir: a bundle source needs"), "{e}");
        // A key that cannot be read is `check`'s and start-up's to refuse (integration
        // tests `config_cli`, `bundles`): the config does not read key files.
        let e = problems(
            "{ source: \"https://p.example/b\", trusted_keys: [/nonexistent/k.pem], cache_dir: /tmp/c }",
        );
        assert_eq!(e, "ok", "{e}");
        let e = problems(&format!(
            "{{ source: \"https://p.example/b\", trusted_keys: [{key:?}], cache_dir: /tmp/c, fetch_timeout: 0s, max_bundle_size: 0 }}"
        ));
        assert!(
            e.contains("policy.fetch_timeout") && e.contains("policy.max_bundle_size"),
            "{e}"
        );
    }

    #[test]
    fn rules_and_source_exclude_each_other_and_bundle_keys_need_a_source() {
        let e = problems("{ rules: rules, source: \"https://p.example/b\" }");
        assert!(e.contains("either `rules`"), "{e}");
        let e = problems("{ mode: observe }");
        assert!(e.contains("needs `rules`"), "{e}");
        let dir = tempfile::tempdir().expect("dir");
        let e = problems(&format!(
            "{{ rules: {:?}, poll_interval: 5s, allow_downgrade: true }}",
            dir.path()
        ));
        assert!(
            e.contains("policy.poll_interval: applies only to a bundle source"),
            "{e}"
        );
        assert!(e.contains("policy.allow_downgrade: applies only"), "{e}");
        assert_eq!(problems(&format!("{{ rules: {:?} }}", dir.path())), "ok");
    }
}

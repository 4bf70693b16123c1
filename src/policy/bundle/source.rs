//! A bundle source (`policy.source`): the first policy at start, then a poll every
//! `policy.poll_interval` (and on SIGHUP or `POST /v1/reload`) that swaps in a newer signed
//! bundle whose rules compile, and nothing else.
//!
//! At start the cached bundle (`policy.cache_dir`) is verified first, so its validators let
//! an unchanged source answer 304; then the source is asked. A usable download wins unless
//! it is older than the cache; otherwise the cache serves; with neither the gateway does
//! not start (fail closed). A poll that fails in any way (unreachable, too large, bad
//! archive, signature, hash, rules, an older version) leaves the serving policy alone,
//! counts `sec0_gateway_policy_bundle_fetch_failures_total{reason}` and logs why (once per
//! distinct failure; repeats at debug level).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, watch};

use super::cache::{Cache, CacheError, CacheMeta};
use super::fetch::{FetchError, Fetched, Fetcher, Validators};
use super::keys::{KeyError, TrustedKeys};
use super::read::{self, Verified};
use super::{Limits, Refused};
use crate::config::PolicyConfig;
use crate::metrics::Metrics;
use crate::policy::reload::{Reloaded, Reloader};
use crate::policy::{Mode, Policy};

/// Why a bundle source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A trusted key is unusable.
    #[error("policy.trusted_keys: {0}")]
    Keys(#[from] KeyError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Fetcher(#[from] FetchError),
    /// The cache directory could not be created.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Neither the source nor the cache gave a usable bundle: no rules, no start.
    #[error(
        "no usable policy bundle, refusing to start without rules: the source gave none ({fetch}); the cache in {} gave none ({cache})",
        cache_dir.display()
    )]
    NoPolicy {
        /// Why the source's bundle was not usable.
        fetch: String,
        /// Why the cached bundle was not usable.
        cache: String,
        /// `policy.cache_dir`.
        cache_dir: PathBuf,
    },
}

/// The settings a source runs with (from `policy:`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `policy.source`.
    pub url: String,
    /// `policy.poll_interval` (zero: no polling, only SIGHUP and `POST /v1/reload`).
    pub poll_interval: Duration,
    /// `policy.fetch_timeout`.
    pub timeout: Duration,
    /// `policy.allow_downgrade`.
    pub allow_downgrade: bool,
    /// `policy.cache_dir`.
    pub cache_dir: PathBuf,
    /// Caps (`policy.max_bundle_size` and the fixed unpacking caps).
    pub limits: Limits,
    /// `policy.mode`.
    pub mode: Mode,
}

impl Settings {
    /// The settings of a config with `policy.source`; `None` for rules from files.
    pub fn from_config(p: &PolicyConfig) -> Option<Self> {
        Some(Self {
            url: p.source.clone()?,
            poll_interval: p.poll_interval(),
            timeout: p.fetch_timeout(),
            allow_downgrade: p.allow_downgrade,
            cache_dir: p.cache_dir.clone()?,
            limits: Limits {
                max_bundle: p.max_bundle_size(),
                ..Limits::default()
            },
            mode: p.mode,
        })
    }
}

/// The bundle serving now.
#[derive(Debug, Clone, Serialize)]
pub struct Serving {
    /// The manifest's version.
    pub version: u64,
    /// The manifest's `created_at`.
    pub created_at: String,
    /// The compiled rules' version (hash of the files, as for rules from files).
    pub rules_version: String,
    /// Fingerprint of the key that signed it.
    pub signed_by: String,
    /// `source` (downloaded by this process) or `cache` (read from `policy.cache_dir`).
    pub from: &'static str,
    #[serde(skip)]
    manifest_sha256: String,
    #[serde(skip)]
    bundle_sha256: String,
}

/// One poll's outcome, as status shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// When (RFC 3339).
    pub at: String,
    /// `updated`, `unchanged` or `refused`.
    pub result: &'static str,
    /// The failure reason (metric label), when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// Why, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What `/readyz` and `/v1/status` say about the source.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// `policy.source`.
    pub url: String,
    /// The bundle serving.
    pub serving: Option<Serving>,
    /// The last fetch that confirmed or replaced the serving bundle (RFC 3339).
    pub last_fetch: Option<String>,
    /// The latest poll.
    pub last_attempt: Option<Attempt>,
}

/// What a poll did.
#[derive(Debug, Clone)]
pub enum Polled {
    /// A new bundle serves.
    Updated {
        /// Its version.
        version: u64,
        /// The swap.
        reloaded: Reloaded,
    },
    /// The source still offers the serving bundle.
    Unchanged {
        /// The serving version.
        version: u64,
    },
}

#[derive(Default)]
struct State {
    serving: Option<Serving>,
    validators: Validators,
    last_fetch: Option<SystemTime>,
    last_attempt: Option<Attempt>,
    /// The last failure logged (reason, message): a repeat is logged at debug level.
    last_logged: Option<(&'static str, String)>,
}

/// A bundle source: fetches, verifies, keeps the last good bundle, swaps.
pub struct BundleSource {
    settings: Settings,
    keys: TrustedKeys,
    fetcher: Fetcher,
    cache: Cache,
    metrics: Metrics,
    state: Mutex<State>,
    /// One poll at a time (the timer, SIGHUP and the admin endpoint may meet).
    polling: tokio::sync::Mutex<()>,
    wake: Notify,
}

/// A bundle looked at against the serving one.
enum Examined {
    /// Same version and manifest as the serving bundle: nothing to swap.
    Same,
    /// A bundle to serve, its rules compiled (boxed: a policy is large).
    New(Box<(Verified, Policy)>),
}

impl BundleSource {
    /// A source with `trusted_keys` (config entries), its cache directory created.
    pub fn new(
        settings: Settings,
        trusted_keys: &[String],
        metrics: Metrics,
    ) -> Result<Self, SourceError> {
        let keys = TrustedKeys::load(trusted_keys)?;
        let fetcher = Fetcher::new(&settings.url, settings.timeout, settings.limits.max_bundle)?;
        let cache = Cache::open(&settings.cache_dir)?;
        Ok(Self {
            settings,
            keys,
            fetcher,
            cache,
            metrics,
            state: Mutex::new(State::default()),
            polling: tokio::sync::Mutex::new(()),
            wake: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The first policy: the source's bundle, else the cached one (see the module doc).
    pub async fn initial(&self) -> Result<Policy, SourceError> {
        let _one = self.polling.lock().await;
        let mut cache_problem = String::from("nothing cached yet");
        let mut cached: Option<(Verified, Policy, String, Validators)> = None;
        match self.cache.load() {
            Err(e) => cache_problem = e.to_string(),
            Ok(None) => {}
            Ok(Some((bytes, meta))) => {
                let sha = hex::encode(Sha256::digest(&bytes));
                match self.examine(Bytes::from(bytes), None).await {
                    Ok(Examined::New(new)) => {
                        let (v, p) = *new;
                        // The validators belong to the URL they came from.
                        let validators = meta
                            .filter(|m| m.url == self.settings.url)
                            .map(|m| m.validators)
                            .unwrap_or_default();
                        cached = Some((v, p, sha, validators));
                    }
                    Ok(Examined::Same) => cache_problem = "unexpected state".into(),
                    Err(e) => {
                        tracing::warn!(reason = e.reason(), error = %e, dir = %self.settings.cache_dir.display(), "the cached policy bundle is not usable");
                        cache_problem = e.to_string();
                    }
                }
            }
        }
        let held = cached.as_ref().map(|c| c.3.clone()).unwrap_or_default();
        let serving_cached = cached
            .as_ref()
            .map(|(v, p, sha, _)| serving(v, p, sha, "cache"));
        let fetch_problem = match self.fetcher.get(&held).await {
            Ok(Fetched::NotModified) => {
                if let Some((v, p, sha, validators)) = cached {
                    self.fetched_ok();
                    self.serve(&v, &p, sha, validators, "cache");
                    self.attempt("unchanged", None);
                    tracing::info!(
                        version = v.manifest.version,
                        "policy bundle: the source still offers the cached bundle"
                    );
                    return Ok(p);
                }
                "answered 304 Not Modified without a cached bundle".to_string()
            }
            Ok(Fetched::New { body, validators }) => {
                let sha = hex::encode(Sha256::digest(&body));
                match self.examine(body.clone(), serving_cached.clone()).await {
                    Ok(Examined::New(new)) => {
                        let (v, p) = *new;
                        self.fetched_ok();
                        self.serve(&v, &p, sha.clone(), validators.clone(), "source");
                        self.keep(&body, &v, sha, validators).await;
                        self.attempt("updated", None);
                        return Ok(p);
                    }
                    Ok(Examined::Same) => {
                        if let Some((v, p, _, _)) = cached {
                            self.fetched_ok();
                            self.serve(&v, &p, sha, validators, "cache");
                            self.attempt("unchanged", None);
                            return Ok(p);
                        }
                        "unexpected state".to_string()
                    }
                    Err(e) => {
                        self.refused(&e);
                        e.to_string()
                    }
                }
            }
            Err(e) => {
                let e = Refused::from(e);
                self.refused(&e);
                e.to_string()
            }
        };
        match cached {
            Some((v, p, sha, validators)) => {
                tracing::warn!(
                    version = v.manifest.version,
                    created_at = %v.manifest.created_at,
                    source_error = %fetch_problem,
                    "policy bundle: serving the cached bundle; the source gave no usable one"
                );
                self.serve(&v, &p, sha, validators, "cache");
                Ok(p)
            }
            None => Err(SourceError::NoPolicy {
                fetch: fetch_problem,
                cache: cache_problem,
                cache_dir: self.settings.cache_dir.clone(),
            }),
        }
    }

    /// Ask the source once; swap in a new bundle through `reloader` when it is usable.
    pub async fn poll(&self, reloader: &Reloader) -> Result<Polled, Refused> {
        let _one = self.polling.lock().await;
        let result = self.poll_once(reloader).await;
        match &result {
            Ok(Polled::Updated { .. }) => {
                self.fetched_ok();
                self.attempt("updated", None);
            }
            Ok(Polled::Unchanged { .. }) => {
                self.fetched_ok();
                self.attempt("unchanged", None);
            }
            Err(e) => {
                self.refused(e);
                reloader.note_refused(format!("policy bundle refused ({}): {e}", e.reason()));
            }
        }
        result
    }

    async fn poll_once(&self, reloader: &Reloader) -> Result<Polled, Refused> {
        let (held, current) = {
            let s = self.state();
            (s.validators.clone(), s.serving.clone())
        };
        let current_version = current.as_ref().map_or(0, |s| s.version);
        let (body, validators) = match self.fetcher.get(&held).await? {
            Fetched::NotModified => {
                return Ok(Polled::Unchanged {
                    version: current_version,
                });
            }
            Fetched::New { body, validators } => (body, validators),
        };
        let sha = hex::encode(Sha256::digest(&body));
        if current.as_ref().is_some_and(|s| s.bundle_sha256 == sha) {
            // A server without validators sends the same bytes again.
            self.state().validators = validators;
            return Ok(Polled::Unchanged {
                version: current_version,
            });
        }
        match self.examine(body.clone(), current).await? {
            Examined::Same => {
                let mut s = self.state();
                s.validators = validators;
                if let Some(serving) = s.serving.as_mut() {
                    serving.bundle_sha256 = sha;
                }
                Ok(Polled::Unchanged {
                    version: current_version,
                })
            }
            Examined::New(new) => {
                let (v, p) = *new;
                let version = v.manifest.version;
                self.serve(&v, &p, sha.clone(), validators.clone(), "source");
                let reloaded = reloader.install(p);
                self.keep(&body, &v, sha, validators).await;
                Ok(Polled::Updated { version, reloaded })
            }
        }
    }

    /// Poll now (SIGHUP), without waiting for the outcome.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Poll every `poll_interval` (and when woken) until `stop` turns true.
    pub async fn watch(self: Arc<Self>, reloader: Arc<Reloader>, mut stop: watch::Receiver<bool>) {
        let interval = self.settings.poll_interval;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval), if !interval.is_zero() => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
            // The outcome is logged, counted and kept for status by `poll`.
            let _ = self.poll(&reloader).await;
        }
    }

    /// What status and readiness show.
    pub fn status(&self) -> Status {
        let s = self.state();
        Status {
            url: self.settings.url.clone(),
            serving: s.serving.clone(),
            last_fetch: s.last_fetch.map(rfc3339),
            last_attempt: s.last_attempt.clone(),
        }
    }

    /// Verify `body` and compare it with the serving bundle; compile its rules when it is
    /// to replace it. CPU work (gunzip, hashes, signature, compiling): off the async threads.
    async fn examine(&self, body: Bytes, current: Option<Serving>) -> Result<Examined, Refused> {
        let keys = self.keys.clone();
        let limits = self.settings.limits;
        let mode = self.settings.mode;
        let allow_downgrade = self.settings.allow_downgrade;
        let task = tokio::task::spawn_blocking(move || {
            let v = read::verify(&body, &keys, &limits)?;
            let current = current
                .as_ref()
                .map(|c| (c.version, c.manifest_sha256.as_str()));
            if compare(
                (v.manifest.version, &v.manifest_sha256),
                current,
                allow_downgrade,
            )? {
                return Ok(Examined::Same);
            }
            let policy = Policy::from_sources(&v.sources, mode)?;
            Ok(Examined::New(Box::new((v, policy))))
        });
        task.await.unwrap_or_else(|e| {
            Err(Refused::Bundle(read::BundleError::BadArchive(format!(
                "the verification task failed: {e}"
            ))))
        })
    }

    fn serve(
        &self,
        v: &Verified,
        p: &Policy,
        sha: String,
        validators: Validators,
        from: &'static str,
    ) {
        let now = serving(v, p, &sha, from);
        self.metrics
            .policy_bundle_version
            .set(i64::try_from(now.version).unwrap_or(i64::MAX));
        tracing::info!(
            version = now.version,
            created_at = %now.created_at,
            rules_version = %now.rules_version,
            signed_by = %now.signed_by,
            from,
            "policy bundle serving"
        );
        let mut s = self.state();
        s.serving = Some(now);
        s.validators = validators;
    }

    /// Keep a bundle that now serves as the last good one (a failure is logged: the bundle
    /// serves all the same).
    async fn keep(&self, body: &Bytes, v: &Verified, sha: String, validators: Validators) {
        let cache = self.cache.clone();
        let meta = CacheMeta {
            url: self.settings.url.clone(),
            validators,
            version: v.manifest.version,
            sha256: sha,
            fetched_at: rfc3339(SystemTime::now()),
        };
        let body = body.clone();
        let done = tokio::task::spawn_blocking(move || cache.store(&body, &meta)).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the policy bundle serves but could not be cached for restarts")
            }
            Err(e) => tracing::warn!(error = %e, "the policy bundle cache task failed"),
        }
    }

    fn fetched_ok(&self) {
        let now = SystemTime::now();
        self.metrics.policy_bundle_last_fetch.set(
            now.duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        let mut s = self.state();
        s.last_fetch = Some(now);
        s.last_logged = None;
    }

    fn attempt(&self, result: &'static str, refused: Option<&Refused>) {
        self.state().last_attempt = Some(Attempt {
            at: rfc3339(SystemTime::now()),
            result,
            reason: refused.map(Refused::reason),
            error: refused.map(ToString::to_string),
        });
    }

    /// Count, log (once per distinct failure) and remember a refusal.
    fn refused(&self, e: &Refused) {
        let reason = e.reason();
        self.metrics
            .policy_bundle_fetch_failures
            .with_label_values(&[reason])
            .inc();
        let message = e.to_string();
        let serving = self.state().serving.as_ref().map(|s| s.version);
        let repeat = {
            let mut s = self.state();
            let key = (reason, message.clone());
            let repeat = s.last_logged.as_ref() == Some(&key);
            s.last_logged = Some(key);
            repeat
        };
        if repeat {
            tracing::debug!(reason, error = %message, "policy bundle refused again");
        } else {
            tracing::error!(
                reason,
                error = %message,
                source = %self.settings.url,
                serving_version = ?serving,
                "policy bundle refused; the serving policy stays"
            );
        }
        self.attempt("refused", Some(e));
    }
}

/// Whether a verified bundle `(version, manifest SHA-256)` is the serving one (`true`), may
/// replace it (`false`), or must be refused: a lower version, or the same version with
/// another manifest, unless `allow_downgrade`. "Older" is by version number alone:
/// `created_at` is informative (clocks differ between build machines).
pub fn compare(
    offered: (u64, &str),
    current: Option<(u64, &str)>,
    allow_downgrade: bool,
) -> Result<bool, Refused> {
    let Some((serving, serving_manifest)) = current else {
        return Ok(false);
    };
    let (version, manifest) = offered;
    if version == serving && manifest == serving_manifest {
        return Ok(true);
    }
    if !allow_downgrade {
        if version < serving {
            return Err(Refused::OldVersion {
                offered: version,
                serving,
            });
        }
        if version == serving {
            return Err(Refused::VersionReused(version));
        }
    }
    Ok(false)
}

fn serving(v: &Verified, p: &Policy, bundle_sha256: &str, from: &'static str) -> Serving {
    Serving {
        version: v.manifest.version,
        created_at: v.manifest.created_at.clone(),
        rules_version: p.version.to_string(),
        signed_by: v.signed_by.clone(),
        from,
        manifest_sha256: v.manifest_sha256.clone(),
        bundle_sha256: bundle_sha256.to_string(),
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

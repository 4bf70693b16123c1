//! Hot reload: a new rules snapshot replaces the serving one atomically (arc-swap), on
//! demand (`POST /v1/reload`, SIGHUP) or when the files change (polled: Kubernetes ConfigMap
//! updates swap symlinks, which file-event watches often miss). A broken file never replaces
//! a working policy: the old one keeps serving and the error (file:line:column) is logged,
//! counted and returned.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::{Mode, Policy, PolicyError, read_sources, version_of};
use crate::metrics::Metrics;

/// What a successful reload did.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// Version now serving.
    pub version: Arc<str>,
    /// Its rule count.
    pub rules: usize,
    /// Its file count.
    pub files: usize,
    /// Whether it differs from the version served before.
    pub changed: bool,
}

/// The latest reload attempt, as the admin API shows it (`GET /v1/status`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastReload {
    /// When (RFC 3339).
    pub at: String,
    /// `ok` or `error`.
    pub result: &'static str,
    /// The version serving after it.
    pub version: String,
    /// Why it failed (the previous rules kept serving).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reloads one rules path into the slot the proxy reads from; with a bundle source
/// (`policy.source`) it only swaps what the source hands it ([`Reloader::install`]).
pub struct Reloader {
    /// The rules path (`None`: the rules come from a bundle source).
    path: Option<PathBuf>,
    mode: Mode,
    slot: Arc<ArcSwap<Policy>>,
    metrics: Metrics,
    /// Version of the last on-disk state that failed to compile (logged once, not per poll).
    last_failed: Mutex<Option<String>>,
    /// The latest reload attempt (none since start: `None`).
    last: Mutex<Option<LastReload>>,
}

impl Reloader {
    /// A reloader for `path` feeding `slot`.
    pub fn new(path: PathBuf, mode: Mode, slot: Arc<ArcSwap<Policy>>, metrics: Metrics) -> Self {
        Self {
            path: Some(path),
            mode,
            slot,
            metrics,
            last_failed: Mutex::new(None),
            last: Mutex::new(None),
        }
    }

    /// A reloader for rules that come from a bundle source: [`Reloader::install`] swaps,
    /// [`Reloader::reload`] refuses (the source is asked instead).
    pub fn for_bundle(mode: Mode, slot: Arc<ArcSwap<Policy>>, metrics: Metrics) -> Self {
        Self {
            path: None,
            mode,
            slot,
            metrics,
            last_failed: Mutex::new(None),
            last: Mutex::new(None),
        }
    }

    /// Serve `policy` (already compiled and checked by its source).
    pub fn install(&self, policy: Policy) -> Reloaded {
        self.swap(policy)
    }

    /// Record that a source offered rules that were refused (status shows it; the source
    /// counts and logs it).
    pub fn note_refused(&self, error: String) {
        self.note("error", Some(error));
    }

    /// The policy serving now.
    pub fn serving(&self) -> Arc<Policy> {
        self.slot.load_full()
    }

    /// The latest reload attempt since start, if any.
    pub fn last(&self) -> Option<LastReload> {
        self.last.lock().ok()?.clone()
    }

    fn note(&self, result: &'static str, error: Option<String>) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some(LastReload {
                at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
                result,
                version: self.slot.load().version.to_string(),
                error,
            });
        }
    }

    /// Load and compile the rules now; on success serve them.
    pub fn reload(&self) -> Result<Reloaded, PolicyError> {
        let Some(path) = &self.path else {
            return Err(PolicyError::Read {
                path: PathBuf::from("policy.source"),
                source: std::io::Error::other(
                    "the rules come from a bundle source: ask the source instead",
                ),
            });
        };
        let sources = read_sources(path);
        let result = sources.and_then(|s| Policy::from_sources(&s, self.mode));
        self.apply(result)
    }

    /// Reload only if the files differ from what is serving (or from the last failure).
    pub fn reload_if_changed(&self) -> Option<Result<Reloaded, PolicyError>> {
        let sources = match read_sources(self.path.as_ref()?) {
            Ok(s) => s,
            Err(e) => return Some(self.apply(Err(e))),
        };
        let on_disk = version_of(&sources);
        if *self.slot.load().version == *on_disk {
            return None;
        }
        if self.last_failed.lock().ok()?.as_deref() == Some(on_disk.as_str()) {
            return None;
        }
        let result = Policy::from_sources(&sources, self.mode);
        if result.is_err() {
            if let Ok(mut f) = self.last_failed.lock() {
                *f = Some(on_disk);
            }
        }
        Some(self.apply(result))
    }

    fn apply(&self, result: Result<Policy, PolicyError>) -> Result<Reloaded, PolicyError> {
        match result {
            Ok(policy) => Ok(self.swap(policy)),
            Err(e) => {
                self.metrics
                    .policy_reloads
                    .with_label_values(&["error"])
                    .inc();
                tracing::error!(error = %e, serving = %self.slot.load().version, "policy reload failed; the previous policy keeps serving");
                self.note("error", Some(e.to_string()));
                Err(e)
            }
        }
    }

    fn swap(&self, policy: Policy) -> Reloaded {
        let previous = self.slot.load().version.clone();
        let out = Reloaded {
            version: policy.version.clone(),
            rules: policy.len(),
            files: policy.files.len(),
            changed: previous != policy.version,
        };
        for w in &policy.warnings {
            tracing::warn!("{w}");
        }
        self.slot.store(Arc::new(policy));
        self.metrics.policy_version.reset();
        self.metrics
            .policy_version
            .with_label_values(&[&out.version])
            .set(1);
        self.metrics.policy_reloads.with_label_values(&["ok"]).inc();
        if let Ok(mut f) = self.last_failed.lock() {
            *f = None;
        }
        tracing::info!(version = %out.version, rules = out.rules, changed = out.changed, "policy reloaded");
        self.note("ok", None);
        out
    }

    /// Poll the files every `interval` until `stop` turns true.
    pub async fn watch(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            let me = self.clone();
            // File reads and compilation are blocking work: keep them off the proxy's threads.
            let _ = tokio::task::spawn_blocking(move || me.reload_if_changed()).await;
        }
    }
}

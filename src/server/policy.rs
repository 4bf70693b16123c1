//! The policy a gateway starts with: rules from files, or a signed bundle from
//! `policy.source` (the source's bundle, else its cache, else no start), and what swaps it
//! later (the `Reloader`, fed by the file watch or the bundle source's poll).

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::ServerError;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::policy::bundle::source::{BundleSource, Settings as BundleSettings};
use crate::policy::reload::Reloader;

/// The serving slot, its reloader and the bundle source (each `None` without a policy; the
/// source `None` for rules from files).
pub(super) type Started = (
    Option<Arc<ArcSwap<Policy>>>,
    Option<Arc<Reloader>>,
    Option<Arc<BundleSource>>,
);

/// Load the first policy of `cfg`.
pub(super) async fn start(cfg: &Config, metrics: &Metrics) -> Result<Started, ServerError> {
    let mut bundle = None;
    let policy = match &cfg.policy {
        None => None,
        Some(p) => {
            let policy = match (BundleSettings::from_config(p), &p.rules) {
                (Some(settings), _) => {
                    let source = BundleSource::new(settings, &p.trusted_keys, metrics.clone())?;
                    let policy = source.initial().await?;
                    bundle = Some(Arc::new(source));
                    policy
                }
                (None, Some(rules)) => Policy::load(rules, p.mode)?,
                // Validation requires `rules` or `source` (with its cache_dir).
                (None, None) => {
                    return Err(ServerError::Policy(crate::policy::PolicyError::Read {
                        path: "policy".into(),
                        source: std::io::Error::other("neither rules nor source is set"),
                    }));
                }
            };
            for w in &policy.warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(
                rules = policy.len(),
                files = policy.files.len(),
                version = %policy.version,
                mode = p.mode.as_str(),
                "policy loaded"
            );
            Some(Arc::new(ArcSwap::from_pointee(policy)))
        }
    };
    let reloader = match (&cfg.policy, &policy) {
        (Some(p), Some(slot)) => Some(Arc::new(match (&bundle, &p.rules) {
            (None, Some(rules)) => {
                Reloader::new(rules.clone(), p.mode, slot.clone(), metrics.clone())
            }
            _ => Reloader::for_bundle(p.mode, slot.clone(), metrics.clone()),
        })),
        _ => None,
    };
    Ok((policy, reloader, bundle))
}

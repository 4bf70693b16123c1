//! Notifications: every new escalation is POSTed to the configured webhooks — generic JSON
//! (`{"event": "escalation.created", "escalation": {…}}`) or a Slack-compatible incoming
//! webhook (`{"text": "…"}`) — retried with backoff (5 attempts over ~15 s). Delivery never
//! holds a call; failures are logged and counted.

use std::sync::Arc;
use std::time::Duration;

pub use crate::config::{Webhook, WebhookFormat};
use bytes::Bytes;
use http::{Request, header};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus::IntCounterVec;

use super::{Escalation, ReviewStore, State};

/// The body for `e` in `format`.
pub fn body_of(e: &Escalation, format: WebhookFormat) -> Vec<u8> {
    let v = match format {
        WebhookFormat::Json => serde_json::json!({"event": "escalation.created", "escalation": e}),
        WebhookFormat::Slack => serde_json::json!({"text": format!(
            ":raised_hand: Escalation `{}`: *{}* wants `{}` on route `{}` ({}). Rules: {}. Approve: `POST /v1/escalations/{}/approve`, reject: `/reject` (until {}).",
            e.id,
            e.caller,
            e.tool.as_deref().or(e.method.as_deref()).unwrap_or("?"),
            e.route,
            e.reason,
            e.rules.join(", "),
            e.id,
            e.expires,
        )}),
    };
    serde_json::to_vec(&v).unwrap_or_default()
}

/// Deliver every new escalation to `hooks` until the store goes away.
pub fn run(
    store: Arc<ReviewStore>,
    hooks: Vec<Webhook>,
    results: IntCounterVec,
    notified: Arc<dyn Fn(&Escalation) + Send + Sync>,
) -> impl std::future::Future<Output = ()> + Send {
    // Subscribed now, before the task first runs: an escalation opened on another thread
    // right after start-up is not missed.
    let rx = (!hooks.is_empty()).then(|| store.subscribe());
    announce(store, hooks, results, notified, rx)
}

async fn announce(
    store: Arc<ReviewStore>,
    hooks: Vec<Webhook>,
    results: IntCounterVec,
    notified: Arc<dyn Fn(&Escalation) + Send + Sync>,
    rx: Option<tokio::sync::broadcast::Receiver<Escalation>>,
) {
    let Some(mut rx) = rx else {
        return;
    };
    let connector = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
    {
        Ok(b) => b.https_or_http().enable_http1().build(),
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be set up");
            return;
        }
    };
    let client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    loop {
        let e = match rx.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "escalation notifications fell behind");
                results.with_label_values(&["missed"]).inc_by(n);
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        // Each escalation is announced by the replica that opened it, once.
        if e.state != State::Pending || !store.opened_here(&e.id) {
            continue;
        }
        for hook in &hooks {
            let (client, hook, e, results, notified) = (
                client.clone(),
                hook.clone(),
                e.clone(),
                results.clone(),
                notified.clone(),
            );
            tokio::spawn(async move {
                let ok = deliver(&client, &hook, &e).await;
                results
                    .with_label_values(&[if ok { "delivered" } else { "failed" }])
                    .inc();
                if ok {
                    notified(&e);
                }
            });
        }
    }
}

async fn deliver(
    client: &Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    hook: &Webhook,
    e: &Escalation,
) -> bool {
    let body = Bytes::from(body_of(e, hook.format));
    let mut delay = Duration::from_millis(500);
    for attempt in 1..=5 {
        let req = Request::post(&hook.url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.clone()));
        let outcome = match req {
            Ok(r) => tokio::time::timeout(Duration::from_secs(10), client.request(r)).await,
            Err(e) => {
                tracing::error!(url = %hook.url, error = %e, "webhook URL unusable");
                return false;
            }
        };
        match outcome {
            Ok(Ok(resp)) if resp.status().is_success() => return true,
            Ok(Ok(resp)) => {
                tracing::warn!(url = %hook.url, status = %resp.status(), attempt, "webhook refused the escalation")
            }
            Ok(Err(err)) => {
                tracing::warn!(url = %hook.url, error = %err, attempt, "webhook unreachable")
            }
            Err(_) => tracing::warn!(url = %hook.url, attempt, "webhook timed out"),
        }
        if attempt < 5 {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    tracing::error!(url = %hook.url, escalation = %e.id, "escalation notification not delivered after 5 attempts");
    false
}

//! Webhooks: decisions reach the platform from the store's outbox, signed, in order, retried
//! until a 2xx, across restarts.
//!
//! A decision writes one event per item into the `events` table in its own transaction, so
//! an event exists exactly when its decision does. This task posts the undelivered ones
//! oldest first to `--webhook-url`; a receiver that fails (non-2xx, timeout, refused
//! connection) is retried after 1 s, doubling up to 10 minutes, forever, and later events
//! wait behind it (order is kept). Delivery is at least once: a crash between the receiver's
//! 2xx and the store recording it sends the event again after the restart, so receivers
//! deduplicate by `X-Ward-Event-Id`. Redirects are not followed.
//!
//! Each request carries `X-Ward-Timestamp` (unix seconds), `X-Ward-Event-Id` and
//! `X-Ward-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`; a receiver
//! recomputes it over the raw body and rejects old timestamps to stop replays.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::AppState;

/// Where decisions are posted, and the key they are signed with.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The receiver's URL (`http` or `https`).
    pub url: String,
    /// The HMAC-SHA256 key.
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Delivery counters for `/metrics`, and the bell that wakes the sender.
#[derive(Default)]
pub(crate) struct Webhooks {
    notify: Notify,
    pub(crate) delivered: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) undelivered: AtomicU64,
}

impl Webhooks {
    /// Tells the sender that new events are in the outbox.
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }
}

/// `sha256=<hex>` of HMAC-SHA256(secret, timestamp + "." + body).
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "sha256={}",
        ward_engine::ward_store::hex(&mac.finalize().into_bytes())
    )
}

const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(600);

/// Starts the sender, when a webhook URL is configured. It stops when the runtime does.
pub(crate) fn spawn(state: &AppState) {
    let Some(config) = state.config().webhook.clone() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client: webhooks are off");
            return;
        }
    };
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            let batch = state
                .read(|s| Ok((s.undelivered_events(100)?, s.undelivered_count()?)))
                .await;
            let (batch, backlog) = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = e.message(), "reading the webhook outbox failed");
                    tokio::time::sleep(FIRST_RETRY).await;
                    continue;
                }
            };
            let hooks = &state.inner.webhooks;
            hooks.undelivered.store(backlog, Ordering::Relaxed);
            if batch.is_empty() {
                // Woken by a decision; the timeout also catches events written elsewhere.
                let _ = tokio::time::timeout(Duration::from_secs(1), hooks.notify.notified()).await;
                continue;
            }
            for event in batch {
                let mut wait = FIRST_RETRY;
                loop {
                    let result = send(&client, &config, event.id, &event.payload).await;
                    let id = event.id;
                    let recorded = {
                        let err = result.as_ref().err().cloned();
                        state
                            .write(move |s| {
                                Ok(s.record_delivery(id, err.as_deref().map_or(Ok(()), Err))?)
                            })
                            .await
                    };
                    if let Err(e) = recorded {
                        tracing::error!(
                            error = e.message(),
                            event = id,
                            "recording a delivery failed"
                        );
                    }
                    match result {
                        Ok(()) => {
                            hooks.delivered.fetch_add(1, Ordering::Relaxed);
                            hooks.undelivered.fetch_sub(1, Ordering::Relaxed);
                            break;
                        }
                        Err(e) => {
                            hooks.failures.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(event = id, error = %e, retry_in_s = wait.as_secs(), "webhook delivery failed");
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(MAX_RETRY);
                        }
                    }
                }
            }
        }
    });
}

async fn send(
    client: &reqwest::Client,
    config: &WebhookConfig,
    event_id: i64,
    payload: &str,
) -> Result<(), String> {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .to_string();
    let sig = signature(&config.secret, &ts, payload.as_bytes());
    let resp = client
        .post(&config.url)
        .header("Content-Type", "application/json")
        .header("X-Ward-Timestamp", &ts)
        .header("X-Ward-Event-Id", event_id.to_string())
        .header("X-Ward-Signature", sig)
        .body(payload.to_owned())
        .send()
        .await
        .map_err(|e| format!("{e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status().as_u16()))
    }
}

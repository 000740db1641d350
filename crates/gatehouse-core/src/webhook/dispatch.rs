//! Sending the outbox: [`Dispatcher::round`] claims due deliveries under a lease (so that two
//! instances never send the same delivery at once), sends each through a [`WebhookSender`],
//! and records how it went: delivered; failed and due again on the [`RetrySchedule`]; or
//! failed for good. An endpoint that keeps failing for `disable_after`, or answers 410 Gone,
//! is disabled and a `webhook_disabled` event says so. Sends run on their own tasks, at most
//! `concurrency` at once, so one slow receiver holds one slot, never the others or a request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use super::message::Message;
use super::schedule::RetrySchedule;
use super::signing::WebhookSecret;
use super::{open_secret, telemetry};
use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::clock::Clock;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::{AttemptOutcome, ClaimedDelivery, WebhookStore};

/// The longest `last_error` kept, in bytes.
const MAX_ERROR_LEN: usize = 300;

/// One signed request to make.
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    /// Where to.
    pub url: String,
    /// `webhook-id`.
    pub msg_id: String,
    /// `webhook-timestamp`: the attempt's Unix time.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    /// The JSON body, exactly as signed.
    pub body: String,
}

impl WebhookRequest {
    /// `message` signed with `secret` for an attempt at `timestamp`.
    pub fn signed(url: &str, message: &Message, secret: &WebhookSecret, timestamp: i64) -> Self {
        WebhookRequest {
            url: url.to_owned(),
            msg_id: message.id.clone(),
            timestamp,
            signature: secret.sign(&message.id, timestamp, &message.body),
            body: message.body.clone(),
        }
    }
}

/// What came of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendResult {
    /// The answer's status, when there was one.
    pub status: Option<u16>,
    /// What went wrong, when no answer came (timeout, refused address, connection error).
    pub error: Option<String>,
    /// The answer's `Retry-After`, when it had one.
    pub retry_after: Option<Duration>,
}

impl SendResult {
    /// Whether the receiver accepted it (2xx).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Makes the HTTP requests (the binary's client: timeouts, no redirects, the address policy).
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `request`.
    async fn send(&self, request: &WebhookRequest) -> SendResult;
}

/// How the dispatcher behaves.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// When failed attempts are retried.
    pub schedule: RetrySchedule,
    /// How long an endpoint may keep failing before it is disabled, in milliseconds.
    pub disable_after_ms: i64,
    /// How long a claim holds: longer than a request can take.
    pub lease_ms: i64,
    /// The most sends at once (one endpoint: half of them).
    pub concurrency: usize,
}

/// Delivers the outbox.
pub struct Dispatcher {
    store: Arc<dyn WebhookStore>,
    sender: Arc<dyn WebhookSender>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    settings: DispatchSettings,
    slots: Arc<Semaphore>,
    /// Told whenever a send ends: its slot, and its endpoint's share, are free again.
    finished: Arc<Notify>,
}

impl Dispatcher {
    /// A dispatcher over `store`, sending with `sender`.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        sender: Arc<dyn WebhookSender>,
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        settings: DispatchSettings,
    ) -> Self {
        let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Dispatcher {
            store,
            sender,
            sealer,
            clock,
            audit,
            settings,
            slots,
            finished: Arc::new(Notify::new()),
        }
    }

    /// Waits until a send ends (at once if one ended since the last call): the moment to try
    /// another round without waiting for the poll interval.
    pub async fn send_finished(&self) {
        self.finished.notified().await;
    }

    /// Claims as many due deliveries as there are free send slots (within each endpoint's
    /// share) and starts sending them. Call again at once while it claims some; else wait for
    /// [`Dispatcher::send_finished`] or the poll interval.
    pub async fn round(self: &Arc<Self>) -> Result<RoundResult, Error> {
        let free = self.slots.available_permits();
        if free == 0 {
            return Ok(RoundResult {
                claimed: 0,
                free: 0,
            });
        }
        let now = self.clock.now_millis();
        let lease_until = now.saturating_add(self.settings.lease_ms);
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        let claimed = self
            .store
            .claim_deliveries(now, lease_until, limit, self.per_endpoint())
            .await?;
        let count = claimed.len();
        for delivery in claimed {
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                // Only this task takes slots; free ones stay free until it does.
                break;
            };
            let this = self.clone();
            tokio::spawn(async move {
                this.deliver(delivery, lease_until).await;
                drop(slot);
                this.finished.notify_one();
            });
        }
        Ok(RoundResult {
            claimed: count,
            free,
        })
    }

    /// The most send slots one endpoint may hold: half of them (at least one), so a receiver
    /// that takes its time leaves the other half to the rest.
    fn per_endpoint(&self) -> u32 {
        u32::try_from((self.settings.concurrency / 2).max(1)).unwrap_or(u32::MAX)
    }

    /// Sends one claimed delivery and records the outcome.
    async fn deliver(&self, delivery: ClaimedDelivery, lease_until: i64) {
        let message = Message::of(&delivery.event);
        let result = match open_secret(&self.sealer, &delivery.webhook) {
            Ok(secret) => {
                let request = WebhookRequest::signed(
                    &delivery.webhook.url,
                    &message,
                    &secret,
                    self.clock.now(),
                );
                self.sender.send(&request).await
            }
            Err(_) => SendResult {
                error: Some("the endpoint's secret cannot be opened with this server key".into()),
                ..SendResult::default()
            },
        };
        let now = self.clock.now_millis();
        let made = delivery.attempts + 1;
        let outcome = if result.delivered() {
            AttemptOutcome::Delivered {
                status: i64::from(result.status.unwrap_or(200)),
            }
        } else {
            AttemptOutcome::Failed {
                status: result.status.map(i64::from),
                error: describe_failure(&result),
                next_attempt_at: self
                    .settings
                    .schedule
                    .next_attempt(made, now, result.retry_after),
            }
        };
        telemetry::attempt(&outcome, delivery.event.at, now);
        match self
            .store
            .finish_delivery(delivery.id, lease_until, &outcome, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => tracing::debug!(
                delivery = delivery.id,
                "webhook claim lost; another sender has it"
            ),
            Err(err) => {
                tracing::warn!(%err, delivery = delivery.id, "could not record a webhook attempt")
            }
        }
        let webhook = &delivery.webhook;
        if result.delivered() {
            if webhook.failing_since.is_some() {
                if let Err(err) = self.store.webhook_healthy(&webhook.id).await {
                    tracing::warn!(%err, "could not mark a webhook endpoint healthy");
                }
            }
            return;
        }
        if result.status == Some(410) {
            self.disable(&webhook.id, &webhook.url, "gone", None).await;
            return;
        }
        match self.store.webhook_failing(&webhook.id, now).await {
            Ok(Some(since)) if now.saturating_sub(since) >= self.settings.disable_after_ms => {
                self.disable(&webhook.id, &webhook.url, "failing", Some(since))
                    .await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "could not mark a webhook endpoint failing"),
        }
    }

    async fn disable(&self, id: &str, url: &str, reason: &str, since: Option<i64>) {
        match self.store.disable_webhook(id, reason).await {
            Ok(true) => {
                tracing::warn!(webhook = id, reason, "webhook endpoint disabled");
                telemetry::disabled();
                let detail = json!({
                    "webhook_id": id,
                    "url": url,
                    "reason": reason,
                    "failing_since": since,
                });
                self.audit
                    .record(
                        EventKind::WebhookDisabled,
                        &RequestContext::default(),
                        EventSubject::default(),
                        detail,
                    )
                    .await;
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(%err, "could not disable a webhook endpoint"),
        }
    }
}

/// What one [`Dispatcher::round`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundResult {
    /// Deliveries claimed.
    pub claimed: usize,
    /// Slots that were free.
    pub free: usize,
}

/// The `last_error` of a failed attempt: printable ASCII, bounded.
fn describe_failure(result: &SendResult) -> String {
    let text = match (&result.status, &result.error) {
        (_, Some(error)) => error.clone(),
        (Some(status), None) => format!("the receiver answered {status}"),
        (None, None) => "no answer".to_owned(),
    };
    let clean: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(MAX_ERROR_LEN)
        .collect();
    clean
}

//! Webhooks: audit events sent out to HTTP endpoints as the Standard Webhooks specification
//! describes them (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…` over
//! `id.timestamp.body` with a `whsec_` secret), so that receivers verify them with the
//! published libraries unchanged.
//!
//! - The outbox is the database's: storing an event makes its deliveries in the same
//!   transaction (see [`crate::store::WebhookStore`]); nothing on a request's path sends.
//! - [`Dispatcher`] (`dispatch.rs`) claims due deliveries under a lease, sends them, retries on
//!   the [`RetrySchedule`] (`schedule.rs`) and disables endpoints that keep failing.
//! - [`Webhooks`] (`admin.rs`) manages endpoints for the CLI and the admin API's `/Webhook`:
//!   add, list, update, remove, the delivery log, replay and a test send.
//! - `endpoint.rs` validates URLs and event filters, `address.rs` says which addresses may be
//!   sent to, `signing.rs` signs, `message.rs` builds the payload.

mod address;
mod admin;
mod dispatch;
mod endpoint;
mod message;
mod schedule;
mod signing;

pub use address::is_public;
pub use admin::{NewWebhook, Webhooks, MAX_WEBHOOKS, WEBHOOK_FIELDS};
pub use dispatch::{
    DispatchSettings, Dispatcher, RoundResult, SendResult, WebhookRequest, WebhookSender,
};
pub use endpoint::{check_events, check_url, ALL_EVENTS, MAX_URL_LEN};
pub use message::{rfc3339, Message};
pub use schedule::RetrySchedule;
pub use signing::WebhookSecret;

use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::WebhookRow;

/// The associated data an endpoint's secret is sealed with: its id, so a sealed secret copied
/// to another endpoint's row fails to open.
fn seal_context(id: &str) -> String {
    format!("webhook-secret:{id}")
}

/// Seals `secret` for endpoint `id`.
fn seal_secret(sealer: &Sealer, id: &str, secret: &WebhookSecret) -> Result<Vec<u8>, Error> {
    sealer.seal(&seal_context(id), secret.as_bytes())
}

/// Opens the secret of `row`.
fn open_secret(sealer: &Sealer, row: &WebhookRow) -> Result<WebhookSecret, Error> {
    WebhookSecret::from_bytes(sealer.open(&seal_context(&row.id), &row.sealed_secret)?)
}

/// The webhook metrics.
mod telemetry {
    use crate::store::AttemptOutcome;
    use crate::telemetry::{WEBHOOK_ATTEMPTS, WEBHOOK_DISABLED, WEBHOOK_LATENCY};

    /// Counts an attempt; a success also records its latency from the event (`event_at`, Unix
    /// seconds) to `now_ms`.
    pub(super) fn attempt(outcome: &AttemptOutcome, event_at: i64, now_ms: i64) {
        let label = match outcome {
            AttemptOutcome::Delivered { .. } => {
                let latency = now_ms.saturating_sub(event_at.saturating_mul(1000)).max(0);
                metrics::histogram!(WEBHOOK_LATENCY).record(latency as f64 / 1000.0);
                "delivered"
            }
            AttemptOutcome::Failed {
                next_attempt_at: Some(_),
                ..
            } => "retry",
            AttemptOutcome::Failed { .. } => "failed",
        };
        metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => label).increment(1);
    }

    /// Counts an endpoint the server disabled.
    pub(super) fn disabled() {
        metrics::counter!(WEBHOOK_DISABLED).increment(1);
    }
}

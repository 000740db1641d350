//! [`WebhookStore`]: webhook endpoints and their outbox. Deliveries are not written by the
//! core: the database makes them, in the transaction that stores an event (a trigger on the
//! `events` table inserts one pending delivery per enabled endpoint whose filter names the
//! event's kind), so an event is never stored without its deliveries nor a delivery without its
//! event. The core claims due deliveries under a lease, sends them and records the outcome.

use async_trait::async_trait;

use super::{Event, StoreError};

/// A stored webhook endpoint; its secret sealed under the server key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// Random id (`wh_…`).
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event kinds it receives, or `["*"]` for every kind.
    pub events: Vec<String>,
    /// Free text for operators.
    pub description: Option<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// Why it was disabled (`failing`, `gone`, `admin`), when it is.
    pub disabled_reason: Option<String>,
    /// Since when (Unix milliseconds) its deliveries have been failing without a success.
    pub failing_since: Option<i64>,
    /// The `whsec_` secret, sealed.
    pub sealed_secret: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One delivery as an endpoint's log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The endpoint.
    pub webhook_id: String,
    /// The event delivered (`webhook-id` is `msg_` and this).
    pub event_id: String,
    /// The event's kind.
    pub kind: String,
    /// `pending`, `delivered` or `failed` (every attempt of the schedule failed).
    pub status: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (Unix milliseconds), while pending.
    pub next_attempt_at: i64,
    /// The HTTP status of the last attempt, when it got an answer.
    pub last_status: Option<i64>,
    /// What went wrong in the last failed attempt.
    pub last_error: Option<String>,
    /// When it was made (Unix milliseconds).
    pub created_at: i64,
    /// When it succeeded (Unix milliseconds).
    pub delivered_at: Option<i64>,
}

/// A due delivery claimed by one sender until `lease_until`.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// The delivery's id.
    pub id: i64,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The endpoint.
    pub webhook: WebhookRow,
    /// The event to send.
    pub event: Event,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered {
        /// The status.
        status: i64,
    },
    /// A failure; tried again at `next_attempt_at` (Unix milliseconds), or never (`None`:
    /// the schedule is spent).
    Failed {
        /// The HTTP status, when there was an answer.
        status: Option<i64>,
        /// What went wrong.
        error: String,
        /// The next attempt.
        next_attempt_at: Option<i64>,
    },
}

/// Which deliveries `replay` sends again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelection {
    /// This one delivery.
    One(i64),
    /// Those that failed (every attempt spent), made at or after this time (Unix ms).
    FailedSince(i64),
    /// Every delivery made at or after this time (Unix ms), whatever its status.
    AllSince(i64),
}

/// Counts of the outbox, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Deliveries not yet made.
    pub pending: i64,
    /// Deliveries whose every attempt failed, still kept.
    pub failed: i64,
}

/// Webhook endpoints and deliveries.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new endpoint unless `max` endpoints exist already (`false`, nothing stored);
    /// concurrent inserts never make more than `max`.
    async fn insert_webhook(&self, row: &WebhookRow, max: u32) -> Result<bool, StoreError>;
    /// Replaces an endpoint's url, events, description and enabled flag (clearing
    /// `failing_since` and `disabled_reason` when it is enabled); `false` when there is none.
    async fn update_webhook(&self, row: &WebhookRow) -> Result<bool, StoreError>;
    /// The endpoint `id`.
    async fn find_webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError>;
    /// Every endpoint, oldest first.
    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>, StoreError>;
    /// Removes an endpoint and its deliveries; `false` when there is none.
    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError>;
    /// Claims up to `limit` due deliveries (pending, `next_attempt_at <= now_ms`, unleased, of
    /// an enabled endpoint), oldest due first, until `lease_until` (Unix ms), counting the
    /// attempt; no more of one endpoint's than make `per_endpoint` of its deliveries leased at
    /// once, so that a slow endpoint cannot hold every send slot. Two senders never claim the
    /// same delivery while its lease holds.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until: i64,
        limit: u32,
        per_endpoint: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    /// Records how the attempt on a claimed delivery ended and releases it; `false` when the
    /// claim was lost (its lease expired and another sender took it, or it was replayed).
    async fn finish_delivery(
        &self,
        id: i64,
        lease_until: i64,
        outcome: &AttemptOutcome,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Marks endpoint `id` failing since `now_ms` unless it already was; returns since when.
    async fn webhook_failing(&self, id: &str, now_ms: i64) -> Result<Option<i64>, StoreError>;
    /// Marks endpoint `id` healthy (a delivery succeeded).
    async fn webhook_healthy(&self, id: &str) -> Result<(), StoreError>;
    /// Disables endpoint `id` for `reason`; `true` only for the call that disabled it.
    async fn disable_webhook(&self, id: &str, reason: &str) -> Result<bool, StoreError>;
    /// Endpoint `id`'s deliveries, newest first: at most `limit`, only `status` if given.
    async fn list_deliveries(
        &self,
        id: &str,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Makes the selected deliveries of endpoint `id` pending again, due at `now_ms`, with
    /// their attempts reset; how many.
    async fn replay_deliveries(
        &self,
        id: &str,
        selection: &ReplaySelection,
        now_ms: i64,
    ) -> Result<u64, StoreError>;
    /// Deletes up to `batch_size` deliveries made before `before_ms`, whatever their status
    /// (the outbox's retention); how many went.
    async fn delete_deliveries_before(
        &self,
        before_ms: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
    /// The outbox's counts.
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
}

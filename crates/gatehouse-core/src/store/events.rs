//! [`EventStore`]: the audit trail, and [`Event`] and [`EventFilter`], what it stores and how
//! it is queried. What events are recorded, and when, is [`crate::audit`]'s business.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::StoreError;

/// One stored event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Random id.
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// See [`EventKind::as_str`](crate::audit::EventKind::as_str).
    pub kind: String,
    /// The client, when known.
    pub client_id: Option<String>,
    /// The username (as sent for failures, normalized otherwise), when known.
    pub user: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// The request id.
    pub request_id: Option<String>,
    /// More, by kind: `reason`, `family_id`, `until`, `action`.
    pub detail: Value,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Only this user's.
    pub user: Option<String>,
    /// Only those at or after this time.
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: u32,
}

/// The audit trail.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores an audit event.
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError>;
    /// The events matching `filter`, newest first.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;
    /// Deletes up to `batch_size` events older than `before`; returns how many went.
    async fn delete_events_before(&self, before: i64, batch_size: u32) -> Result<u64, StoreError>;
}

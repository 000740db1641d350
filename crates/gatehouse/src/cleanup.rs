//! The expiry sweep: a background task, started by `serve`, that deletes expired tokens,
//! one-time codes and replay entries (`Store::delete_expired`) every `--cleanup-interval`
//! seconds, in batches of [`BATCH_SIZE`] rows per table so that no statement holds locks for
//! long. Every instance runs it; concurrent sweeps of one database only find less to delete.
//! The same sweep deletes audit events older than `--event-retention` days, the buckets of
//! addresses whose failed logins have all drained (part of `delete_expired`), and the lockout
//! rows of accounts whose failures are forgotten (no failure for `--brute-force-reset` seconds,
//! and not locked), so that neither brute-force table grows without bound, and the webhook
//! deliveries older than `--webhook-retention-days`, delivered or not, so that the outbox stays
//! bounded however long a receiver is down.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::clock::Clock;
use gatehouse_core::store::{Store, StoreError};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Rows deleted per table and statement.
pub(crate) const BATCH_SIZE: u32 = 500;

/// Starts the sweep: first after one `interval`, then every `interval`.
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    event_retention_secs: i64,
    attempts_forgotten_after_secs: i64,
    delivery_retention_secs: i64,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = clock.now();
            match prune_events(store.as_ref(), now - event_retention_secs).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expiry sweep: deleted old audit events"),
                Err(err) => tracing::warn!(%err, "pruning audit events failed"),
            }
            let deliveries_before = (now - delivery_retention_secs).saturating_mul(1000);
            match prune_deliveries(store.as_ref(), deliveries_before).await {
                Ok(0) => {}
                Ok(deleted) => {
                    tracing::info!(deleted, "expiry sweep: deleted old webhook deliveries")
                }
                Err(err) => tracing::warn!(%err, "pruning webhook deliveries failed"),
            }
            let forgotten_before = now - attempts_forgotten_after_secs;
            match prune_login_attempts(store.as_ref(), forgotten_before, now).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expiry sweep: forgot old failed logins"),
                Err(err) => tracing::warn!(%err, "pruning failed-login counters failed"),
            }
            match sweep(store.as_ref(), now).await {
                Ok(0) => tracing::debug!("expiry sweep: nothing expired"),
                Ok(deleted) => tracing::info!(deleted, "expiry sweep: deleted expired rows"),
                // The next tick tries again; a database outage shows in requests too.
                Err(err) => tracing::warn!(%err, "expiry sweep failed"),
            }
        }
    })
}

/// Deletes everything that expired before `now`, batch after batch until a batch comes back
/// short; returns how many rows went.
pub(crate) async fn sweep(store: &dyn Store, now: i64) -> Result<u64, StoreError> {
    in_batches(|limit| store.delete_expired(now, limit)).await
}

/// Deletes audit events older than `before`, batch after batch; returns how many went.
pub(crate) async fn prune_events(store: &dyn Store, before: i64) -> Result<u64, StoreError> {
    in_batches(|limit| store.delete_events_before(before, limit)).await
}

/// Deletes webhook deliveries made before `before_ms`, batch after batch; returns how many went.
pub(crate) async fn prune_deliveries(store: &dyn Store, before_ms: i64) -> Result<u64, StoreError> {
    in_batches(|limit| store.delete_deliveries_before(before_ms, limit)).await
}

/// Deletes the lockout rows whose last failure is before `forgotten_before` and that are not
/// locked at `now`, batch after batch; returns how many went.
pub(crate) async fn prune_login_attempts(
    store: &dyn Store,
    forgotten_before: i64,
    now: i64,
) -> Result<u64, StoreError> {
    in_batches(|limit| store.delete_forgotten_login_attempts(forgotten_before, now, limit)).await
}

/// Runs `delete_batch` with a limit of [`BATCH_SIZE`] rows until a batch comes back short;
/// returns how many rows went in all.
async fn in_batches<F, Fut>(mut delete_batch: F) -> Result<u64, StoreError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    loop {
        let deleted = delete_batch(BATCH_SIZE).await?;
        total += deleted;
        if deleted < u64::from(BATCH_SIZE) {
            return Ok(total);
        }
        // Let requests at the database between batches.
        tokio::task::yield_now().await;
    }
}

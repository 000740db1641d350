//! [`WebhookStore`] on SQL: the `webhooks` table and the `webhook_deliveries` outbox, which a
//! trigger on `events` fills (migration 0014). Claims take due deliveries under a lease; on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that instances claiming at the same moment take
//! different rows instead of waiting on each other. Off the request path, on the pool.

use async_trait::async_trait;
use gatehouse_core::store::{
    AttemptOutcome, ClaimedDelivery, Delivery, OutboxStats, ReplaySelection, StoreError,
    WebhookRow, WebhookStore,
};

use super::{execute, fetch_all, fetch_optional, rows, HotPath, SqlStore};
use crate::backend::{Backend, Param};
use crate::store_error;

const WEBHOOK_COLUMNS: &str =
    "w.id, w.url, w.events, w.description, w.enabled, w.disabled_reason, w.failing_since, \
     w.secret, w.created_at";

/// `events` as stored: `*`, or the kinds between commas (`,a,b,`) so that the trigger finds
/// `,kind,` in it.
fn stored_events(events: &[String]) -> String {
    if events.iter().any(|e| e == "*") {
        return "*".to_owned();
    }
    format!(",{},", events.join(","))
}

fn webhook<DB: Backend>(row: &DB::Row) -> Result<WebhookRow, StoreError> {
    let events = DB::text(row, "events")?;
    Ok(WebhookRow {
        id: DB::text(row, "id")?,
        url: DB::text(row, "url")?,
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        description: DB::opt_text(row, "description")?,
        enabled: DB::boolean(row, "enabled")?,
        disabled_reason: DB::opt_text(row, "disabled_reason")?,
        failing_since: DB::opt_int(row, "failing_since")?,
        sealed_secret: DB::bytes(row, "secret")?,
        created_at: DB::int(row, "created_at")?,
    })
}

fn delivery<DB: Backend>(row: &DB::Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: DB::int(row, "id")?,
        webhook_id: DB::text(row, "webhook_id")?,
        event_id: DB::text(row, "event_id")?,
        kind: DB::text(row, "kind")?,
        status: DB::text(row, "status")?,
        attempts: DB::int(row, "attempts")?,
        next_attempt_at: DB::int(row, "next_attempt_at")?,
        last_status: DB::opt_int(row, "last_status")?,
        last_error: DB::opt_text(row, "last_error")?,
        created_at: DB::int(row, "created_at")?,
        delivered_at: DB::opt_int(row, "delivered_at")?,
    })
}

fn claimed<DB: Backend>(row: &DB::Row) -> Result<ClaimedDelivery, StoreError> {
    Ok(ClaimedDelivery {
        id: DB::int(row, "delivery_id")?,
        attempts: DB::int(row, "attempts")? - 1,
        webhook: webhook::<DB>(row)?,
        // The webhook's columns hold `id`: the event's is `event_id`.
        event: rows::event_with_id::<DB>(row, "event_id")?,
    })
}

/// Whether this is PostgreSQL, whose outbox trigger is switched on only while an enabled
/// endpoint exists.
fn postgres<DB: Backend>() -> bool {
    DB::NAME == "PostgreSQL"
}

/// Begins a change of the endpoints: one transaction, and on PostgreSQL a self-conflicting
/// lock that orders it after every other change of them. [`finish_endpoints`] ends it.
async fn begin_endpoints<DB: Backend>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::Transaction<'static, DB>, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    if postgres::<DB>() {
        let lock = "LOCK TABLE webhooks IN SHARE ROW EXCLUSIVE MODE";
        DB::execute(&mut tx, lock, &[]).await.map_err(store_error)?;
    }
    Ok(tx)
}

/// Commits a change of the endpoints; on PostgreSQL first switches the outbox trigger on or
/// off to match: on while an enabled endpoint exists, off otherwise, so that an event costs
/// nothing extra while nobody listens (a PL/pgSQL trigger per event costs the refresh and
/// password grants several percent even when it finds no endpoint). `ALTER TABLE … TRIGGER`
/// is transactional and waits for the event inserts in flight: an event is stored either
/// before the change (when its endpoint did not exist yet) or after it, with the trigger in its
/// new state; instances share the catalog, so all of them switch at once. SQLite keeps its
/// trigger always on: there it costs nothing measurable.
async fn finish_endpoints<DB: Backend>(
    mut tx: sqlx::Transaction<'static, DB>,
) -> Result<(), StoreError> {
    if postgres::<DB>() {
        DB::execute(&mut tx, SYNC_OUTBOX_TRIGGER, &[])
            .await
            .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)
}

/// PostgreSQL: the outbox trigger on exactly while an enabled endpoint exists; touches the
/// catalog (and locks `events`) only when that changes.
const SYNC_OUTBOX_TRIGGER: &str = "DO $$
DECLARE
    wanted \"char\" := CASE WHEN EXISTS (SELECT 1 FROM webhooks WHERE enabled) THEN 'O' ELSE 'D' END;
BEGIN
    IF (SELECT tgenabled FROM pg_trigger
        WHERE tgname = 'events_webhook_outbox' AND tgrelid = 'events'::regclass) <> wanted THEN
        IF wanted = 'O' THEN
            EXECUTE 'ALTER TABLE events ENABLE TRIGGER events_webhook_outbox';
        ELSE
            EXECUTE 'ALTER TABLE events DISABLE TRIGGER events_webhook_outbox';
        END IF;
    END IF;
END $$";

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> WebhookStore for SqlStore<DB, H> {
    async fn insert_webhook(&self, row: &WebhookRow, max: u32) -> Result<bool, StoreError> {
        // One statement counts and inserts, after the lock that orders changes of the
        // endpoints on PostgreSQL (SQLite's writer orders them already), so that two inserts
        // cannot both see room for one.
        let sql =
            "INSERT INTO webhooks (id, url, events, description, enabled, secret, created_at) \
                   SELECT $1, $2, $3, $4, $5, $6, $7 WHERE (SELECT COUNT(*) FROM webhooks) < $8";
        let events = stored_events(&row.events);
        let max = i64::from(max);
        let params = [
            row.id.as_str().into(),
            row.url.as_str().into(),
            events.as_str().into(),
            row.description.as_deref().into(),
            row.enabled.into(),
            row.sealed_secret.as_slice().into(),
            row.created_at.into(),
            max.into(),
        ];
        let mut tx = begin_endpoints(&self.pool).await?;
        let inserted = DB::execute(&mut tx, sql, &params)
            .await
            .map_err(store_error)?;
        finish_endpoints(tx).await?;
        Ok(inserted == 1)
    }

    async fn update_webhook(&self, row: &WebhookRow) -> Result<bool, StoreError> {
        let sql = "UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4, \
                   disabled_reason = $5, failing_since = $6, secret = $7 WHERE id = $8";
        let events = stored_events(&row.events);
        let params = [
            row.url.as_str().into(),
            events.as_str().into(),
            row.description.as_deref().into(),
            row.enabled.into(),
            row.disabled_reason.as_deref().into(),
            row.failing_since.into(),
            row.sealed_secret.as_slice().into(),
            row.id.as_str().into(),
        ];
        let mut tx = begin_endpoints(&self.pool).await?;
        let updated = DB::execute(&mut tx, sql, &params)
            .await
            .map_err(store_error)?;
        finish_endpoints(tx).await?;
        Ok(updated == 1)
    }

    async fn find_webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w WHERE w.id = $1");
        fetch_optional(&self.pool, &sql, &[id.into()], webhook::<DB>).await
    }

    async fn list_webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks w ORDER BY w.created_at, w.id");
        fetch_all(&self.pool, &sql, &[], webhook::<DB>).await
    }

    async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = begin_endpoints(&self.pool).await?;
        let sql = "DELETE FROM webhooks WHERE id = $1";
        let gone = DB::execute(&mut tx, sql, &[id.into()])
            .await
            .map_err(store_error)?;
        if gone != 1 {
            tx.rollback().await.map_err(store_error)?;
            return Ok(false);
        }
        let sql = "DELETE FROM webhook_deliveries WHERE webhook_id = $1";
        DB::execute(&mut tx, sql, &[id.into()])
            .await
            .map_err(store_error)?;
        finish_endpoints(tx).await?;
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until: i64,
        limit: u32,
        per_endpoint: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // The oldest due deliveries, a few more than wanted (read through the partial index on
        // pending deliveries, so an idle outbox costs one short index probe)...
        let due = "SELECT d.id, d.webhook_id FROM webhook_deliveries d \
                   JOIN webhooks w ON w.id = d.webhook_id \
                   WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $1 \
                   AND w.enabled ORDER BY d.next_attempt_at LIMIT $2";
        let wanted = i64::from(limit).saturating_mul(4);
        let candidates = fetch_all(&self.pool, due, &[now_ms.into(), wanted.into()], |row| {
            Ok((DB::int(row, "id")?, DB::text(row, "webhook_id")?))
        })
        .await?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        // ... of which no endpoint gets more than its room: `per_endpoint` less what it has in
        // flight (leased) already, on any instance.
        let flying = "SELECT webhook_id, COUNT(*) AS n FROM webhook_deliveries \
                      WHERE status = 'pending' AND lease_until > $1 GROUP BY webhook_id";
        let in_flight = fetch_all(&self.pool, flying, &[now_ms.into()], |row| {
            Ok((DB::text(row, "webhook_id")?, DB::int(row, "n")?))
        })
        .await?;
        let mut room: std::collections::HashMap<String, i64> = in_flight
            .into_iter()
            .map(|(id, n)| (id, i64::from(per_endpoint) - n))
            .collect();
        let mut picked = Vec::new();
        for (id, webhook) in candidates {
            let left = room.entry(webhook).or_insert(i64::from(per_endpoint));
            if *left > 0 && picked.len() < limit as usize {
                *left -= 1;
                picked.push(id);
            }
        }
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        // PostgreSQL: rows another instance is claiming are skipped, not waited for, and rows
        // it claimed meanwhile fail the re-checked lease condition. SQLite has one writer at a
        // time, which serializes claims by itself.
        let skip_locked = if postgres::<DB>() {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let list = |first: usize| -> String {
            (first..first + picked.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let claim = format!(
            "UPDATE webhook_deliveries SET lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' \
                 AND lease_until <= $2 AND id IN ({}){skip_locked}) \
             RETURNING id",
            list(3)
        );
        let mut params: Vec<Param<'_>> = vec![lease_until.into(), now_ms.into()];
        params.extend(picked.iter().map(|id| Param::Int(*id)));
        let ids = fetch_all(&self.pool, &claim, &params, |row| DB::int(row, "id")).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (2..ids.len() + 2).map(|n| format!("${n}")).collect();
        let read = format!(
            "SELECT d.id AS delivery_id, d.attempts, {WEBHOOK_COLUMNS}, e.id AS event_id, e.at, \
             e.kind, e.client_id, e.username, e.ip, e.request_id, e.detail \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             JOIN events e ON e.seq = d.event_seq \
             WHERE d.lease_until = $1 AND d.id IN ({}) ORDER BY d.next_attempt_at",
            placeholders.join(", ")
        );
        let mut params: Vec<Param<'_>> = vec![lease_until.into()];
        params.extend(ids.iter().map(|id| Param::Int(*id)));
        fetch_all(&self.pool, &read, &params, claimed::<DB>).await
    }

    async fn finish_delivery(
        &self,
        id: i64,
        lease_until: i64,
        outcome: &AttemptOutcome,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = match outcome {
            AttemptOutcome::Delivered { status } => {
                let sql = "UPDATE webhook_deliveries SET status = 'delivered', last_status = $1, \
                           last_error = NULL, delivered_at = $2, lease_until = 0 \
                           WHERE id = $3 AND lease_until = $4 AND status = 'pending'";
                let params = [
                    (*status).into(),
                    now_ms.into(),
                    id.into(),
                    lease_until.into(),
                ];
                execute(&self.pool, sql, &params).await?
            }
            AttemptOutcome::Failed {
                status,
                error,
                next_attempt_at: Some(next),
            } => {
                let sql = "UPDATE webhook_deliveries SET last_status = $1, last_error = $2, \
                           next_attempt_at = $3, lease_until = 0 \
                           WHERE id = $4 AND lease_until = $5 AND status = 'pending'";
                let params = [
                    (*status).into(),
                    error.as_str().into(),
                    (*next).into(),
                    id.into(),
                    lease_until.into(),
                ];
                execute(&self.pool, sql, &params).await?
            }
            AttemptOutcome::Failed {
                status,
                error,
                next_attempt_at: None,
            } => {
                let sql = "UPDATE webhook_deliveries SET status = 'failed', last_status = $1, \
                           last_error = $2, lease_until = 0 \
                           WHERE id = $3 AND lease_until = $4 AND status = 'pending'";
                let params = [
                    (*status).into(),
                    error.as_str().into(),
                    id.into(),
                    lease_until.into(),
                ];
                execute(&self.pool, sql, &params).await?
            }
        };
        Ok(changed == 1)
    }

    async fn webhook_failing(&self, id: &str, now_ms: i64) -> Result<Option<i64>, StoreError> {
        let sql = "UPDATE webhooks SET failing_since = COALESCE(failing_since, $1) \
                   WHERE id = $2 RETURNING failing_since";
        let params = [now_ms.into(), id.into()];
        let since = fetch_optional(&self.pool, sql, &params, |row| {
            DB::opt_int(row, "failing_since")
        })
        .await?;
        Ok(since.flatten())
    }

    async fn webhook_healthy(&self, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE webhooks SET failing_since = NULL WHERE id = $1";
        execute(&self.pool, sql, &[id.into()]).await.map(drop)
    }

    async fn disable_webhook(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE webhooks SET enabled = FALSE, disabled_reason = $1 \
                   WHERE id = $2 AND enabled";
        let mut tx = begin_endpoints(&self.pool).await?;
        let params = [reason.into(), id.into()];
        let changed = DB::execute(&mut tx, sql, &params)
            .await
            .map_err(store_error)?;
        finish_endpoints(tx).await?;
        Ok(changed == 1)
    }

    async fn list_deliveries(
        &self,
        id: &str,
        status: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = "SELECT d.id, d.webhook_id, COALESCE(e.id, '') AS event_id, \
                   COALESCE(e.kind, '') AS kind, d.status, d.attempts, d.next_attempt_at, \
                   d.last_status, d.last_error, d.created_at, d.delivered_at \
                   FROM webhook_deliveries d LEFT JOIN events e ON e.seq = d.event_seq \
                   WHERE d.webhook_id = $1 AND ($2 IS NULL OR d.status = $2) \
                   ORDER BY d.id DESC LIMIT $3";
        let params = [id.into(), status.into(), i64::from(limit).into()];
        fetch_all(&self.pool, sql, &params, delivery::<DB>).await
    }

    async fn replay_deliveries(
        &self,
        id: &str,
        selection: &ReplaySelection,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let (condition, value) = match selection {
            ReplaySelection::One(delivery) => ("id = $3", *delivery),
            ReplaySelection::FailedSince(since) => {
                ("status = 'failed' AND created_at >= $3", *since)
            }
            ReplaySelection::AllSince(since) => ("created_at >= $3", *since),
        };
        let sql = format!(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, \
             next_attempt_at = $1, lease_until = 0, delivered_at = NULL \
             WHERE webhook_id = $2 AND {condition}"
        );
        execute(&self.pool, &sql, &[now_ms.into(), id.into(), value.into()]).await
    }

    async fn delete_deliveries_before(
        &self,
        before_ms: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError> {
        let sql = "DELETE FROM webhook_deliveries WHERE id IN \
                   (SELECT id FROM webhook_deliveries WHERE created_at < $1 LIMIT $2)";
        let params = [before_ms.into(), i64::from(batch_size).into()];
        execute(&self.pool, sql, &params).await
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let sql = "SELECT \
                   (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending') AS pending, \
                   (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed') AS failed";
        let stats = fetch_optional(&self.pool, sql, &[], |row| {
            Ok(OutboxStats {
                pending: DB::int(row, "pending")?,
                failed: DB::int(row, "failed")?,
            })
        })
        .await?;
        Ok(stats.unwrap_or_default())
    }
}

//! [`EventStore`] on SQL: the `events` table (the audit trail), listed newest first by its
//! insertion sequence. Storing an event is on the hot path (see [`HotPath::insert_event`]).

use async_trait::async_trait;
use gatehouse_core::store::{Event, EventFilter, EventStore, StoreError};

use super::{HotPath, SqlStore};
use crate::backend::Backend;
use crate::store_error;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> EventStore for SqlStore<DB, H> {
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        self.hot.insert_event(&self.pool, event).await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = DB::fetch_all(
            &mut conn,
            "SELECT id, at, kind, client_id, username, ip, request_id, detail \
             FROM events WHERE ($1 IS NULL OR username = $1) AND at >= $2 \
             ORDER BY seq DESC LIMIT $3",
            &[
                filter.user.as_deref().into(),
                filter.since.unwrap_or(i64::MIN).into(),
                i64::from(filter.limit).into(),
            ],
        )
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(event_from_row::<DB>)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(store_error)
    }

    async fn delete_events_before(&self, before: i64, batch_size: u32) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < $1 LIMIT $2)";
        let params = [before.into(), i64::from(batch_size).into()];
        let done = DB::execute(&mut conn, sql, &params).await;
        done.map_err(store_error)
    }
}

/// Stores `event` on `conn` (the pool's, or inside a transaction).
pub(crate) async fn insert_event<DB: Backend>(
    conn: &mut DB::Connection,
    event: &Event,
) -> Result<(), sqlx::Error> {
    let detail = event.detail.to_string();
    DB::execute(
        conn,
        "INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            (&event.id).into(),
            event.at.into(),
            (&event.kind).into(),
            event.client_id.as_deref().into(),
            event.user.as_deref().into(),
            event.ip.as_deref().into(),
            event.request_id.as_deref().into(),
            detail.as_str().into(),
        ],
    )
    .await?;
    Ok(())
}

fn event_from_row<DB: Backend>(row: &DB::Row) -> Result<Event, sqlx::Error> {
    let detail = DB::text(row, "detail")?;
    Ok(Event {
        id: DB::text(row, "id")?,
        at: DB::int(row, "at")?,
        kind: DB::text(row, "kind")?,
        client_id: DB::opt_text(row, "client_id")?,
        user: DB::opt_text(row, "username")?,
        ip: DB::opt_text(row, "ip")?,
        request_id: DB::opt_text(row, "request_id")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
    })
}

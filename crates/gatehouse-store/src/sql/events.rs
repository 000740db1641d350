//! [`EventStore`] on SQL: the `events` table (the audit trail), listed newest first by its
//! insertion sequence. Storing an event is on the hot path (see [`HotPath::insert_event`]).

use async_trait::async_trait;
use gatehouse_core::store::{Event, EventFilter, EventStore, StoreError};

use super::{execute, fetch_all, hot, insert, rows, HotPath, SqlStore};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> EventStore for SqlStore<DB, H> {
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        self.hot.insert_event(event).await
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let sql = "SELECT id, at, kind, client_id, username, ip, request_id, detail \
                   FROM events WHERE ($1 IS NULL OR username = $1) AND at >= $2 \
                   ORDER BY seq DESC LIMIT $3";
        let params = [
            filter.user.as_deref().into(),
            filter.since.unwrap_or(i64::MIN).into(),
            i64::from(filter.limit).into(),
        ];
        fetch_all(&self.pool, sql, &params, rows::event::<DB>).await
    }

    async fn delete_events_before(&self, before: i64, batch_size: u32) -> Result<u64, StoreError> {
        let sql = "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < $1 LIMIT $2)";
        let params = [before.into(), i64::from(batch_size).into()];
        execute(&self.pool, sql, &params).await
    }
}

/// Stores `event` on `conn` (the pool's, or inside a transaction).
pub(crate) async fn insert_event<DB: Backend>(
    conn: &mut DB::Connection,
    event: &Event,
) -> Result<(), sqlx::Error> {
    let detail = event.detail.to_string();
    insert::<DB, 8>(conn, hot::event(event, &detail)).await
}

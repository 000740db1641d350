//! [`ClientStore`] on SQL: the `clients` table. A client's settings are one JSON document.

use async_trait::async_trait;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{ClientStore, StoreError};

use super::{corrupt, one_row, HotPath, SqlStore};
use crate::backend::Backend;
use crate::store_error;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> ClientStore for SqlStore<DB, H> {
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.hot.find_client(&self.pool, id).await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = DB::fetch_all(
            &mut conn,
            "SELECT id, secret_hash, secret_sealed, settings FROM clients ORDER BY id",
            &[],
        )
        .await
        .map_err(store_error)?;
        rows.iter().map(client_from_row::<DB>).collect()
    }

    async fn insert_client(&self, client: &Client, now: i64) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&client.settings).map_err(corrupt)?;
        let mut conn = self.conn().await?;
        DB::execute(
            &mut conn,
            "INSERT INTO clients (id, secret_hash, secret_sealed, settings, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                client.id.as_str().into(),
                client.secret_hash.as_deref().into(),
                client.secret_sealed.as_deref().into(),
                settings.as_str().into(),
                now.into(),
            ],
        )
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn delete_client(&self, id: &ClientId) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let sql = "DELETE FROM clients WHERE id = $1";
        let done = DB::execute(&mut conn, sql, &[id.as_str().into()]).await;
        one_row(done.map_err(store_error)?)
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&client.settings).map_err(corrupt)?;
        let mut conn = self.conn().await?;
        let done = DB::execute(
            &mut conn,
            "UPDATE clients SET secret_hash = $1, settings = $2, secret_sealed = $4 \
             WHERE id = $3",
            &[
                client.secret_hash.as_deref().into(),
                settings.as_str().into(),
                client.id.as_str().into(),
                client.secret_sealed.as_deref().into(),
            ],
        )
        .await;
        one_row(done.map_err(store_error)?)
    }
}

/// The client in a row of `SELECT id, secret_hash, secret_sealed, settings FROM clients`.
pub(crate) fn client_from_row<DB: Backend>(row: &DB::Row) -> Result<Client, StoreError> {
    let id = DB::text(row, "id").map_err(store_error)?;
    let settings = DB::text(row, "settings").map_err(store_error)?;
    Ok(Client {
        id: ClientId::parse(&id).map_err(corrupt)?,
        secret_hash: DB::opt_text(row, "secret_hash").map_err(store_error)?,
        secret_sealed: DB::opt_bytes(row, "secret_sealed").map_err(store_error)?,
        settings: serde_json::from_str(&settings).map_err(corrupt)?,
    })
}

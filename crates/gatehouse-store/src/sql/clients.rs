//! [`ClientStore`] on SQL: the `clients` table. A client's settings are one JSON document.

use async_trait::async_trait;
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{ClientStore, StoreError};

use super::{
    corrupt, delete_with_sessions, execute, fetch_all, hot, one_row, rows, HotPath, SqlStore,
};
use crate::backend::Backend;
use crate::hot_cache::Change;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> ClientStore for SqlStore<DB, H> {
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.hot.find_client(id).await
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = "SELECT id, secret_hash, secret_sealed, settings FROM clients ORDER BY id";
        fetch_all(&self.pool, sql, &[], rows::client::<DB>).await
    }

    async fn insert_client(&self, client: &Client, now: i64) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&client.settings).map_err(corrupt)?;
        let sql = "INSERT INTO clients (id, secret_hash, secret_sealed, settings, created_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        let params = [
            client.id.as_str().into(),
            client.secret_hash.as_deref().into(),
            client.secret_sealed.as_deref().into(),
            settings.as_str().into(),
            now.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<u64, StoreError> {
        // The families take their refresh tokens with them (ON DELETE CASCADE); their access
        // tokens die with them, as every read of one joins its family. Logins still waiting
        // for a second factor or holding an /auth/authorize code go too, so that a client
        // re-created with the same id can complete none of them, and so do its client tokens
        // (client credentials grant), which have no family to die with.
        let client = "DELETE FROM clients WHERE id = $1 RETURNING id";
        let dependents = [
            "DELETE FROM token_families WHERE client_id = $1",
            "DELETE FROM mfa_tokens WHERE client_id = $1",
            "DELETE FROM password_codes WHERE client_id = $1",
            hot::DELETE_CLIENT_TOKENS,
        ];
        let id = [id.as_str().into()];
        let removed = delete_with_sessions(&self.pool, (client, &id), &dependents).await;
        self.hot.changed(Change::Clients);
        removed
    }

    async fn update_client(&self, client: &Client) -> Result<(), StoreError> {
        let settings = serde_json::to_string(&client.settings).map_err(corrupt)?;
        let sql = "UPDATE clients SET secret_hash = $1, settings = $2, secret_sealed = $4 \
                   WHERE id = $3";
        let params = [
            client.secret_hash.as_deref().into(),
            settings.as_str().into(),
            client.id.as_str().into(),
            client.secret_sealed.as_deref().into(),
        ];
        let updated = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Clients);
        one_row(updated?)
    }
}

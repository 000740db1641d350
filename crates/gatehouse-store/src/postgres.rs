//! PostgreSQL, for many gatehouse instances on one database.

use gatehouse_core::audit::Event;
use gatehouse_core::store::{AccessTokenRecord, RefreshTokenRecord, StoreError, TokenFamily};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::store_error;

/// The store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
}

impl PostgresStore {
    /// Connects to and migrates the database at `url`. sqlx's migrator takes an advisory lock,
    /// so instances starting together do not race.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(store_error)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(PostgresStore { pool })
    }
}

/// The writes that SQLite sends through its group-commit writer: on PostgreSQL each runs in its
/// own transaction on the pool. Concurrent commits already share WAL flushes in PostgreSQL (its
/// own group commit), and row locks keep rotation exactly-once across instances.
impl PostgresStore {
    async fn write_issued_tokens(
        &self,
        family: Option<&TokenFamily>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        self.record_issued_tokens_sql(family, refresh, access)
            .await
            .map_err(store_error)
    }

    async fn write_rotation(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        event: Option<&Event>,
    ) -> Result<bool, StoreError> {
        self.rotate_refresh_token_sql(old_hash, now, successor, access, event)
            .await
            .map_err(store_error)
    }

    async fn write_family_revocation(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        self.revoke_token_family_sql(family_id, now)
            .await
            .map_err(store_error)
    }

    async fn write_access_revocation(&self, id: &str) -> Result<(), StoreError> {
        self.revoke_access_token_sql(id).await.map_err(store_error)
    }

    async fn write_event(&self, event: &Event) -> Result<(), StoreError> {
        self.insert_event_sql(event).await.map_err(store_error)
    }
}

/// The hot-path reads: the same SQL as everything else on the pool.
impl PostgresStore {
    async fn read_client(
        &self,
        id: &gatehouse_core::client::ClientId,
    ) -> Result<Option<gatehouse_core::client::Client>, StoreError> {
        self.find_client_sql(id).await
    }

    async fn read_user_by_id(
        &self,
        id: &str,
    ) -> Result<Option<gatehouse_core::user::User>, StoreError> {
        self.find_user_by_id_sql(id).await
    }

    async fn read_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        self.find_refresh_token_sql(token_hash)
            .await
            .map_err(store_error)
    }

    async fn read_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError> {
        self.find_access_token_sql(id).await.map_err(store_error)
    }

    async fn read_access_token_with_username(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, String)>, StoreError> {
        self.find_access_token_with_username_sql(id)
            .await
            .map_err(store_error)
    }
}

crate::sql::impl_store!(PostgresStore, sqlx::Postgres);
crate::sql_mfa::impl_mfa_store!(PostgresStore, sqlx::Postgres);
crate::sql_tokens::impl_token_queries!(PostgresStore, sqlx::Postgres);
crate::sql_security::impl_security_queries!(PostgresStore, sqlx::Postgres);

//! PostgreSQL, for many gatehouse instances on one database.

use gatehouse_core::store::StoreError;
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

crate::sql::impl_store!(PostgresStore, sqlx::Postgres);
crate::sql_mfa::impl_mfa_store!(PostgresStore, sqlx::Postgres);
crate::sql_tokens::impl_token_queries!(PostgresStore, sqlx::Postgres);
crate::sql_security::impl_security_queries!(PostgresStore, sqlx::Postgres);

//! gatehouse-store: the [`Store`] trait of gatehouse-core on SQLite (embedded, the default) and
//! PostgreSQL (for many instances). Both run the same SQL, written once in the private `sql`
//! module with `$n` placeholders that both databases accept; each has its own migrations folder.

pub mod postgres;
mod sql;
mod sql_mfa;
mod sql_security;
mod sql_tokens;
pub mod sqlite;
#[cfg(feature = "test-util")]
pub mod testing;

use std::sync::Arc;

use gatehouse_core::store::{Store, StoreError};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Opens the database at `url` (`sqlite://…` or `postgres://…`), creating and migrating it.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::Unavailable(
            format!(
                "unsupported database URL scheme: use sqlite:// or postgres:// (got {})",
                scheme(url)
            )
            .into(),
        ))
    }
}

fn scheme(url: &str) -> &str {
    url.split(':').next().unwrap_or("")
}

/// Converts a sqlx error into a [`StoreError`].
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Unavailable(Box::new(err)),
    }
}

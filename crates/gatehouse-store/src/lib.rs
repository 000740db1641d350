//! gatehouse-store: the storage traits of gatehouse-core (`gatehouse_core::store`) on SQLite
//! (embedded, the default) and PostgreSQL (for many instances).
//!
//! - [`SqlStore`] (`sql/`, one file per capability) implements every trait once for both
//!   databases, over the private `backend::Backend` trait (sqlx's bounds, spelled once): the
//!   SQL is written once, with `$n` placeholders, `ON CONFLICT` and `RETURNING`, which both
//!   databases accept.
//! - The request hot path goes through [`HotPath`], one implementation per database:
//!   [`sqlite::Direct`] (rusqlite reads inline, a group-commit writer thread) and
//!   [`postgres::OnPool`] (the same pool, one transaction per write).
//! - [`SqliteStore`] and [`PostgresStore`] connect and migrate (one migrations folder each).
//! - On PostgreSQL, a serving instance keeps the hot rows it reads most in memory
//!   ([`hot_cache`]), kept in step across instances by change notices.

mod backend;
pub mod hot_cache;
pub mod postgres;
mod sql;
pub mod sqlite;
#[cfg(feature = "test-util")]
pub mod testing;

use std::sync::Arc;

use gatehouse_core::store::{Store, StoreError};

pub use postgres::PostgresStore;
pub use sql::{HotPath, Rotation, SqlStore};
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

/// Like [`connect`], for a serving instance: on PostgreSQL it also starts listening for change
/// notices (on the current tokio runtime, for as long as it runs), so that the hot rows it
/// reads most are served from memory ([`hot_cache`]). The CLI's short-lived commands use
/// [`connect`], which keeps no memory.
pub async fn connect_serving(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let store = PostgresStore::connect(url).await?;
        tokio::spawn(hot_cache::listen(store.pool.clone(), store.hot.cache()));
        Ok(Arc::new(store))
    } else {
        connect(url).await
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

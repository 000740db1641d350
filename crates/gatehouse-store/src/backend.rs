//! [`Backend`]: what the shared SQL needs of a sqlx database, with sqlx's trait bounds spelled
//! once, in the blanket implementation below, so that the SQL of `sql/` is written once as
//! plain generic code over `DB: Backend` for SQLite and PostgreSQL (both accept `$n`
//! placeholders, `ON CONFLICT` and `RETURNING`). Values are bound as [`Param`]s and columns read
//! by name through typed getters.

use std::future::Future;
use std::pin::Pin;

use gatehouse_core::store::StoreError;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use crate::store_error;

/// A boxed, sendable future, as sqlx's executors return them.
pub(crate) type Fetch<'c, T> = Pin<Box<dyn Future<Output = Result<T, sqlx::Error>> + Send + 'c>>;

/// One value bound to a `$n` placeholder.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// Text or NULL.
    Text(Option<&'a str>),
    /// Bytes or NULL.
    Bytes(Option<&'a [u8]>),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(v: Option<i64>) -> Self {
        Param::OptInt(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<Option<&'a [u8]>> for Param<'a> {
    fn from(v: Option<&'a [u8]>) -> Self {
        Param::Bytes(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(Some(v))
    }
}

/// How many rows a statement changed; sqlx has no trait for it.
pub(crate) trait RowsAffected {
    /// Rows inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// A sqlx database the shared SQL runs on: statements on one connection (from the pool, or the
/// one a transaction holds), and the column types gatehouse stores.
pub(crate) trait Backend: Database {
    /// `sql` with `params` bound in order.
    fn query<'q>(sql: &'q str, params: &[Param<'q>]) -> Query<'q, Self, Self::Arguments<'q>>;
    /// Runs `sql` with `params`; the number of rows it changed.
    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c;
    /// Runs `sql` with `params`; its first row, if any.
    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> Fetch<'c, Option<Self::Row>>;
    /// Runs `sql` with `params`; all its rows.
    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> Fetch<'c, Vec<Self::Row>>;

    /// A text column.
    fn text(row: &Self::Row, column: &str) -> Result<String, StoreError>;
    /// A nullable text column.
    fn opt_text(row: &Self::Row, column: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(row: &Self::Row, column: &str) -> Result<i64, StoreError>;
    /// A nullable integer column.
    fn opt_int(row: &Self::Row, column: &str) -> Result<Option<i64>, StoreError>;
    /// A boolean column.
    fn boolean(row: &Self::Row, column: &str) -> Result<bool, StoreError>;
    /// A bytes column.
    fn bytes(row: &Self::Row, column: &str) -> Result<Vec<u8>, StoreError>;
    /// A nullable bytes column.
    fn opt_bytes(row: &Self::Row, column: &str) -> Result<Option<Vec<u8>>, StoreError>;
}

impl<DB> Backend for DB
where
    DB: Database,
    DB::QueryResult: RowsAffected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q, 'r> i64: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'q, 'r> bool: Encode<'q, DB> + Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    fn query<'q>(sql: &'q str, params: &[Param<'q>]) -> Query<'q, Self, Self::Arguments<'q>> {
        params
            .iter()
            .fold(sqlx::query(sql), |query, param| match *param {
                Param::Int(v) => query.bind(v),
                Param::OptInt(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
                Param::Text(v) => query.bind(v),
                Param::Bytes(v) => query.bind(v),
            })
    }

    fn execute<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'c {
        let done = conn.execute(Self::query(sql, params));
        async move { Ok(done.await?.rows_affected()) }
    }

    fn fetch_optional<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> Fetch<'c, Option<Self::Row>> {
        conn.fetch_optional(Self::query(sql, params))
    }

    fn fetch_all<'c>(
        conn: &'c mut Self::Connection,
        sql: &'c str,
        params: &[Param<'c>],
    ) -> Fetch<'c, Vec<Self::Row>> {
        conn.fetch_all(Self::query(sql, params))
    }

    fn text(row: &Self::Row, column: &str) -> Result<String, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn opt_text(row: &Self::Row, column: &str) -> Result<Option<String>, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn int(row: &Self::Row, column: &str) -> Result<i64, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn opt_int(row: &Self::Row, column: &str) -> Result<Option<i64>, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn boolean(row: &Self::Row, column: &str) -> Result<bool, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn bytes(row: &Self::Row, column: &str) -> Result<Vec<u8>, StoreError> {
        row.try_get(column).map_err(store_error)
    }

    fn opt_bytes(row: &Self::Row, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        row.try_get(column).map_err(store_error)
    }
}

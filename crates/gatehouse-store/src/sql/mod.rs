//! [`SqlStore`]: one store on a sqlx pool, implementing every capability trait of
//! [`gatehouse_core::store`] once for both databases (one file per capability, the SQL written
//! once over `backend::Backend`). The few operations on the request hot path go through [`HotPath`],
//! which each back end implements its own way: SQLite inline on rusqlite and through its
//! group-commit writer (`sqlite/`), PostgreSQL on the same pool (`postgres.rs`).

mod clients;
mod codes;
mod events;
pub(crate) mod guard;
pub(crate) mod hot;
mod keys;
mod maintenance;
mod mfa;
pub(crate) mod rows;
mod sessions;
mod tokens;
mod users;
mod webhooks;

use std::future::Future;

use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{
    AccessTokenRecord, Event, NewLogin, Recorded, RefreshTokenRecord, StoreError, TokenFamily,
    TokenOwner,
};
use gatehouse_core::user::User;
use sqlx::Pool;

use crate::backend::{Backend, Param};
use crate::hot_cache::Change;
use crate::store_error;

pub(crate) use events::insert_event;

/// A store on one database: the shared SQL on `pool`, the hot path through `hot`.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: sqlx::Database, H> {
    pub(crate) pool: Pool<DB>,
    pub(crate) hot: H,
}

/// Runs one statement on a connection from `pool`; the number of rows it changed.
pub(crate) async fn execute<DB: Backend>(
    pool: &Pool<DB>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, StoreError> {
    let mut conn = pool.acquire().await.map_err(store_error)?;
    DB::execute(&mut conn, sql, params)
        .await
        .map_err(store_error)
}

/// Runs one insert of the hot path on `conn`.
pub(crate) async fn insert<DB: Backend, const N: usize>(
    conn: &mut DB::Connection,
    insert: hot::Insert<'_, N>,
) -> Result<(), sqlx::Error> {
    DB::execute(conn, insert.sql, &insert.params)
        .await
        .map(drop)
}

/// Runs `first`, and `then` only when `first` changed exactly one row, in one transaction;
/// `false`, with nothing changed, when it did not.
pub(crate) async fn when_one_changes<DB: Backend>(
    pool: &Pool<DB>,
    first: (&str, &[Param<'_>]),
    then: (&str, &[Param<'_>]),
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let changed = DB::execute(&mut tx, first.0, first.1).await;
    if changed.map_err(store_error)? != 1 {
        tx.rollback().await.map_err(store_error)?;
        return Ok(false);
    }
    DB::execute(&mut tx, then.0, then.1)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    Ok(true)
}

/// Removes a record (`record`, which returns the `id` of the row it deleted; none is
/// `NotFound`) and then what depended on it, each of `dependents` by that id (its `$1`), the
/// first removing its sessions, in one transaction; the number of sessions removed. The record goes first: its row lock orders the
/// removal after any login that locked the row (PostgreSQL's `record_login`), whose session the
/// second statement then sees, and every later login finds the record gone.
pub(crate) async fn delete_with_sessions<DB: Backend>(
    pool: &Pool<DB>,
    record: (&str, &[Param<'_>]),
    dependents: &[&str],
) -> Result<u64, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    let deleted = DB::fetch_optional(&mut tx, record.0, record.1).await;
    let Some(deleted) = deleted.map_err(store_error)? else {
        tx.rollback().await.map_err(store_error)?;
        return Err(StoreError::NotFound);
    };
    let id = DB::text(&deleted, "id")?;
    let mut removed = None;
    for sql in dependents {
        let rows = DB::execute(&mut tx, sql, &[id.as_str().into()]).await;
        removed.get_or_insert(rows.map_err(store_error)?);
    }
    let removed = removed.unwrap_or(0);
    tx.commit().await.map_err(store_error)?;
    Ok(removed)
}

/// Runs one query on a connection from `pool`; its first row, read by `read`.
pub(crate) async fn fetch_optional<DB: Backend, T>(
    pool: &Pool<DB>,
    sql: &str,
    params: &[Param<'_>],
    read: fn(&DB::Row) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let mut conn = pool.acquire().await.map_err(store_error)?;
    let row = DB::fetch_optional(&mut conn, sql, params).await;
    row.map_err(store_error)?.as_ref().map(read).transpose()
}

/// Runs one query on a connection from `pool`; all its rows, each read by `read`.
pub(crate) async fn fetch_all<DB: Backend, T>(
    pool: &Pool<DB>,
    sql: &str,
    params: &[Param<'_>],
    read: fn(&DB::Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut conn = pool.acquire().await.map_err(store_error)?;
    let rows = DB::fetch_all(&mut conn, sql, params).await;
    rows.map_err(store_error)?.iter().map(read).collect()
}

/// The operations of the request hot path (a client, a user by id, the token records, audit
/// events), which a back end for database `DB` runs its own way, on connections it holds itself.
/// Each has the contract of the [`gatehouse_core::store`] method of the same name.
pub trait HotPath<DB: sqlx::Database>: Send + Sync + 'static {
    /// [`ClientStore::find_client`](gatehouse_core::store::ClientStore::find_client).
    fn find_client(
        &self,
        id: &ClientId,
    ) -> impl Future<Output = Result<Option<Client>, StoreError>> + Send;
    /// [`UserStore::find_user_by_id`](gatehouse_core::store::UserStore::find_user_by_id).
    fn find_user_by_id(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// [`GuardStore::login_attempts`](gatehouse_core::store::GuardStore::login_attempts), `None`
    /// for an account without a row.
    fn login_attempts(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<AttemptState>, StoreError>> + Send;
    /// [`TokenStore::record_login`](gatehouse_core::store::TokenStore::record_login).
    fn record_login(
        &self,
        login: NewLogin<'_>,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
    /// [`TokenStore::find_refresh_token`](gatehouse_core::store::TokenStore::find_refresh_token).
    fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError>> + Send;
    /// [`TokenStore::rotate_refresh_token`](gatehouse_core::store::TokenStore::rotate_refresh_token),
    /// storing `event` with the rotation when there is one.
    fn rotate_refresh_token(
        &self,
        rotation: Rotation<'_>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// [`TokenStore::revoke_token_family`](gatehouse_core::store::TokenStore::revoke_token_family).
    fn revoke_token_family(
        &self,
        family_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// [`TokenStore::record_client_token`](gatehouse_core::store::TokenStore::record_client_token).
    fn record_client_token(
        &self,
        access: &AccessTokenRecord,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// [`TokenStore::find_access_token`](gatehouse_core::store::TokenStore::find_access_token),
    /// with its user's username, attributes and roles (`None` when the user is gone), in one
    /// query.
    fn find_access_token(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError>> + Send;
    /// [`TokenStore::revoke_access_token`](gatehouse_core::store::TokenStore::revoke_access_token).
    fn revoke_access_token(&self, id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// [`EventStore::insert_event`](gatehouse_core::store::EventStore::insert_event).
    fn insert_event(&self, event: &Event) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Told, after a write that updated or removed rows other instances may hold in memory,
    /// what it changed (see [`crate::hot_cache`]); nothing to do for a back end that keeps none.
    fn changed(&self, change: Change) {
        let _ = change;
    }
}

/// One refresh-token rotation: the arguments of
/// [`TokenStore::rotate_refresh_token_recorded`](gatehouse_core::store::TokenStore::rotate_refresh_token_recorded),
/// the event optional.
#[derive(Debug, Clone, Copy)]
pub struct Rotation<'a> {
    /// The hash of the token presented.
    pub old_hash: &'a str,
    /// The time of the rotation.
    pub now: i64,
    /// The token replacing it.
    pub successor: &'a RefreshTokenRecord,
    /// The access token issued with it.
    pub access: &'a AccessTokenRecord,
    /// The audit event stored with the rotation, if any.
    pub event: Option<&'a Event>,
}

impl<'a> Rotation<'a> {
    /// The rotation of `old_hash` into `successor` and `access` at `now`, with `event`.
    pub fn new(
        old_hash: &'a str,
        now: i64,
        successor: &'a RefreshTokenRecord,
        access: &'a AccessTokenRecord,
        event: Option<&'a Event>,
    ) -> Self {
        Rotation {
            old_hash,
            now,
            successor,
            access,
            event,
        }
    }
}

/// `NotFound` unless a row changed.
pub(crate) fn one_row(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A value that could not be decoded from its column.
pub(crate) fn corrupt(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}

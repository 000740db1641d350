//! The SQLite hot path on rusqlite, beside sqlx: the connections and statements behind
//! [`super::Direct`], SQLite's [`HotPath`](crate::HotPath), the one way these operations run.
//! sqlx runs every SQLite statement on a worker thread of its connection and hands each one over
//! through a channel: two thread switches per statement, and a profile of the refresh grant
//! showed those switches (kernel scheduler time on the async workers and sqlx's threads) as more
//! than half of the server's CPU. Here:
//!
//! - the hot reads (a client, a user by id, a refresh token with its family, an access token)
//!   run inline on the calling task, on a connection from a small pool. They are point lookups
//!   by primary key on a WAL database, where readers never wait for the writer: microseconds,
//!   less than one hand-off costs. `busy_timeout` stays set for the rare moments SQLite itself
//!   makes a reader wait (WAL recovery after a crash).
//! - the group-commit writer ([`super::writer`]) owns one connection on a thread of its own, so
//!   a batch of any size costs one wake-up in and one per answer out.
//!
//! Everything else (admin, migrations, the lockout counters, MFA, events listing) runs on the
//! sqlx pool, through the shared SQL of `sql/`.
//! Statements are prepared once per connection and cached.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use gatehouse_core::claims::{Attributes, Roles};
use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::{
    AccessTokenRecord, Event, RefreshTokenRecord, StoreError, TokenFamily, TokenOwner,
};
use gatehouse_core::user::{User, Username};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, ToSql};

use crate::backend::Param;
use crate::sql::{hot, rows};

/// How long a statement waits for a lock before failing, as on the sqlx connections.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle read connections kept; more are opened under load and closed when returned.
const IDLE_READERS: usize = 8;

/// Opens a connection to the database file with the store's settings.
pub(crate) fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    // Read-write even for readers: a reader of a WAL file must be able to write its -shm index;
    // `query_only` keeps it from writing the database.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    }
    // The file is in WAL mode already (sqlx set it when it created or opened the file).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Converts a rusqlite error into a [`StoreError`], as [`crate::store_error`] does for sqlx.
pub(crate) fn direct_error(err: rusqlite::Error) -> StoreError {
    use rusqlite::ffi;
    match &err {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict
        }
        _ => StoreError::Unavailable(Box::new(err)),
    }
}

/// Read connections to one database file, lent to one read at a time.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of the file at `path`; the first connection is opened now, so a bad path fails
    /// at start-up.
    pub(crate) fn new(path: &Path) -> Result<Self, StoreError> {
        let first = open(path, true).map_err(direct_error)?;
        Ok(Readers {
            path: path.to_owned(),
            idle: Mutex::new(vec![first]),
        })
    }

    /// Runs `read` on an idle connection (or a new one), inline.
    fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = match self.idle.lock() {
            Ok(mut idle) => idle.pop(),
            Err(poisoned) => poisoned.into_inner().pop(),
        };
        let conn = match conn {
            Some(conn) => conn,
            None => open(&self.path, true).map_err(direct_error)?,
        };
        let result = read(&conn).map_err(direct_error);
        let mut idle = match self.idle.lock() {
            Ok(idle) => idle,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// The row `sql` selects for `key` (its one `?1`), read by `read`, inline.
    fn row<T>(
        &self,
        sql: &str,
        key: &str,
        read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        self.with(|c| c.prepare_cached(sql)?.query_row([key], read).optional())
    }

    pub(crate) fn client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let row = self.row(hot::FIND_CLIENT, id.as_str(), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<Vec<u8>>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let Some((id, secret_hash, secret_sealed, settings)) = row else {
            return Ok(None);
        };
        Ok(Some(Client {
            id: ClientId::parse(&id).map_err(|e| StoreError::Unavailable(Box::new(e)))?,
            secret_hash,
            secret_sealed,
            settings: serde_json::from_str(&settings)
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?,
        }))
    }

    pub(crate) fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.row(hot::FIND_USER_BY_ID, id, |r| {
            let scopes: Option<String> = r.get(5)?;
            Ok(User {
                id: r.get(0)?,
                username: Username::from_trusted(r.get(1)?),
                password_hash: r.get(2)?,
                email: r.get(3)?,
                phone: r.get(4)?,
                scopes: scopes
                    .map(|s| ScopeSet::from_trusted(s.split(' ').filter(|t| !t.is_empty()))),
                created_at: r.get(6)?,
                active: r.get(7)?,
                session_epoch: r.get(8)?,
                password_changed_at: r.get(9)?,
                password_change_required: r.get(10)?,
                attributes: json_column(r, 11, Attributes::from_stored)?,
                roles: json_column(r, 12, Roles::from_stored)?,
                store: r.get(13)?,
            })
        })
    }

    pub(crate) fn login_attempts(&self, key: &str) -> Result<Option<AttemptState>, StoreError> {
        self.row(hot::LOGIN_ATTEMPTS, key, |r| {
            Ok(AttemptState {
                failures: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                last_failure: r.get(1)?,
                locked_until: r.get(2)?,
                version: r.get(3)?,
            })
        })
    }

    pub(crate) fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        self.row(hot::FIND_REFRESH_TOKEN, token_hash, |r| {
            let family_id: String = r.get(1)?;
            Ok((
                RefreshTokenRecord {
                    token_hash: r.get(0)?,
                    family_id: family_id.clone(),
                    parent_hash: r.get(2)?,
                    scope: r.get(3)?,
                    created_at: r.get(4)?,
                    idle_expires_at: r.get(5)?,
                    used_at: r.get(6)?,
                },
                TokenFamily {
                    id: family_id,
                    client_id: r.get(7)?,
                    user_id: r.get(8)?,
                    auth_time: r.get(9)?,
                    created_at: r.get(10)?,
                    expires_at: r.get(11)?,
                    revoked_at: r.get(12)?,
                    user_epoch: r.get(13)?,
                    amr: rows::split_amr(&r.get::<_, String>(14)?),
                    authenticator_id: r.get(15)?,
                    scope: r.get(16)?,
                    ip: r.get(17)?,
                    user_agent: r.get(18)?,
                },
            ))
        })
    }

    /// The access token `id` and its user's username (`None` when the user is gone).
    pub(crate) fn access_token(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError> {
        self.row(hot::FIND_ACCESS_TOKEN, id, |r| {
            let owner = match r.get::<_, Option<String>>(16)? {
                Some(username) => Some(TokenOwner {
                    username,
                    attributes: json_column(r, 17, Attributes::from_stored)?,
                    roles: json_column(r, 18, Roles::from_stored)?,
                }),
                None => None,
            };
            Ok((access_from_row(r)?, owner))
        })
    }
}

/// The columns of [`hot::FIND_ACCESS_TOKEN`] but the last, by index.
fn access_from_row(r: &Row<'_>) -> rusqlite::Result<AccessTokenRecord> {
    let family_id: Option<String> = r.get(1)?;
    let user_id: String = r.get(3)?;
    let revoked = rows::access_token_revoked(&rows::AccessTokenLife {
        revoked: r.get(8)?,
        client_token: family_id.is_none() && user_id.is_empty(),
        has_family: family_id.is_some(),
        family_found: r.get(10)?,
        family_revoked: r.get::<_, Option<i64>>(9)?.is_some(),
        user_epoch: r.get(11)?,
        user_found: r.get(12)?,
        active: r.get(13)?,
        session_epoch: r.get(14)?,
    });
    Ok(AccessTokenRecord {
        id: r.get(0)?,
        family_id,
        client_id: r.get(2)?,
        user_id,
        scope: r.get(4)?,
        auth_time: r.get(5)?,
        issued_at: r.get(6)?,
        expires_at: r.get(7)?,
        revoked,
        amr: rows::split_amr(&r.get::<_, String>(15)?),
    })
}

/// The JSON text column `idx`, read by `parse` (attributes, roles).
fn json_column<T>(
    r: &Row<'_>,
    idx: usize,
    parse: fn(&str) -> Result<T, serde_json::Error>,
) -> rusqlite::Result<T> {
    let text: String = r.get(idx)?;
    parse(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Runs one insert of the hot path on the writer's connection, prepared once per connection.
pub(crate) fn insert<const N: usize>(
    c: &Connection,
    insert: hot::Insert<'_, N>,
) -> rusqlite::Result<()> {
    let params = rusqlite::params_from_iter(insert.params);
    c.prepare_cached(insert.sql)?.execute(params).map(drop)
}

/// Runs one insert of the hot path that may change no row; the number of rows it changed.
pub(crate) fn insert_counted<const N: usize>(
    c: &Connection,
    insert: hot::Insert<'_, N>,
) -> rusqlite::Result<usize> {
    let params = rusqlite::params_from_iter(insert.params);
    c.prepare_cached(insert.sql)?.execute(params)
}

/// Stores an audit event on the writer's connection.
pub(crate) fn insert_event(c: &Connection, e: &Event) -> rusqlite::Result<()> {
    let detail = e.detail.to_string();
    insert(c, hot::event(e, &detail))
}

/// A value bound as rusqlite binds the same Rust value.
impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Int(v) | Param::OptInt(Some(v)) => ToSqlOutput::Owned(Value::Integer(v)),
            Param::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(v))),
            Param::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Param::OptInt(None) | Param::Text(None) | Param::Bytes(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

//! SQLite: WAL mode, `synchronous = FULL` (a commit is on disk before its answer is sent, and
//! survives power loss, not just a crash of the process: with `NORMAL` in WAL mode the last
//! commits can be lost on power failure), foreign keys on, a busy timeout so writers queue
//! instead of failing.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{
    AccessTokenRecord, Event, NewLogin, Recorded, RefreshTokenRecord, StoreError, TokenFamily,
    TokenOwner,
};
use gatehouse_core::user::User;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Sqlite;

use crate::sql::{HotPath, Rotation, SqlStore};
use crate::store_error;

mod direct;
mod writer;

use writer::{Applied, Write};

/// The store on an SQLite file: the hot path on rusqlite ([`Direct`]), the rest (admin, the
/// brute-force counters, MFA, listing events, migrations) on a sqlx pool.
pub type SqliteStore = SqlStore<Sqlite, Direct>;

/// SQLite's hot path: reads inline on rusqlite connections (`sqlite/direct.rs`), writes through
/// one group-committing writer thread (`sqlite/writer.rs`).
#[derive(Debug, Clone)]
pub struct Direct {
    writer: writer::Writer,
    readers: Arc<direct::Readers>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `url`.
    ///
    /// Processes starting together on a new file can find it busy in ways SQLite's busy
    /// handler does not cover (switching a new file to WAL, WAL recovery), so a busy open is
    /// retried with backoff for up to about ten seconds.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let mut delay = Duration::from_millis(20);
        let mut waited = Duration::ZERO;
        loop {
            match Self::try_connect(url).await {
                Err(StoreError::Unavailable(err))
                    if is_busy(err.as_ref()) && waited < Duration::from_secs(10) =>
                {
                    tracing::debug!(%err, "database busy while opening; retrying");
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
                other => return other,
            }
        }
    }

    async fn try_connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(store_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(direct::BUSY_TIMEOUT);
        // The hot path opens the file by name beside sqlx, so the database must be a file.
        let path = options.get_filename().to_owned();
        if path.as_os_str().is_empty() || path.to_string_lossy().starts_with(":memory:") {
            return Err(StoreError::Unavailable(
                "gatehouse keeps its SQLite database in a file: give a path, not :memory:".into(),
            ));
        }
        // No ping before each acquire: on SQLite it is one more hand-off to the connection's
        // worker thread per query (a profile of introspection showed it), and a local file has
        // no connection to lose; a failing connection fails its query, which is reported.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(store_error)?;
        // sqlx takes no lock around SQLite migrations, so they run inside one `BEGIN IMMEDIATE`
        // transaction (each migration a savepoint in it): a second process starting on the same
        // new file waits for the write lock (busy timeout), then finds everything applied.
        let migrate = |e| StoreError::Unavailable(Box::new(e));
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut *tx)
            .await
            .map_err(migrate)?;
        tx.commit().await.map_err(store_error)?;
        let writer = writer::Writer::start(&path)?;
        let readers = Arc::new(direct::Readers::new(&path)?);
        Ok(SqlStore {
            pool,
            hot: Direct { writer, readers },
        })
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED, with any extended code, anywhere in the error's chain.
fn is_busy(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
            if let Some(code) = db.code().and_then(|c| c.parse::<i32>().ok()) {
                if matches!(code & 0xff, 5 | 6) {
                    return true;
                }
            }
        }
        if let Some(sqlx::migrate::MigrateError::Execute(inner)) =
            e.downcast_ref::<sqlx::migrate::MigrateError>()
        {
            return is_busy(inner);
        }
        cur = e.source();
    }
    false
}

impl HotPath<Sqlite> for Direct {
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        self.readers.client(id)
    }

    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.readers.user_by_id(id)
    }

    async fn login_attempts(&self, key: &str) -> Result<Option<AttemptState>, StoreError> {
        self.readers.login_attempts(key)
    }

    async fn record_login(&self, login: NewLogin<'_>) -> Result<Recorded, StoreError> {
        let write = Write::Login {
            family: login.family.clone(),
            refresh: login.refresh.cloned(),
            access: login.access.clone(),
            limit: login.limit,
            now: login.now,
            event: login.event.cloned().map(Box::new),
        };
        match self.writer.submit(write).await? {
            Applied::Login(recorded) => Ok(recorded),
            other => Err(StoreError::Unavailable(
                format!("the SQLite writer answered a login with {other:?}").into(),
            )),
        }
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        self.readers.refresh_token(token_hash)
    }

    async fn rotate_refresh_token(&self, rotation: Rotation<'_>) -> Result<bool, StoreError> {
        let write = Write::Rotate {
            old_hash: rotation.old_hash.to_owned(),
            now: rotation.now,
            successor: rotation.successor.clone(),
            access: rotation.access.clone(),
            event: rotation.event.cloned(),
        };
        Ok(self.writer.submit(write).await? == Applied::Done)
    }

    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        let family_id = family_id.to_owned();
        let write = Write::RevokeFamily { family_id, now };
        self.writer.submit(write).await.map(drop)
    }

    async fn record_client_token(&self, access: &AccessTokenRecord) -> Result<bool, StoreError> {
        let write = Write::ClientToken(access.clone());
        match self.writer.submit(write).await? {
            Applied::Done => Ok(true),
            Applied::ClientGone => Ok(false),
            other => Err(StoreError::Unavailable(
                format!("the SQLite writer answered a client token with {other:?}").into(),
            )),
        }
    }

    async fn find_access_token(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError> {
        self.readers.access_token(id)
    }

    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError> {
        let write = Write::RevokeAccess { id: id.to_owned() };
        self.writer.submit(write).await.map(drop)
    }

    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        let write = Write::Event(event.clone());
        self.writer.submit(write).await.map(drop)
    }
}

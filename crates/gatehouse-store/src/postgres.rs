//! PostgreSQL, for many gatehouse instances on one database: [`PostgresStore`], whose hot path
//! ([`OnPool`]) runs on the same sqlx pool as everything else, each write in its own
//! transaction, and reads the rows it needs most through a memory kept in step across
//! instances by change notices ([`crate::hot_cache`]). Concurrent commits already share WAL
//! flushes in PostgreSQL (its own group commit), and row locks keep rotation exactly-once across
//! instances; a rotation is one statement, so one round trip (see `ROTATE`).

use std::sync::Arc;

use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::lockout::AttemptState;
use gatehouse_core::store::{
    AccessTokenRecord, Event, NewLogin, Recorded, RefreshTokenRecord, SessionLimitPolicy,
    StoreError, TokenFamily, TokenOwner,
};
use gatehouse_core::user::User;
use sqlx::postgres::PgPoolOptions;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row};

use crate::backend::{Backend, Param};
use crate::hot_cache::{Change, HotCache};
use crate::sql::{self, execute, fetch_optional, hot, rows, HotPath, Rotation, SqlStore};
use crate::store_error;

/// The store on a PostgreSQL database.
pub type PostgresStore = SqlStore<Postgres, OnPool>;

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
        let hot = OnPool {
            pool: pool.clone(),
            cache: Arc::default(),
        };
        Ok(SqlStore { pool, hot })
    }
}

/// PostgreSQL's hot path: the same SQL on the same pool as everything else, with the memory of
/// hot rows ([`HotCache`]) in front of the reads it serves.
#[derive(Debug, Clone)]
pub struct OnPool {
    pool: PgPool,
    cache: Arc<HotCache>,
}

impl OnPool {
    /// The memory of hot rows, for the change listener to keep in step.
    pub fn cache(&self) -> Arc<HotCache> {
        self.cache.clone()
    }

    /// The row `sql` selects for `key` (its one `$1`), read by `read`.
    async fn row<T>(
        &self,
        sql: &str,
        key: &str,
        read: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        fetch_optional(&self.pool, sql, &[key.into()], read).await
    }
}

impl HotPath<Postgres> for OnPool {
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let read = self.row(hot::FIND_CLIENT, id.as_str(), rows::client::<Postgres>);
        let memo = &self.cache.clients;
        self.cache.read_through(memo, id.as_str(), read).await
    }

    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let read = self.row(hot::FIND_USER_BY_ID, id, rows::user::<Postgres>);
        self.cache.read_through(&self.cache.users, id, read).await
    }

    async fn login_attempts(&self, key: &str) -> Result<Option<AttemptState>, StoreError> {
        let read = sql::guard::attempt_state::<Postgres>;
        // Kept in memory with "none" too (the common answer): `Some(None)` is a read that
        // found no row.
        let read = async { self.row(hot::LOGIN_ATTEMPTS, key, read).await.map(Some) };
        let memo = &self.cache.attempts;
        Ok(self.cache.read_through(memo, key, read).await?.flatten())
    }

    async fn record_login(&self, login: NewLogin<'_>) -> Result<Recorded, StoreError> {
        let recorded = record_login(&self.pool, login).await.map_err(store_error);
        // A session limit's evictions revoked families.
        if matches!(&recorded, Ok(Recorded::Stored { evicted }) if !evicted.is_empty()) {
            self.cache.changed(Change::Tokens);
        }
        recorded
    }

    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        let read = rows::refresh_token::<Postgres>;
        self.row(hot::FIND_REFRESH_TOKEN, token_hash, read).await
    }

    async fn rotate_refresh_token(&self, rotation: Rotation<'_>) -> Result<bool, StoreError> {
        rotate(&self.pool, rotation).await.map_err(store_error)
    }

    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError> {
        // The family's access tokens are revoked with it: every read of an access token joins
        // its family's `revoked_at` (migration 0009 dropped the per-row marking and the index by
        // family it needed).
        let revoke = hot::revoke_family(family_id, now);
        let revoked = execute(&self.pool, revoke.sql, &revoke.params).await;
        self.cache.changed(Change::Tokens);
        revoked.map(drop)
    }

    async fn record_client_token(&self, access: &AccessTokenRecord) -> Result<bool, StoreError> {
        record_client_token(&self.pool, access)
            .await
            .map_err(store_error)
    }

    async fn find_access_token(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError> {
        let read = |row: &PgRow| {
            let access = rows::access_token::<Postgres>(row)?;
            Ok((access, rows::token_owner::<Postgres>(row)?))
        };
        let read = self.row(hot::FIND_ACCESS_TOKEN, id, read);
        let memo = &self.cache.access_tokens;
        self.cache.read_through(memo, id, read).await
    }

    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE access_tokens SET revoked = TRUE WHERE id = $1";
        let revoked = execute(&self.pool, sql, &[id.into()]).await;
        self.cache.changed(Change::Tokens);
        revoked.map(drop)
    }

    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        sql::insert_event::<Postgres>(&mut conn, event)
            .await
            .map_err(store_error)
    }

    fn changed(&self, change: Change) {
        self.cache.changed(change);
    }
}

/// The first part of a login in one statement (see [`record_login_at_once`]): the client's and
/// the user's rows locked (key share), and the second factor's when there is one, then the
/// family stored only while they exist, the user is active and of the family's epoch, then its
/// access token. `$1` to `$12` the family's columns as [`hot::family`] lists them, `$13` to
/// `$21` the access token's as [`hot::access`] does.
macro_rules! login_sql {
    () => {
        "WITH locked AS (              SELECT c.id FROM clients c, users u WHERE c.id = $2 AND u.id = $3 FOR KEY SHARE),          factor AS (              SELECT id FROM mfa_authenticators WHERE id = $9 FOR KEY SHARE),          family AS (              INSERT INTO token_families (id, client_id, user_id, auth_time, created_at,                  expires_at, last_used_at, revoked_at, user_epoch, amr, authenticator_id, scope,                  ip, user_agent)              SELECT $1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $9, $10, $11, $12              WHERE EXISTS (SELECT 1 FROM locked)              AND EXISTS (SELECT 1 FROM users WHERE id = $3 AND active AND session_epoch = $7)              AND ($9 IS NULL OR EXISTS (SELECT 1 FROM factor))              RETURNING id),          access AS (              INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, auth_time,                  issued_at, expires_at, revoked)              SELECT $13, $14, $15, $16, $17, $18, $19, $20, $21 FROM family RETURNING 1)"
    };
}

/// The refresh token of a login, `$22` to `$27` its columns as [`hot::refresh`] lists them.
macro_rules! login_refresh_sql {
    () => {
        ", refresh AS (              INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, created_at,                  idle_expires_at, used_at)              SELECT $22, $23, $24, $25, $26, $27, NULL FROM family RETURNING 1)"
    };
}

/// The closing count: 1 when the family was stored.
macro_rules! login_count_sql {
    () => {
        " SELECT COUNT(*) AS stored FROM family"
    };
}

/// A login without a refresh token or an event.
const LOGIN: &str = concat!(login_sql!(), login_count_sql!());

/// A login with a refresh token.
const LOGIN_WITH_REFRESH: &str = concat!(login_sql!(), login_refresh_sql!(), login_count_sql!());

/// A login with its event, `$22` to `$29` the event's columns as [`hot::event`] lists them.
const LOGIN_WITH_EVENT: &str = concat!(
    login_sql!(),
    ", event AS (          INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail)          SELECT $22, $23, $24, $25, $26, $27, $28, $29 FROM family RETURNING 1)",
    login_count_sql!()
);

/// A login with a refresh token and its event, `$28` to `$35` the event's columns.
const LOGIN_WITH_REFRESH_AND_EVENT: &str = concat!(
    login_sql!(),
    login_refresh_sql!(),
    ", event AS (          INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail)          SELECT $28, $29, $30, $31, $32, $33, $34, $35 FROM family RETURNING 1)",
    login_count_sql!()
);

/// A login's tokens and event, without a session limit, in one statement and so one round trip
/// and one commit ([`LOGIN`] and its variants). The locks are those of the transaction in
/// [`record_login`], taken by the statement before its inserts: a removal of the client, the
/// user or the factor that commits first leaves nothing to lock and the login is stale; one that
/// comes later waits for this commit and removes the new session with the rest. Each insert
/// after the family's selects from its `RETURNING`, so it happens only when the family does.
async fn record_login_at_once(
    pool: &PgPool,
    login: &NewLogin<'_>,
    amr: &str,
    detail: Option<&str>,
) -> Result<Recorded, sqlx::Error> {
    let mut params: Vec<Param<'_>> = Vec::with_capacity(35);
    params.extend(hot::family(login.family, amr).params);
    params.extend(hot::access(login.access).params);
    if let Some(refresh) = login.refresh {
        params.extend(hot::refresh(refresh).params);
    }
    if let (Some(event), Some(detail)) = (login.event, detail) {
        params.extend(hot::event(event, detail).params);
    }
    let sql = match (login.refresh.is_some(), detail.is_some()) {
        (false, false) => LOGIN,
        (true, false) => LOGIN_WITH_REFRESH,
        (false, true) => LOGIN_WITH_EVENT,
        (true, true) => LOGIN_WITH_REFRESH_AND_EVENT,
    };
    let mut conn = pool.acquire().await?;
    let row = Postgres::fetch_optional(&mut conn, sql, &params).await?;
    let stored: i64 = match row {
        Some(row) => row.try_get("stored")?,
        None => 0,
    };
    Ok(if stored == 1 {
        Recorded::Stored {
            evicted: Vec::new(),
        }
    } else {
        Recorded::Stale
    })
}

/// A login's tokens (and its event) in one commit. Without a session limit, one statement
/// ([`record_login_at_once`]). With one, a transaction: the user's row is locked first, so
/// concurrent logins of one user (on any instance) count their live sessions one after the
/// other.
async fn record_login(pool: &PgPool, login: NewLogin<'_>) -> Result<Recorded, sqlx::Error> {
    let amr = login.family.amr.join(" ");
    let detail = login.event.map(|e| e.detail.to_string());
    if login.limit.is_none() {
        return record_login_at_once(pool, &login, &amr, detail.as_deref()).await;
    }
    let NewLogin {
        family,
        refresh,
        access,
        limit,
        now,
        event,
    } = login;
    let mut tx = pool.begin().await?;
    let mut live = Vec::new();
    if limit.is_some() {
        let lock = "SELECT id FROM users WHERE id = $1 FOR UPDATE";
        Postgres::fetch_optional(&mut tx, lock, &[family.user_id.as_str().into()]).await?;
        let params = [
            now.into(),
            family.user_id.as_str().into(),
            family.client_id.as_str().into(),
        ];
        for row in Postgres::fetch_all(&mut tx, hot::LIVE_SESSIONS_OF_LOGIN, &params).await? {
            live.push(row.try_get::<String, _>("id")?);
        }
    }
    // The client's and the user's rows are locked (key share: an epoch raise or a disabling
    // still goes ahead, and is caught by the insert's condition or by the reads), so a removal
    // of either waits for this login, and then removes its session too, or has gone first, and
    // the login is stale (see `sql::delete_with_sessions`). After the limit's lock on the user:
    // two logins taking the key share first would deadlock upgrading it.
    let lock = "SELECT c.id FROM clients c, users u WHERE c.id = $1 AND u.id = $2 \
                FOR KEY SHARE";
    let ids = [
        family.client_id.as_str().into(),
        family.user_id.as_str().into(),
    ];
    if Postgres::fetch_optional(&mut tx, lock, &ids)
        .await?
        .is_none()
    {
        tx.rollback().await?;
        return Ok(Recorded::Stale);
    }
    // Likewise the second factor the login passed: removing it waits for this login and then
    // ends its session, or has gone first and the login is stale.
    if let Some(factor) = &family.authenticator_id {
        let lock = "SELECT id FROM mfa_authenticators WHERE id = $1 FOR KEY SHARE";
        let found = Postgres::fetch_optional(&mut tx, lock, &[factor.as_str().into()]).await?;
        if found.is_none() {
            tx.rollback().await?;
            return Ok(Recorded::Stale);
        }
    }
    let over = limit.map_or(0, |l| (live.len() + 1).saturating_sub(l.max as usize));
    if over > 0 && limit.map(|l| l.policy) == Some(SessionLimitPolicy::Deny) {
        tx.rollback().await?;
        return Ok(Recorded::OverLimit);
    }
    let inserted = hot::family(family, &amr);
    if Postgres::execute(&mut tx, inserted.sql, &inserted.params).await? == 0 {
        tx.rollback().await?;
        return Ok(Recorded::Stale);
    }
    let evicted = live[..over.min(live.len())].to_vec();
    for id in &evicted {
        sql::insert::<Postgres, 2>(&mut tx, hot::revoke_family(id, now)).await?;
    }
    if let Some(refresh) = refresh {
        sql::insert::<Postgres, 6>(&mut tx, hot::refresh(refresh)).await?;
    }
    sql::insert::<Postgres, 9>(&mut tx, hot::access(access)).await?;
    if let (Some(event), Some(detail)) = (event, &detail) {
        sql::insert::<Postgres, 8>(&mut tx, hot::event(event, detail)).await?;
    }
    tx.commit().await?;
    Ok(Recorded::Stored { evicted })
}

/// A client token, stored only while its client exists. The client's row is locked first (key
/// share), so a removal of the client waits for this write and then removes the token with the
/// client's other tokens, or has gone first and nothing is stored: without the lock, the insert's
/// condition could see the client in a snapshot taken just before the removal committed, and
/// the token would outlive its client (and be inherited by a client re-created with its id).
async fn record_client_token(
    pool: &PgPool,
    access: &AccessTokenRecord,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let lock = "SELECT id FROM clients WHERE id = $1 FOR KEY SHARE";
    let client = [access.client_id.as_str().into()];
    if Postgres::fetch_optional(&mut tx, lock, &client)
        .await?
        .is_none()
    {
        tx.rollback().await?;
        return Ok(false);
    }
    let insert = hot::client_token(access);
    let stored = Postgres::execute(&mut tx, insert.sql, &insert.params).await? == 1;
    tx.commit().await?;
    Ok(stored)
}

/// The text of rotation's claim, the family's check and the successor's inserts, as one statement: one
/// round trip, its own transaction. The claim is a conditional `UPDATE … WHERE used_at IS NULL`,
/// which exactly one of any number of concurrent rotations of the same token matches (the
/// others wait for its row lock and then find it used); the family row is then updated on
/// condition that it is not revoked, which orders a rotation and a concurrent family revocation
/// one way or the other; the inserts read the family's row from that update, so they happen
/// only when both matched. The claim also asks that the family be unrevoked as the statement
/// starts, so a refused rotation writes nothing; only a revocation committed between that check
/// and the family's update leaves the old token marked used (in a family now dead anyway).
/// `$1` to `$16`: the old token's hash, the time, the family, then the
/// successor's and the access token's columns (see [`rotation_params`]).
macro_rules! rotate_sql {
    () => {
        "WITH claimed AS ( \
         UPDATE refresh_tokens SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND family_id = $3 \
         AND EXISTS (SELECT 1 FROM token_families WHERE id = $3 AND revoked_at IS NULL) \
         RETURNING family_id), \
     live AS ( \
         UPDATE token_families SET last_used_at = $2 \
         WHERE id = (SELECT family_id FROM claimed) AND revoked_at IS NULL RETURNING id), \
     successor AS ( \
         INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, created_at, \
             idle_expires_at, used_at) \
         SELECT $4, id, $5, $6, $7, $8, NULL FROM live RETURNING 1), \
     access AS ( \
         INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, auth_time, \
             issued_at, expires_at, revoked) \
         SELECT $9, id, $10, $11, $12, $13, $14, $15, $16 FROM live RETURNING 1)"
    };
}

/// Rotation without an event.
const ROTATE: &str = concat!(rotate_sql!(), " SELECT COUNT(*) AS rotated FROM live");

/// Rotation with its event stored in the same statement: `$17` to `$24` the event's columns,
/// as [`hot::event`] lists them.
const ROTATE_WITH_EVENT: &str = concat!(
    rotate_sql!(),
    ", event AS ( \
         INSERT INTO events (id, at, kind, client_id, username, ip, request_id, detail) \
         SELECT $17, $18, $19, $20, $21, $22, $23, $24 FROM live RETURNING 1) \
     SELECT COUNT(*) AS rotated FROM live"
);

/// Rotation in one statement ([`ROTATE`], or [`ROTATE_WITH_EVENT`]); `false` when the token was
/// used already or its family revoked.
async fn rotate(pool: &PgPool, r: Rotation<'_>) -> Result<bool, sqlx::Error> {
    let s = r.successor;
    let a = r.access;
    let mut params: Vec<Param<'_>> = vec![
        r.old_hash.into(),
        r.now.into(),
        s.family_id.as_str().into(),
        s.token_hash.as_str().into(),
        s.parent_hash.as_deref().into(),
        s.scope.as_str().into(),
        s.created_at.into(),
        s.idle_expires_at.into(),
        a.id.as_str().into(),
        a.client_id.as_str().into(),
        a.user_id.as_str().into(),
        a.scope.as_str().into(),
        a.auth_time.into(),
        a.issued_at.into(),
        a.expires_at.into(),
        a.revoked.into(),
    ];
    let detail = r.event.map(|e| e.detail.to_string());
    let sql = match (r.event, &detail) {
        (Some(e), Some(detail)) => {
            params.extend(hot::event(e, detail).params);
            ROTATE_WITH_EVENT
        }
        _ => ROTATE,
    };
    let mut conn = pool.acquire().await?;
    let row = Postgres::fetch_optional(&mut conn, sql, &params).await?;
    let rotated: i64 = match row {
        Some(row) => row.try_get("rotated")?,
        None => 0,
    };
    Ok(rotated == 1)
}

//! PostgreSQL, for many gatehouse instances on one database: [`PostgresStore`], whose hot path
//! ([`OnPool`]) runs on the same sqlx pool as everything else, each write in its own
//! transaction. Concurrent commits already share WAL flushes in PostgreSQL (its own group
//! commit), and row locks keep rotation exactly-once across instances: rotation's first
//! statement is a conditional `UPDATE … WHERE used_at IS NULL`, which exactly one of any number
//! of concurrent rotations of the same token matches; the family row is then updated on
//! condition that it is not revoked, which orders a rotation and a concurrent family revocation
//! one way or the other.

use gatehouse_core::client::{Client, ClientId};
use gatehouse_core::store::{
    AccessTokenRecord, Event, RefreshTokenRecord, StoreError, TokenFamily,
};
use gatehouse_core::user::User;
use sqlx::postgres::PgPoolOptions;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, Row};

use crate::backend::Backend;
use crate::sql::{self, execute, fetch_optional, rows, HotPath, Rotation, SqlStore};
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
        Ok(SqlStore { pool, hot: OnPool })
    }
}

/// PostgreSQL's hot path: the same SQL on the same pool as everything else.
#[derive(Debug, Clone, Copy)]
pub struct OnPool;

impl HotPath<Postgres> for OnPool {
    async fn find_client(
        &self,
        pool: &PgPool,
        id: &ClientId,
    ) -> Result<Option<Client>, StoreError> {
        let sql = "SELECT id, secret_hash, secret_sealed, settings FROM clients WHERE id = $1";
        fetch_optional(pool, sql, &[id.as_str().into()], rows::client::<Postgres>).await
    }

    async fn find_user_by_id(&self, pool: &PgPool, id: &str) -> Result<Option<User>, StoreError> {
        let sql = "SELECT id, username, password_hash, email, phone, scopes, created_at \
                   FROM users WHERE id = $1";
        fetch_optional(pool, sql, &[id.into()], rows::user::<Postgres>).await
    }

    async fn record_issued_tokens(
        &self,
        pool: &PgPool,
        family: Option<&TokenFamily>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> Result<(), StoreError> {
        let Some(family) = family else {
            let mut conn = pool.acquire().await.map_err(store_error)?;
            return insert_access(&mut conn, access).await.map_err(store_error);
        };
        let mut tx = pool.begin().await.map_err(store_error)?;
        insert_family(&mut tx, family).await.map_err(store_error)?;
        if let Some(refresh) = refresh {
            insert_refresh(&mut tx, refresh)
                .await
                .map_err(store_error)?;
        }
        insert_access(&mut tx, access).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn find_refresh_token(
        &self,
        pool: &PgPool,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError> {
        let sql = "SELECT r.token_hash, r.family_id, r.parent_hash, r.scope, r.created_at, \
                   r.idle_expires_at, r.used_at, f.client_id, f.user_id, f.auth_time, \
                   f.created_at AS family_created_at, f.expires_at, f.revoked_at \
                   FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
                   WHERE r.token_hash = $1";
        let params = [token_hash.into()];
        fetch_optional(pool, sql, &params, rows::refresh_token::<Postgres>).await
    }

    async fn rotate_refresh_token(
        &self,
        pool: &PgPool,
        rotation: Rotation<'_>,
    ) -> Result<bool, StoreError> {
        rotate(pool, rotation).await.map_err(store_error)
    }

    async fn revoke_token_family(
        &self,
        pool: &PgPool,
        family_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        // The family's access tokens are revoked with it: every read of an access token joins
        // its family's `revoked_at` (migration 0009 dropped the per-row marking and the index by
        // family it needed).
        let sql = "UPDATE token_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        execute(pool, sql, &[family_id.into(), now.into()])
            .await
            .map(drop)
    }

    async fn find_access_token(
        &self,
        pool: &PgPool,
        id: &str,
    ) -> Result<Option<AccessTokenRecord>, StoreError> {
        let sql = "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
                   a.issued_at, a.expires_at, a.revoked, f.revoked_at \
                   FROM access_tokens a LEFT JOIN token_families f ON f.id = a.family_id \
                   WHERE a.id = $1";
        fetch_optional(pool, sql, &[id.into()], rows::access_token::<Postgres>).await
    }

    async fn find_access_token_with_username(
        &self,
        pool: &PgPool,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, String)>, StoreError> {
        let sql = "SELECT a.id, a.family_id, a.client_id, a.user_id, a.scope, a.auth_time, \
                   a.issued_at, a.expires_at, a.revoked, f.revoked_at, u.username \
                   FROM access_tokens a JOIN users u ON u.id = a.user_id \
                   LEFT JOIN token_families f ON f.id = a.family_id \
                   WHERE a.id = $1";
        let read = |row: &PgRow| {
            let access = rows::access_token::<Postgres>(row)?;
            Ok((access, Postgres::text(row, "username")?))
        };
        fetch_optional(pool, sql, &[id.into()], read).await
    }

    async fn revoke_access_token(&self, pool: &PgPool, id: &str) -> Result<(), StoreError> {
        let sql = "UPDATE access_tokens SET revoked = TRUE WHERE id = $1";
        execute(pool, sql, &[id.into()]).await.map(drop)
    }

    async fn insert_event(&self, pool: &PgPool, event: &Event) -> Result<(), StoreError> {
        let mut conn = pool.acquire().await.map_err(store_error)?;
        sql::insert_event::<Postgres>(&mut conn, event)
            .await
            .map_err(store_error)
    }
}

/// Rotation in one transaction (see the module's comment); `false`, rolled back, when the token
/// was used already or its family revoked.
async fn rotate(pool: &PgPool, r: Rotation<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let claimed = Postgres::fetch_optional(
        &mut tx,
        "UPDATE refresh_tokens SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL RETURNING family_id",
        &[r.old_hash.into(), r.now.into()],
    )
    .await?;
    let Some(claimed) = claimed else {
        tx.rollback().await?;
        return Ok(false);
    };
    let family_id: String = claimed.try_get("family_id")?;
    let live = Postgres::execute(
        &mut tx,
        "UPDATE token_families SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[family_id.as_str().into(), r.now.into()],
    )
    .await?;
    if live == 0 || family_id != r.successor.family_id {
        tx.rollback().await?;
        return Ok(false);
    }
    insert_refresh(&mut tx, r.successor).await?;
    insert_access(&mut tx, r.access).await?;
    if let Some(event) = r.event {
        sql::insert_event::<Postgres>(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(true)
}

async fn insert_family(conn: &mut PgConnection, f: &TokenFamily) -> Result<(), sqlx::Error> {
    Postgres::execute(
        conn,
        "INSERT INTO token_families (id, client_id, user_id, auth_time, created_at, \
         expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        &[
            (&f.id).into(),
            (&f.client_id).into(),
            (&f.user_id).into(),
            f.auth_time.into(),
            f.created_at.into(),
            f.expires_at.into(),
        ],
    )
    .await
    .map(drop)
}

async fn insert_refresh(
    conn: &mut PgConnection,
    r: &RefreshTokenRecord,
) -> Result<(), sqlx::Error> {
    Postgres::execute(
        conn,
        "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, scope, \
         created_at, idle_expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        &[
            (&r.token_hash).into(),
            (&r.family_id).into(),
            r.parent_hash.as_deref().into(),
            (&r.scope).into(),
            r.created_at.into(),
            r.idle_expires_at.into(),
        ],
    )
    .await
    .map(drop)
}

async fn insert_access(conn: &mut PgConnection, a: &AccessTokenRecord) -> Result<(), sqlx::Error> {
    Postgres::execute(
        conn,
        "INSERT INTO access_tokens (id, family_id, client_id, user_id, scope, \
         auth_time, issued_at, expires_at, revoked) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            (&a.id).into(),
            a.family_id.as_deref().into(),
            (&a.client_id).into(),
            (&a.user_id).into(),
            (&a.scope).into(),
            a.auth_time.into(),
            a.issued_at.into(),
            a.expires_at.into(),
            a.revoked.into(),
        ],
    )
    .await
    .map(drop)
}

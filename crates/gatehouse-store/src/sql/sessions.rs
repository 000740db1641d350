//! [`SessionStore`] on SQL: sessions are the rows of `token_families`, live per
//! [`hot::LIVE_SESSION`]. These are administrators' operations, off the hot path, on the pool.

use async_trait::async_trait;
use gatehouse_core::store::{
    Session, SessionFilter, SessionStore, StoreError, MAX_LISTED_SESSIONS,
};

use super::{fetch_all, hot, rows, HotPath, SqlStore};
use crate::backend::{Backend, Param};
use crate::hot_cache::Change;
use crate::store_error;

/// The live sessions of `filter`, as a condition on `token_families f` joined with `users u`,
/// and its parameters: `$1` is the time, the filter's values follow in order.
fn live_matching<'a>(filter: &'a SessionFilter, now: i64) -> (String, Vec<Param<'a>>) {
    let mut sql = hot::LIVE_SESSION.to_owned();
    let mut params: Vec<Param<'a>> = vec![now.into()];
    for (column, value) in [
        ("f.user_id", &filter.user_id),
        ("f.client_id", &filter.client_id),
        ("f.id", &filter.id),
    ] {
        if let Some(value) = value {
            params.push(value.as_str().into());
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    (sql, params)
}

/// The columns of a listed session, read by name.
fn session<DB: Backend>(row: &DB::Row) -> Result<Session, StoreError> {
    Ok(Session {
        id: DB::text(row, "id")?,
        client_id: DB::text(row, "client_id")?,
        user_id: DB::text(row, "user_id")?,
        username: DB::text(row, "username")?,
        created_at: DB::int(row, "created_at")?,
        last_used_at: DB::int(row, "last_used_at")?,
        expires_at: DB::int(row, "expires_at")?,
        scope: DB::text(row, "scope")?,
        amr: rows::split_amr(&DB::text(row, "amr")?),
        ip: DB::opt_text(row, "ip")?,
        user_agent: DB::opt_text(row, "user_agent")?,
    })
}

/// The id column of `RETURNING id`.
fn id<DB: Backend>(row: &DB::Row) -> Result<String, StoreError> {
    DB::text(row, "id")
}

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> SessionStore for SqlStore<DB, H> {
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        now: i64,
    ) -> Result<Vec<Session>, StoreError> {
        let (live, params) = live_matching(filter, now);
        let sql = format!(
            "SELECT f.id, f.client_id, f.user_id, u.username, f.created_at, \
             COALESCE((SELECT MAX(r.created_at) FROM refresh_tokens r WHERE r.family_id = f.id), \
                      f.created_at) AS last_used_at, \
             f.expires_at, f.scope, f.amr, f.ip, f.user_agent \
             FROM token_families f JOIN users u ON u.id = f.user_id \
             WHERE {live} ORDER BY f.created_at DESC, f.id DESC LIMIT {MAX_LISTED_SESSIONS}"
        );
        fetch_all(&self.pool, &sql, &params, session::<DB>).await
    }

    async fn revoke_sessions(
        &self,
        filter: &SessionFilter,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let (live, params) = live_matching(filter, now);
        // `$1` is both the time of the revocation and the time liveness is judged at.
        let sql = format!(
            "UPDATE token_families SET revoked_at = $1 WHERE id IN \
             (SELECT f.id FROM token_families f JOIN users u ON u.id = f.user_id WHERE {live}) \
             RETURNING id"
        );
        let revoked = fetch_all(&self.pool, &sql, &params, id::<DB>).await;
        self.hot.changed(Change::Tokens);
        revoked
    }

    async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let filter = SessionFilter {
            user_id: Some(user_id.to_owned()),
            ..SessionFilter::default()
        };
        let (live, mut params) = live_matching(&filter, now);
        let keep = keep.unwrap_or("");
        params.push(keep.into());
        let revoke = format!(
            "UPDATE token_families SET revoked_at = $1 WHERE id IN \
             (SELECT f.id FROM token_families f JOIN users u ON u.id = f.user_id \
              WHERE {live} AND f.id <> ${}) RETURNING id",
            params.len()
        );
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The user's row is locked first, by a write that changes nothing: on SQLite a
        // transaction that reads first and writes after fails with SQLITE_BUSY (no busy wait)
        // when another writer committed in between, as the hot path's writer does all the
        // time; on PostgreSQL a login under a session limit locks the user's row and then
        // revokes families, so taking the families first could deadlock with it.
        let lock = "UPDATE users SET session_epoch = session_epoch WHERE id = $1";
        DB::execute(&mut tx, lock, &[user_id.into()])
            .await
            .map_err(store_error)?;
        let revoked = DB::fetch_all(&mut tx, &revoke, &params)
            .await
            .map_err(store_error)?
            .iter()
            .map(id::<DB>)
            .collect::<Result<Vec<_>, _>>()?;
        // The kept session moves to the new epoch only if it is live in the old one.
        let kept = DB::fetch_all(
            &mut tx,
            &format!(
                "SELECT f.id FROM token_families f JOIN users u ON u.id = f.user_id \
                 WHERE {live} AND f.id = ${}",
                params.len()
            ),
            &params,
        )
        .await
        .map_err(store_error)?;
        let raise = "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1";
        DB::execute(&mut tx, raise, &[user_id.into()])
            .await
            .map_err(store_error)?;
        if !kept.is_empty() {
            let follow = "UPDATE token_families SET user_epoch = \
                          (SELECT session_epoch FROM users WHERE id = $1) WHERE id = $2";
            DB::execute(&mut tx, follow, &[user_id.into(), keep.into()])
                .await
                .map_err(store_error)?;
        }
        let committed = tx.commit().await.map_err(store_error);
        self.hot.changed(Change::Users);
        committed?;
        Ok(revoked)
    }

    async fn revoke_sessions_by_authenticator(
        &self,
        user_id: &str,
        authenticator_ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut revoked = Vec::new();
        for authenticator in authenticator_ids {
            let filter = SessionFilter {
                user_id: Some(user_id.to_owned()),
                ..SessionFilter::default()
            };
            let (live, mut params) = live_matching(&filter, now);
            params.push(authenticator.as_str().into());
            let sql = format!(
                "UPDATE token_families SET revoked_at = $1 WHERE id IN \
                 (SELECT f.id FROM token_families f JOIN users u ON u.id = f.user_id \
                  WHERE {live} AND f.authenticator_id = ${}) RETURNING id",
                params.len()
            );
            let ended = fetch_all(&self.pool, &sql, &params, id::<DB>).await;
            self.hot.changed(Change::Tokens);
            revoked.extend(ended?);
        }
        Ok(revoked)
    }
}

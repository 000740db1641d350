//! [`UserStore`] on SQL: the `users` table. Scopes are stored space-delimited.

use async_trait::async_trait;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::{StoreError, UserStore};
use gatehouse_core::user::{User, Username};

use super::{one_row, HotPath, SqlStore};
use crate::backend::Backend;
use crate::store_error;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> UserStore for SqlStore<DB, H> {
    async fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "SELECT id, username, password_hash, email, phone, scopes, created_at \
                   FROM users WHERE username = $1";
        let row = DB::fetch_optional(&mut conn, sql, &[username.as_str().into()]).await;
        row.map_err(store_error)?
            .as_ref()
            .map(user_from_row::<DB>)
            .transpose()
    }

    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.hot.find_user_by_id(&self.pool, id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let mut conn = self.conn().await?;
        let sql = "SELECT id, username, password_hash, email, phone, scopes, created_at \
                   FROM users ORDER BY username";
        let rows = DB::fetch_all(&mut conn, sql, &[]).await;
        rows.map_err(store_error)?
            .iter()
            .map(user_from_row::<DB>)
            .collect()
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let mut conn = self.conn().await?;
        DB::execute(
            &mut conn,
            "INSERT INTO users (id, username, password_hash, email, phone, scopes, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            &[
                (&user.id).into(),
                user.username.as_str().into(),
                (&user.password_hash).into(),
                user.email.as_deref().into(),
                user.phone.as_deref().into(),
                scopes.as_deref().into(),
                user.created_at.into(),
            ],
        )
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn delete_user(&self, username: &Username) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let sql = "DELETE FROM users WHERE username = $1";
        let done = DB::execute(&mut conn, sql, &[username.as_str().into()]).await;
        one_row(done.map_err(store_error)?)
    }

    async fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3";
        let params = [hash.into(), now.into(), username.as_str().into()];
        let done = DB::execute(&mut conn, sql, &params).await;
        one_row(done.map_err(store_error)?)
    }

    async fn update_user(&self, user: &User, now: i64) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let mut conn = self.conn().await?;
        let done = DB::execute(
            &mut conn,
            "UPDATE users SET password_hash = $1, email = $2, phone = $3, scopes = $4, \
             updated_at = $5 WHERE username = $6",
            &[
                (&user.password_hash).into(),
                user.email.as_deref().into(),
                user.phone.as_deref().into(),
                scopes.as_deref().into(),
                now.into(),
                user.username.as_str().into(),
            ],
        )
        .await;
        one_row(done.map_err(store_error)?)
    }
}

/// The user in a row of `SELECT id, username, password_hash, email, phone, scopes, created_at`.
pub(crate) fn user_from_row<DB: Backend>(row: &DB::Row) -> Result<User, StoreError> {
    let e = store_error;
    let scopes = DB::opt_text(row, "scopes").map_err(e)?;
    Ok(User {
        id: DB::text(row, "id").map_err(e)?,
        username: Username::from_trusted(DB::text(row, "username").map_err(e)?),
        password_hash: DB::text(row, "password_hash").map_err(e)?,
        email: DB::opt_text(row, "email").map_err(e)?,
        phone: DB::opt_text(row, "phone").map_err(e)?,
        scopes: scopes.map(|s| ScopeSet::from_trusted(s.split(' ').filter(|t| !t.is_empty()))),
        created_at: DB::int(row, "created_at").map_err(e)?,
    })
}

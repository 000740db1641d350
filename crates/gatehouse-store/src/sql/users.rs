//! [`UserStore`] on SQL: the `users` table. Scopes are stored space-delimited.

use async_trait::async_trait;
use gatehouse_core::store::{StoreError, UserStore};
use gatehouse_core::user::{User, Username};

use super::{
    delete_with_sessions, execute, fetch_all, fetch_optional, one_row, rows, HotPath, SqlStore,
};
use crate::backend::Backend;

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> UserStore for SqlStore<DB, H> {
    async fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let sql = "SELECT id, username, password_hash, email, phone, scopes, created_at, \
                   active, session_epoch FROM users WHERE username = $1";
        let params = [username.as_str().into()];
        fetch_optional(&self.pool, sql, &params, rows::user::<DB>).await
    }

    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.hot.find_user_by_id(id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = "SELECT id, username, password_hash, email, phone, scopes, created_at, \
                   active, session_epoch FROM users ORDER BY username";
        fetch_all(&self.pool, sql, &[], rows::user::<DB>).await
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let sql = "INSERT INTO users (id, username, password_hash, email, phone, scopes, \
                   created_at, updated_at, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)";
        let params = [
            (&user.id).into(),
            user.username.as_str().into(),
            (&user.password_hash).into(),
            user.email.as_deref().into(),
            user.phone.as_deref().into(),
            scopes.as_deref().into(),
            user.created_at.into(),
            user.active.into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn delete_user(&self, username: &Username) -> Result<u64, StoreError> {
        let user = "DELETE FROM users WHERE username = $1 RETURNING id";
        let sessions = "DELETE FROM token_families WHERE user_id = $1";
        let name = [username.as_str().into()];
        delete_with_sessions(&self.pool, (user, &name), &[sessions]).await
    }

    async fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3";
        let params = [hash.into(), now.into(), username.as_str().into()];
        one_row(execute(&self.pool, sql, &params).await?)
    }

    async fn update_user(&self, user: &User, now: i64) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let sql = "UPDATE users SET password_hash = $1, email = $2, phone = $3, scopes = $4, \
                   updated_at = $5, active = $7 WHERE username = $6";
        let params = [
            (&user.password_hash).into(),
            user.email.as_deref().into(),
            user.phone.as_deref().into(),
            scopes.as_deref().into(),
            now.into(),
            user.username.as_str().into(),
            user.active.into(),
        ];
        one_row(execute(&self.pool, sql, &params).await?)
    }
}

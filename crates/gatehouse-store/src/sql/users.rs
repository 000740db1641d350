//! [`UserStore`] on SQL: the `users` table. Scopes are stored space-delimited, attributes and
//! roles as JSON text.

use async_trait::async_trait;
use gatehouse_core::store::{PasswordChange, StoreError, UserStore};
use gatehouse_core::user::{User, Username};

use super::{
    delete_with_sessions, execute, fetch_all, fetch_optional, one_row, rows, HotPath, SqlStore,
};
use crate::backend::Backend;
use crate::hot_cache::Change;

/// The columns [`rows::user`] reads, for every query that returns users: one list, so that a
/// column added to users is added to every such query at once.
const USER_COLUMNS: &str = "id, username, password_hash, email, phone, scopes, created_at, \
     active, session_epoch, password_changed_at, password_change_required, attributes, roles, \
     store";

#[async_trait]
impl<DB: Backend, H: HotPath<DB>> UserStore for SqlStore<DB, H> {
    async fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let params = [username.as_str().into()];
        fetch_optional(&self.pool, &sql, &params, rows::user::<DB>).await
    }

    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.hot.find_user_by_id(id).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
        fetch_all(&self.pool, &sql, &[], rows::user::<DB>).await
    }

    async fn search_users(
        &self,
        after: &str,
        contains: &str,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username > $1 \
             AND ($2 = '' OR username LIKE $2 ESCAPE '!') ORDER BY username LIMIT $3"
        );
        let escaped: String = contains
            .chars()
            .flat_map(|c| match c {
                '!' | '%' | '_' => vec!['!', c],
                c => vec![c],
            })
            .collect();
        let pattern = if contains.is_empty() {
            String::new()
        } else {
            format!("%{escaped}%")
        };
        let params = [
            after.into(),
            pattern.as_str().into(),
            i64::from(limit).into(),
        ];
        fetch_all(&self.pool, &sql, &params, rows::user::<DB>).await
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let (attributes, roles) = (user.attributes.to_json(), user.roles.to_json());
        let sql = "INSERT INTO users (id, username, password_hash, email, phone, scopes, \
                   created_at, updated_at, active, password_changed_at, attributes, roles, store) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12)";
        let params = [
            (&user.id).into(),
            user.username.as_str().into(),
            (&user.password_hash).into(),
            user.email.as_deref().into(),
            user.phone.as_deref().into(),
            scopes.as_deref().into(),
            user.created_at.into(),
            user.active.into(),
            user.password_changed_at.into(),
            attributes.as_str().into(),
            roles.as_str().into(),
            user.store.as_deref().into(),
        ];
        execute(&self.pool, sql, &params).await.map(drop)
    }

    async fn delete_user(&self, username: &Username) -> Result<u64, StoreError> {
        let user = "DELETE FROM users WHERE username = $1 RETURNING id";
        let sessions = "DELETE FROM token_families WHERE user_id = $1";
        let name = [username.as_str().into()];
        let removed = delete_with_sessions(&self.pool, (user, &name), &[sessions]).await;
        self.hot.changed(Change::Users);
        removed
    }

    async fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE users SET password_hash = $1, updated_at = $2 WHERE username = $3";
        let params = [hash.into(), now.into(), username.as_str().into()];
        let updated = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Users);
        one_row(updated?)
    }

    async fn update_user(&self, user: &User, now: i64) -> Result<(), StoreError> {
        let scopes = user.scopes.as_ref().map(|s| s.to_string());
        let (attributes, roles) = (user.attributes.to_json(), user.roles.to_json());
        let sql = "UPDATE users SET password_hash = $1, email = $2, phone = $3, scopes = $4, \
                   updated_at = $5, active = $7, attributes = $8, roles = $9 WHERE username = $6";
        let params = [
            (&user.password_hash).into(),
            user.email.as_deref().into(),
            user.phone.as_deref().into(),
            scopes.as_deref().into(),
            now.into(),
            user.username.as_str().into(),
            user.active.into(),
            attributes.as_str().into(),
            roles.as_str().into(),
        ];
        let updated = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Users);
        one_row(updated?)
    }

    async fn change_password(&self, change: PasswordChange<'_>) -> Result<(), StoreError> {
        let history = serde_json::to_string(change.history)
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let sql = "UPDATE users SET password_hash = $1, password_history = $2, \
                   password_changed_at = $3, updated_at = $3, password_change_required = NULL \
                   WHERE username = $4 AND password_hash = $5";
        let params = [
            change.hash.into(),
            history.as_str().into(),
            change.now.into(),
            change.username.as_str().into(),
            change.replaces.into(),
        ];
        let updated = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Users);
        match updated? {
            0 => match self.find_user(change.username).await? {
                Some(_) => Err(StoreError::Conflict),
                None => Err(StoreError::NotFound),
            },
            _ => Ok(()),
        }
    }

    async fn password_history(&self, username: &Username) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT password_history FROM users WHERE username = $1";
        let params = [username.as_str().into()];
        let found = fetch_optional(&self.pool, sql, &params, |row| {
            DB::text(row, "password_history")
        })
        .await?;
        Ok(found
            .and_then(|json| serde_json::from_str(&json).ok())
            .unwrap_or_default())
    }

    async fn require_password_change(
        &self,
        user_id: &str,
        hash: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET password_change_required = $1 \
                   WHERE id = $2 AND password_hash = $3";
        let params = [reason.into(), user_id.into(), hash.into()];
        let updated = execute(&self.pool, sql, &params).await;
        self.hot.changed(Change::Users);
        Ok(updated? > 0)
    }
}

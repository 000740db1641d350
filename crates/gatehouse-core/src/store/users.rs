//! [`UserStore`]: the resource owners who log in with the password grant (RFC 6749 §4.3).

use async_trait::async_trait;

use super::StoreError;
use crate::user::{User, Username};

/// The users.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user with this (normalized) username.
    async fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// The user with this stable id.
    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// At most `limit` users whose username comes after `after` and contains `contains` (all
    /// when empty), by username: one page of the console's user list, read by key so that a
    /// page costs the same at the first user as at the 100,000th.
    async fn search_users(
        &self,
        after: &str,
        contains: &str,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
    /// Adds a user; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Removes a user and, in the same transaction, every session (token family) of theirs;
    /// `NotFound` if there is none. The number of sessions removed.
    async fn delete_user(&self, username: &Username) -> Result<u64, StoreError>;
    /// Replaces a user's password hash; `NotFound` if there is none.
    async fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Replaces a user's password hash, email, phone, scopes and `active`; `NotFound` if there
    /// is none. Sessions are ended separately ([`super::SessionStore::end_user_sessions`]).
    async fn update_user(&self, user: &User, now: i64) -> Result<(), StoreError>;
    /// Sets a new password while the stored hash is still `change.replaces` (`Conflict` when
    /// it changed meanwhile, `NotFound` when there is no such user): stores `change.history`
    /// as the user's earlier hashes, records the time, and clears any
    /// `password_change_required`.
    async fn change_password(&self, change: PasswordChange<'_>) -> Result<(), StoreError>;
    /// The user's earlier password hashes, newest first (empty for an unknown user).
    async fn password_history(&self, username: &Username) -> Result<Vec<String>, StoreError>;
    /// Marks the user as having to change their password (`reason`), or lifts the mark
    /// (`None`), while their stored hash is still `hash`: a password changed meanwhile is not
    /// marked for what was found of the old one. Whether a user was marked.
    async fn require_password_change(
        &self,
        user_id: &str,
        hash: &str,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;
}

/// The arguments of [`UserStore::change_password`].
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    /// Whose password.
    pub username: &'a Username,
    /// The stored hash the change replaces.
    pub replaces: &'a str,
    /// The new hash.
    pub hash: &'a str,
    /// The earlier hashes to keep, newest first (the replaced one among them when a history is
    /// kept).
    pub history: &'a [String],
    /// Seconds since the epoch.
    pub now: i64,
}

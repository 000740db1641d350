//! [`SessionStore`]: login sessions as administrators see and end them. A session is a
//! refresh-token family ([`super::TokenFamily`]): every login opens one, whether or not a
//! refresh token is issued with it, and its access tokens die with it. A session is live while
//! it is unrevoked and unexpired, and its user exists, is active and still has the session's
//! epoch.

use async_trait::async_trait;

use super::StoreError;

/// The most sessions one listing returns (newest first).
pub const MAX_LISTED_SESSIONS: usize = 1000;

/// A live session as listed: what the login was, never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id (the family id; the `sid` of its id_tokens).
    pub id: String,
    /// Its client.
    pub client_id: String,
    /// Its user's stable id.
    pub user_id: String,
    /// Its user's username.
    pub username: String,
    /// When the login happened.
    pub created_at: i64,
    /// When a token was last issued in it (its newest refresh token, else the login).
    pub last_used_at: i64,
    /// Its absolute expiry.
    pub expires_at: i64,
    /// The scope granted at the login.
    pub scope: String,
    /// How the user was authenticated (RFC 8176).
    pub amr: Vec<String>,
    /// The address of the login.
    pub ip: Option<String>,
    /// The `User-Agent` of the login.
    pub user_agent: Option<String>,
}

/// Which sessions an operation is about; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Sessions of this user (stable id).
    pub user_id: Option<String>,
    /// Sessions with this client.
    pub client_id: Option<String>,
    /// This one session.
    pub id: Option<String>,
}

/// The login sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The live sessions matching `filter` at `now`, newest first, at most
    /// [`MAX_LISTED_SESSIONS`].
    async fn list_sessions(
        &self,
        filter: &SessionFilter,
        now: i64,
    ) -> Result<Vec<Session>, StoreError>;
    /// Revokes the live sessions matching `filter`, in one transaction; their ids.
    async fn revoke_sessions(
        &self,
        filter: &SessionFilter,
        now: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// Ends every session of the user, in one transaction: revokes the live ones but `keep`, and
    /// raises the user's session epoch (so a login still in flight, which read the old epoch,
    /// is refused when it records its tokens); `keep`, when it is a live session of the user,
    /// moves to the new epoch. The ids revoked.
    async fn end_user_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, StoreError>;
    /// Revokes the user's live sessions that were authenticated with one of `authenticator_ids`;
    /// their ids.
    async fn revoke_sessions_by_authenticator(
        &self,
        user_id: &str,
        authenticator_ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError>;
}

//! [`TokenStore`]: what gatehouse remembers of the tokens it issued: refresh-token families and
//! their refresh tokens (RFC 6749 §6, rotated with reuse detection), and access tokens (for
//! introspection, RFC 7662, and revocation, RFC 7009), with the records they are stored as.
//! Secrets are known only by their SHA-256; what a reuse means is decided in the core.

use async_trait::async_trait;

use super::{Event, StoreError};
use crate::claims::{Attributes, Roles};

/// A refresh-token family: every refresh token descended from one password login. Revoking the
/// family kills all of them and every access token issued from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFamily {
    /// Random identifier.
    pub id: String,
    /// The client the family belongs to.
    pub client_id: String,
    /// The user's stable id.
    pub user_id: String,
    /// When the user entered their password (the OpenID Connect `auth_time`).
    pub auth_time: i64,
    /// When the family was made.
    pub created_at: i64,
    /// Absolute expiry: no refresh token of the family works after this.
    pub expires_at: i64,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The user's session epoch when the family was made: raising the user's epoch (a password
    /// change, a disabled account) ends every family of an older one.
    pub user_epoch: i64,
    /// How the user was authenticated (RFC 8176 values: `pwd`, then `otp`, `mfa`…).
    pub amr: Vec<String>,
    /// The second factor the login passed, if any: removing it ends the session.
    pub authenticator_id: Option<String>,
    /// The scope granted at the login, space-delimited.
    pub scope: String,
    /// The address the login came from.
    pub ip: Option<String>,
    /// The `User-Agent` of the login request, at most [`MAX_USER_AGENT_LEN`] bytes.
    pub user_agent: Option<String>,
}

/// The longest `User-Agent` kept with a session, in bytes.
pub const MAX_USER_AGENT_LEN: usize = 256;

impl TokenFamily {
    /// Whether the login passed a second factor.
    pub fn has_second_factor(&self) -> bool {
        self.amr.iter().any(|m| m != "pwd")
    }
}

/// A client's cap on the live sessions one user may hold with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimit {
    /// The most live sessions per user.
    pub max: u32,
    /// What a login beyond it does.
    pub policy: SessionLimitPolicy,
}

/// What a login does when its user already holds the most sessions the client allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionLimitPolicy {
    /// The oldest live sessions are revoked to make room.
    #[default]
    EvictOldest,
    /// The new login is refused.
    Deny,
}

impl SessionLimitPolicy {
    /// The policy's name in settings, flags and the admin API.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionLimitPolicy::EvictOldest => "evict_oldest",
            SessionLimitPolicy::Deny => "deny",
        }
    }

    /// Parses a policy name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "evict_oldest" => Some(SessionLimitPolicy::EvictOldest),
            "deny" => Some(SessionLimitPolicy::Deny),
            _ => None,
        }
    }
}

/// The tokens of one login: the arguments of [`TokenStore::record_login`].
#[derive(Debug, Clone, Copy)]
pub struct NewLogin<'a> {
    /// The session (family) the login opens.
    pub family: &'a TokenFamily,
    /// Its first refresh token, when the client gets one.
    pub refresh: Option<&'a RefreshTokenRecord>,
    /// The access token.
    pub access: &'a AccessTokenRecord,
    /// The client's cap on the user's live sessions, if any.
    pub limit: Option<SessionLimit>,
    /// The time of the login.
    pub now: i64,
    /// The login's audit event, stored with its tokens (in the same commit) when they are
    /// stored, and not at all when they are not.
    pub event: Option<&'a Event>,
}

/// What became of a login's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored; the ids of the sessions revoked to make room (`evict_oldest`).
    Stored {
        /// Sessions revoked by the limit, oldest first.
        evicted: Vec<String>,
    },
    /// Not stored: the user holds the most sessions the client allows (`deny`).
    OverLimit,
    /// Not stored: since the login read them, its client was removed, its user removed,
    /// disabled or their sessions ended, or its second factor removed.
    Stale,
}

/// One refresh token, known only by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    /// SHA-256 of the token, base64url.
    pub token_hash: String,
    /// Its family.
    pub family_id: String,
    /// The hash of the token it replaced, if any.
    pub parent_hash: Option<String>,
    /// Its scope, space-delimited (identical along the family, RFC 6749 §6).
    pub scope: String,
    /// When it was issued.
    pub created_at: i64,
    /// Idle expiry: it must be used before this.
    pub idle_expires_at: i64,
    /// When it was used (rotated); a used token presented again is a reuse.
    pub used_at: Option<i64>,
}

/// An issued access token: a JWT known by its `jti`, or an opaque token known by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    /// `jti` of a JWT, or SHA-256 (base64url) of an opaque token.
    pub id: String,
    /// The refresh-token family it was issued with, if any.
    pub family_id: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// The user's stable id.
    pub user_id: String,
    /// Granted scope, space-delimited.
    pub scope: String,
    /// When the user entered their password.
    pub auth_time: i64,
    /// Issued at.
    pub issued_at: i64,
    /// Expires at.
    pub expires_at: i64,
    /// Whether it was revoked, or its session ended (family revoked or removed, user removed,
    /// disabled or of a newer session epoch).
    pub revoked: bool,
    /// How its session's user authenticated (RFC 8176): read with the token from its family,
    /// not stored with it; empty for a token without a family.
    pub amr: Vec<String>,
}

impl AccessTokenRecord {
    /// Whether this is a client token (the client credentials grant, RFC 6749 §4.4): issued to
    /// a client acting for itself, with no family and no user (`user_id` empty).
    pub fn is_client_token(&self) -> bool {
        self.family_id.is_none() && self.user_id.is_empty()
    }
}

/// The user an access token was issued for, as read with the token: what introspection tells
/// of them (the username, and the attributes and roles the client's claims are made from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// The normalized username.
    pub username: String,
    /// The user's current attributes.
    pub attributes: Attributes,
    /// The user's current roles.
    pub roles: Roles,
}

/// The issued tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Records the tokens of one login in one transaction: its family (the session), its first
    /// refresh token if any, and the access token. The family is stored only while its client
    /// exists, its user exists, is active and still has the family's `user_epoch`, and its
    /// `authenticator_id` (if any) exists; else nothing is and the answer is
    /// [`Recorded::Stale`]. With a `limit`, the user's live sessions with the client are counted
    /// in the same transaction (serialized per user, so concurrent logins cannot overrun it) and
    /// the oldest revoked, or the login refused, per its policy.
    async fn record_login(&self, login: NewLogin<'_>) -> Result<Recorded, StoreError>;
    /// The refresh token with this hash and its family.
    async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, StoreError>;
    /// Marks the refresh token `old_hash` used and records its successor and the new access
    /// token, in one transaction, only if the token was unused and its family unrevoked. Returns
    /// `false`, changing nothing, when that no longer holds: exactly one of any number of
    /// concurrent calls with the same `old_hash` returns `true`.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
    ) -> Result<bool, StoreError>;
    /// [`TokenStore::rotate_refresh_token`], and when the rotation happens, `event` is stored with it
    /// (in the same transaction where the back end can), so a refresh costs one durable commit.
    async fn rotate_refresh_token_recorded(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        event: &Event,
    ) -> Result<bool, StoreError>;
    /// Revokes a family: its refresh tokens stop working and its access tokens are revoked.
    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError>;
    /// Records a client token ([`AccessTokenRecord::is_client_token`]: `family_id` `None`,
    /// `user_id` empty) only while its client exists: `false`, storing nothing, when the client
    /// is gone. A removal of the client that runs concurrently either waits for this write and
    /// then removes the token with the client, or goes first and the token is not stored.
    async fn record_client_token(&self, access: &AccessTokenRecord) -> Result<bool, StoreError>;
    /// The access token with this id (`jti` or hash); `revoked` also reflects its family and
    /// user. A client token lives until it is revoked or expires, or its client is removed.
    async fn find_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError>;
    /// The access token with this id and what introspection tells of its user: username,
    /// attributes and roles (`None` for a client token, which has no user); `None` when the
    /// token is missing, or its user is. Back ends read both in one query (introspection's hot
    /// path).
    async fn find_access_token_with_owner(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, StoreError>;
    /// Revokes one access token; unknown ids are ignored.
    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError>;
}

//! [`TokenStore`]: what gatehouse remembers of the tokens it issued: refresh-token families and
//! their refresh tokens (RFC 6749 §6, rotated with reuse detection), and access tokens (for
//! introspection, RFC 7662, and revocation, RFC 7009), with the records they are stored as.
//! Secrets are known only by their SHA-256; what a reuse means is decided in the core.

use async_trait::async_trait;

use super::{Event, StoreError};

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
    /// Whether it, or its family, was revoked.
    pub revoked: bool,
}

/// The issued tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Records the tokens of one grant in one transaction: a new family and its first refresh
    /// token when a refresh token is issued, and the access token.
    async fn record_issued_tokens(
        &self,
        family: Option<&TokenFamily>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> Result<(), StoreError>;
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
    /// The access token with this id (`jti` or hash); `revoked` also reflects its family.
    async fn find_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError>;
    /// The access token with this id and its user's username; `None` when either is missing.
    /// Back ends read both in one query (introspection's hot path).
    async fn find_access_token_with_username(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, String)>, StoreError>;
    /// Revokes one access token; unknown ids are ignored.
    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError>;
}

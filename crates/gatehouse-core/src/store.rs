//! The storage trait: the only way gatehouse reaches its database. Back ends convert their own
//! errors into [`StoreError`]; no database type crosses this boundary, and policy (what a reused
//! token means, who may see what) stays in the core.

use async_trait::async_trait;

use crate::audit::{Event, EventFilter};
use crate::client::{Client, ClientId};
use crate::lockout::AttemptState;
use crate::user::{User, Username};

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The record does not exist.
    #[error("not found")]
    NotFound,
    /// The record exists already, or a concurrent change won.
    #[error("conflict")]
    Conflict,
    /// The database failed or could not be reached.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

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

/// A signing key as stored: the private key in DER, as the key module wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id, the JWS `kid`.
    pub kid: String,
    /// JWS algorithm name (`EdDSA`, `ES256`, `RS256`).
    pub alg: String,
    /// The private key (PKCS#8 for EdDSA and ES256, PKCS#1 for RS256), sealed under the server
    /// key (see [`crate::sealing`]).
    pub private_der: Vec<u8>,
    /// When the key was made.
    pub created_at: i64,
}

/// How busy the database connection pool is, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most connections the pool will open.
    pub max: u32,
}

/// Everything gatehouse stores.
#[async_trait]
pub trait Store: crate::mfa::MfaStore + Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's usage; all zero for a store without a pool.
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }

    /// The client with this id.
    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError>;
    /// Every client, ordered by id.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Adds a client; `Conflict` if the id is taken.
    async fn insert_client(&self, client: &Client, now: i64) -> Result<(), StoreError>;
    /// Removes a client; `NotFound` if there is none.
    async fn delete_client(&self, id: &ClientId) -> Result<(), StoreError>;

    /// The user with this (normalized) username.
    async fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError>;
    /// Every user, ordered by username.
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    /// Adds a user; `Conflict` if the username is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Removes a user; `NotFound` if there is none.
    async fn delete_user(&self, username: &Username) -> Result<(), StoreError>;
    /// Replaces a user's password hash; `NotFound` if there is none.
    async fn set_password_hash(
        &self,
        username: &Username,
        hash: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// Adds `key` as the successor of the key `after` (`None`: as the very first key);
    /// `Conflict` if that key already has a successor, that is, another instance won the race
    /// to add one. Callers re-read [`Store::signing_keys`] either way.
    async fn insert_next_signing_key(
        &self,
        key: &StoredKey,
        after: Option<&str>,
    ) -> Result<(), StoreError>;

    /// Deletes up to `batch_size` rows per table whose expiry is before `now` (tokens, codes,
    /// replay entries) and returns how many went; the cleanup job calls it until it returns
    /// less than a full batch, so no statement holds locks for long.
    async fn delete_expired(&self, now: i64, batch_size: u32) -> Result<u64, StoreError>;
    /// Replaces a client's secret hash and settings; `NotFound` if there is none.
    async fn update_client(&self, client: &Client) -> Result<(), StoreError>;
    /// Replaces a user's password hash, email, phone and scopes; `NotFound` if there is none.
    async fn update_user(&self, user: &User, now: i64) -> Result<(), StoreError>;

    /// Records a client assertion's `jti` until `expires_at` (RFC 7523 §3 item 7). `true` the
    /// first time; `false` when the same client used the same `jti` in an assertion that has not
    /// expired (a replay). Atomic: of two concurrent calls, one gets `false`.
    async fn consume_assertion_jti(
        &self,
        client_id: &ClientId,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a one-time password code (by its hash) for `client_id`, and forgets codes that
    /// expired before `now`.
    async fn insert_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Marks a code used: `true` exactly once, for the client it was issued to, before it
    /// expires; `false` otherwise. Atomic: of two concurrent calls, one gets `true`.
    async fn consume_password_code(
        &self,
        code_hash: &str,
        client_id: &ClientId,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// The user with this stable id.
    async fn find_user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

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
    /// [`Store::rotate_refresh_token`], and when the rotation happens, `event` is stored with it
    /// (in the same transaction where the back end can), so a refresh costs one durable commit.
    async fn rotate_refresh_token_recorded(
        &self,
        old_hash: &str,
        now: i64,
        successor: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let rotated = self
            .rotate_refresh_token(old_hash, now, successor, access)
            .await?;
        if rotated {
            self.insert_event(event).await?;
        }
        Ok(rotated)
    }
    /// Revokes a family: its refresh tokens stop working and its access tokens are revoked.
    async fn revoke_token_family(&self, family_id: &str, now: i64) -> Result<(), StoreError>;
    /// The access token with this id (`jti` or hash); `revoked` also reflects its family.
    async fn find_access_token(&self, id: &str) -> Result<Option<AccessTokenRecord>, StoreError>;
    /// The access token with this id and its user's username; `None` when either is missing.
    /// Back ends read both in one query (introspection's hot path).
    async fn find_access_token_with_username(
        &self,
        id: &str,
    ) -> Result<Option<(AccessTokenRecord, String)>, StoreError> {
        let Some(record) = self.find_access_token(id).await? else {
            return Ok(None);
        };
        let user = self.find_user_by_id(&record.user_id).await?;
        Ok(user.map(|u| (record, u.username.as_str().to_owned())))
    }
    /// Revokes one access token; unknown ids are ignored.
    async fn revoke_access_token(&self, id: &str) -> Result<(), StoreError>;

    /// The attempt state of a lockout key; the default (version 0) when it has none.
    async fn login_attempts(&self, key: &str) -> Result<AttemptState, StoreError>;
    /// Stores `next` if the key's state still has `next.version` (0: no row yet), bumping the
    /// version; `false`, changing nothing, when another attempt swapped first.
    async fn swap_login_attempts(&self, key: &str, next: &AttemptState)
        -> Result<bool, StoreError>;
    /// Forgets a key's attempts; `true` when it had a row.
    async fn clear_login_attempts(&self, key: &str) -> Result<bool, StoreError>;
    /// When the failed-login bucket of a client address is empty again (0 when it has none).
    async fn source_drained_at(&self, ip: &str) -> Result<i64, StoreError>;
    /// Takes one attempt from an address's bucket if it has room, in one statement: when the
    /// backlog `max(drained_at - now, 0)` is at most `room` seconds, sets
    /// `drained_at = max(drained_at, now) + interval` and returns it; else changes nothing and
    /// returns `None` (the address is throttled). Atomic: of concurrent calls, only as many as
    /// the bucket has room for succeed.
    async fn reserve_source_attempt(
        &self,
        ip: &str,
        now: i64,
        interval: i64,
        room: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Gives back an attempt taken by [`Store::reserve_source_attempt`] (the login succeeded):
    /// `drained_at -= interval`. An address without a bucket is left alone.
    async fn refund_source_attempt(&self, ip: &str, interval: i64) -> Result<(), StoreError>;
    /// Deletes up to `batch_size` lockout rows whose last failure is before `forgotten_before`
    /// and that are not locked at `now`; returns how many went.
    async fn delete_forgotten_login_attempts(
        &self,
        forgotten_before: i64,
        now: i64,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
    /// Stores an audit event.
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError>;
    /// The events matching `filter`, newest first.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;
    /// Deletes up to `batch_size` events older than `before`; returns how many went.
    async fn delete_events_before(&self, before: i64, batch_size: u32) -> Result<u64, StoreError>;
}

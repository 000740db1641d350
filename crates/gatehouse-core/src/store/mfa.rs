//! [`MfaStore`]: second factors (TOTP, recovery codes), `mfa_token`s and the per-user bucket of
//! wrong codes, with the records they are stored as. The logic is in [`crate::mfa`] and
//! [`crate::grant`].

use async_trait::async_trait;

use super::StoreError;

/// The kinds of factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthenticatorKind {
    /// A TOTP app (Auth0's `otp`).
    Otp,
    /// The user's recovery code (Auth0's `recovery-code`).
    RecoveryCode,
}

impl AuthenticatorKind {
    /// The wire and stored name (`authenticator_type`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticatorKind::Otp => "otp",
            AuthenticatorKind::RecoveryCode => "recovery-code",
        }
    }

    /// Parses a stored name.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "otp" => Some(AuthenticatorKind::Otp),
            "recovery-code" => Some(AuthenticatorKind::RecoveryCode),
            _ => None,
        }
    }
}

/// One factor of a user. A user has at most one of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator {
    /// Random id, shown to clients and administrators.
    pub id: String,
    /// The user's stable id.
    pub user_id: String,
    /// What it is.
    pub kind: AuthenticatorKind,
    /// TOTP: the secret, sealed under the server key (context [`otp_seal_context`](crate::mfa::otp_seal_context)).
    pub secret_sealed: Option<Vec<u8>>,
    /// Recovery code: SHA-256 of the normalized code ([`recovery_code_hash`](crate::mfa::recovery_code_hash)).
    pub code_hash: Option<String>,
    /// Whether it counts: a TOTP factor is active after its first accepted code, and the
    /// recovery code with it.
    pub active: bool,
    /// TOTP: the last accepted time step; a code of this step or an earlier one is refused.
    pub last_step: i64,
    /// When it was enrolled.
    pub created_at: i64,
}

/// A stored `mfa_token`: known only by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaTokenRecord {
    /// SHA-256 of the token, base64url.
    pub token_hash: String,
    /// The user who entered the right password.
    pub user_id: String,
    /// The client the login is for.
    pub client_id: String,
    /// The scope the login will grant, space-delimited.
    pub scope: String,
    /// When the password was checked (the OpenID Connect `auth_time`).
    pub created_at: i64,
    /// After this it no longer works.
    pub expires_at: i64,
    /// When a login completed with it; it works only once.
    pub used_at: Option<i64>,
}

/// The storage of factors, `mfa_token`s and the per-user bucket of wrong codes; part of
/// [`Store`](super::Store). Every method that decides a race is one atomic statement or one
/// transaction.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's factors, TOTP first.
    async fn mfa_authenticators(&self, user_id: &str) -> Result<Vec<Authenticator>, StoreError>;
    /// Enrols `otp` and `recovery` (both inactive) in one transaction, replacing factors of the
    /// user that are not active yet; `false`, changing nothing, when the user has an active
    /// TOTP factor.
    async fn enrol_mfa(
        &self,
        otp: &Authenticator,
        recovery: &Authenticator,
    ) -> Result<bool, StoreError>;
    /// Records `step` as the last accepted step of the user's TOTP factor `id` and activates the
    /// user's factors, only if `step` is later than the stored one: of concurrent calls with
    /// the same step, exactly one returns `true`.
    async fn accept_totp_step(
        &self,
        user_id: &str,
        id: &str,
        step: i64,
    ) -> Result<bool, StoreError>;
    /// Replaces the user's active recovery code `old_hash` by `new_hash`; `false` when it is
    /// not (any more) the user's code. Atomic.
    async fn rotate_recovery_code(
        &self,
        user_id: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Removes one factor of the user; `false` when there is none with this id.
    async fn delete_mfa_authenticator(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;
    /// Stores a new `mfa_token`.
    async fn insert_mfa_token(&self, token: &MfaTokenRecord) -> Result<(), StoreError>;
    /// The `mfa_token` with this hash, used or expired ones included.
    async fn find_mfa_token(&self, token_hash: &str) -> Result<Option<MfaTokenRecord>, StoreError>;
    /// Marks an `mfa_token` used: `true` once, before it expires. Atomic.
    async fn consume_mfa_token(&self, token_hash: &str, now: i64) -> Result<bool, StoreError>;
    /// When the user's bucket of wrong codes is empty again (0 when it has none).
    async fn mfa_drained_at(&self, user_id: &str) -> Result<i64, StoreError>;
    /// Takes one code from the user's bucket if it has room, in one statement, before the code
    /// is checked: when the backlog `max(drained_at - now, 0)` is at most `room` seconds, sets
    /// `drained_at = max(drained_at, now) + interval` and returns it; else changes nothing and
    /// returns `None` (too many wrong codes). Atomic: of concurrent calls, only as many as the
    /// bucket has room for succeed.
    async fn reserve_mfa_attempt(
        &self,
        user_id: &str,
        now: i64,
        interval: i64,
        room: i64,
    ) -> Result<Option<i64>, StoreError>;
    /// Gives back a code taken by [`MfaStore::reserve_mfa_attempt`] (it was right):
    /// `drained_at -= interval`. A user without a bucket is left alone.
    async fn refund_mfa_attempt(&self, user_id: &str, interval: i64) -> Result<(), StoreError>;
}

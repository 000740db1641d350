//! Multi-factor login on the password grant, in Auth0's wire format (which Okta's SDKs speak
//! too): a password login that needs a second factor is answered `mfa_required` with an
//! `mfa_token`; the client then lists factors (`/mfa/authenticators`), enrols one
//! (`/mfa/associate`), asks for a challenge (`/mfa/challenge`) and completes the login at the
//! token endpoint with the `mfa-otp` or `mfa-recovery-code` grant. Keycloak's single request
//! (`otp` or `totp` next to the password) works as well.
//!
//! Factors: TOTP ([`totp`], secret sealed under the server key) and one recovery code per user
//! (128 random bits, stored as its SHA-256, replaced by a fresh one each time it is used).
//! [`SecondFactor`] checks codes and keeps the `mfa_token`s of waiting logins, for the grants of
//! [`crate::grant`] and for [`api::Mfa`], the MFA API; this module holds the records, the
//! storage trait and the fixed numbers.

pub mod api;
mod second_factor;
pub mod totp;

pub use second_factor::SecondFactor;

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// The `grant_type` completing a login with a TOTP code.
pub const GRANT_MFA_OTP: &str = "http://auth0.com/oauth/grant-type/mfa-otp";
/// The `grant_type` completing a login with a recovery code.
pub const GRANT_MFA_RECOVERY_CODE: &str = "http://auth0.com/oauth/grant-type/mfa-recovery-code";
/// The default lifetime of an `mfa_token`: 10 minutes, as Auth0's.
pub const DEFAULT_MFA_TOKEN_TTL: i64 = 600;
/// Wrong codes a user may have in the bucket (Auth0: 10 attempts ...).
pub const CODE_BUCKET_LIMIT: u32 = 10;
/// ... regaining one every 6 minutes.
pub const CODE_BUCKET_INTERVAL: i64 = 360;
/// Said for every wrong, reused or unusable code, as Auth0 says it.
pub const INVALID_OTP: &str = "Invalid otp_code.";
/// Said for a wrong or used recovery code.
pub const INVALID_RECOVERY_CODE: &str = "Invalid recovery code.";

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
    /// TOTP: the secret, sealed under the server key (context [`otp_seal_context`]).
    pub secret_sealed: Option<Vec<u8>>,
    /// Recovery code: SHA-256 of the normalized code ([`recovery_code_hash`]).
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
/// [`crate::store::Store`]. Every method that decides a race is one atomic statement or one
/// transaction.
#[async_trait]
pub trait MfaStore {
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
    /// Adds one wrong code to the user's bucket in one statement:
    /// `drained_at = max(drained_at, now) + interval`. Returns the new `drained_at`.
    async fn add_mfa_failure(
        &self,
        user_id: &str,
        now: i64,
        interval: i64,
    ) -> Result<i64, StoreError>;
}

/// Removes the user's factor `id`, and with the TOTP factor the recovery code too (it stands in
/// for TOTP only). Returns what went: nothing when the user has no factor `id`.
pub async fn remove_factor(
    store: &dyn crate::store::Store,
    user_id: &str,
    id: &str,
) -> Result<Vec<Authenticator>, crate::Error> {
    let all = store.mfa_authenticators(user_id).await?;
    let Some(target) = all.iter().find(|a| a.id == id) else {
        return Ok(Vec::new());
    };
    let doomed: Vec<Authenticator> = if target.kind == AuthenticatorKind::Otp {
        all.clone()
    } else {
        vec![target.clone()]
    };
    let mut removed = Vec::new();
    for factor in doomed {
        if store.delete_mfa_authenticator(user_id, &factor.id).await? {
            removed.push(factor);
        }
    }
    Ok(removed)
}

/// The associated data a sealed TOTP secret is bound to.
pub fn otp_seal_context(user_id: &str, authenticator_id: &str) -> String {
    format!("mfa-otp:{user_id}:{authenticator_id}")
}

/// A new authenticator id: its kind and 128 random bits.
pub fn new_authenticator_id(kind: AuthenticatorKind) -> String {
    format!("{}_{}", kind.as_str(), crate::random::id())
}

/// A new recovery code: 128 random bits as 26 base32 characters.
pub fn new_recovery_code() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    totp::base32(&bytes)
}

/// The stored form of a recovery code: SHA-256 of the code without spaces or dashes, in upper
/// case. A fast hash suffices: the code carries 128 random bits, so a stolen hash cannot be
/// reversed by guessing, however fast each guess is.
pub fn recovery_code_hash(code: &str) -> String {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_carry_128_bits_and_hash_forgivingly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 26);
        assert_ne!(code, new_recovery_code());
        let spaced = format!("{} {}-{}", &code[..8], &code[8..16], &code[16..]).to_lowercase();
        assert_eq!(recovery_code_hash(&spaced), recovery_code_hash(&code));
        assert_ne!(
            recovery_code_hash(&code),
            recovery_code_hash(&new_recovery_code())
        );
    }
}

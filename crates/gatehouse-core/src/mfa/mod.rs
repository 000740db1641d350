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
//! [`crate::grant`] and for [`api::Mfa`], the MFA API; this module holds the fixed numbers and
//! the helpers. The records and the storage trait are in [`crate::store`] (re-exported here).

pub mod api;
pub(crate) mod removal;
mod second_factor;
pub mod totp;

pub use second_factor::SecondFactor;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use crate::store::{Authenticator, AuthenticatorKind, MfaStore, MfaTokenRecord};

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

/// The user's active TOTP factor, if any.
pub(crate) async fn active_otp(
    store: &dyn MfaStore,
    user_id: &str,
) -> Result<Option<Authenticator>, crate::Error> {
    Ok(store
        .mfa_authenticators(user_id)
        .await?
        .into_iter()
        .find(|a| a.kind == AuthenticatorKind::Otp && a.active))
}

/// Removes the user's factor `id`, and with the TOTP factor the recovery code too (it stands in
/// for TOTP only). Returns what went: nothing when the user has no factor `id`.
pub async fn remove_factor(
    store: &dyn crate::store::MfaStore,
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

//! Resource owners: usernames normalized with the PRECIS UsernameCaseMapped profile (RFC 8265
//! §3.3: width mapping, NFC, lower case), and the records kept for each user.

use std::fmt;

use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::UsernameCaseMapped;

use crate::claims::{Attributes, Roles};
use crate::error::Error;
use crate::scope::ScopeSet;

/// The longest username accepted, in bytes, before and after normalization.
pub const MAX_USERNAME_LEN: usize = 256;
/// The longest password accepted, in bytes.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// A username after PRECIS UsernameCaseMapped enforcement, so `Alice` and `ALICE` (and the
/// full-width `ＡＬＩＣＥ`) name the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Normalizes and validates a username.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.is_empty() || raw.len() > MAX_USERNAME_LEN {
            return Err(Error::invalid_request(format!(
                "username must be 1 to {MAX_USERNAME_LEN} bytes"
            )));
        }
        // Enforcement must be idempotent: a stored name is compared with what a later request
        // normalizes to. The profile checks the code points before NFC composes them, so a name
        // such as "=\u{338}" passes once and becomes "\u{2260}", which the identifier class
        // refuses. Such names are refused here, so every accepted name is a fixed point.
        let invalid = || {
            Error::invalid_request(
                "username is not valid under the PRECIS UsernameCaseMapped profile (RFC 8265)",
            )
        };
        let name = UsernameCaseMapped::enforce(raw).map_err(|_| invalid())?;
        if name.len() > MAX_USERNAME_LEN {
            return Err(invalid());
        }
        match UsernameCaseMapped::enforce(name.as_ref()) {
            Ok(again) if again == name => Ok(Username(name.into_owned())),
            _ => Err(invalid()),
        }
    }

    /// Wraps a username read back from storage, which was normalized when it was stored.
    pub fn from_trusted(normalized: String) -> Self {
        Username(normalized)
    }

    /// The normalized username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable opaque identifier, the `sub` of every token.
    pub id: String,
    /// Normalized username.
    pub username: Username,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Email address, if known.
    pub email: Option<String>,
    /// Phone number, if known.
    pub phone: Option<String>,
    /// The scopes this user may be granted; `None` means whatever the client allows.
    pub scopes: Option<ScopeSet>,
    /// Creation time, seconds since the epoch.
    pub created_at: i64,
    /// Whether the user may log in; a disabled user's logins fail like a wrong password.
    pub active: bool,
    /// Raised whenever all the user's sessions end (password change, disabling): a session of
    /// an older epoch is dead.
    pub session_epoch: i64,
    /// When the password was last set, seconds since the epoch.
    pub password_changed_at: i64,
    /// Why the user must change their password, if they must: `breached:common`,
    /// `breached:blocklist`, `breached:online` (a login found it on that list) or `expired`.
    pub password_change_required: Option<String>,
    /// The user's attributes, which client claim mappers may release (see [`crate::claims`]).
    pub attributes: Attributes,
    /// The user's roles (`gatehouse:admin`…), which client claim mappers may release.
    pub roles: Roles,
    /// The external user store the user came from (issue 22), `None` for users created here.
    /// While `password_hash` is [`crate::external_users::EXTERNAL_PASSWORD`] the store checks
    /// every login; otherwise the password was migrated and is checked locally.
    pub store: Option<String>,
}

impl User {
    /// Whether the user's password is checked by its external store rather than locally.
    pub fn is_checked_externally(&self) -> bool {
        self.password_hash == crate::external_users::EXTERNAL_PASSWORD
    }

    /// The scopes this user may receive, out of `requested`: those of the user's own
    /// `scopes` (all, when unset), and the admin scope (`gatehouse:admin`) only for a user who
    /// holds a console role, so that nobody else is issued a token for the admin API, whatever
    /// client asks.
    pub fn entitled(&self, requested: &ScopeSet) -> ScopeSet {
        let allowed = match &self.scopes {
            Some(own) => requested.intersection(own),
            None => requested.clone(),
        };
        let admin = crate::console::ADMIN_SCOPE;
        if allowed.contains(admin) && crate::console::ConsoleRole::of(&self.roles).is_none() {
            return ScopeSet::from_trusted(allowed.iter().filter(|s| *s != admin));
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_match_case_insensitively_after_normalization() {
        let a = Username::parse("Alice@Example.com").unwrap();
        let b = Username::parse("alice@example.com").unwrap();
        let wide = Username::parse("\u{ff21}lice@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, wide);
    }

    #[test]
    fn rejects_spaces_controls_and_overlong_names() {
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse("a\0b").is_err());
        assert!(Username::parse(&"a".repeat(MAX_USERNAME_LEN + 1)).is_err());
        assert!(Username::parse("").is_err());
    }

    #[test]
    fn refuses_names_that_normalization_turns_into_disallowed_code_points() {
        // '=' + U+0338 composes to U+2260 (a symbol), found by the token_request fuzz target.
        assert!(Username::parse("\u{338}rname=\u{338}00.0[").is_err());
        assert!(Username::parse("a=\u{338}b").is_err());
        // Combining marks that compose into letters are still fine, and stable.
        let composed = Username::parse("e\u{301}mile").unwrap();
        assert_eq!(composed.as_str(), "\u{e9}mile");
        assert_eq!(Username::parse(composed.as_str()).unwrap(), composed);
    }
}

//! The one error type of gatehouse: RFC 6749 §5.2 codes, RFC 6750 §3.1 `invalid_token`, the admin
//! API's `NotFound`/`Conflict`, overload, and `Internal` for everything that is our fault.

use std::borrow::Cow;

/// Text sent to the client in `error_description`: fixed or built from validated input, never
/// from an internal error.
pub type Description = Cow<'static, str>;

/// How a client tried to authenticate, recorded so the HTTP layer can answer `invalid_client`
/// with `WWW-Authenticate: Basic` when Basic was used (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic (`client_secret_basic`).
    Basic,
    /// `client_id`/`client_secret` in the body (`client_secret_post`).
    Post,
    /// `client_id` alone (a public client).
    None,
    /// A JWT assertion signed with a registered key (RFC 7523 §2.2, `private_key_jwt`).
    PrivateKeyJwt,
    /// A JWT assertion MACed with the client secret (`client_secret_jwt`).
    ClientSecretJwt,
}

/// Every error gatehouse can answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RFC 6749 §5.2 `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(Description),
    /// RFC 6749 §5.2 `invalid_client`.
    #[error("invalid_client: {description}")]
    InvalidClient {
        /// How the client tried to authenticate.
        method: AuthMethod,
        /// What went wrong, safe to send.
        description: Description,
    },
    /// RFC 6749 §5.2 `invalid_grant`.
    #[error("invalid_grant: {0}")]
    InvalidGrant(Description),
    /// RFC 6749 §5.2 `unauthorized_client`.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(Description),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(Description),
    /// RFC 6749 §5.2 `invalid_scope`.
    #[error("invalid_scope: {0}")]
    InvalidScope(Description),
    /// RFC 6750 §3.1 `invalid_token`.
    #[error("invalid_token: {0}")]
    InvalidToken(Description),
    /// RFC 6750 §3.1 `insufficient_scope`.
    #[error("insufficient_scope: {0}")]
    InsufficientScope(Description),
    /// The request body is larger than the server accepts.
    #[error("request too large: {0}")]
    PayloadTooLarge(Description),
    /// An admin API body that parsed but is not a valid resource; the description starts with
    /// the offending field (`"grant_types: unknown grant type \"x\""`).
    #[error("invalid body: {0}")]
    InvalidBody(Description),
    /// A resource of the admin API or CLI does not exist.
    #[error("not found: {0}")]
    NotFound(Description),
    /// A resource already exists or was changed concurrently.
    #[error("conflict: {0}")]
    Conflict(Description),
    /// The server sheds this request; retry after the given number of seconds.
    #[error("overloaded, retry after {retry_after} s")]
    Overloaded {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// Whether to close the connection after the answer: the server holds as many shed
        /// answers as it will (see [`crate::hash_admission`]).
        close: bool,
    },
    /// An external user store (issue 22) could not answer: the login fails closed (HTTP 503),
    /// never as a wrong password.
    #[error("a user store is unavailable, retry after {retry_after} s")]
    UserStoreUnavailable {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// Too many failed logins from this client address (HTTP 429, Auth0's `too_many_attempts`).
    #[error("too many failed logins, retry after {retry_after} s")]
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// The password was right and a second factor is needed (Auth0's `mfa_required`, HTTP 403):
    /// continue with the `mfa_token`.
    #[error("mfa_required")]
    MfaRequired {
        /// Opaque, bound to the user, the client and the scope; short-lived.
        mfa_token: String,
    },
    /// An `mfa_token` past its lifetime (Auth0's `expired_token`, RFC 8628 §3.5's code).
    #[error("expired_token: {0}")]
    ExpiredToken(Description),
    /// The request is understood and refused (Auth0's `access_denied`, HTTP 403), e.g. a user
    /// who is already enrolled asks to enrol again.
    #[error("access_denied: {0}")]
    AccessDenied(Description),
    /// `/mfa/challenge` for a factor the user does not have (Auth0's
    /// `unsupported_challenge_type`).
    #[error("unsupported_challenge_type: {0}")]
    UnsupportedChallengeType(Description),
    /// Too many wrong second-factor codes for this user (HTTP 429, `too_many_attempts`).
    #[error("too many wrong codes, retry after {retry_after} s")]
    TooManyCodes {
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// A new password fails the password policy or is on a breached list (HTTP 422,
    /// `invalid_password`, with the rule it failed).
    #[error("invalid_password: {rule}: {description}")]
    InvalidPassword {
        /// The rule: `min_length`, `max_length`, `characters`, `character_classes`, `context`,
        /// `history` or `breached`.
        rule: &'static str,
        /// What the rule asks; never the password.
        description: Description,
    },
    /// The (right) password is on a breached list and the client blocks such logins until it is
    /// changed (Auth0's `password_leaked`, HTTP 403).
    #[error("password_leaked")]
    PasswordLeaked,
    /// Anything that is the server's fault. The cause is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// The wire string of this error (`"invalid_grant"`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) | Error::PayloadTooLarge(_) | Error::InvalidBody(_) => {
                "invalid_request"
            }
            Error::InvalidClient { .. } => "invalid_client",
            Error::InvalidGrant(_) => "invalid_grant",
            Error::UnauthorizedClient(_) => "unauthorized_client",
            Error::UnsupportedGrantType(_) => "unsupported_grant_type",
            Error::InvalidScope(_) => "invalid_scope",
            Error::InvalidToken(_) => "invalid_token",
            Error::InsufficientScope(_) => "insufficient_scope",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Overloaded { .. } | Error::UserStoreUnavailable { .. } => {
                "temporarily_unavailable"
            }
            Error::TooManyRequests { .. } | Error::TooManyCodes { .. } => "too_many_attempts",
            Error::MfaRequired { .. } => "mfa_required",
            Error::ExpiredToken(_) => "expired_token",
            Error::AccessDenied(_) => "access_denied",
            Error::UnsupportedChallengeType(_) => "unsupported_challenge_type",
            Error::InvalidPassword { .. } => "invalid_password",
            Error::PasswordLeaked => "password_leaked",
            Error::Internal(_) => "server_error",
        }
    }

    /// The `error_description` to send, if any. `Internal` never has one.
    pub fn description(&self) -> Option<&str> {
        match self {
            Error::InvalidRequest(d)
            | Error::InvalidClient { description: d, .. }
            | Error::InvalidGrant(d)
            | Error::UnauthorizedClient(d)
            | Error::UnsupportedGrantType(d)
            | Error::InvalidScope(d)
            | Error::InvalidToken(d)
            | Error::InsufficientScope(d)
            | Error::PayloadTooLarge(d)
            | Error::InvalidBody(d)
            | Error::NotFound(d)
            | Error::Conflict(d)
            | Error::ExpiredToken(d)
            | Error::AccessDenied(d)
            | Error::UnsupportedChallengeType(d)
            | Error::InvalidPassword { description: d, .. } => Some(d),
            Error::PasswordLeaked => Some(
                "this login was blocked because the password was found in a list of breached \
                 or common passwords; it must be changed",
            ),
            Error::MfaRequired { .. } => Some("Multifactor authentication required"),
            Error::TooManyCodes { .. } => Some("too many wrong codes for this user, retry later"),
            Error::Overloaded { .. } => Some("the server is busy, retry later"),
            Error::UserStoreUnavailable { .. } => {
                Some("the user directory is unavailable, retry later")
            }
            Error::TooManyRequests { .. } => {
                Some("too many failed logins from this address, retry later")
            }
            Error::Internal(_) => None,
        }
    }

    /// Wraps any error as `Internal`.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(source.into())
    }

    /// An `InvalidBody` naming `field`, which may be a name the client sent: it is echoed
    /// within the description's character set.
    pub fn invalid_field(field: &str, what: impl std::fmt::Display) -> Self {
        Error::InvalidBody(format!("{}: {what}", echo(field)).into())
    }

    /// `Overloaded`, answered 503 with `Retry-After: 1`, the connection kept.
    pub fn overloaded() -> Self {
        Error::Overloaded {
            retry_after: 1,
            close: false,
        }
    }

    /// Shorthand for `InvalidRequest`.
    pub fn invalid_request(description: impl Into<Description>) -> Self {
        Error::InvalidRequest(description.into())
    }
}

/// Whether `text` keeps to the characters RFC 6749 §5.2 allows in `error_description`:
/// %x20-21 / %x23-5B / %x5D-7E, printable ASCII without `"` and `\`.
pub fn is_description_text(text: &str) -> bool {
    text.bytes().all(description_byte)
}

fn description_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// `text` with every character outside the `error_description` set replaced by `?`.
pub fn mend(text: &str) -> String {
    text.chars()
        .map(|c| match u8::try_from(c) {
            Ok(b) if description_byte(b) => c,
            _ => '?',
        })
        .collect()
}

/// The longest client-sent value echoed in a description, in characters.
const ECHO_MAX: usize = 64;

/// A value the client sent, to be named inside an `error_description`: characters outside the
/// RFC 6749 §5.2 set become `?` and a long value is cut to 64 characters followed by `...`.
pub fn echo(value: &str) -> String {
    let mut out = mend(&value.chars().take(ECHO_MAX).collect::<String>());
    if value.chars().nth(ECHO_MAX).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_rfc_6749_character_set() {
        assert!(is_description_text(
            "the scope admin is not allowed (RFC 6749 section 3.3)"
        ));
        for bad in [
            "a \"quoted\" value",
            "back\\slash",
            "section \u{a7}3.2",
            "tab\t",
            "\u{7f}",
        ] {
            assert!(!is_description_text(bad), "{bad:?}");
            assert!(is_description_text(&mend(bad)), "{bad:?}");
        }
        assert_eq!(echo("\"x\\é"), "?x??");
        let long = "a".repeat(100);
        assert_eq!(echo(&long), format!("{}...", "a".repeat(64)));
        assert_eq!(echo(&"a".repeat(64)), "a".repeat(64));
    }

    #[test]
    fn internal_errors_carry_no_description() {
        let err = Error::internal("disk on fire");
        assert_eq!(err.code(), "server_error");
        assert_eq!(err.description(), None);
    }
}

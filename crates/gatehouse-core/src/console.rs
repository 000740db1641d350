//! Admin accounts and the web console's sessions (issue 19). A user holding the role
//! `gatehouse:admin` (or `gatehouse:viewer`, read-only) signs in to the console with the password
//! grant on the built-in public client [`CONSOLE_CLIENT_ID`], whose MFA policy is `required`;
//! the access token it gets (scope [`ADMIN_SCOPE`]) is also accepted by the admin REST API.
//! [`AdminTokens`] decides what such a token may do, reading the user's roles on every request,
//! so a role taken away takes effect at once. [`ConsoleSessions`] keeps the console's session in
//! a cookie sealed (AES-256-GCM) under the server key: the access token, when the session began
//! and when it was last used. Nothing is kept per session on the server but the token's own row,
//! so any instance behind a load balancer serves any session, and signing out revokes the token
//! everywhere. The CSRF token of a session's forms is derived from its access token.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::claims::Roles;
use crate::client::{ClientSettings, GrantType, MfaPolicy, TokenFormat};
use crate::clock::Clock;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::token::resolve::AccessTokens;

/// The id of the console's built-in public client.
pub const CONSOLE_CLIENT_ID: &str = "gatehouse-console";
/// The scope an access token needs for the admin API and the console.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";
/// The role that may read and change everything.
pub const ADMIN_ROLE: &str = "gatehouse:admin";
/// The role that may only read.
pub const VIEWER_ROLE: &str = "gatehouse:viewer";

/// What an admin account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleRole {
    /// Read and change (`gatehouse:admin`).
    Admin,
    /// Read only (`gatehouse:viewer`).
    Viewer,
}

impl ConsoleRole {
    /// The strongest console role among `roles`, if any.
    pub fn of(roles: &Roles) -> Option<Self> {
        let mut found = None;
        for role in roles.iter() {
            if role == ADMIN_ROLE {
                return Some(ConsoleRole::Admin);
            }
            if role == VIEWER_ROLE {
                found = Some(ConsoleRole::Viewer);
            }
        }
        found
    }

    /// Whether this role may change anything.
    pub fn can_write(self) -> bool {
        self == ConsoleRole::Admin
    }

    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsoleRole::Admin => ADMIN_ROLE,
            ConsoleRole::Viewer => VIEWER_ROLE,
        }
    }
}

/// An administrator, as a live admin access token shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Administrator {
    /// Their normalized username.
    pub username: String,
    /// What they may do, from their roles now.
    pub role: ConsoleRole,
}

/// The settings of the console's built-in public client: the password grant only, the
/// [`ADMIN_SCOPE`] scope, MFA required, opaque access tokens living `absolute_timeout` seconds.
pub fn console_client_settings(absolute_timeout: u32) -> ClientSettings {
    ClientSettings {
        grant_types: vec![GrantType::Password],
        scopes: vec![ADMIN_SCOPE.to_owned()],
        default_scopes: vec![ADMIN_SCOPE.to_owned()],
        access_token_ttl: absolute_timeout,
        token_format: TokenFormat::Opaque,
        secret_required: false,
        mfa: MfaPolicy::Required,
        ..ClientSettings::default()
    }
}

/// Decides what an access token presented to the admin API or the console may do.
#[derive(derive_new::new)]
pub struct AdminTokens {
    access_tokens: Arc<AccessTokens>,
}

impl AdminTokens {
    /// The administrator behind `token`: a live access token of a user, granted
    /// [`ADMIN_SCOPE`], from a login that passed a second factor (`amr` has `mfa`), whose user
    /// holds a console role now. `InvalidToken` for a token that is not live, `AccessDenied`
    /// for one that is but may not administer.
    pub async fn administrator(&self, token: &str) -> Result<Administrator, Error> {
        let Some((record, owner)) = self
            .access_tokens
            .resolve_access_token_with_owner(token)
            .await?
        else {
            return Err(Error::InvalidToken(
                "a valid admin bearer token is required".into(),
            ));
        };
        let owner = owner
            .filter(|_| !record.is_client_token())
            .ok_or_else(|| Error::AccessDenied("the token has no admin role".into()))?;
        if !record.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(Error::InsufficientScope(
                "the access token was not granted the gatehouse:admin scope".into(),
            ));
        }
        if !record.amr.iter().any(|m| m == "mfa") {
            return Err(Error::AccessDenied(
                "an admin token must come from a login with a second factor".into(),
            ));
        }
        let role = ConsoleRole::of(&owner.roles)
            .ok_or_else(|| Error::AccessDenied("the token has no admin role".into()))?;
        Ok(Administrator {
            username: owner.username,
            role,
        })
    }
}

/// The sealed contents of a console session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// The access token of the console's login.
    #[serde(rename = "t")]
    pub access_token: String,
    /// When the session began (Unix seconds).
    #[serde(rename = "c")]
    pub created_at: i64,
    /// When it was last used (Unix seconds).
    #[serde(rename = "s")]
    pub seen_at: i64,
}

/// Why a console session cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRejected {
    /// Not a cookie this server sealed.
    Invalid,
    /// Unused for longer than the idle timeout.
    Idle,
    /// Older than the absolute timeout.
    Expired,
}

/// Seals, opens and times console session cookies.
pub struct ConsoleSessions {
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    idle_timeout: i64,
    absolute_timeout: i64,
}

/// What the sealed cookie value is bound to.
const SEAL_CONTEXT: &str = "console-session";

impl ConsoleSessions {
    /// Sessions sealed by `sealer`, ended after `idle_timeout` seconds unused or
    /// `absolute_timeout` seconds after sign-in.
    pub fn new(
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
        idle_timeout: u32,
        absolute_timeout: u32,
    ) -> Self {
        ConsoleSessions {
            sealer,
            clock,
            idle_timeout: i64::from(idle_timeout),
            absolute_timeout: i64::from(absolute_timeout),
        }
    }

    /// The time now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The absolute timeout, in seconds.
    pub fn absolute_timeout(&self) -> i64 {
        self.absolute_timeout
    }

    /// A new session for `access_token`, beginning now.
    pub fn begin(&self, access_token: String) -> ConsoleSession {
        let now = self.clock.now();
        ConsoleSession {
            access_token,
            created_at: now,
            seen_at: now,
        }
    }

    /// The cookie value of `session`, as used now.
    pub fn seal(&self, session: &ConsoleSession) -> Result<String, Error> {
        let mut session = session.clone();
        session.seen_at = self.clock.now();
        let plain = serde_json::to_vec(&session).map_err(Error::internal)?;
        Ok(URL_SAFE_NO_PAD.encode(self.sealer.seal(SEAL_CONTEXT, &plain)?))
    }

    /// The session a cookie value holds, if it is ours and still in time.
    pub fn open(&self, cookie: &str) -> Result<ConsoleSession, SessionRejected> {
        let sealed = URL_SAFE_NO_PAD
            .decode(cookie.as_bytes())
            .map_err(|_| SessionRejected::Invalid)?;
        let plain = self
            .sealer
            .open(SEAL_CONTEXT, &sealed)
            .map_err(|_| SessionRejected::Invalid)?;
        let session: ConsoleSession =
            serde_json::from_slice(&plain).map_err(|_| SessionRejected::Invalid)?;
        let now = self.clock.now();
        if now - session.created_at >= self.absolute_timeout {
            return Err(SessionRejected::Expired);
        }
        if now - session.seen_at >= self.idle_timeout {
            return Err(SessionRejected::Idle);
        }
        Ok(session)
    }
}

/// The CSRF token of the forms of a session (or of the sign-in page's pre-session value):
/// SHA-256 of a fixed label and the secret, which only the server and the cookie's holder know.
pub fn csrf_token(secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"gatehouse-console-csrf\0");
    hasher.update(secret.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

/// Whether `presented` is the CSRF token for `secret`, compared in constant time.
pub fn csrf_matches(secret: &str, presented: &str) -> bool {
    let expected = csrf_token(secret);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    fn sessions(clock: Arc<FixedClock>) -> ConsoleSessions {
        ConsoleSessions::new(Arc::new(Sealer::new(&[7; 32])), clock, 900, 28_800)
    }

    #[test]
    fn a_session_cookie_round_trips_and_times_out_when_idle_or_old() {
        let clock = Arc::new(FixedClock::new(1_000_000));
        let s = sessions(clock.clone());
        let session = s.begin("tok".into());
        let cookie = s.seal(&session).unwrap();
        assert_eq!(s.open(&cookie).unwrap().access_token, "tok");
        clock.advance(899);
        let renewed = s.seal(&s.open(&cookie).unwrap()).unwrap();
        clock.advance(1);
        assert_eq!(s.open(&cookie).unwrap_err(), SessionRejected::Idle);
        assert!(s.open(&renewed).is_ok());
        let mut last = renewed;
        for _ in 0..40 {
            clock.advance(800);
            match s.open(&last) {
                Ok(open) => last = s.seal(&open).unwrap(),
                Err(e) => {
                    assert_eq!(e, SessionRejected::Expired);
                    return;
                }
            }
        }
        panic!("the absolute timeout never ended the session");
    }

    #[test]
    fn a_forged_or_foreign_cookie_is_invalid() {
        let clock = Arc::new(FixedClock::new(1_000_000));
        let s = sessions(clock.clone());
        assert_eq!(s.open("abc").unwrap_err(), SessionRejected::Invalid);
        let other = ConsoleSessions::new(Arc::new(Sealer::new(&[8; 32])), clock, 900, 28_800);
        let cookie = other.seal(&other.begin("tok".into())).unwrap();
        assert_eq!(s.open(&cookie).unwrap_err(), SessionRejected::Invalid);
    }

    #[test]
    fn csrf_tokens_belong_to_their_secret() {
        let t = csrf_token("secret-a");
        assert!(csrf_matches("secret-a", &t));
        assert!(!csrf_matches("secret-b", &t));
        assert!(!csrf_matches("secret-a", ""));
    }

    #[test]
    fn the_admin_role_outranks_the_viewer_role() {
        let roles = Roles::parse(["x", VIEWER_ROLE, ADMIN_ROLE]).unwrap();
        assert_eq!(ConsoleRole::of(&roles), Some(ConsoleRole::Admin));
        let roles = Roles::parse([VIEWER_ROLE]).unwrap();
        assert_eq!(ConsoleRole::of(&roles), Some(ConsoleRole::Viewer));
        assert_eq!(ConsoleRole::of(&Roles::parse(["x"]).unwrap()), None);
    }
}

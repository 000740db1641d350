//! Token requests: one module per grant, and [`Grants`], which runs them for a client that is
//! already authenticated. [`TokenIssuer`] (`issue`) makes the tokens every grant hands out; the
//! second factor of a login is checked by [`crate::mfa::SecondFactor`].

mod issue;
mod mfa;
mod password;
mod refresh_token;

use std::sync::Arc;

use secrecy::SecretString;

use crate::audit::{AuditLog, RequestContext};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::LoginGuard;
use crate::mfa::SecondFactor;
use crate::password::PasswordHasher;
use crate::scope::ScopeSet;
use crate::store::Store;

pub use issue::TokenIssuer;

/// A parsed token request.
pub enum GrantRequest {
    /// RFC 6749 §4.3.2.
    Password {
        /// The username as sent; normalized by the grant.
        username: String,
        /// The password.
        password: SecretString,
        /// The requested scope, if any.
        scope: Option<ScopeSet>,
        /// A TOTP code sent with the password (Keycloak's `otp`, or the legacy `totp`).
        otp: Option<SecretString>,
    },
    /// Auth0's `http://auth0.com/oauth/grant-type/mfa-otp`: completes a login that answered
    /// `mfa_required`.
    MfaOtp {
        /// The `mfa_token` of the `mfa_required` answer.
        mfa_token: SecretString,
        /// The TOTP code.
        otp: SecretString,
    },
    /// Auth0's `http://auth0.com/oauth/grant-type/mfa-recovery-code`.
    MfaRecoveryCode {
        /// The `mfa_token` of the `mfa_required` answer.
        mfa_token: SecretString,
        /// The user's recovery code; a fresh one comes back with the tokens.
        recovery_code: SecretString,
    },
    /// RFC 6749 §6.
    RefreshToken {
        /// The refresh token as sent.
        token: SecretString,
        /// The requested scope, if any: at most the scope originally granted.
        scope: Option<ScopeSet>,
    },
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u32,
    /// A refresh token, when one is issued.
    pub refresh_token: Option<String>,
    /// An OpenID Connect id_token, when `openid` was granted.
    pub id_token: Option<String>,
    /// What was granted.
    pub scope: ScopeSet,
    /// The user's new recovery code, after a login with the previous one.
    pub recovery_code: Option<String>,
}

/// Runs token requests for clients that are already authenticated.
pub struct Grants {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
    tokens: TokenIssuer,
    second_factor: Arc<SecondFactor>,
}

impl Grants {
    /// Runs grants over `store`: passwords checked on `hasher` behind `guard`, tokens made by
    /// `tokens`, second factors checked by `second_factor`, events recorded in `audit`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: Arc<PasswordHasher>,
        guard: Arc<LoginGuard>,
        audit: Arc<AuditLog>,
        tokens: TokenIssuer,
        second_factor: Arc<SecondFactor>,
    ) -> Self {
        Grants {
            store,
            clock,
            hasher,
            guard,
            audit,
            tokens,
            second_factor,
        }
    }

    /// Runs one token request (RFC 6749 §4.3 or §6) for an authenticated client, from `ctx`:
    /// its address is throttled and recorded in the events. A confidential client allowed
    /// `trust_forwarded_for` may name its end user's address instead (see
    /// [`RequestContext::for_client`]).
    pub async fn exchange(
        &self,
        ctx: &RequestContext,
        client: &Client,
        req: GrantRequest,
    ) -> Result<Tokens, Error> {
        let ctx = ctx.for_client(client);
        match req {
            GrantRequest::Password {
                username,
                password,
                scope,
                otp,
            } => {
                self.password(&ctx, client, &username, &password, scope, otp)
                    .await
            }
            GrantRequest::MfaOtp { mfa_token, otp } => {
                self.mfa_otp(&ctx, client, &mfa_token, &otp).await
            }
            GrantRequest::MfaRecoveryCode {
                mfa_token,
                recovery_code,
            } => {
                self.mfa_recovery_code(&ctx, client, &mfa_token, &recovery_code)
                    .await
            }
            GrantRequest::RefreshToken { token, scope } => {
                self.refresh(&ctx, client, &token, scope).await
            }
        }
    }
}

/// Whether a stored refresh token is live for its own client at `now` (for introspection).
pub(crate) fn check_refresh_token(
    token: &crate::store::RefreshTokenRecord,
    family: &crate::store::TokenFamily,
    client_id: &str,
    now: i64,
) -> bool {
    refresh_token::check(token, family, client_id, now).is_ok()
}

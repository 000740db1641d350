//! Token requests: one module per grant, and [`Grants`], which runs them for a client that is
//! already authenticated. [`TokenIssuer`] (`issue`) makes the tokens every grant hands out; the
//! second factor of a login is checked by [`crate::mfa::SecondFactor`].

mod client_credentials;
mod external;
mod issue;
mod mfa;
mod password;
mod refresh_token;

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::LoginGuard;
use crate::mfa::SecondFactor;
use crate::password::PasswordHasher;
use crate::password_rules::PasswordRules;
use crate::scope::ScopeSet;
use crate::store::UserStore;
use crate::user::User;
use mfa::MfaProof;

pub use issue::TokenIssuer;

/// How a login authenticated its user: the `amr` of its session (RFC 8176) and the second
/// factor it passed, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoginMethod {
    pub(crate) amr: Vec<String>,
    pub(crate) authenticator_id: Option<String>,
}

impl LoginMethod {
    /// A password alone, or a password and the TOTP factor `otp` when one was checked.
    pub(crate) fn password(otp: Option<String>) -> Self {
        match otp {
            Some(id) => LoginMethod::otp(id),
            None => LoginMethod {
                amr: vec!["pwd".into()],
                authenticator_id: None,
            },
        }
    }

    /// A password and a code of the TOTP factor `id`.
    pub(crate) fn otp(id: String) -> Self {
        LoginMethod {
            amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
            authenticator_id: Some(id),
        }
    }

    /// A password and the recovery code of the factor `id` (RFC 8176 has no value of its own
    /// for a recovery code: `mfa` says a second factor was passed).
    pub(crate) fn recovery_code(id: String) -> Self {
        LoginMethod {
            amr: vec!["pwd".into(), "mfa".into()],
            authenticator_id: Some(id),
        }
    }
}

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
    /// RFC 6749 §4.4.2.
    ClientCredentials {
        /// The requested scope, if any.
        scope: Option<ScopeSet>,
        /// Whether the request proved the client with a secret or an assertion
        /// ([`crate::client_auth::Authenticated::proven`]); the grant needs it.
        proven: bool,
    },
}

impl GrantRequest {
    /// The request, knowing whether it proved its client with a secret or an assertion
    /// ([`crate::client_auth::Authenticated::proven`]); the client credentials grant needs it.
    pub fn proven(self, proven: bool) -> Self {
        match self {
            GrantRequest::ClientCredentials { scope, .. } => {
                GrantRequest::ClientCredentials { scope, proven }
            }
            other => other,
        }
    }
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
    /// Why the user must change their password (`breached` or `expired`), when a login finds
    /// they must: an extension member of the token response (RFC 6749 §5.1) so the app can
    /// ask for a new one (`POST /account/password`).
    pub password_change_required: Option<&'static str>,
}

/// Runs token requests for clients that are already authenticated: passwords checked on
/// `hasher` behind `guard`, tokens made and kept by `issuer`, second factors checked by `second_factor`,
/// events recorded in `audit`.
#[derive(derive_new::new)]
pub struct Grants {
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
    issuer: TokenIssuer,
    second_factor: Arc<SecondFactor>,
    /// What a login does with a right password found on a breached list or past its age.
    #[new(default)]
    rules: Arc<PasswordRules>,
    /// The external user stores asked for users the database does not hold (issue 22).
    #[new(default)]
    external: Arc<crate::external_users::ExternalUsers>,
}

impl Grants {
    /// Judges logins' passwords by `rules` (breached lists, maximum age).
    pub fn with_password_rules(mut self, rules: Arc<PasswordRules>) -> Self {
        self.rules = rules;
        self
    }

    /// Asks `external` stores, in order, for users the database does not hold.
    pub fn with_external_users(
        mut self,
        external: Arc<crate::external_users::ExternalUsers>,
    ) -> Self {
        self.external = external;
        self
    }

    /// Runs one token request (RFC 6749 §4.3, §4.4 or §6) for an authenticated client, from `ctx`:
    /// its address is throttled and recorded in the events. `ctx` is the context the client
    /// authenticator judged the request in ([`crate::client_auth::Authenticated`]): a client
    /// allowed `trust_forwarded_for` that proved itself may name its end user's address.
    pub async fn exchange(
        &self,
        ctx: &RequestContext,
        client: &Client,
        req: GrantRequest,
    ) -> Result<Tokens, Error> {
        match req {
            GrantRequest::Password {
                username,
                password,
                scope,
                otp,
            } => {
                self.password(ctx, client, &username, &password, scope, otp)
                    .await
            }
            GrantRequest::MfaOtp { mfa_token, otp } => {
                self.mfa(ctx, client, &mfa_token, MfaProof::Otp(&otp)).await
            }
            GrantRequest::MfaRecoveryCode {
                mfa_token,
                recovery_code,
            } => {
                let proof = MfaProof::RecoveryCode(&recovery_code);
                self.mfa(ctx, client, &mfa_token, proof).await
            }
            GrantRequest::RefreshToken { token, scope } => {
                self.refresh(ctx, client, &token, scope).await
            }
            GrantRequest::ClientCredentials { scope, proven } => {
                self.client_credentials(ctx, client, scope, proven).await
            }
        }
    }

    /// Issues the tokens of a login of `user` to `client` with `grant_type`, authenticated by
    /// `method`, and records its `login_success` event (and a `session_revoked` event for each
    /// session the client's limit evicted).
    async fn issue_login(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        granted: ScopeSet,
        grant_type: &str,
        method: LoginMethod,
    ) -> Result<Tokens, Error> {
        let subject = EventSubject::login(client.id.as_str(), user.username.as_str());
        // The login's success is stored with its tokens, in the same commit (one statement on
        // PostgreSQL): no success without its event, no event without the tokens.
        let detail = json!({ "grant_type": grant_type, "scope": granted.to_string() });
        let event = self
            .audit
            .event(EventKind::LoginSuccess, ctx, subject, detail);
        let (mut tokens, evicted) = self
            .issuer
            .issue_login(ctx, client, user, granted, method, &event)
            .await?;
        tokens.password_change_required =
            user.password_change_required
                .as_deref()
                .map(|reason| match reason {
                    "expired" => "expired",
                    _ => "breached",
                });
        if !evicted.is_empty() {
            let detail = json!({ "sessions": evicted, "reason": "session_limit" });
            self.audit
                .record(EventKind::SessionRevoked, ctx, subject, detail)
                .await;
        }
        Ok(tokens)
    }
}

pub(crate) use refresh_token::session_lives;

/// Whether a stored refresh token is live for its own client at `now` (for introspection).
pub(crate) fn check_refresh_token(
    token: &crate::store::RefreshTokenRecord,
    family: &crate::store::TokenFamily,
    client_id: &str,
    now: i64,
) -> bool {
    refresh_token::check(token, family, client_id, now).is_ok()
}

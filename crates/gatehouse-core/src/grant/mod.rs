//! Token requests: one module per grant, and [`TokenService`], which runs them for a client
//! that is already authenticated. `issue` makes the tokens every grant hands out.

mod issue;
mod mfa;
mod mfa_enrol;
mod password;
mod refresh_token;

use std::sync::{Arc, RwLock};

use secrecy::SecretString;

use crate::audit::RequestContext;
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::LoginGuard;
use crate::password::PasswordHasher;
use crate::scope::ScopeSet;
use crate::sealing::Sealer;
use crate::store::Store;
use crate::token::keys::KeyRing;

/// How long a loaded key ring is trusted before it is read again from the store, so that keys
/// made by `gatehouse keys rotate` (another process) are picked up.
pub const KEY_RELOAD_SECS: i64 = 5;

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

/// Runs token requests, and answers questions about the tokens it issued.
pub struct TokenService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    keys: RwLock<LoadedKeys>,
    pub(crate) sealer: Arc<Sealer>,
    issuer: String,
    pub(crate) guard: Arc<LoginGuard>,
    pub(crate) mfa_token_ttl: i64,
    /// The discovery document as JSON text and when it was rendered.
    metadata: RwLock<Option<(i64, Arc<str>)>>,
    /// JWT access tokens whose signature verified (see [`crate::token::verified`]).
    pub(crate) verified: crate::token::verified::VerifiedTokens,
}

struct LoadedKeys {
    ring: Arc<KeyRing>,
    loaded_at: i64,
}

impl TokenService {
    /// A service issuing tokens as `issuer`, signed with the newest key of `keys`, opening sealed
    /// secrets and keys with `sealer`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: Arc<PasswordHasher>,
        keys: KeyRing,
        sealer: Arc<Sealer>,
        issuer: String,
    ) -> Self {
        let loaded_at = clock.now();
        TokenService {
            guard: Arc::new(LoginGuard::new(store.clone(), clock.clone())),
            store,
            clock,
            hasher,
            keys: RwLock::new(LoadedKeys {
                ring: Arc::new(keys),
                loaded_at,
            }),
            sealer,
            issuer,
            mfa_token_ttl: crate::mfa::DEFAULT_MFA_TOKEN_TTL,
            metadata: RwLock::new(None),
            verified: crate::token::verified::VerifiedTokens::default(),
        }
    }

    /// Makes `mfa_token`s live `secs` seconds (default [`crate::mfa::DEFAULT_MFA_TOKEN_TTL`]).
    pub fn with_mfa_token_ttl(mut self, secs: i64) -> Self {
        self.mfa_token_ttl = secs;
        self
    }

    /// Guards password checks with `guard` (lockout, throttle) and records events in its log.
    pub fn with_guard(mut self, guard: Arc<LoginGuard>) -> Self {
        self.guard = guard;
        self
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys in force, read again from the store when the loaded ring is older than
    /// [`KEY_RELOAD_SECS`]. When the store fails, the loaded ring is kept and the error logged.
    pub async fn keys(&self) -> Arc<KeyRing> {
        let now = self.clock.now();
        let (ring, fresh) = {
            let loaded = match self.keys.read() {
                Ok(k) => k,
                Err(poisoned) => poisoned.into_inner(),
            };
            (
                loaded.ring.clone(),
                now - loaded.loaded_at < KEY_RELOAD_SECS,
            )
        };
        if fresh {
            return ring;
        }
        let reloaded = match self.store.signing_keys().await {
            Ok(stored) => KeyRing::in_force(&stored, &self.sealer, now),
            Err(err) => Err(err.into()),
        };
        let ring = match reloaded {
            Ok(new) => Arc::new(new),
            Err(err) => {
                tracing::warn!(error = %err, "cannot reload signing keys; keeping the loaded ones");
                ring
            }
        };
        let mut loaded = match self.keys.write() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        *loaded = LoadedKeys {
            ring: ring.clone(),
            loaded_at: now,
        };
        ring
    }

    /// The server metadata (RFC 8414, OpenID Connect Discovery) as JSON text. It lists the
    /// clients' scopes, so it is rendered again from the store when older than
    /// [`KEY_RELOAD_SECS`] (the bound within which every instance sees a change), and served as
    /// it is in between.
    pub async fn metadata_json(&self) -> Result<Arc<str>, Error> {
        let now = self.clock.now();
        {
            let cached = match self.metadata.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some((at, json)) = cached.as_ref() {
                if now - at < KEY_RELOAD_SECS && *at <= now {
                    return Ok(json.clone());
                }
            }
        }
        let clients = self.store.list_clients().await?;
        let scopes = ScopeSet::from_trusted(clients.iter().flat_map(|c| c.settings.scopes.iter()));
        let json: Arc<str> =
            Arc::from(crate::discovery::metadata(&self.issuer, &scopes).to_string());
        let mut cached = match self.metadata.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        *cached = Some((now, json.clone()));
        Ok(json)
    }

    /// Runs one token request (RFC 6749 §4.3 or §6) for an authenticated client, from `ctx`:
    /// its address is throttled and recorded in the events. A confidential client allowed `trust_forwarded_for` may name its
    /// end user's address instead (see [`RequestContext::for_client`]).
    pub async fn exchange_with(
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

//! Making the tokens of a grant: the access token (a JWT per RFC 9068, signed with the server's
//! default key, its key of the client's `access_token_alg`, or, for legacy clients, HS256 keyed
//! by the client secret; or an opaque random string),
//! its record for introspection and revocation, and the OpenID Connect id_token when `openid`
//! was granted; and the refresh token heading a new family after a login. Both tokens carry
//! the claims the client maps (see [`crate::claims`]), made from the user record the grant read
//! (a refresh reads it anyway), so they cost no query and follow the user's current data.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::LoginMethod;
use super::Tokens;
use crate::audit::RequestContext;
use crate::claims::{client_claims, ClaimTarget, UserData};
use crate::client::{AccessTokenAlg, Client, TokenFormat};
use crate::clock::Clock;
use crate::error::Error;
use crate::random;
use crate::scope::ScopeSet;
use crate::store::{
    AccessTokenRecord, Event, NewLogin, Recorded, RefreshTokenRecord, SessionLimit,
    SessionLimitPolicy, TokenFamily, TokenStore,
};
use crate::token::id_token::{id_token_claims, IdTokenTimes};
use crate::token::identity::IssuerIdentity;
use crate::token::jwt::AccessTokenClaims;
use crate::token::jwt::{sign_access_token, sign_access_token_hs256, sign_id_token};
use crate::token::opaque;
use crate::user::User;

/// Makes and stores the tokens of grants as `identity` (signed with its current key of the
/// client's algorithm, the default key when it names none, or, for HS256
/// clients, with the client's secret, which it opens), and keeps their refresh-token families in
/// `store`: headed by a login, rotated by each refresh, revoked on reuse.
#[derive(derive_new::new)]
pub struct TokenIssuer {
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    identity: Arc<IssuerIdentity>,
    #[new(value = "NO_SESSION_LIMIT")]
    default_session_limit: SessionLimit,
}

/// The server's default session limit unless configured: none.
const NO_SESSION_LIMIT: SessionLimit = SessionLimit {
    max: 0,
    policy: SessionLimitPolicy::EvictOldest,
};

/// The tokens of a grant before they are stored.
pub(super) struct Minted {
    pub(super) tokens: Tokens,
    pub(super) record: AccessTokenRecord,
}

impl TokenIssuer {
    /// Sets the session limit of clients that set none of their own (`--max-sessions-per-user`,
    /// `--session-limit-policy`; a maximum of 0 is no limit).
    pub fn with_default_session_limit(mut self, limit: SessionLimit) -> Self {
        self.default_session_limit = limit;
        self
    }

    /// Issues the tokens of a login from `ctx`, authenticated by `method`: it opens a session
    /// (a token family), with a refresh token when the client gets one (see
    /// [`Client::issues_refresh_token`]) and within the client's session limit. Also the ids of
    /// the sessions the limit evicted. `event` (the login's success) is stored with the tokens,
    /// in the same commit.
    pub(super) async fn issue_login(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        granted: ScopeSet,
        method: LoginMethod,
        event: &Event,
    ) -> Result<(Tokens, Vec<String>), Error> {
        let now = self.clock.now();
        let refreshable = client.issues_refresh_token(&granted);
        let access_exp = now + i64::from(client.settings.access_token_ttl);
        let family = TokenFamily {
            id: random::sortable_id(),
            client_id: client.id.to_string(),
            user_id: user.id.clone(),
            auth_time: now,
            created_at: now,
            // A session without a refresh token lasts as long as its access token.
            expires_at: if refreshable {
                now + i64::from(client.settings.refresh_token_ttl)
            } else {
                access_exp
            },
            revoked_at: None,
            user_epoch: user.session_epoch,
            amr: method.amr,
            authenticator_id: method.authenticator_id,
            scope: granted.to_string(),
            ip: ctx.ip.map(|ip| ip.to_string()),
            user_agent: ctx.user_agent.clone(),
        };
        let refresh =
            refreshable.then(|| new_refresh_token(client, &family, None, granted.to_string(), now));
        let mut minted = self.mint(client, user, granted, &family).await?;
        let login = NewLogin {
            family: &family,
            refresh: refresh.as_ref().map(|(_, record)| record),
            access: &minted.record,
            limit: client.settings.session_limit(self.default_session_limit),
            now,
            event: Some(event),
        };
        match self.store.record_login(login).await? {
            Recorded::Stored { evicted } => {
                minted.tokens.refresh_token = refresh.map(|(token, _)| token);
                Ok((minted.tokens, evicted))
            }
            Recorded::OverLimit => Err(Error::InvalidGrant(
                "the user has as many sessions with this client as it allows: end one first".into(),
            )),
            Recorded::Stale => Err(Error::InvalidGrant(
                "the account or client changed during the login: log in again".into(),
            )),
        }
    }

    /// The refresh token whose SHA-256 is `hash`, with its family.
    pub(super) async fn find_refresh_token(
        &self,
        hash: &str,
    ) -> Result<Option<(RefreshTokenRecord, TokenFamily)>, Error> {
        Ok(self.store.find_refresh_token(hash).await?)
    }

    /// Replaces the refresh token `used` of `family` by a fresh one with the same `scope`, and
    /// stores `minted` and `event` in the same commit. `None`, changing nothing, when another
    /// request used the token (or revoked the family) since it was read.
    pub(super) async fn rotate(
        &self,
        client: &Client,
        family: &TokenFamily,
        used: RefreshTokenRecord,
        mut minted: Minted,
        event: &Event,
        now: i64,
    ) -> Result<Option<Tokens>, Error> {
        let old_hash = used.token_hash;
        let (token, successor) =
            new_refresh_token(client, family, Some(old_hash.clone()), used.scope, now);
        let rotated = self
            .store
            .rotate_refresh_token_recorded(&old_hash, now, &successor, &minted.record, event)
            .await?;
        Ok(rotated.then(|| {
            minted.tokens.refresh_token = Some(token);
            minted.tokens
        }))
    }

    /// Revokes `family`: its refresh tokens stop working and its access tokens are revoked.
    pub(super) async fn revoke_family(&self, family_id: &str, now: i64) -> Result<(), Error> {
        Ok(self.store.revoke_token_family(family_id, now).await?)
    }

    /// Issues a client token (the client credentials grant, RFC 6749 §4.4): an access token of
    /// the client's format and lifetime whose `sub` is the client itself, with no refresh token
    /// and no id_token (there is no user), recorded without a family or user. `invalid_grant`
    /// when the client was removed meanwhile.
    pub(super) async fn issue_client_token(
        &self,
        client: &Client,
        scope: ScopeSet,
    ) -> Result<Tokens, Error> {
        let now = self.clock.now();
        let ttl = client.settings.access_token_ttl;
        let exp = now + i64::from(ttl);
        // No user: only static values are mapped.
        let mapped = client_claims(client, None, &scope, ClaimTarget::AccessToken);
        let (access_token, id) = self
            .access_token(client, client.id.as_str(), &scope, (now, exp), mapped)
            .await?;
        let record = AccessTokenRecord {
            id,
            family_id: None,
            client_id: client.id.to_string(),
            user_id: String::new(),
            scope: scope.to_string(),
            auth_time: now,
            issued_at: now,
            expires_at: exp,
            revoked: false,
            amr: Vec::new(),
        };
        if !self.store.record_client_token(&record).await? {
            return Err(Error::InvalidGrant(
                "the client was removed during the request".into(),
            ));
        }
        Ok(Tokens {
            access_token,
            expires_in: ttl,
            refresh_token: None,
            id_token: None,
            scope,
            recovery_code: None,
            password_change_required: None,
        })
    }

    /// Makes the access token (and id_token) of one grant for `user`; the caller stores
    /// `record` and adds the refresh token.
    pub(super) async fn mint(
        &self,
        client: &Client,
        user: &User,
        scope: ScopeSet,
        session: &TokenFamily,
    ) -> Result<Minted, Error> {
        let auth_time = session.auth_time;
        let now = self.clock.now();
        let ttl = client.settings.access_token_ttl;
        let exp = now + i64::from(ttl);
        let mapped = client_claims(
            client,
            Some(UserData::from(user)),
            &scope,
            ClaimTarget::AccessToken,
        );
        let (access_token, id) = self
            .access_token(client, &user.id, &scope, (now, exp), mapped)
            .await?;
        let id_token = if scope.contains("openid") {
            let claims = id_token_claims(
                self.identity.issuer(),
                client,
                user,
                &scope,
                IdTokenTimes {
                    iat: now,
                    exp,
                    auth_time,
                },
                session,
            );
            let alg = client.settings.id_token_signed_response_alg;
            Some(sign_id_token(&*self.identity.signer(alg).await?, &claims)?)
        } else {
            None
        };
        let record = AccessTokenRecord {
            id,
            family_id: Some(session.id.clone()),
            client_id: client.id.to_string(),
            user_id: user.id.clone(),
            scope: scope.to_string(),
            auth_time,
            issued_at: now,
            expires_at: exp,
            revoked: false,
            amr: session.amr.clone(),
        };
        Ok(Minted {
            tokens: Tokens {
                access_token,
                expires_in: ttl,
                refresh_token: None,
                id_token,
                scope,
                recovery_code: None,
                password_change_required: None,
            },
            record,
        })
    }

    /// An access token of `client`'s format for `sub` with `scope`, issued at `now` and expiring
    /// at `exp`, and the id it is recorded under: a signed JWT (RFC 9068) with the `mapped`
    /// claims and its `jti`, or an opaque token (which carries nothing: introspection tells its
    /// claims) and its hash.
    async fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scope: &ScopeSet,
        (now, exp): (i64, i64),
        mapped: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(String, String), Error> {
        if client.settings.token_format == TokenFormat::Opaque {
            let token = opaque::new_token();
            let hash = opaque::hash(&token);
            return Ok((token, hash));
        }
        let claims = AccessTokenClaims {
            iss: self.identity.issuer().to_owned(),
            sub: sub.to_owned(),
            aud: client.id.to_string(),
            client_id: client.id.to_string(),
            scope: scope.to_string(),
            iat: now,
            exp,
            jti: random::sortable_id(),
            mapped,
        };
        let token = match client.settings.access_token_alg {
            AccessTokenAlg::ServerKey => {
                sign_access_token(&*self.identity.signer(None).await?, &claims)?
            }
            AccessTokenAlg::Key(alg) => {
                sign_access_token(&*self.identity.signer(Some(alg)).await?, &claims)?
            }
            AccessTokenAlg::Hs256 => {
                let secret = self.identity.hs256_secret(client)?;
                sign_access_token_hs256(secret.expose_secret().as_bytes(), &claims)?
            }
        };
        Ok((token, claims.jti))
    }
}

/// A new refresh token of `family` and its record: the child of `parent` (none for the first),
/// idle-expiring per `client`'s settings but never after the family.
fn new_refresh_token(
    client: &Client,
    family: &TokenFamily,
    parent_hash: Option<String>,
    scope: String,
    now: i64,
) -> (String, RefreshTokenRecord) {
    let token = opaque::new_token();
    let record = RefreshTokenRecord {
        token_hash: opaque::hash(&token),
        family_id: family.id.clone(),
        parent_hash,
        scope,
        created_at: now,
        idle_expires_at: (now + i64::from(client.settings.refresh_token_idle_ttl))
            .min(family.expires_at),
        used_at: None,
    };
    (token, record)
}

//! Resolving a presented access token to its record, for introspection (RFC 7662), revocation
//! (RFC 7009) and the UserInfo endpoint: a JWT is verified (with the key ring, or with its
//! client's secret when it is HS256) and then looked up by `jti`; an opaque token is looked up by
//! its hash. Either way the record decides whether it was revoked. [`AccessTokens`] holds the
//! memory of JWTs that verified ([`crate::token::verified`]), shared by those three services.

use std::sync::Arc;

use secrecy::ExposeSecret;

use crate::client::{AccessTokenAlg, ClientId};
use crate::clock::Clock;
use crate::error::Error;
use crate::store::{AccessTokenRecord, ClientStore, TokenOwner, TokenStore};
use crate::token::identity::IssuerIdentity;
use crate::token::jwt::{
    is_hs256, unverified_client_id, verify_access_token, verify_access_token_hs256,
};
use crate::token::opaque;
use crate::token::verified::{self, VerifiedTokens};

/// The longest token gatehouse looks at, in bytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A presented access token: the id to look up, the client a JWT names, and when it was seen.
struct Presented {
    id: String,
    client_id: Option<String>,
    now: i64,
}

impl Presented {
    /// Whether the record found for it is live: unrevoked, unexpired, of the JWT's client.
    fn is_live(&self, r: &AccessTokenRecord) -> bool {
        !r.revoked
            && r.expires_at > self.now
            && self.client_id.as_deref().is_none_or(|c| c == r.client_id)
    }
}

/// Resolves presented access tokens to their records (in `tokens`): tokens `identity` issued,
/// signed with one of its keys or (HS256) with the secret of a client found in `clients`.
#[derive(derive_new::new)]
pub struct AccessTokens {
    tokens: Arc<dyn TokenStore>,
    clients: Arc<dyn ClientStore>,
    clock: Arc<dyn Clock>,
    identity: Arc<IssuerIdentity>,
    #[new(default)]
    verified: VerifiedTokens,
}

impl AccessTokens {
    /// The issuer identifier tokens must name.
    pub fn issuer(&self) -> &str {
        self.identity.issuer()
    }

    /// The record of a live access token: issued here, unexpired and unrevoked. `None` for
    /// anything else.
    pub async fn resolve_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, Error> {
        let Some(presented) = self.presented_access_token(token).await? else {
            return Ok(None);
        };
        let record = self.tokens.find_access_token(&presented.id).await?;
        Ok(record.filter(|r| presented.is_live(r)))
    }

    /// The record of a live access token issued for a user (not a client token of the client
    /// credentials grant) and granted `scope`: what a resource of the user's own (`/userinfo`,
    /// `/account/password`) asks of a bearer token. `invalid_token` (RFC 6750 §3.1) for a token
    /// that is not live or has no user, `insufficient_scope` without `scope`.
    pub async fn resolve_user_token(
        &self,
        token: &str,
        scope: &str,
    ) -> Result<AccessTokenRecord, Error> {
        let record = self.resolve_access_token(token).await?.ok_or_else(|| {
            Error::InvalidToken("the access token is invalid, expired or revoked".into())
        })?;
        if record.is_client_token() {
            return Err(Error::InvalidToken(
                "the access token was issued to a client, not for a user".into(),
            ));
        }
        if !record.scope.split(' ').any(|s| s == scope) {
            return Err(Error::InsufficientScope(
                format!("the access token was not granted the {scope} scope").into(),
            ));
        }
        Ok(record)
    }

    /// Like [`AccessTokens::resolve_access_token`], with its user's username, attributes and
    /// roles (`None` for a client token, which has no user), in one store round trip
    /// (introspection's hot path). `None` also when a user's token's user no longer exists.
    pub async fn resolve_access_token_with_owner(
        &self,
        token: &str,
    ) -> Result<Option<(AccessTokenRecord, Option<TokenOwner>)>, Error> {
        let Some(presented) = self.presented_access_token(token).await? else {
            return Ok(None);
        };
        let found = self
            .tokens
            .find_access_token_with_owner(&presented.id)
            .await?;
        Ok(found.filter(|(r, _)| presented.is_live(r)))
    }

    /// What a presented access token claims to be, before its record is read: `None` for a JWT
    /// that does not verify (or anything too long or empty).
    async fn presented_access_token(&self, token: &str) -> Result<Option<Presented>, Error> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let now = self.clock.now();
        let (id, client_id) = if token.bytes().filter(|&b| b == b'.').count() == 2 {
            match self.verify_jwt(token, now).await? {
                Some(claims) => claims,
                None => return Ok(None),
            }
        } else {
            (opaque::hash(token), None)
        };
        Ok(Some(Presented { id, client_id, now }))
    }

    /// `(jti, client_id)` of a JWT access token that verifies; `None` when it does not.
    async fn verify_jwt(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<(String, Option<String>)>, Error> {
        let claims = if is_hs256(token) {
            let Some(client) = unverified_client_id(token)
                .and_then(|id| ClientId::parse(&id).ok())
                .map(|id| async move { self.clients.find_client(&id).await })
            else {
                return Ok(None);
            };
            let Some(client) = client.await? else {
                return Ok(None);
            };
            if client.settings.access_token_alg != AccessTokenAlg::Hs256 {
                return Ok(None);
            }
            let secret = self.identity.hs256_secret(&client)?;
            let key = secret.expose_secret().as_bytes();
            verify_access_token_hs256(key, self.identity.issuer(), token, now)
        } else {
            let ring = self.identity.ring().await;
            let digest = verified::digest(token);
            if let Some((jti, client_id)) = self.verified.get(&digest, &ring, now) {
                return Ok(Some((jti, Some(client_id))));
            }
            let claims = verify_access_token(&ring, self.identity.issuer(), token, now);
            if let (Ok(c), Ok(header)) = (&claims, jsonwebtoken::decode_header(token)) {
                if let Some(kid) = header.kid {
                    self.verified
                        .insert(digest, &c.jti, &c.client_id, c.exp, &kid);
                }
            }
            claims
        };
        Ok(claims.ok().map(|c| (c.jti, Some(c.client_id))))
    }
}

//! Resolving a presented access token to its record, for introspection (RFC 7662), revocation
//! (RFC 7009) and the UserInfo endpoint: a JWT is verified (with the key ring, or with its
//! client's secret when it is HS256) and then looked up by `jti`; an opaque token is looked up by
//! its hash. Either way the record decides whether it was revoked.

use secrecy::ExposeSecret;

use crate::client::{AccessTokenAlg, ClientId};
use crate::error::Error;
use crate::grant::TokenService;
use crate::store::AccessTokenRecord;
use crate::token::jwt::{
    is_hs256, unverified_client_id, verify_access_token, verify_access_token_hs256,
};
use crate::token::opaque;

/// The longest token gatehouse looks at, in bytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

impl TokenService {
    /// The record of a live access token: issued here, unexpired and unrevoked. `None` for
    /// anything else.
    pub async fn resolve_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, Error> {
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
        let record = self.store.find_access_token(&id).await?;
        Ok(record.filter(|r| {
            !r.revoked
                && r.expires_at > now
                && client_id.as_deref().is_none_or(|c| c == r.client_id)
        }))
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
                .map(|id| async move { self.store.find_client(&id).await })
            else {
                return Ok(None);
            };
            let Some(client) = client.await? else {
                return Ok(None);
            };
            if client.settings.access_token_alg != AccessTokenAlg::Hs256 {
                return Ok(None);
            }
            let secret = self.client_secret(&client)?;
            verify_access_token_hs256(secret.expose_secret().as_bytes(), self.issuer(), token, now)
        } else {
            verify_access_token(&*self.keys().await, self.issuer(), token, now)
        };
        Ok(claims.ok().map(|c| (c.jti, Some(c.client_id))))
    }
}

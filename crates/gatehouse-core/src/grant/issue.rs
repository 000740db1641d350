//! Making the tokens of a grant: the access token (a JWT per RFC 9068, signed with the server
//! key or, for legacy clients, HS256 keyed by the client secret; or an opaque random string),
//! its record for introspection and revocation, and the OpenID Connect id_token when `openid`
//! was granted.

use secrecy::{ExposeSecret, SecretString};

use super::{TokenService, Tokens};
use crate::client::{AccessTokenAlg, Client, TokenFormat};
use crate::error::Error;
use crate::random;
use crate::scope::ScopeSet;
use crate::store::AccessTokenRecord;
use crate::token::id_token::id_token_claims;
use crate::token::jwt::AccessTokenClaims;
use crate::token::jwt::{sign_access_token, sign_access_token_hs256, sign_id_token};
use crate::token::opaque;
use crate::user::User;

/// The tokens of a grant before they are stored.
pub(super) struct Minted {
    pub(super) tokens: Tokens,
    pub(super) record: AccessTokenRecord,
}

impl TokenService {
    /// Makes the access token (and id_token) of one grant for `user`; the caller stores
    /// `record` and adds the refresh token.
    pub(super) async fn mint(
        &self,
        client: &Client,
        user: &User,
        scope: ScopeSet,
        auth_time: i64,
        family_id: Option<&str>,
    ) -> Result<Minted, Error> {
        let now = self.clock.now();
        let ttl = client.settings.access_token_ttl;
        let exp = now + i64::from(ttl);
        let (access_token, id) = match client.settings.token_format {
            TokenFormat::Opaque => {
                let token = opaque::new_token();
                let hash = opaque::hash(&token);
                (token, hash)
            }
            TokenFormat::Jwt => {
                let claims = AccessTokenClaims {
                    iss: self.issuer.clone(),
                    sub: user.id.clone(),
                    aud: client.id.to_string(),
                    client_id: client.id.to_string(),
                    scope: scope.to_string(),
                    iat: now,
                    exp,
                    jti: random::sortable_id(),
                };
                let token = match client.settings.access_token_alg {
                    AccessTokenAlg::ServerKey => {
                        sign_access_token(self.keys().await.current(), &claims)?
                    }
                    AccessTokenAlg::Hs256 => {
                        let secret = self.client_secret(client)?;
                        sign_access_token_hs256(secret.expose_secret().as_bytes(), &claims)?
                    }
                };
                (token, claims.jti)
            }
        };
        let id_token = if scope.contains("openid") {
            let claims = id_token_claims(&self.issuer, client, user, &scope, now, exp, auth_time);
            Some(sign_id_token(self.keys().await.current(), &claims)?)
        } else {
            None
        };
        let record = AccessTokenRecord {
            id,
            family_id: family_id.map(str::to_owned),
            client_id: client.id.to_string(),
            user_id: user.id.clone(),
            scope: scope.to_string(),
            auth_time,
            issued_at: now,
            expires_at: exp,
            revoked: false,
        };
        Ok(Minted {
            tokens: Tokens {
                access_token,
                expires_in: ttl,
                refresh_token: None,
                id_token,
                scope,
                recovery_code: None,
            },
            record,
        })
    }

    /// The secret of a client whose secret is sealed (HS256 clients).
    pub(crate) fn client_secret(&self, client: &Client) -> Result<SecretString, Error> {
        let sealed = client
            .secret_sealed
            .as_deref()
            .ok_or_else(|| Error::internal("an HS256 client has no sealed secret"))?;
        let plain = self.sealer.open(&client.secret_seal_context(), sealed)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| Error::internal("a sealed client secret is not UTF-8"))
    }
}

//! Token introspection (RFC 7662) for authenticated clients. A client learns only about its own
//! tokens: another client's token ("foreign") is `active: false`, as are expired, revoked and
//! unknown ones (§2.2). `token_type_hint` (§2.1) only decides which kind is looked up first.
//!
//! A live token's response also holds the claims the caller maps into introspection (see
//! [`crate::claims`]), made from the user's attributes and roles as they are now, whether the
//! token is a JWT or opaque: an opaque token carries nothing, and a resource server asks
//! introspection for the current state (a role removed is gone at once). The user's row is read
//! with the token in any case (for `username` and to see whether the session lives), so this
//! costs no query.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::claims::{client_claims, ClaimTarget, UserData};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::{TokenOwner, TokenStore, UserStore};
use crate::token::opaque;
use crate::token::resolve::AccessTokens;

/// The kind of token a client says it presents (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Parses a hint; unknown values are ignored (RFC 7009 §2.1 lets the server search all).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "access_token" => Some(TokenTypeHint::AccessToken),
            "refresh_token" => Some(TokenTypeHint::RefreshToken),
            _ => None,
        }
    }
}

/// An introspection response (RFC 7662 §2.2): `{"active": false}`, or `active: true` with what
/// the live token is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntrospectionResponse {
    /// Whether the token is live.
    pub active: bool,
    /// The live token's claims; `None` when it is not active.
    #[serde(flatten)]
    pub token: Option<ActiveToken>,
}

/// What an introspection response says of a live token (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    /// Its scope.
    pub scope: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user's normalized username; `None` for a client token, which has no user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user's stable id, or the client id for a client token (RFC 6749 §4.4).
    pub sub: String,
    /// Expiry.
    pub exp: i64,
    /// Issue time.
    pub iat: i64,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    pub token_type: &'static str,
    /// The audience: the client.
    pub aud: String,
    /// The issuer.
    pub iss: String,
    /// The session the token belongs to (the `sid` of its id_tokens), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// How the session's user authenticated (RFC 8176), when known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The claims the client maps into introspection (never one of the above).
    #[serde(flatten)]
    pub mapped: Map<String, Value>,
}

/// What a token was found to be, before the caller is checked.
struct Found {
    client_id: String,
    user_id: String,
    /// The user when it was read with the token.
    owner: Option<TokenOwner>,
    /// Whether it is a client token (no user: the client credentials grant).
    client_token: bool,
    scope: String,
    iat: i64,
    exp: i64,
    token_type: &'static str,
    sid: Option<String>,
    amr: Vec<String>,
}

/// Answers introspection requests (RFC 7662).
#[derive(derive_new::new)]
pub struct Introspection {
    tokens: Arc<dyn TokenStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    access_tokens: Arc<AccessTokens>,
}

impl Introspection {
    /// Introspects `token` for the authenticated `caller`.
    pub async fn introspect(
        &self,
        caller: &Client,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<IntrospectionResponse, Error> {
        let found = if hint == Some(TokenTypeHint::RefreshToken) {
            match self.live_refresh_token(token).await? {
                Some(found) => Some(found),
                None => self.live_access_token(token).await?,
            }
        } else {
            match self.live_access_token(token).await? {
                Some(found) => Some(found),
                None => self.live_refresh_token(token).await?,
            }
        };
        let Some(found) = found.filter(|f| f.client_id == caller.id.as_str()) else {
            return Ok(IntrospectionResponse::default());
        };
        // A client token's subject is its client; it has no user.
        let (owner, sub) = if found.client_token {
            (None, found.client_id.clone())
        } else {
            let owner = match found.owner {
                Some(owner) => owner,
                None => match self.users.find_user_by_id(&found.user_id).await? {
                    Some(user) => TokenOwner {
                        username: user.username.as_str().to_owned(),
                        attributes: user.attributes,
                        roles: user.roles,
                    },
                    None => return Ok(IntrospectionResponse::default()),
                },
            };
            (Some(owner), found.user_id)
        };
        let mapped = if caller.settings.claims.is_empty() {
            Map::new()
        } else {
            let scope = ScopeSet::from_trusted(found.scope.split(' ').filter(|s| !s.is_empty()));
            let data = owner.as_ref().map(|o| UserData {
                attributes: &o.attributes,
                roles: &o.roles,
            });
            client_claims(caller, data, &scope, ClaimTarget::Introspection)
        };
        let username = owner.map(|o| o.username);
        let token = ActiveToken {
            scope: found.scope,
            aud: found.client_id.clone(),
            client_id: found.client_id,
            username,
            sub,
            exp: found.exp,
            iat: found.iat,
            token_type: found.token_type,
            iss: self.access_tokens.issuer().to_owned(),
            sid: found.sid,
            amr: found.amr,
            mapped,
        };
        Ok(IntrospectionResponse {
            active: true,
            token: Some(token),
        })
    }

    async fn live_access_token(&self, token: &str) -> Result<Option<Found>, Error> {
        let found = self
            .access_tokens
            .resolve_access_token_with_owner(token)
            .await?;
        Ok(found.map(|(r, owner)| Found {
            client_token: r.is_client_token(),
            client_id: r.client_id,
            user_id: r.user_id,
            owner,
            scope: r.scope,
            iat: r.issued_at,
            exp: r.expires_at,
            token_type: "Bearer",
            sid: r.family_id,
            amr: r.amr,
        }))
    }

    async fn live_refresh_token(&self, token: &str) -> Result<Option<Found>, Error> {
        let now = self.clock.now();
        let Some((record, family)) = self.tokens.find_refresh_token(&opaque::hash(token)).await?
        else {
            return Ok(None);
        };
        if !crate::grant::check_refresh_token(&record, &family, &family.client_id, now) {
            return Ok(None);
        }
        // Its session ends with its user's disabling or a newer session epoch.
        let Some(user) = self.users.find_user_by_id(&family.user_id).await? else {
            return Ok(None);
        };
        if !crate::grant::session_lives(&family, &user) {
            return Ok(None);
        }
        Ok(Some(Found {
            client_token: false,
            client_id: family.client_id,
            user_id: family.user_id,
            owner: Some(TokenOwner {
                username: user.username.as_str().to_owned(),
                attributes: user.attributes,
                roles: user.roles,
            }),
            scope: record.scope,
            iat: record.created_at,
            exp: record.idle_expires_at.min(family.expires_at),
            token_type: "refresh_token",
            sid: Some(family.id),
            amr: family.amr,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7662 §2.2: an inactive token is `{"active": false}` and nothing else.
    #[test]
    fn an_inactive_response_says_only_active_false() {
        let json = serde_json::to_string(&IntrospectionResponse::default()).unwrap();
        assert_eq!(json, r#"{"active":false}"#);
    }

    #[test]
    fn an_active_response_lists_the_claims_in_order() {
        let response = IntrospectionResponse {
            active: true,
            token: Some(ActiveToken {
                scope: "openid".into(),
                client_id: "app".into(),
                username: Some("alice".into()),
                sub: "u1".into(),
                exp: 200,
                iat: 100,
                token_type: "Bearer",
                aud: "app".into(),
                iss: "http://issuer".into(),
                sid: Some("s1".into()),
                amr: vec!["pwd".into()],
                mapped: Map::new(),
            }),
        };
        assert_eq!(
            serde_json::to_string(&response).unwrap(),
            r#"{"active":true,"scope":"openid","client_id":"app","username":"alice","sub":"u1","exp":200,"iat":100,"token_type":"Bearer","aud":"app","iss":"http://issuer","sid":"s1","amr":["pwd"]}"#
        );
    }
}

//! Token introspection (RFC 7662) for authenticated clients. A client learns only about its own
//! tokens: another client's token ("foreign") is `active: false`, as are expired, revoked and
//! unknown ones (§2.2). `token_type_hint` (§2.1) only decides which kind is looked up first.

use std::sync::Arc;

use serde::Serialize;

use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::store::{TokenStore, UserStore};
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

/// An introspection response (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntrospectionResponse {
    /// Whether the token is live.
    pub active: bool,
    /// Its scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user's normalized username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user's stable id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issue time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// The audience: the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

/// What a token was found to be, before the caller is checked.
struct Found {
    client_id: String,
    user_id: String,
    /// The user's username when it was read with the token.
    username: Option<String>,
    scope: String,
    iat: i64,
    exp: i64,
    token_type: &'static str,
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
        let username = match found.username {
            Some(username) => username,
            None => match self.users.find_user_by_id(&found.user_id).await? {
                Some(user) => user.username.as_str().to_owned(),
                None => return Ok(IntrospectionResponse::default()),
            },
        };
        Ok(IntrospectionResponse {
            active: true,
            scope: Some(found.scope),
            aud: Some(found.client_id.clone()),
            client_id: Some(found.client_id),
            username: Some(username),
            sub: Some(found.user_id),
            exp: Some(found.exp),
            iat: Some(found.iat),
            token_type: Some(found.token_type.to_owned()),
            iss: Some(self.access_tokens.issuer().to_owned()),
        })
    }

    async fn live_access_token(&self, token: &str) -> Result<Option<Found>, Error> {
        let found = self
            .access_tokens
            .resolve_access_token_with_username(token)
            .await?;
        Ok(found.map(|(r, username)| Found {
            client_id: r.client_id,
            user_id: r.user_id,
            username: Some(username),
            scope: r.scope,
            iat: r.issued_at,
            exp: r.expires_at,
            token_type: "Bearer",
        }))
    }

    async fn live_refresh_token(&self, token: &str) -> Result<Option<Found>, Error> {
        let now = self.clock.now();
        let Some((record, family)) = self.tokens.find_refresh_token(&opaque::hash(token)).await?
        else {
            return Ok(None);
        };
        let live = crate::grant::check_refresh_token(&record, &family, &family.client_id, now);
        Ok(live.then(|| Found {
            client_id: family.client_id,
            user_id: family.user_id,
            username: None,
            scope: record.scope,
            iat: record.created_at,
            exp: record.idle_expires_at.min(family.expires_at),
            token_type: "refresh_token",
        }))
    }
}

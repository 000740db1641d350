//! The OpenID Connect UserInfo endpoint's logic (OpenID Connect Core §5.3): the claims of the
//! user an access token was issued for, limited by its scope. A token that is not live, or a
//! client token (the client credentials grant: no user), is `invalid_token`; one without
//! `openid` is `insufficient_scope` (RFC 6750 §3.1). The response also holds the claims the
//! token's client maps into UserInfo (see [`crate::claims`]), from the user's current data; the
//! client is read only when the token is a user's.

use std::sync::Arc;

use serde_json::Value;

use crate::claims::{client_claims, merge_mapped, ClaimTarget, UserData};
use crate::client::ClientId;
use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::{ClientStore, UserStore};
use crate::token::id_token::user_claims;
use crate::token::resolve::AccessTokens;

/// Answers UserInfo requests.
#[derive(derive_new::new)]
pub struct UserInfo {
    store: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    access_tokens: Arc<AccessTokens>,
}

impl UserInfo {
    /// The UserInfo response for a bearer `token`.
    pub async fn claims(&self, token: &str) -> Result<Value, Error> {
        let invalid =
            || Error::InvalidToken("the access token is invalid, expired or revoked".into());
        // A client token (client credentials grant) has no user to describe.
        let record = self
            .access_tokens
            .resolve_user_token(token, "openid")
            .await?;
        let scope = ScopeSet::from_trusted(record.scope.split(' ').filter(|s| !s.is_empty()));
        let user = self
            .store
            .find_user_by_id(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        let mut claims = user_claims(&user, &scope);
        // A token whose client was removed is revoked with it; one removed meanwhile maps
        // nothing.
        let client = match ClientId::parse(&record.client_id) {
            Ok(id) => self.clients.find_client(&id).await?,
            Err(_) => None,
        };
        if let Some(client) = client {
            let data = Some(UserData::from(&user));
            merge_mapped(
                &mut claims,
                client_claims(&client, data, &scope, ClaimTarget::Userinfo),
            );
        }
        Ok(Value::Object(claims))
    }
}

//! The OpenID Connect UserInfo endpoint's logic (OpenID Connect Core §5.3): the claims of the
//! user an access token was issued for, limited by its scope. A token that is not live, or a
//! client token (the client credentials grant: no user), is `invalid_token`; one without
//! `openid` is `insufficient_scope` (RFC 6750 §3.1).

use std::sync::Arc;

use serde_json::Value;

use crate::error::Error;
use crate::scope::ScopeSet;
use crate::store::UserStore;
use crate::token::id_token::user_claims;
use crate::token::resolve::AccessTokens;

/// Answers UserInfo requests.
#[derive(derive_new::new)]
pub struct UserInfo {
    store: Arc<dyn UserStore>,
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
        Ok(Value::Object(user_claims(&user, &scope)))
    }
}

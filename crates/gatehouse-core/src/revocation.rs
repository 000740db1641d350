//! Token revocation (RFC 7009). The client must be the one the token was issued to; anything
//! else (unknown, expired, another client's token) is left alone and still answers 200 (§2.2).
//! Revoking a refresh token revokes its family: every refresh token of the same password login
//! and every access token issued from them. Revoking an access token revokes that token only.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::introspection::TokenTypeHint;
use crate::store::TokenStore;
use crate::token::opaque;
use crate::token::resolve::AccessTokens;

/// Answers revocation requests (RFC 7009), recording each one in `audit`.
#[derive(derive_new::new)]
pub struct Revocation {
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    access_tokens: Arc<AccessTokens>,
    audit: Arc<AuditLog>,
}

impl Revocation {
    /// Revokes `token` if `caller` may, and succeeds for unknown tokens too, recording a
    /// `revocation` audit event for the request `ctx` when the token was found (what kind of
    /// token it was, its family, whether the caller owned it; never the token itself).
    pub async fn revoke(
        &self,
        ctx: &RequestContext,
        caller: &Client,
        token: &str,
        hint: Option<TokenTypeHint>,
    ) -> Result<(), Error> {
        let outcome = if hint == Some(TokenTypeHint::RefreshToken) {
            match self.revoke_refresh_token(caller, token).await? {
                Some(detail) => Some(detail),
                None => self.revoke_access(caller, token).await?,
            }
        } else {
            match self.revoke_access(caller, token).await? {
                Some(detail) => Some(detail),
                None => self.revoke_refresh_token(caller, token).await?,
            }
        };
        let Some(detail) = outcome else {
            return Ok(());
        };
        let about = EventSubject::client(caller.id.as_str());
        self.audit
            .record(EventKind::Revocation, ctx, about, detail)
            .await;
        Ok(())
    }

    /// `Some(detail)` when `token` is a refresh token (its family revoked if the caller owns it).
    async fn revoke_refresh_token(
        &self,
        caller: &Client,
        token: &str,
    ) -> Result<Option<Value>, Error> {
        let Some((_, family)) = self.store.find_refresh_token(&opaque::hash(token)).await? else {
            return Ok(None);
        };
        let owned = family.client_id == caller.id.as_str();
        if owned {
            self.store
                .revoke_token_family(&family.id, self.clock.now())
                .await?;
        }
        Ok(Some(json!({
            "token_type": "refresh_token",
            "family_id": family.id,
            "revoked": owned,
        })))
    }

    /// `Some(detail)` when `token` is a live access token (revoked if the caller owns it).
    async fn revoke_access(&self, caller: &Client, token: &str) -> Result<Option<Value>, Error> {
        let Some(record) = self.access_tokens.resolve_access_token(token).await? else {
            return Ok(None);
        };
        let owned = record.client_id == caller.id.as_str();
        if owned {
            self.store.revoke_access_token(&record.id).await?;
        }
        Ok(Some(json!({
            "token_type": "access_token",
            "family_id": record.family_id,
            "revoked": owned,
        })))
    }
}

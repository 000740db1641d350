//! Self-service password change (`POST /account/password`): a user holding an access token
//! with the `account` scope changes their own password by proving the current one. The current
//! password is checked as a login's is (through the hash pool, behind the per-address throttle
//! and the account lockout); the new one is held to the rules of the token's client; the user's
//! sessions end as the server's `--sessions-on-password-change` says, the token's own session
//! counting as the one the change is made from.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::admin::AdminService;
use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::ClientId;
use crate::error::Error;
use crate::login_guard::{user_key, Admission, LoginGuard};
use crate::password::{PasswordHasher, Verdict};
use crate::store::{ClientStore, UserStore};
use crate::token::resolve::AccessTokens;
use crate::user::MAX_PASSWORD_LEN;

/// The scope an access token needs to change its user's password.
pub const ACCOUNT_SCOPE: &str = "account";

/// Said when the current password is wrong, and when the account is locked.
const WRONG_CURRENT: &str = "the current password is incorrect";

/// Runs self-service password changes.
#[derive(derive_new::new)]
pub struct Account {
    access_tokens: Arc<AccessTokens>,
    users: Arc<dyn UserStore>,
    clients: Arc<dyn ClientStore>,
    hasher: Arc<PasswordHasher>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
    /// Replaces the password and ends the sessions (its changes recorded `via: self_service`).
    admin: Arc<AdminService>,
}

impl Account {
    /// Changes the password of the user `token` was issued for, from `current` to `new`.
    pub async fn change_password(
        &self,
        ctx: &RequestContext,
        token: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), Error> {
        let invalid =
            || Error::InvalidToken("the access token is invalid, expired or revoked".into());
        let record = self
            .access_tokens
            .resolve_user_token(token, ACCOUNT_SCOPE)
            .await?;
        for (name, value) in [("current_password", current), ("new_password", new)] {
            let len = value.expose_secret().len();
            if len == 0 || len > MAX_PASSWORD_LEN {
                return Err(Error::invalid_request(format!(
                    "{name} must be 1 to {MAX_PASSWORD_LEN} bytes"
                )));
            }
        }
        let user = self
            .users
            .find_user_by_id(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        let client_id = ClientId::parse(&record.client_id).map_err(|_| invalid())?;
        let client = self
            .clients
            .find_client(&client_id)
            .await?
            .ok_or_else(invalid)?;
        self.check_current(ctx, &user, current.expose_secret())
            .await?;
        // The change, its event and the end of the sessions run as one task that finishes even
        // if this request is dropped (its client went away): a password changed must not leave
        // alive the sessions its change ends.
        let (admin, audit, ctx, new) = (
            self.admin.clone(),
            self.audit.clone(),
            ctx.clone(),
            new.clone(),
        );
        let change = tokio::spawn(async move {
            let through = Some((client.id.as_str(), &client.settings));
            admin
                .replace_password(&ctx, &user, &new, through, false)
                .await?;
            let about = EventSubject::login(client.id.as_str(), user.username.as_str());
            audit
                .record(EventKind::PasswordChanged, &ctx, about, json!({}))
                .await;
            let name = user.username.as_str();
            let keep = record.family_id.as_deref();
            admin.password_changed(&ctx, &user.id, name, keep).await
        });
        change
            .await
            .map_err(|_| Error::internal("the password change task failed"))?
    }

    /// Checks the current password as a login does: a place in the hash pool first, then the
    /// address's bucket and the account's lockout, both forms of a password NFKC changes. A
    /// wrong one counts toward the lockout.
    async fn check_current(
        &self,
        ctx: &RequestContext,
        user: &crate::user::User,
        typed: &str,
    ) -> Result<(), Error> {
        let permit = self.hasher.admit_or_hold().await?;
        let source = self.guard.reserve_source(ctx.ip).await?;
        let attempt = match self.guard.reserve(&user_key(&user.id)).await? {
            Admission::Proceed(attempt) => attempt,
            Admission::Locked { .. } => {
                permit.check_typed(typed, None).await?;
                return Err(Error::AccessDenied(WRONG_CURRENT.into()));
            }
        };
        let stored = Some(user.password_hash.as_str());
        let (verdict, _) = permit.check_typed(typed, stored).await?;
        if verdict == Verdict::Match {
            self.guard.refund_source(source).await;
            self.guard.refund(attempt).await?;
            return Ok(());
        }
        let about = EventSubject::user(user.username.as_str());
        self.guard.failed(attempt, ctx, about).await;
        let detail = json!({ "reason": "wrong_current_password", "via": "self_service" });
        self.audit
            .record(EventKind::LoginFailure, ctx, about, detail)
            .await;
        Err(Error::AccessDenied(WRONG_CURRENT.into()))
    }
}

//! The refresh_token grant (RFC 6749 §6) with rotation and reuse detection (OAuth 2.0 Security
//! BCP, RFC 9700 §4.14.2): every use returns a new refresh token and kills the one presented; a
//! killed token presented again revokes its whole family (every token descended from the same
//! password login), since either the client or an attacker holds a copy. Concurrent uses of one
//! token count as a reuse too: the store lets exactly one rotation win, and the others revoke
//! the family. Scope may be narrowed, never widened; the new refresh token keeps the scope of
//! the one it replaces (RFC 6749 §6).

use secrecy::{ExposeSecret, SecretString};

use super::{Grants, Tokens};
use crate::audit::EventSubject;
use crate::client::{Client, GrantType, MfaPolicy};
use crate::error::Error;
use crate::login_guard::user_key;
use crate::scope::ScopeSet;
use crate::store::{RefreshTokenRecord, TokenFamily};
use crate::token::opaque;
use crate::user::User;

/// Said for unknown, foreign, expired, used and revoked refresh tokens alike.
const INVALID: &str = "the refresh token is invalid, expired or revoked";

/// Why a presented refresh token is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Unknown to this client, expired, or of a revoked family: `invalid_grant`.
    Invalid,
    /// Already rotated: `invalid_grant`, and the family is revoked.
    Reused,
}

/// Whether `family` is still a session of `user`: the user is active and the family of the
/// user's current session epoch.
pub(crate) fn session_lives(family: &TokenFamily, user: &User) -> bool {
    user.active && family.user_epoch == user.session_epoch
}

/// Decides whether a stored refresh token may be used by `client_id` at `now`.
pub(crate) fn check(
    token: &RefreshTokenRecord,
    family: &TokenFamily,
    client_id: &str,
    now: i64,
) -> Result<(), Refusal> {
    // A token of another client is not evidence of reuse by the holder; refuse it only.
    if family.client_id != client_id || family.revoked_at.is_some() {
        return Err(Refusal::Invalid);
    }
    if token.used_at.is_some() {
        return Err(Refusal::Reused);
    }
    if now >= family.expires_at || now >= token.idle_expires_at {
        return Err(Refusal::Invalid);
    }
    Ok(())
}

impl Grants {
    pub(super) async fn refresh(
        &self,
        ctx: &crate::audit::RequestContext,
        client: &Client,
        token: &SecretString,
        requested: Option<ScopeSet>,
    ) -> Result<Tokens, Error> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Err(Error::UnauthorizedClient(
                "this client may not use the refresh_token grant".into(),
            ));
        }
        let invalid = || Error::InvalidGrant(INVALID.into());
        let now = self.clock.now();
        let hash = opaque::hash(token.expose_secret());
        let (record, family) = self
            .issuer
            .find_refresh_token(&hash)
            .await?
            .ok_or_else(invalid)?;
        match check(&record, &family, client.id.as_str(), now) {
            Ok(()) => {}
            Err(Refusal::Invalid) => return Err(invalid()),
            Err(Refusal::Reused) => return Err(self.reused(ctx, &family, now).await),
        }
        let scope = narrowed(&record.scope, requested)?;
        let user = self
            .users
            .find_user_by_id(&family.user_id)
            .await?
            .ok_or_else(invalid)?;
        // A disabled user's sessions, and sessions of an older epoch (ended by a password
        // change), are dead; a locked account keeps its sessions but cannot use them now.
        if !session_lives(&family, &user) || self.guard.is_locked(&user_key(&user.id)).await? {
            return Err(invalid());
        }
        if client.settings.mfa == MfaPolicy::Required && !family.has_second_factor() {
            return Err(Error::InvalidGrant(
                "this client requires a second factor and the session was opened without one: \
                 a new login is needed"
                    .into(),
            ));
        }
        // The client or user may have lost scopes since the login.
        let scope = user.entitled(&scope.intersection(&client.allowed_scopes()));
        let minted = self.issuer.mint(client, &user, scope, &family).await?;
        let detail =
            serde_json::json!({ "family_id": family.id, "scope": minted.tokens.scope.to_string() });
        let event = self.audit.event(
            crate::audit::EventKind::Refresh,
            ctx,
            EventSubject::login(client.id.as_str(), user.username.as_str()),
            detail,
        );
        // The rotation and its event share one commit.
        let rotated = self
            .issuer
            .rotate(client, &family, record, minted, &event, now)
            .await?;
        // None: another request used this token (or revoked the family) since it was read.
        match rotated {
            Some(tokens) => Ok(tokens),
            None => Err(self.reused(ctx, &family, now).await),
        }
    }

    /// Revokes a family whose used refresh token came back, and returns the error to answer.
    async fn reused(
        &self,
        ctx: &crate::audit::RequestContext,
        family: &crate::store::TokenFamily,
        now: i64,
    ) -> Error {
        let family_id = family.id.as_str();
        tracing::warn!(
            family = family_id,
            "refresh token reused: revoking its family"
        );
        crate::telemetry::refresh_reuse_detected();
        let user = self
            .users
            .find_user_by_id(&family.user_id)
            .await
            .ok()
            .flatten();
        let user = user.map_or_else(
            || family.user_id.clone(),
            |u| u.username.as_str().to_owned(),
        );
        self.audit
            .record(
                crate::audit::EventKind::RefreshReuse,
                ctx,
                EventSubject::login(&family.client_id, &user),
                serde_json::json!({ "family_id": family_id, "revoked": true }),
            )
            .await;
        match self.issuer.revoke_family(family_id, now).await {
            Ok(()) => Error::InvalidGrant(INVALID.into()),
            Err(err) => err,
        }
    }
}

/// RFC 6749 §6: the requested scope, which must be within the one `granted` to the refresh
/// token; all of it when none is requested.
fn narrowed(granted: &str, requested: Option<ScopeSet>) -> Result<ScopeSet, Error> {
    let original = ScopeSet::from_trusted(granted.split(' ').filter(|s| !s.is_empty()));
    let Some(requested) = requested else {
        return Ok(original);
    };
    match requested.first_missing_from(&original) {
        Some(s) => Err(Error::InvalidScope(
            format!("the scope {s} was not granted to this refresh token").into(),
        )),
        None => Ok(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family() -> TokenFamily {
        TokenFamily {
            id: "f".into(),
            client_id: "app".into(),
            user_id: "u".into(),
            auth_time: 100,
            created_at: 100,
            expires_at: 1000,
            revoked_at: None,
            user_epoch: 0,
            amr: vec!["pwd".into()],
            authenticator_id: None,
            scope: "openid".into(),
            ip: None,
            user_agent: None,
        }
    }

    fn token() -> RefreshTokenRecord {
        RefreshTokenRecord {
            token_hash: "h".into(),
            family_id: "f".into(),
            parent_hash: None,
            scope: "openid".into(),
            created_at: 100,
            idle_expires_at: 500,
            used_at: None,
        }
    }

    #[test]
    fn a_fresh_token_of_the_client_passes() {
        assert_eq!(check(&token(), &family(), "app", 499), Ok(()));
    }

    /// RFC 9700 §4.14.2: a rotated token presented again is a reuse.
    #[test]
    fn a_used_token_is_a_reuse() {
        let used = RefreshTokenRecord {
            used_at: Some(200),
            ..token()
        };
        assert_eq!(check(&used, &family(), "app", 300), Err(Refusal::Reused));
    }

    /// RFC 6749 §6: the refresh token is bound to the client it was issued to.
    #[test]
    fn another_clients_token_is_invalid_but_no_reuse() {
        let used = RefreshTokenRecord {
            used_at: Some(200),
            ..token()
        };
        assert_eq!(check(&used, &family(), "other", 300), Err(Refusal::Invalid));
    }

    #[test]
    fn idle_and_absolute_expiry_are_enforced() {
        assert_eq!(
            check(&token(), &family(), "app", 500),
            Err(Refusal::Invalid)
        );
        let busy = RefreshTokenRecord {
            idle_expires_at: 5000,
            ..token()
        };
        assert_eq!(check(&busy, &family(), "app", 999), Ok(()));
        assert_eq!(check(&busy, &family(), "app", 1000), Err(Refusal::Invalid));
    }

    #[test]
    fn a_revoked_family_refuses_its_tokens() {
        let revoked = TokenFamily {
            revoked_at: Some(150),
            ..family()
        };
        assert_eq!(check(&token(), &revoked, "app", 200), Err(Refusal::Invalid));
    }
}

//! [`SecondFactor`]: the second factor of a password login (see [`crate::mfa`]): whether one is
//! needed, the `mfa_token` of the `mfa_required` answer, and the checks every code goes through
//! (the per-user bucket of wrong codes, the account lockout, single use), for the token
//! endpoint's MFA grants ([`crate::grant`]) and the MFA API ([`crate::mfa::api`]).
//!
//! An `mfa_token` is 256 random bits, stored as its SHA-256 with the user, client, scope and
//! expiry, and lives in its own table: no endpoint that takes an access token can find it. It
//! dies when a login completes with it.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::{Client, GrantType, MfaPolicy};
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::{user_key, Admission, Attempt, LoginGuard};
use crate::mfa::{
    active_otp, new_recovery_code, otp_seal_context, recovery_code_hash, totp, Authenticator,
    AuthenticatorKind, MfaTokenRecord, CODE_BUCKET_INTERVAL, CODE_BUCKET_LIMIT,
    DEFAULT_MFA_TOKEN_TTL, GRANT_MFA_OTP, GRANT_MFA_RECOVERY_CODE, INVALID_OTP,
    INVALID_RECOVERY_CODE,
};
use crate::rejection::Rejection;
use crate::scope::ScopeSet;
use crate::sealing::Sealer;
use crate::store::{MfaStore, UserStore};
use crate::throttle::ThrottlePolicy;
use crate::token::opaque;
use crate::user::User;

/// Checks second factors (TOTP secrets opened by `sealer`, wrong codes counted by `guard`'s
/// lockout, events recorded in `audit`) and keeps the `mfa_token`s of logins waiting for one.
#[derive(derive_new::new)]
pub struct SecondFactor {
    mfa: Arc<dyn MfaStore>,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
    #[new(value = "DEFAULT_MFA_TOKEN_TTL")]
    mfa_token_ttl: i64,
}

impl SecondFactor {
    /// Makes `mfa_token`s live `secs` seconds (default [`DEFAULT_MFA_TOKEN_TTL`]).
    pub fn with_mfa_token_ttl(mut self, secs: i64) -> Self {
        self.mfa_token_ttl = secs;
        self
    }

    /// Called once the password is right, with the account's `attempt` of the password check
    /// (still counted): `Ok` when the login may issue tokens now (the count is cleared), else
    /// `mfa_required` with a new `mfa_token` (the attempt is given back: the login is neither
    /// complete nor failed), or the refusal of a code sent with the password (the attempt stays
    /// a failure of the account, so wrong codes reach the lockout as wrong passwords do). The
    /// id of the factor whose code was checked, if one was.
    pub(crate) async fn require(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        granted: &ScopeSet,
        otp: Option<&SecretString>,
        attempt: Attempt,
    ) -> Result<Option<String>, Error> {
        if client.settings.mfa == MfaPolicy::Off {
            return self.guard.succeeded(attempt).await.map(|()| None);
        }
        let factor = active_otp(&*self.mfa, &user.id).await?;
        match (factor, otp) {
            (None, _) if client.settings.mfa == MfaPolicy::Optional => {
                self.guard.succeeded(attempt).await.map(|()| None)
            }
            // Keycloak's single request: the code next to the password, on the same attempt.
            (Some(factor), Some(code)) => {
                self.check_otp(
                    ctx,
                    client,
                    user,
                    &factor,
                    code.expose_secret(),
                    Some(attempt),
                )
                .await?;
                self.succeeded(ctx, client, user, &factor, "password").await;
                Ok(Some(factor.id))
            }
            _ => {
                self.guard.refund(attempt).await?;
                Err(Error::MfaRequired {
                    mfa_token: self.issue_mfa_token(client, user, granted).await?,
                })
            }
        }
    }

    /// The `mfa-otp` grant's check: `otp` is a code of the user's TOTP factor (which may still be
    /// pending: its first code activates it), and the `mfa_token` of `record` is used up. The
    /// factor's id.
    pub(crate) async fn redeem_otp(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        record: &MfaTokenRecord,
        otp: &SecretString,
    ) -> Result<String, Error> {
        let factor = self
            .mfa
            .mfa_authenticators(&user.id)
            .await?
            .into_iter()
            .find(|a| a.kind == AuthenticatorKind::Otp)
            .ok_or_else(|| {
                Error::InvalidGrant(
                    "the user has no otp authenticator: enrol one with /mfa/associate".into(),
                )
            })?;
        self.check_otp(ctx, client, user, &factor, otp.expose_secret(), None)
            .await?;
        self.consume_mfa_token(record).await?;
        self.succeeded(ctx, client, user, &factor, GRANT_MFA_OTP)
            .await;
        Ok(factor.id)
    }

    /// The `mfa-recovery-code` grant's check: `code` is the user's recovery code, replaced by the
    /// fresh one returned, and the `mfa_token` of `record` is used up. The fresh code and the
    /// recovery factor's id.
    pub(crate) async fn redeem_recovery_code(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        record: &MfaTokenRecord,
        code: &SecretString,
    ) -> Result<(String, String), Error> {
        let attempt = self
            .admit_code(ctx, client, user, "recovery-code", None)
            .await?;
        let old_hash = recovery_code_hash(code.expose_secret());
        let fresh = new_recovery_code();
        let new_hash = recovery_code_hash(&fresh);
        let rotated = match self
            .mfa
            .rotate_recovery_code(&user.id, &old_hash, &new_hash)
            .await
        {
            Ok(rotated) => rotated,
            Err(err) => {
                self.refund_code(user).await;
                return Err(err.into());
            }
        };
        if !rotated {
            let attempt = Some(attempt);
            self.code_failed(ctx, client, user, "recovery-code", "wrong_code", attempt)
                .await;
            return Err(Error::InvalidGrant(INVALID_RECOVERY_CODE.into()));
        }
        self.refund_code(user).await;
        self.guard.succeeded(attempt).await?;
        if let Err(err) = self.consume_mfa_token(record).await {
            // Another request completed this login first: give the user their code back, so
            // that the one they hold keeps working.
            self.mfa
                .rotate_recovery_code(&user.id, &new_hash, &old_hash)
                .await?;
            return Err(err);
        }
        let detail =
            json!({ "authenticator_type": "recovery-code", "grant_type": GRANT_MFA_RECOVERY_CODE });
        self.record(EventKind::MfaSuccess, ctx, client, user, detail)
            .await;
        let factor = self.mfa.mfa_authenticators(&user.id).await?;
        let factor = factor
            .into_iter()
            .find(|a| a.kind == AuthenticatorKind::RecoveryCode)
            .ok_or_else(|| Error::InvalidGrant(INVALID_RECOVERY_CODE.into()))?;
        Ok((fresh, factor.id))
    }

    /// The `mfa_token` sent to the token endpoint or `/mfa/challenge` by `client`, with its
    /// user: unknown, used or another client's is `invalid_grant`, expired is `expired_token`.
    pub(crate) async fn redeemable(
        &self,
        client: &Client,
        token: &SecretString,
    ) -> Result<(MfaTokenRecord, User), Error> {
        if !client.allows_grant(GrantType::Password) {
            return Err(Error::UnauthorizedClient(
                "this client may not use the password grant".into(),
            ));
        }
        let hash = opaque::hash(token.expose_secret());
        let record = self
            .mfa
            .find_mfa_token(&hash)
            .await?
            .filter(|r| r.client_id == client.id.as_str())
            .ok_or_else(|| Error::InvalidGrant("Malformed mfa_token".into()))?;
        if record.used_at.is_some() {
            return Err(Error::InvalidGrant("the mfa_token was used already".into()));
        }
        if record.expires_at <= self.clock.now() {
            return Err(Error::ExpiredToken("mfa_token is expired".into()));
        }
        let user = self
            .users
            .find_user_by_id(&record.user_id)
            .await?
            .ok_or_else(|| Error::InvalidGrant("Malformed mfa_token".into()))?;
        Ok((record, user))
    }

    /// The `mfa_token` of a bearer request to `/mfa/*`, with its user; any failure is
    /// `invalid_token` (RFC 6750 §3.1).
    pub(crate) async fn session(&self, token: &str) -> Result<(MfaTokenRecord, User), Error> {
        let invalid = || Error::InvalidToken("the mfa_token is unknown, used or expired".into());
        let record = self
            .mfa
            .find_mfa_token(&opaque::hash(token))
            .await?
            .filter(|r| r.used_at.is_none() && r.expires_at > self.clock.now())
            .ok_or_else(invalid)?;
        let user = self
            .users
            .find_user_by_id(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        Ok((record, user))
    }

    /// Checks a TOTP code of `factor`: the per-user bucket, the account lockout (on `carried`,
    /// the attempt of the password sent with the code, if any), the code within one step of now,
    /// and a step later than the last accepted one (stored by compare and set, so a code works
    /// once even when sent twice at the same moment).
    async fn check_otp(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        factor: &Authenticator,
        code: &str,
        carried: Option<Attempt>,
    ) -> Result<(), Error> {
        let attempt = self.admit_code(ctx, client, user, "otp", carried).await?;
        let reason = match self.judge_otp(user, factor, code).await {
            Ok(None) => {
                self.refund_code(user).await;
                return self.guard.succeeded(attempt).await;
            }
            Ok(Some(reason)) => reason,
            // Not judged: the code is not a wrong one.
            Err(err) => {
                self.refund_code(user).await;
                return Err(err);
            }
        };
        self.code_failed(ctx, client, user, "otp", reason, Some(attempt))
            .await;
        Err(Error::InvalidGrant(INVALID_OTP.into()))
    }

    /// `None` when `code` is a fresh code of `factor` (its step is then used up), else why not.
    async fn judge_otp(
        &self,
        user: &User,
        factor: &Authenticator,
        code: &str,
    ) -> Result<Option<&'static str>, Error> {
        let sealed = factor
            .secret_sealed
            .as_deref()
            .ok_or_else(|| Error::internal("an otp authenticator has no secret"))?;
        let secret = self
            .sealer
            .open(&otp_seal_context(&user.id, &factor.id), sealed)?;
        let Some(step) = totp::matching_step(&secret, code, self.clock.now()) else {
            return Ok(Some("wrong_code"));
        };
        let accepted = self
            .mfa
            .accept_totp_step(&user.id, &factor.id, step)
            .await?;
        Ok((!accepted).then_some("reused_code"))
    }

    /// Takes one code from the user's bucket (10, regaining one every 6 minutes) before the
    /// code is checked, in one atomic store statement, so concurrent wrong codes cannot overrun
    /// it; then the account lockout, which counts wrong codes like wrong passwords (`carried`:
    /// the attempt already counted for the password sent with the code). A right code gives
    /// the bucket's attempt back ([`SecondFactor::refund_code`]).
    async fn admit_code(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        factor: &str,
        carried: Option<Attempt>,
    ) -> Result<Attempt, Error> {
        let bucket = ThrottlePolicy {
            limit: CODE_BUCKET_LIMIT,
            interval: CODE_BUCKET_INTERVAL,
            allowlist: Vec::new(),
        };
        let now = self.clock.now();
        let taken = self
            .mfa
            .reserve_mfa_attempt(&user.id, now, CODE_BUCKET_INTERVAL, bucket.room())
            .await?;
        if taken.is_none() {
            // Refused before the code is checked: the password's attempt is given back, and
            // the refusal is counted and aggregated, not stored one by one.
            if let Some(attempt) = carried {
                self.guard.refund(attempt).await?;
            }
            let about = EventSubject::login(client.id.as_str(), user.username.as_str());
            self.audit
                .rejected(Rejection::MfaThrottled, &user.id, ctx, about)
                .await;
            let drained_at = self.mfa.mfa_drained_at(&user.id).await?;
            let retry_after = bucket.retry_after(drained_at, now).unwrap_or(1);
            return Err(Error::TooManyCodes { retry_after });
        }
        if let Some(attempt) = carried {
            return Ok(attempt);
        }
        match self.guard.reserve(&user_key(&user.id)).await {
            Ok(Admission::Proceed(attempt)) => Ok(attempt),
            // A locked account's code stays counted in the bucket, as a wrong one.
            Ok(Admission::Locked { .. }) => {
                self.code_failed(ctx, client, user, factor, "locked", None)
                    .await;
                Err(Error::InvalidGrant(match factor {
                    "otp" => INVALID_OTP.into(),
                    _ => INVALID_RECOVERY_CODE.into(),
                }))
            }
            Err(err) => {
                self.refund_code(user).await;
                Err(err)
            }
        }
    }

    /// Gives back the code taken from the user's bucket by [`SecondFactor::admit_code`]: the
    /// code was right, or was never judged.
    async fn refund_code(&self, user: &User) {
        let refunded = self
            .mfa
            .refund_mfa_attempt(&user.id, CODE_BUCKET_INTERVAL)
            .await;
        if let Err(err) = refunded {
            tracing::warn!(%err, "could not give back a code attempt of a user");
        }
    }

    /// Records a refused code (its place in the user's bucket stays taken) in the event log,
    /// and a lockout it set.
    async fn code_failed(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        factor: &str,
        reason: &str,
        attempt: Option<Attempt>,
    ) {
        let detail = json!({ "authenticator_type": factor, "reason": reason });
        self.record(EventKind::MfaFailure, ctx, client, user, detail)
            .await;
        if let Some(attempt) = attempt {
            let about = EventSubject::login(client.id.as_str(), user.username.as_str());
            self.guard.failed(attempt, ctx, about).await;
        }
    }

    async fn succeeded(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        factor: &Authenticator,
        grant_type: &str,
    ) {
        let detail = json!({
            "authenticator_type": factor.kind.as_str(),
            "authenticator_id": factor.id,
            "activated": !factor.active,
            "grant_type": grant_type,
        });
        self.record(EventKind::MfaSuccess, ctx, client, user, detail)
            .await;
    }

    /// Records an event of `user` logging in to `client`.
    async fn record(
        &self,
        kind: EventKind,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        detail: serde_json::Value,
    ) {
        self.audit
            .record(
                kind,
                ctx,
                EventSubject::login(client.id.as_str(), user.username.as_str()),
                detail,
            )
            .await;
    }

    /// A new `mfa_token` for `user` logging in to `client` with `granted`.
    async fn issue_mfa_token(
        &self,
        client: &Client,
        user: &User,
        granted: &ScopeSet,
    ) -> Result<String, Error> {
        let token = opaque::new_token();
        let now = self.clock.now();
        let record = MfaTokenRecord {
            token_hash: opaque::hash(&token),
            user_id: user.id.clone(),
            client_id: client.id.to_string(),
            scope: granted.to_string(),
            created_at: now,
            expires_at: now + self.mfa_token_ttl,
            used_at: None,
        };
        self.mfa.insert_mfa_token(&record).await?;
        Ok(token)
    }

    async fn consume_mfa_token(&self, record: &MfaTokenRecord) -> Result<(), Error> {
        if self
            .mfa
            .consume_mfa_token(&record.token_hash, self.clock.now())
            .await?
        {
            Ok(())
        } else {
            Err(Error::InvalidGrant("the mfa_token was used already".into()))
        }
    }
}

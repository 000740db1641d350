//! Auth0's `mfa-otp` and `mfa-recovery-code` grants, which complete a password login that
//! answered `mfa_required` (see [`crate::mfa`]); the codes are checked by
//! [`crate::mfa::SecondFactor`].

use secrecy::SecretString;
use serde_json::json;

use super::{Grants, Tokens};
use crate::audit::{EventKind, RequestContext};
use crate::client::Client;
use crate::error::Error;
use crate::mfa::{MfaTokenRecord, GRANT_MFA_OTP, GRANT_MFA_RECOVERY_CODE};
use crate::scope::ScopeSet;
use crate::user::User;

impl Grants {
    /// `grant_type=http://auth0.com/oauth/grant-type/mfa-otp`.
    pub(super) async fn mfa_otp(
        &self,
        ctx: &RequestContext,
        client: &Client,
        mfa_token: &SecretString,
        otp: &SecretString,
    ) -> Result<Tokens, Error> {
        let (record, user) = self.second_factor.redeemable(client, mfa_token).await?;
        self.second_factor
            .redeem_otp(ctx, client, &user, &record, otp)
            .await?;
        self.complete_login(ctx, client, &user, &record, GRANT_MFA_OTP)
            .await
    }

    /// `grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code`: the code is replaced by
    /// a fresh one, returned with the tokens.
    pub(super) async fn mfa_recovery_code(
        &self,
        ctx: &RequestContext,
        client: &Client,
        mfa_token: &SecretString,
        code: &SecretString,
    ) -> Result<Tokens, Error> {
        let (record, user) = self.second_factor.redeemable(client, mfa_token).await?;
        let fresh = self
            .second_factor
            .redeem_recovery_code(ctx, client, &user, &record, code)
            .await?;
        let mut tokens = self
            .complete_login(ctx, client, &user, &record, GRANT_MFA_RECOVERY_CODE)
            .await?;
        tokens.recovery_code = Some(fresh);
        Ok(tokens)
    }

    /// Issues the tokens of the login the `mfa_token` stood for, as the password grant would.
    async fn complete_login(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        record: &MfaTokenRecord,
        grant_type: &str,
    ) -> Result<Tokens, Error> {
        let scope = ScopeSet::from_trusted(record.scope.split(' ').filter(|s| !s.is_empty()));
        let tokens = self.tokens.issue_login(client, user, scope).await?;
        let detail = json!({ "grant_type": grant_type, "scope": tokens.scope.to_string() });
        self.audit
            .record(
                EventKind::LoginSuccess,
                ctx,
                Some(client.id.as_str()),
                Some(user.username.as_str()),
                detail,
            )
            .await;
        Ok(tokens)
    }
}

//! Auth0's `mfa-otp` and `mfa-recovery-code` grants, which complete a password login that
//! answered `mfa_required` (see [`crate::mfa`]); the codes are checked by
//! [`crate::mfa::SecondFactor`].

use secrecy::SecretString;

use super::{Grants, LoginMethod, Tokens};
use crate::audit::RequestContext;
use crate::client::Client;
use crate::error::Error;
use crate::mfa::{MfaTokenRecord, GRANT_MFA_OTP, GRANT_MFA_RECOVERY_CODE};
use crate::scope::ScopeSet;
use crate::user::User;

/// What a client sends, with its `mfa_token`, to complete a login.
pub(super) enum MfaProof<'a> {
    /// `grant_type=http://auth0.com/oauth/grant-type/mfa-otp`: a code from the user's
    /// authenticator.
    Otp(&'a SecretString),
    /// `grant_type=http://auth0.com/oauth/grant-type/mfa-recovery-code`: one of the user's
    /// recovery codes, replaced by a fresh one returned with the tokens.
    RecoveryCode(&'a SecretString),
}

impl Grants {
    /// The `mfa-otp` and `mfa-recovery-code` grants: redeems `mfa_token` with `proof`.
    pub(super) async fn mfa(
        &self,
        ctx: &RequestContext,
        client: &Client,
        mfa_token: &SecretString,
        proof: MfaProof<'_>,
    ) -> Result<Tokens, Error> {
        let (record, user) = self.second_factor.redeemable(client, mfa_token).await?;
        match proof {
            MfaProof::Otp(otp) => {
                let factor = self
                    .second_factor
                    .redeem_otp(ctx, client, &user, &record, otp)
                    .await?;
                let method = LoginMethod::otp(factor);
                self.complete_login(ctx, client, &user, &record, GRANT_MFA_OTP, method)
                    .await
            }
            MfaProof::RecoveryCode(code) => {
                let (fresh, factor) = self
                    .second_factor
                    .redeem_recovery_code(ctx, client, &user, &record, code)
                    .await?;
                let method = LoginMethod::recovery_code(factor);
                let grant = GRANT_MFA_RECOVERY_CODE;
                let mut tokens = self
                    .complete_login(ctx, client, &user, &record, grant, method)
                    .await?;
                tokens.recovery_code = Some(fresh);
                Ok(tokens)
            }
        }
    }

    /// Issues the tokens of the login the `mfa_token` stood for, as the password grant would.
    async fn complete_login(
        &self,
        ctx: &RequestContext,
        client: &Client,
        user: &User,
        record: &MfaTokenRecord,
        grant_type: &str,
        method: LoginMethod,
    ) -> Result<Tokens, Error> {
        let scope = ScopeSet::from_trusted(record.scope.split(' ').filter(|s| !s.is_empty()));
        self.issue_login(ctx, client, user, scope, grant_type, method)
            .await
    }
}

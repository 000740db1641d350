//! The MFA API around a pending login (Auth0's `/mfa/authenticators`, `/mfa/associate`,
//! `/mfa/challenge` and `DELETE /mfa/authenticators/{id}`): listing a user's factors, enrolling
//! TOTP with a recovery code, announcing a challenge and removing a factor. Each takes the
//! `mfa_token` of an `mfa_required` answer.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::json;

use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::Error;
use crate::mfa::removal::Remover;
use crate::mfa::{
    new_authenticator_id, new_recovery_code, otp_seal_context, recovery_code_hash, totp,
    Authenticator, AuthenticatorKind, SecondFactor,
};
use crate::store::Store;
use crate::token::identity::IssuerIdentity;
use crate::token::resolve::AccessTokens;

/// Runs the MFA API's requests for the logins `second_factor` keeps; new TOTP secrets are
/// sealed by `identity`'s sealer and named after its issuer in authenticator apps.
#[derive(derive_new::new)]
pub struct Mfa {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    identity: Arc<IssuerIdentity>,
    audit: Arc<AuditLog>,
    second_factor: Arc<SecondFactor>,
    access_tokens: Arc<AccessTokens>,
}

/// What `/mfa/associate` hands out, once: the user writes the secret into their app and keeps
/// the recovery code.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The new (pending) TOTP authenticator's id.
    pub id: String,
    /// The TOTP secret in base32.
    pub secret: String,
    /// `otpauth://totp/...`, for a QR code.
    pub barcode_uri: String,
    /// The user's recovery code (one, as Auth0 hands out).
    pub recovery_codes: Vec<String>,
}

impl Mfa {
    /// `GET /mfa/authenticators`: the factors of the `mfa_token`'s user.
    pub async fn authenticators(&self, mfa_token: &str) -> Result<Vec<Authenticator>, Error> {
        let (_, user) = self.second_factor.session(mfa_token).await?;
        Ok(self.store.mfa_authenticators(&user.id).await?)
    }

    /// `POST /mfa/associate` with `authenticator_types: ["otp"]`: enrols a TOTP factor and a
    /// recovery code, both active after the first accepted code. A user with an active TOTP
    /// factor is refused with `access_denied`; a pending enrolment is replaced.
    pub async fn associate(
        &self,
        ctx: &RequestContext,
        mfa_token: &str,
        client_id: Option<&str>,
    ) -> Result<Enrolment, Error> {
        let (record, user) = self.second_factor.session(mfa_token).await?;
        if client_id.is_some_and(|id| id != record.client_id) {
            return Err(Error::invalid_request(
                "client_id differs from the client the mfa_token was issued to",
            ));
        }
        let now = self.clock.now();
        let secret = totp::new_secret();
        let otp_id = new_authenticator_id(AuthenticatorKind::Otp);
        let sealed = self
            .identity
            .sealer()
            .seal(&otp_seal_context(&user.id, &otp_id), &secret)?;
        let recovery_code = new_recovery_code();
        let otp = Authenticator {
            id: otp_id.clone(),
            user_id: user.id.clone(),
            kind: AuthenticatorKind::Otp,
            secret_sealed: Some(sealed),
            code_hash: None,
            active: false,
            last_step: 0,
            created_at: now,
        };
        let recovery = Authenticator {
            id: new_authenticator_id(AuthenticatorKind::RecoveryCode),
            kind: AuthenticatorKind::RecoveryCode,
            secret_sealed: None,
            code_hash: Some(recovery_code_hash(&recovery_code)),
            ..otp.clone()
        };
        if !self.store.enrol_mfa(&otp, &recovery).await? {
            return Err(Error::AccessDenied("User is already enrolled.".into()));
        }
        self.audit
            .record(
                EventKind::MfaEnrolment,
                ctx,
                EventSubject::login(record.client_id.as_str(), user.username.as_str()),
                json!({ "authenticator_id": otp_id, "authenticator_type": "otp" }),
            )
            .await;
        let secret = totp::base32(&secret);
        Ok(Enrolment {
            id: otp_id,
            barcode_uri: barcode_uri(self.identity.issuer(), user.username.as_str(), &secret),
            secret,
            recovery_codes: vec![recovery_code],
        })
    }

    /// `POST /mfa/challenge`: `otp` is the only challenge type, for a user with a TOTP factor,
    /// active or still pending (as Auth0 answers right after `/mfa/associate`: the first code
    /// accepted by the `mfa-otp` grant activates it); the code then goes to the token endpoint.
    pub async fn challenge(
        &self,
        client: &Client,
        mfa_token: &SecretString,
        challenge_type: &str,
        authenticator_id: Option<&str>,
    ) -> Result<&'static str, Error> {
        let (_, user) = self.second_factor.redeemable(client, mfa_token).await?;
        if !challenge_type.split(' ').any(|t| t == "otp") {
            return Err(Error::UnsupportedChallengeType(
                "only the otp challenge type is supported".into(),
            ));
        }
        let factor = self
            .store
            .mfa_authenticators(&user.id)
            .await?
            .into_iter()
            .find(|a| a.kind == AuthenticatorKind::Otp)
            .ok_or_else(|| {
                Error::UnsupportedChallengeType("User is not enrolled with otp".into())
            })?;
        if authenticator_id.is_some_and(|id| id != factor.id) {
            return Err(Error::invalid_request(
                "authenticator_id is not an otp authenticator of this user",
            ));
        }
        Ok("otp")
    }

    /// `DELETE /mfa/authenticators/{id}` (Auth0's `deleteAuthenticator`): removes factor `id` of
    /// the bearer's user, the recovery code with the TOTP factor, and ends the sessions opened
    /// with what went, as an administrator's removal does. As at Auth0, removing a factor takes
    /// a login that passed the second factor: the bearer is an access token of a session whose
    /// `amr` has `mfa`. An `mfa_token` (the password alone) removes only a pending factor: were
    /// it to remove an active one, the password alone would let anyone enrol their own device
    /// in its place. `NotFound` when the user has no factor `id`.
    pub async fn delete_authenticator(
        &self,
        ctx: &RequestContext,
        bearer: &str,
        id: &str,
    ) -> Result<Vec<Authenticator>, Error> {
        let access = self.access_tokens.resolve_access_token(bearer).await?;
        let (client_id, user, passed_mfa) = match access {
            Some(record) => {
                let user = self.token_user(&record.user_id).await?;
                (
                    record.client_id,
                    user,
                    record.amr.iter().any(|m| m == "mfa"),
                )
            }
            None => {
                let (record, user) = self.second_factor.session(bearer).await?;
                (record.client_id, user, false)
            }
        };
        let factors = self.store.mfa_authenticators(&user.id).await?;
        if !factors.iter().any(|a| a.id == id) {
            return Err(Error::NotFound("no such authenticator".into()));
        }
        if !passed_mfa && factors.iter().any(|a| a.active) {
            return Err(Error::AccessDenied(
                "removing an active factor needs an access token of a login that passed the second factor".into(),
            ));
        }
        let remover = Remover {
            store: self.store.as_ref(),
            audit: &self.audit,
            ctx,
            subject: EventSubject::login(&client_id, user.username.as_str()),
            via: "mfa_api",
        };
        let removed = remover.remove(&user, id, self.clock.now()).await?;
        if removed.is_empty() {
            return Err(Error::NotFound("no such authenticator".into()));
        }
        Ok(removed)
    }

    /// The user of a live access token; `invalid_token` when they are gone.
    async fn token_user(&self, user_id: &str) -> Result<crate::user::User, Error> {
        self.store.find_user_by_id(user_id).await?.ok_or_else(|| {
            Error::InvalidToken("the access token is invalid, expired or revoked".into())
        })
    }
}

/// The Key URI Format of Google Authenticator: `otpauth://totp/ISSUER:USER?secret=…&issuer=…`
/// with the parameters gatehouse uses, which every app reads. The issuer is the server's host.
fn barcode_uri(issuer_url: &str, username: &str, secret: &str) -> String {
    let rest = issuer_url.split_once("://").map_or(issuer_url, |(_, r)| r);
    let host = rest.split('/').next().unwrap_or(rest);
    let issuer = if host.is_empty() { "gatehouse" } else { host };
    format!(
        "otpauth://totp/{issuer}:{user}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={digits}&period={period}",
        issuer = percent_encode(issuer),
        user = percent_encode(username),
        digits = totp::DIGITS,
        period = totp::STEP_SECS,
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn barcode_uris_name_the_host_and_the_user() {
        let uri = super::barcode_uri("https://id.example.com:8443/base", "ann lee@x.org", "ABC");
        assert_eq!(
            uri,
            "otpauth://totp/id.example.com%3A8443:ann%20lee%40x.org?secret=ABC\
             &issuer=id.example.com%3A8443&algorithm=SHA1&digits=6&period=30"
        );
    }
}

//! The token endpoint (RFC 6749 §3.2): parse, authenticate the client, run the grant.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::client::GrantType;
use gatehouse_core::client_auth::Authenticated;
use gatehouse_core::grant::{GrantRequest, Tokens};
use gatehouse_core::mfa;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::telemetry;
use gatehouse_core::Error;
use secrecy::SecretString;
use serde::Serialize;

use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::error_responses::{ClientAuthFailed, HashQueueFull, PayloadTooLarge, ServerError};
use crate::extract::ClientRequest;
use crate::params::Params;
use crate::response::NoStore;
use crate::AppState;

/// `POST /oauth/token` and its aliases.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "Token endpoint (RFC 6749 §3.2): the password (§4.3), client_credentials (§4.4) \
               and refresh_token (§6) grants, and Auth0's mfa-otp and mfa-recovery-code grants",
    request_body(
        content(
            (TokenRequest = "application/x-www-form-urlencoded"),
            (TokenRequest = "application/json"),
        ),
        description = "Client credentials go in the Authorization header (Basic) or in the body, \
                       never both. Parameters may not repeat. At most 64 KiB."
    ),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "Tokens issued (RFC 6749 §5.1); never cached",
         body = TokenSuccess,
         headers(("Cache-Control" = String, description = "no-store"),
                 ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "invalid_request, invalid_grant (wrong username or \
            password, wrong or reused code, unknown mfa_token), expired_token (mfa_token), \
            unauthorized_client (a grant the client is not allowed; client_credentials from a \
            public client or without a secret or assertion), unsupported_grant_type or \
            invalid_scope (RFC 6749 §5.2)",
         body = ErrorBody),
        ClientAuthFailed,
        (status = 403, description = "mfa_required: the password was right and the client's \
            users need a second factor; the body carries the `mfa_token` that continues the \
            login (Auth0's MFA API)", body = ErrorBody),
        PayloadTooLarge,
        (status = 429, description = "too_many_attempts: this client address failed too many \
            logins (credential stuffing throttle), or this user sent too many wrong \
            second-factor codes", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
        ServerError,
        HashQueueFull,
    )
)]
pub(crate) async fn token(
    State(app): State<AppState>,
    Context(ctx): Context,
    request: ClientRequest,
) -> Result<TokenResponse, ApiError> {
    let grant_type = grant_type_label(request.params().get("grant_type"));
    let result = exchange(&app, &ctx, request).await;
    telemetry::record_token_request(grant_type, &result);
    Ok(TokenResponse(result?))
}

async fn exchange(
    app: &AppState,
    ctx: &gatehouse_core::audit::RequestContext,
    request: ClientRequest,
) -> Result<Tokens, Error> {
    let (credentials, mut params) = request.into_parts()?;
    let code = params.take("code");
    let request = grant_request(&mut params)?;
    let Authenticated {
        client,
        ctx,
        proven,
    } = app.clients.authenticate_with(ctx, credentials).await?;
    // Aidbox's secure code flow: the one-time code stands for the login, so the password grant
    // and the MFA grants completing it need one; a refresh continues a session and the client
    // credentials grant has no user to log in, so neither does.
    if !matches!(
        request,
        GrantRequest::RefreshToken { .. } | GrantRequest::ClientCredentials { .. }
    ) {
        app.codes.redeem(&client, code.as_deref()).await?;
    }
    app.grants
        .exchange(&ctx, &client, request.proven(proven))
        .await
}

/// A fixed `grant_type` label for metrics: a known grant's name, never the raw input.
fn grant_type_label(raw: Option<&str>) -> &'static str {
    match raw.and_then(GrantType::parse) {
        Some(grant) => grant.as_str(),
        None if raw == Some(mfa::GRANT_MFA_OTP) => "mfa-otp",
        None if raw == Some(mfa::GRANT_MFA_RECOVERY_CODE) => "mfa-recovery-code",
        None if raw.is_none() => "none",
        None => "unsupported",
    }
}

/// The token request's parameters (RFC 6749 §4.3.2, §2.3.1), as a form or a JSON object.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
#[schema(example = json!({
    "grant_type": "password", "username": "demo@example.com", "password": "demo-password",
    "scope": "openid", "client_id": "demo-app", "client_secret": "demo-secret"
}))]
pub(crate) struct TokenRequest {
    /// The grant; other values are answered with `unsupported_grant_type`.
    #[schema(
        value_type = String,
        pattern = "^(password|refresh_token|client_credentials|http://auth0\\.com/oauth/grant-type/mfa-otp|http://auth0\\.com/oauth/grant-type/mfa-recovery-code)$"
    )]
    grant_type: String,
    /// The resource owner's username (PRECIS UsernameCaseMapped).
    username: Option<String>,
    /// The resource owner's password.
    password: Option<String>,
    /// Space-separated scopes; the client's defaults when absent.
    scope: Option<String>,
    /// The client id, when not sent with HTTP Basic.
    client_id: Option<String>,
    /// The client secret, when not sent with HTTP Basic.
    client_secret: Option<String>,
    /// The refresh token, for `grant_type=refresh_token` (RFC 6749 §6).
    refresh_token: Option<String>,
    /// The one-time code from `/auth/authorize`, for clients that have a redirect_uri.
    code: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523 §2.2).
    client_assertion_type: Option<String>,
    /// A signed JWT authenticating the client (RFC 7523 §2.2).
    client_assertion: Option<String>,
    /// The `mfa_token` of an `mfa_required` answer, for the MFA grants.
    mfa_token: Option<String>,
    /// A TOTP code: for the mfa-otp grant, or next to the password (Keycloak's form).
    otp: Option<String>,
    /// Keycloak's legacy name of `otp`, with the password grant.
    totp: Option<String>,
    /// A recovery code, for the mfa-recovery-code grant.
    recovery_code: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenSuccess {
    /// An RFC 9068 JWT access token.
    access_token: String,
    /// Always `Bearer` (RFC 6750).
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u32,
    /// The granted scopes, space-separated; absent when none was granted (RFC 6749 §3.3 has
    /// no empty scope value).
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    /// Present when the client may use the refresh_token grant; never for client_credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// An OpenID Connect ID token, when the `openid` scope was granted to a user's login
    /// (never for client_credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    /// After the mfa-recovery-code grant: the user's new recovery code (the old one is spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<String>,
    /// Why the user must change their password (`breached`: it is on a breached or common
    /// list; `expired`: past the server's maximum age), when they must: the app asks for a new
    /// one (`POST /account/password`). An extension member (RFC 6749 §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    password_change_required: Option<&'static str>,
}

/// Parses the grant-specific parameters.
fn grant_request(params: &mut Params) -> Result<GrantRequest, Error> {
    let grant_type = params.require("grant_type")?;
    let secret = |params: &mut Params, name: &str| params.require(name).map(SecretString::from);
    match grant_type.as_str() {
        mfa::GRANT_MFA_OTP => {
            return Ok(GrantRequest::MfaOtp {
                mfa_token: secret(params, "mfa_token")?,
                otp: secret(params, "otp")?,
            })
        }
        mfa::GRANT_MFA_RECOVERY_CODE => {
            return Ok(GrantRequest::MfaRecoveryCode {
                mfa_token: secret(params, "mfa_token")?,
                recovery_code: secret(params, "recovery_code")?,
            })
        }
        _ => {}
    }
    match GrantType::parse(&grant_type) {
        Some(GrantType::Password) => Ok(GrantRequest::Password {
            username: params.require("username")?,
            password: SecretString::from(params.require("password")?),
            scope: scope(params)?,
            otp: keycloak_otp(params)?,
        }),
        Some(GrantType::RefreshToken) => Ok(GrantRequest::RefreshToken {
            token: SecretString::from(params.require("refresh_token")?),
            scope: scope(params)?,
        }),
        // Whether the request proved its client is known only once it is authenticated.
        Some(GrantType::ClientCredentials) => Ok(GrantRequest::ClientCredentials {
            scope: scope(params)?,
            proven: false,
        }),
        _ => Err(Error::UnsupportedGrantType(
            format!(
                "grant_type {} is not supported",
                gatehouse_core::error::echo(&grant_type)
            )
            .into(),
        )),
    }
}

/// Keycloak's TOTP code next to the password: `otp`, or its legacy name `totp`, not both.
fn keycloak_otp(params: &mut Params) -> Result<Option<SecretString>, Error> {
    match (params.take("otp"), params.take("totp")) {
        (Some(_), Some(_)) => Err(Error::invalid_request(
            "send the code as otp or as totp, not both",
        )),
        (code, legacy) => Ok(code.or(legacy).map(SecretString::from)),
    }
}

fn scope(params: &mut Params) -> Result<Option<ScopeSet>, Error> {
    params
        .take("scope")
        .map(|s| ScopeSet::parse(&s))
        .transpose()
}

/// A successful token response (RFC 6749 §5.1), never cached.
pub(crate) struct TokenResponse(Tokens);

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let t = self.0;
        let body = TokenSuccess {
            access_token: t.access_token,
            token_type: "Bearer",
            expires_in: t.expires_in,
            scope: Some(t.scope.to_string()).filter(|s| !s.is_empty()),
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            recovery_code: t.recovery_code,
            password_change_required: t.password_change_required,
        };
        NoStore::with_pragma(Json(body)).into_response()
    }
}

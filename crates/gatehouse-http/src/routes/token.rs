//! The token endpoint (RFC 6749 §3.2): parse, authenticate the client, run the grant.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::client::GrantType;
use gatehouse_core::client_assertion;
use gatehouse_core::client_auth::ClientCredentials;
use gatehouse_core::grant::{GrantRequest, Tokens};
use gatehouse_core::mfa;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::telemetry;
use gatehouse_core::Error;
use secrecy::SecretString;
use serde::Serialize;

use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{BasicAuth, FormOrJson};
use crate::params::Params;
use crate::AppState;

/// `POST /oauth/token` and its aliases.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "Token endpoint (RFC 6749 §3.2): the password (§4.3) and refresh_token (§6) grants, \
               and Auth0's mfa-otp and mfa-recovery-code grants",
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
            unauthorized_client, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)",
         body = ErrorBody),
        (status = 401, description = "invalid_client: client authentication failed",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Basic challenge"))),
        (status = 403, description = "mfa_required: the password was right and the client's \
            users need a second factor; the body carries the `mfa_token` that continues the \
            login (Auth0's MFA API)", body = ErrorBody),
        (status = 413, description = "The body exceeds 64 KiB", body = ErrorBody),
        (status = 429, description = "too_many_attempts: this client address failed too many \
            logins (credential stuffing throttle), or this user sent too many wrong \
            second-factor codes", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
        (status = 500, description = "server_error; the cause is logged", body = ErrorBody),
        (status = 503, description = "temporarily_unavailable: the password-hash queue is \
            full", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
    )
)]
pub(crate) async fn token(
    State(app): State<AppState>,
    Context(ctx): Context,
    basic: Option<BasicAuth>,
    FormOrJson(mut params): FormOrJson,
) -> Result<TokenResponse, ApiError> {
    let grant_type = grant_type_label(params.get("grant_type"));
    let result = exchange(&app, &ctx, basic, &mut params).await;
    telemetry::record_token_request(grant_type, &result);
    Ok(TokenResponse(result?))
}

async fn exchange(
    app: &AppState,
    ctx: &gatehouse_core::audit::RequestContext,
    basic: Option<BasicAuth>,
    params: &mut Params,
) -> Result<Tokens, Error> {
    let credentials = client_credentials(basic, params)?;
    let code = params.take("code");
    let request = grant_request(params)?;
    let client = app.clients.authenticate_with(ctx, credentials).await?;
    app.codes.redeem(&client, code.as_deref()).await?;
    app.grants.exchange(ctx, &client, request).await
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
        pattern = "^(password|refresh_token|http://auth0\\.com/oauth/grant-type/mfa-otp|http://auth0\\.com/oauth/grant-type/mfa-recovery-code)$"
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
    /// The granted scopes, space-separated.
    scope: String,
    /// Present when the client may use the refresh_token grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// An OpenID Connect ID token, when the `openid` scope was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    /// After the mfa-recovery-code grant: the user's new recovery code (the old one is spent).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<String>,
}

/// RFC 6749 §2.3: exactly one way of identifying the client.
pub(crate) fn client_credentials(
    basic: Option<BasicAuth>,
    params: &mut Params,
) -> Result<ClientCredentials, Error> {
    if let Some(assertion) = assertion_credentials(basic.is_some(), params)? {
        return Ok(assertion);
    }
    let id = params.take("client_id");
    let secret = params.take("client_secret").map(SecretString::from);
    match (basic, id, secret) {
        (Some(_), _, Some(_)) => Err(Error::invalid_request(
            "the client authenticated twice: use HTTP Basic or client_secret, not both",
        )),
        (Some(b), Some(id), None) if id != b.id => Err(Error::invalid_request(
            "client_id in the body differs from the one in the Authorization header",
        )),
        (Some(b), _, None) => Ok(ClientCredentials::Basic {
            id: b.id,
            secret: b.secret,
            undecoded: b.undecoded,
        }),
        (None, Some(id), Some(secret)) => Ok(ClientCredentials::Post { id, secret }),
        (None, Some(id), None) => Ok(ClientCredentials::Public { id }),
        (None, None, Some(_)) => Err(Error::invalid_request(
            "client_secret was sent without client_id",
        )),
        (None, None, None) => Err(Error::InvalidClient {
            method: gatehouse_core::error::AuthMethod::None,
            description: "client authentication is required".into(),
        }),
    }
}

/// RFC 7521 §4.2: `client_assertion` with `client_assertion_type`, as the only credentials.
fn assertion_credentials(
    basic: bool,
    params: &mut Params,
) -> Result<Option<ClientCredentials>, Error> {
    let kind = params.take("client_assertion_type");
    let Some(assertion) = params.take("client_assertion") else {
        return match kind {
            Some(_) => Err(Error::invalid_request(
                "client_assertion_type was sent without client_assertion",
            )),
            None => Ok(None),
        };
    };
    if kind.as_deref() != Some(client_assertion::JWT_BEARER) {
        return Err(Error::invalid_request(
            "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ));
    }
    if basic || params.get("client_secret").is_some() {
        return Err(Error::invalid_request(
            "the client authenticated twice: use one of HTTP Basic, client_secret and client_assertion",
        ));
    }
    Ok(Some(ClientCredentials::Assertion {
        client_id: params.take("client_id"),
        assertion,
    }))
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
        _ => Err(Error::UnsupportedGrantType(
            format!("grant_type {grant_type:?} is not supported").into(),
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
            scope: t.scope.to_string(),
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            recovery_code: t.recovery_code,
        };
        let mut response = Json(body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

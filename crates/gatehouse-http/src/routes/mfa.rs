//! Auth0's MFA API around a pending password login: `GET /mfa/authenticators`,
//! `DELETE /mfa/authenticators/{id}` and `POST /mfa/associate` take the `mfa_token` as a bearer
//! token (RFC 6750 §2.1);
//! `POST /mfa/challenge` authenticates the client like the token endpoint and takes the
//! `mfa_token` in the body. Every answer is `no-store`: enrolment returns secrets.

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::Error;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;

use crate::client_address::Context;
use crate::error::{ApiError, BearerError, ErrorBody};
use crate::error_responses::{
    ClientAuthFailed, HashQueueFull, MfaTokenRejected, PayloadTooLarge, ServerError,
};
use crate::extract::{is_json, read_limited, BearerToken, ClientRequest};
use crate::params::Params;
use crate::response::NoStore;
use crate::AppState;

/// `GET /mfa/authenticators`.
#[utoipa::path(
    get,
    path = "/mfa/authenticators",
    tag = "mfa",
    summary = "List the factors of the user of an mfa_token (Auth0's MFA API)",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's factors; never cached",
         body = Vec<AuthenticatorInfo>,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed Authorization header",
         body = ErrorBody),
        MfaTokenRejected,
        ServerError,
    )
)]
pub(crate) async fn authenticators(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<impl IntoResponse, BearerError> {
    let all = app.mfa.authenticators(&token).await?;
    let body: Vec<AuthenticatorInfo> = all
        .iter()
        .map(|a| AuthenticatorInfo {
            id: a.id.clone(),
            authenticator_type: a.kind.as_str(),
            active: a.active,
        })
        .collect();
    Ok(NoStore::new(Json(body)))
}

/// `DELETE /mfa/authenticators/{id}`.
#[utoipa::path(
    delete,
    path = "/mfa/authenticators/{id}",
    tag = "mfa",
    summary = "Remove a factor (Auth0's deleteAuthenticator)",
    description = "The bearer token is an access token of a login that passed the second \
        factor (its session's amr has mfa), which removes any factor of its user, or an \
        mfa_token, which removes only a factor still pending: the password alone must not \
        replace an active factor.",
    params(("id" = String, Path, description = "The factor's id, as /mfa/authenticators lists it")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed, with the recovery code when the factor is the \
            otp one; the sessions opened with what went are ended"),
        (status = 400, description = "invalid_request: a malformed Authorization header",
         body = ErrorBody),
        MfaTokenRejected,
        (status = 403, description = "access_denied: an active factor and a bearer token \
            that did not pass a second factor", body = ErrorBody),
        (status = 404, description = "not_found: the user has no factor with this id",
         body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn delete_authenticator(
    State(app): State<AppState>,
    Context(ctx): Context,
    BearerToken(token): BearerToken,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, BearerError> {
    app.mfa.delete_authenticator(&ctx, &token, &id).await?;
    Ok(NoStore::new(StatusCode::NO_CONTENT))
}

/// `POST /mfa/associate`.
#[utoipa::path(
    post,
    path = "/mfa/associate",
    tag = "mfa",
    summary = "Enrol a TOTP factor and a recovery code for the user of an mfa_token",
    request_body(
        content(
            (AssociateRequest = "application/json"),
            (AssociateRequest = "application/x-www-form-urlencoded"),
        ),
        description = "`authenticator_types` must include `otp`. At most 64 KiB."
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new factor, pending until its first code is \
            accepted by the mfa-otp grant; never cached", body = AssociateResponse,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed header or body, or no `otp` \
            among `authenticator_types`", body = ErrorBody),
        MfaTokenRejected,
        (status = 403, description = "access_denied: the user is already enrolled",
         body = ErrorBody),
        PayloadTooLarge,
        ServerError,
    )
)]
pub(crate) async fn associate(
    State(app): State<AppState>,
    Context(ctx): Context,
    BearerToken(token): BearerToken,
    AssociateBody { client_id }: AssociateBody,
) -> Result<impl IntoResponse, BearerError> {
    let e = app
        .mfa
        .associate(&ctx, &token, client_id.as_deref())
        .await?;
    let body = AssociateResponse {
        authenticator_type: "otp",
        id: e.id,
        secret: e.secret,
        barcode_uri: e.barcode_uri,
        recovery_codes: e.recovery_codes,
    };
    Ok(NoStore::new(Json(body)))
}

/// `POST /mfa/challenge`.
#[utoipa::path(
    post,
    path = "/mfa/challenge",
    tag = "mfa",
    summary = "Ask for an otp challenge for the user of an mfa_token (Auth0's MFA API)",
    request_body(
        content(
            (ChallengeRequest = "application/x-www-form-urlencoded"),
            (ChallengeRequest = "application/json"),
        ),
        description = "Client credentials as at the token endpoint. At most 64 KiB."
    ),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "The challenge to answer at the token endpoint with the \
            mfa-otp grant; never cached", body = ChallengeResponse,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request, invalid_grant (unknown or used \
            mfa_token, or another client's), expired_token, unauthorized_client or \
            unsupported_challenge_type (the user has no otp factor, active or pending)", body = ErrorBody),
        ClientAuthFailed,
        PayloadTooLarge,
        (status = 429, description = "too_many_attempts: this client address failed too many \
            authentications", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
        ServerError,
        HashQueueFull,
    )
)]
pub(crate) async fn challenge(
    State(app): State<AppState>,
    Context(ctx): Context,
    request: ClientRequest,
) -> Result<impl IntoResponse, ApiError> {
    let (credentials, mut params) = request.into_parts()?;
    let mfa_token = SecretString::from(params.require("mfa_token")?);
    let challenge_type = params.require("challenge_type")?;
    let authenticator_id = params.take("authenticator_id");
    let client = app
        .clients
        .authenticate_with(&ctx, credentials)
        .await?
        .client;
    let kind = app
        .mfa
        .challenge(
            &client,
            &mfa_token,
            &challenge_type,
            authenticator_id.as_deref(),
        )
        .await?;
    let body = ChallengeResponse {
        challenge_type: kind,
    };
    Ok(NoStore::new(Json(body)))
}

/// The body of `POST /mfa/associate`, which must ask for `otp`: the optional `client_id`. It
/// rejects like the bearer token before it, with a `WWW-Authenticate: Bearer` challenge.
pub(crate) struct AssociateBody {
    client_id: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for AssociateBody {
    type Rejection = BearerError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, BearerError> {
        let json = is_json(req.headers())?;
        let body = read_limited(req.into_body()).await?;
        let (types, client_id) = associate_body(json, &body)?;
        if !types.iter().any(|t| t == "otp") {
            return Err(Error::invalid_request(
                "authenticator_types must include otp, the one type gatehouse enrols",
            )
            .into());
        }
        Ok(AssociateBody { client_id })
    }
}

/// `authenticator_types` (a JSON array or string, or a form value, space- or comma-separated)
/// and the optional `client_id` of an associate body.
fn associate_body(json: bool, body: &[u8]) -> Result<(Vec<String>, Option<String>), Error> {
    let split = |s: &str| -> Vec<String> {
        s.split([' ', ','])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if !json {
        let mut params = Params::from_form(body)?;
        let types = params.require("authenticator_types")?;
        return Ok((split(&types), params.take("client_id")));
    }
    let bad = || Error::invalid_request("the body must be a JSON object with authenticator_types");
    let value: Value = serde_json::from_slice(body).map_err(|_| bad())?;
    let object = value.as_object().ok_or_else(bad)?;
    let types = match object.get("authenticator_types") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(s)) => split(s),
        _ => return Err(bad()),
    };
    let client_id = match object.get("client_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::invalid_request("client_id must be a string")),
    };
    Ok((types, client_id))
}

/// One factor, as `/mfa/authenticators` lists it.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuthenticatorInfo {
    /// Its id, for `/mfa/challenge`, `DELETE /mfa/authenticators/{id}` and the admin API.
    id: String,
    /// `otp` or `recovery-code`.
    authenticator_type: &'static str,
    /// Whether it counts (a TOTP factor is active after its first accepted code).
    active: bool,
}

/// The body of `POST /mfa/associate`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub(crate) struct AssociateRequest {
    /// `["otp"]`.
    authenticator_types: Vec<String>,
    /// Optional; must be the client the mfa_token was issued to.
    client_id: Option<String>,
}

/// The answer of `POST /mfa/associate`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AssociateResponse {
    /// Always `otp`.
    authenticator_type: &'static str,
    /// The new factor's id.
    id: String,
    /// The TOTP secret, base32 (RFC 4648).
    secret: String,
    /// `otpauth://totp/ISSUER:USER?secret=…` for a QR code.
    barcode_uri: String,
    /// The user's recovery code (single use; a fresh one comes with each use).
    recovery_codes: Vec<String>,
}

/// The body of `POST /mfa/challenge`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
pub(crate) struct ChallengeRequest {
    /// The `mfa_token` of the `mfa_required` answer.
    mfa_token: String,
    /// `otp` (space-separated list accepted).
    challenge_type: String,
    /// Optional: the otp authenticator's id.
    authenticator_id: Option<String>,
    /// The client id, when not sent with HTTP Basic.
    client_id: Option<String>,
    /// The client secret, when not sent with HTTP Basic.
    client_secret: Option<String>,
}

/// The answer of `POST /mfa/challenge`.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ChallengeResponse {
    /// `otp`: send the user's code with the mfa-otp grant.
    challenge_type: &'static str,
}

//! The OpenID Connect UserInfo endpoint (OpenID Connect Core §5.3) with the bearer token in the
//! Authorization header (RFC 6750 §2.1) or, on POST, in a form body's `access_token` (§2.2).
//! Failures answer per RFC 6750 §3 with `WWW-Authenticate: Bearer error=...`.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;

use crate::error::{BearerError, ErrorBody};
use crate::error_responses::{
    AccessTokenRejected, OpenidScopeMissing, PayloadTooLarge, ServerError,
};
use crate::extract::{BearerToken, BearerTokenOrBody};
use crate::response::NoStore;
use crate::AppState;

/// `GET /userinfo`: the token in the Authorization header.
#[utoipa::path(
    get,
    path = "/userinfo",
    tag = "openid",
    summary = "UserInfo (OpenID Connect Core §5.3), the bearer token in the header",
    security((), ("bearer" = [])),
    responses(
        ClaimsAnswer,
        (status = 400, description = "invalid_request: a malformed Authorization header \
            (RFC 6750 §3.1)", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_request\""))),
        AccessTokenRejected,
        OpenidScopeMissing,
        ServerError,
    )
)]
pub(crate) async fn userinfo_get(
    State(app): State<AppState>,
    BearerToken(token): BearerToken,
) -> Result<impl IntoResponse, BearerError> {
    claims(&app, &token).await
}

/// `POST /userinfo`: the token in the Authorization header or the body (RFC 6750 §2.2).
#[utoipa::path(
    post,
    path = "/userinfo",
    tag = "openid",
    summary = "UserInfo (OpenID Connect Core §5.3), the bearer token in the header or the body",
    request_body(
        content(
            (UserinfoRequest = "application/x-www-form-urlencoded"),
            (UserinfoRequest = "application/json"),
        ),
        description = "Optional: `access_token` when it is not in the Authorization header. \
                       At most 64 KiB."
    ),
    security((), ("bearer" = [])),
    responses(
        ClaimsAnswer,
        (status = 400, description = "invalid_request: a malformed Authorization header, a malformed body, or the token sent twice \
            (RFC 6750 §3.1)", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_request\""))),
        AccessTokenRejected,
        OpenidScopeMissing,
        PayloadTooLarge,
        ServerError,
    )
)]
pub(crate) async fn userinfo_post(
    State(app): State<AppState>,
    BearerTokenOrBody(token): BearerTokenOrBody,
) -> Result<impl IntoResponse, BearerError> {
    claims(&app, &token).await
}

/// The claims of the user `token` was issued to, never cached.
async fn claims(app: &AppState, token: &str) -> Result<impl IntoResponse, BearerError> {
    let claims = app.userinfo.claims(token).await?;
    Ok(NoStore::new(Json(claims)))
}

/// 200 of both forms of `/userinfo`: what [`claims`] answers.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 200,
    description = "The user's claims (OpenID Connect Core §5.3.2); never cached",
    headers(("Cache-Control" = String, description = "no-store"))
)]
#[allow(dead_code)] // documentation only: never built
struct ClaimsAnswer(UserinfoClaims);

/// The body of `POST /userinfo` (RFC 6750 §2.2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
pub(crate) struct UserinfoRequest {
    /// The access token, when not in the Authorization header.
    access_token: Option<String>,
}

/// The UserInfo claims (OpenID Connect Core §5.3.2): `sub`, those the granted scopes allow, and
/// those the client's claim mappers aim at UserInfo (docs/claims.md).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the core builds the claims
pub(crate) struct UserinfoClaims {
    /// The user's stable id.
    sub: String,
}

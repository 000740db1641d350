//! The OpenID Connect UserInfo endpoint (OpenID Connect Core §5.3) with the bearer token in the
//! Authorization header (RFC 6750 §2.1) or, on POST, in a form body's `access_token` (§2.2).
//! Failures answer per RFC 6750 §3 with `WWW-Authenticate: Bearer error=...`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::Error;

use crate::error::{BearerError, ErrorBody};
use crate::extract::FormOrJson;
use crate::AppState;

/// `GET /userinfo`: the token in the Authorization header.
#[utoipa::path(
    get,
    path = "/userinfo",
    tag = "openid",
    summary = "UserInfo (OpenID Connect Core §5.3), the bearer token in the header",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The user's claims (OpenID Connect Core §5.3.2); never \
            cached", body = UserinfoClaims,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed Authorization header \
            (RFC 6750 §3.1)", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_request\""))),
        (status = 401, description = "No access token (a bare `Bearer` challenge and an empty \
            body, RFC 6750 §3.1), or invalid_token (a JSON error body)",
         headers(("WWW-Authenticate" = String, description = "Bearer challenge"))),
        (status = 403, description = "insufficient_scope: the token lacks `openid`",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String,
                  description = "Bearer error=\"insufficient_scope\""))),
        (status = 500, description = "server_error; the cause is logged", body = ErrorBody),
    )
)]
pub(crate) async fn userinfo_get(
    state: State<AppState>,
    request: Request,
) -> Result<Response, BearerError> {
    userinfo(state, request).await
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
        (status = 200, description = "The user's claims (OpenID Connect Core §5.3.2); never \
            cached", body = UserinfoClaims,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed Authorization header, a malformed body, or the token sent twice \
            (RFC 6750 §3.1)", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_request\""))),
        (status = 401, description = "No access token (a bare `Bearer` challenge and an empty \
            body, RFC 6750 §3.1), or invalid_token (a JSON error body)",
         headers(("WWW-Authenticate" = String, description = "Bearer challenge"))),
        (status = 403, description = "insufficient_scope: the token lacks `openid`",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String,
                  description = "Bearer error=\"insufficient_scope\""))),
        (status = 413, description = "The body exceeds 64 KiB", body = ErrorBody),
        (status = 500, description = "server_error; the cause is logged", body = ErrorBody),
    )
)]
pub(crate) async fn userinfo_post(
    state: State<AppState>,
    request: Request,
) -> Result<Response, BearerError> {
    userinfo(state, request).await
}

/// `GET` and `POST /userinfo`.
async fn userinfo(State(app): State<AppState>, request: Request) -> Result<Response, BearerError> {
    let from_header = bearer_from_headers(request.headers())?;
    let from_body = if request.method() == Method::POST && has_body(request.headers()) {
        let FormOrJson(mut params) = FormOrJson::from_request(request).await?;
        params.take("access_token")
    } else {
        None
    };
    let token = match (from_header, from_body) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => {
            return Err(
                Error::invalid_request("the access token was sent twice (RFC 6750 §2)").into(),
            )
        }
        (None, None) => return Err(BearerError::Missing),
    };
    let claims = app.userinfo.claims(&token).await?;
    let mut response = Json(claims).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::CONTENT_TYPE)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// `Some(token)` from `Authorization: Bearer`, `None` when there is no Authorization header.
pub(crate) fn bearer_from_headers(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::invalid_request(
            "the Authorization header is repeated",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| Error::invalid_request("the Authorization header is not ASCII"))?;
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(Error::invalid_request(
            "the Authorization header must be \"Bearer <access token>\"",
        )),
    }
}

impl FormOrJson {
    async fn from_request(request: Request) -> Result<Self, Error> {
        use axum::extract::FromRequest;
        <FormOrJson as FromRequest<()>>::from_request(request, &())
            .await
            .map_err(|e| e.0)
    }
}

/// The body of `POST /userinfo` (RFC 6750 §2.2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
pub(crate) struct UserinfoRequest {
    /// The access token, when not in the Authorization header.
    access_token: Option<String>,
}

/// The UserInfo claims (OpenID Connect Core §5.3.2): `sub`, and those the granted scopes allow.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the core builds the claims
pub(crate) struct UserinfoClaims {
    /// The user's stable id.
    sub: String,
}

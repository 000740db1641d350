//! The revocation endpoint (RFC 7009 §2): client-authenticated; answers 200 with an empty body
//! for every token it accepted the request for, known or not (§2.2).

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::introspection::TokenTypeHint;

use super::token::client_credentials;
use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{BasicAuth, FormOrJson};
use crate::AppState;

/// `POST /oauth/revoke` and its aliases.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    summary = "Revocation endpoint (RFC 7009 §2)",
    request_body(
        content(
            (RevokeRequest = "application/x-www-form-urlencoded"),
            (RevokeRequest = "application/json"),
        ),
        description = "Client credentials as at the token endpoint. Parameters may not repeat. \
                       At most 64 KiB."
    ),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "Revoked, or unknown to this client (RFC 7009 §2.2); \
            empty body"),
        (status = 400, description = "invalid_request (RFC 7009 §2.2.1, RFC 6749 §5.2)",
         body = ErrorBody),
        (status = 401, description = "invalid_client: client authentication failed",
         body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Basic challenge"))),
        (status = 413, description = "The body exceeds 64 KiB", body = ErrorBody),
        (status = 500, description = "server_error; the cause is logged", body = ErrorBody),
        (status = 503, description = "temporarily_unavailable: the password-hash queue is \
            full", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
    )
)]
pub(crate) async fn revoke(
    State(app): State<AppState>,
    Context(ctx): Context,
    basic: Option<BasicAuth>,
    FormOrJson(mut params): FormOrJson,
) -> Result<StatusCode, ApiError> {
    let credentials = client_credentials(basic, &mut params)?;
    let token = params.require("token")?;
    let hint = params.take("token_type_hint");
    let client = app.clients.authenticate_with(&ctx, credentials).await?;
    let hint = hint.as_deref().and_then(TokenTypeHint::parse);
    app.revocation.revoke(&ctx, &client, &token, hint).await?;
    Ok(StatusCode::OK)
}

/// The revocation request's parameters (RFC 7009 §2.1), as a form or a JSON object.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
pub(crate) struct RevokeRequest {
    /// The access or refresh token to revoke.
    token: String,
    /// `access_token` or `refresh_token`: where to look first.
    token_type_hint: Option<String>,
    /// The client id, when not sent with HTTP Basic.
    client_id: Option<String>,
    /// The client secret, when not sent with HTTP Basic.
    client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523 §2.2).
    client_assertion_type: Option<String>,
    /// A signed JWT authenticating the client (RFC 7523 §2.2).
    client_assertion: Option<String>,
}

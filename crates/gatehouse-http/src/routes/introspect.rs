//! The introspection endpoint (RFC 7662 §2): only for confidential clients that authenticate;
//! answers `{"active": false}` for tokens that are not live or not the caller's.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use gatehouse_core::error::AuthMethod;
use gatehouse_core::Error;

use super::revoke::TokenOfClient;
use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::error_responses::{HashQueueFull, PayloadTooLarge, ServerError};
use crate::extract::ClientRequest;
use crate::response::NoStore;
use crate::AppState;

/// `POST /oauth/introspect` and its aliases.
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    summary = "Introspection endpoint (RFC 7662 §2), for confidential clients",
    request_body(
        content(
            (IntrospectRequest = "application/x-www-form-urlencoded"),
            (IntrospectRequest = "application/json"),
        ),
        description = "Client credentials as at the token endpoint; public clients are refused. \
                       Parameters may not repeat. At most 64 KiB."
    ),
    security((), ("client_secret_basic" = [])),
    responses(
        (status = 200, description = "The token's state (RFC 7662 §2.2): `{\"active\": false}` \
            for tokens that are not live or not the caller's; never cached",
         body = IntrospectionResponse,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request (RFC 6749 §5.2)", body = ErrorBody),
        (status = 401, description = "invalid_client: client authentication failed, or the \
            client is public", body = ErrorBody,
         headers(("WWW-Authenticate" = String, description = "Basic challenge"))),
        PayloadTooLarge,
        ServerError,
        HashQueueFull,
    )
)]
pub(crate) async fn introspect(
    State(app): State<AppState>,
    Context(ctx): Context,
    request: ClientRequest,
) -> Result<impl IntoResponse, ApiError> {
    let TokenOfClient {
        client,
        token,
        hint,
    } = TokenOfClient::read(&app, &ctx, request).await?;
    if client.is_public() {
        return Err(Error::InvalidClient {
            method: AuthMethod::None,
            description: "introspection is for confidential clients".into(),
        }
        .into());
    }
    let answer = app.introspection.introspect(&client, &token, hint).await?;
    Ok(NoStore::new(Json(answer)))
}

/// The introspection request's parameters (RFC 7662 §2.1), as a form or a JSON object.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: requests are parsed strictly by `Params`
pub(crate) struct IntrospectRequest {
    /// The access or refresh token to introspect.
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

/// The introspection response (RFC 7662 §2.2); only `active` is always present. A live token's
/// response also holds the claims the caller's claim mappers aim at introspection
/// (docs/claims.md).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the core's `IntrospectionResponse` is what is sent
pub(crate) struct IntrospectionResponse {
    /// Whether the token is live and the caller's.
    active: bool,
    /// The token's scope, space-separated.
    scope: Option<String>,
    /// The client it was issued to.
    client_id: Option<String>,
    /// The resource owner's username; absent for a client_credentials token (no user).
    username: Option<String>,
    /// The resource owner's stable id, or the client id for a client_credentials token.
    sub: Option<String>,
    /// Expiry, seconds since the epoch.
    exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    iat: Option<i64>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    token_type: Option<String>,
    /// The audience.
    aud: Option<String>,
    /// The issuer.
    iss: Option<String>,
}

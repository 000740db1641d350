//! The revocation endpoint (RFC 7009 §2): client-authenticated; answers 200 with an empty body
//! for every token it accepted the request for, known or not (§2.2).

use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::audit::RequestContext;
use gatehouse_core::client::Client;
use gatehouse_core::introspection::TokenTypeHint;
use gatehouse_core::Error;

use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::error_responses::{ClientAuthFailed, HashQueueFull, PayloadTooLarge, ServerError};
use crate::extract::ClientRequest;
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
        ClientAuthFailed,
        PayloadTooLarge,
        ServerError,
        HashQueueFull,
    )
)]
pub(crate) async fn revoke(
    State(app): State<AppState>,
    Context(ctx): Context,
    request: ClientRequest,
) -> Result<StatusCode, ApiError> {
    let TokenOfClient {
        client,
        token,
        hint,
    } = TokenOfClient::read(&app, &ctx, request).await?;
    app.revocation.revoke(&ctx, &client, &token, hint).await?;
    Ok(StatusCode::OK)
}

/// The request of revocation (RFC 7009 §2.1), which introspection shares (RFC 7662 §2.1): an
/// authenticated client, a token and an optional hint of its type.
pub(crate) struct TokenOfClient {
    pub(crate) client: Client,
    pub(crate) token: String,
    pub(crate) hint: Option<TokenTypeHint>,
}

impl TokenOfClient {
    /// Reads the parameters, then authenticates the client; an unknown hint is no hint.
    pub(crate) async fn read(
        app: &AppState,
        ctx: &RequestContext,
        request: ClientRequest,
    ) -> Result<Self, Error> {
        let (credentials, mut params) = request.into_parts()?;
        let token = params.require("token")?;
        let hint = params.take("token_type_hint");
        let client = app
            .clients
            .authenticate_with(ctx, credentials)
            .await?
            .client;
        let hint = hint.as_deref().and_then(TokenTypeHint::parse);
        Ok(TokenOfClient {
            client,
            token,
            hint,
        })
    }
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

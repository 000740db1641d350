//! `POST /account/password`: a user changes their own password with an access token granted the
//! `account` scope (RFC 6750 bearer, in the Authorization header) and the current password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use secrecy::SecretString;

use crate::client_address::Context;
use crate::error::{BearerError, ErrorBody};
use crate::error_responses::{AccessTokenRejected, HashQueueFull, PayloadTooLarge, ServerError};
use crate::extract::{BearerToken, FormOrJson};
use crate::response::NoStore;
use crate::AppState;

/// The body of a password change.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(crate) struct PasswordChangeRequest {
    /// The password in force.
    current_password: String,
    /// The new password, held to the password policy of the token's client.
    new_password: String,
}

/// `POST /account/password`.
#[utoipa::path(
    post,
    path = "/account/password",
    tag = "account",
    summary = "Change one's own password (the access token needs the account scope)",
    request_body(
        content(
            (PasswordChangeRequest = "application/x-www-form-urlencoded"),
            (PasswordChangeRequest = "application/json"),
        ),
        description = "`current_password` and `new_password`. At most 64 KiB."
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The password was changed; the user's sessions ended as \
            the server's sessions_on_password_change says, this token's session counting as the \
            current one"),
        (status = 400, description = "invalid_request: a malformed header or body, or a \
            password missing or over 1024 bytes", body = ErrorBody),
        AccessTokenRejected,
        (status = 403, description = "insufficient_scope: the token lacks the account scope; \
            access_denied: the current password is wrong (it counts toward the account's \
            lockout)", body = ErrorBody),
        (status = 409, description = "conflict: the password changed meanwhile", body = ErrorBody),
        (status = 422, description = "invalid_password: the new password fails the rule named \
            in `rule` (min_length, max_length, characters, character_classes, context, history, \
            breached)", body = ErrorBody),
        (status = 429, description = "too_many_attempts: too many failed logins from this \
            address", body = ErrorBody),
        PayloadTooLarge,
        ServerError,
        HashQueueFull,
    )
)]
pub(crate) async fn change_password(
    State(app): State<AppState>,
    Context(ctx): Context,
    BearerToken(token): BearerToken,
    FormOrJson(mut params): FormOrJson,
) -> Result<impl IntoResponse, BearerError> {
    let current = SecretString::from(params.require("current_password")?);
    let new = SecretString::from(params.require("new_password")?);
    app.account
        .change_password(&ctx, &token, &current, &new)
        .await?;
    Ok(NoStore::new(StatusCode::NO_CONTENT))
}

//! The OpenAPI descriptions of error answers that several operations share, each written once
//! and named in `#[utoipa::path(responses(..))]` next to an operation's own responses. They
//! only document: the answers themselves come from [`crate::error`]. Each is one status, so an
//! operation lists exactly the ones it can answer, in status order.
#![allow(dead_code)] // documentation only: these types are never built

use std::collections::BTreeMap;
use std::marker::PhantomData;

use utoipa::openapi::{RefOr, Response};
use utoipa::IntoResponses;

use crate::error::ErrorBody;

/// 401 of the endpoints that authenticate a client like the token endpoint (RFC 6749 §2.3).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "invalid_client: client authentication failed",
    headers(("WWW-Authenticate" = String, description = "Basic challenge"))
)]
pub(crate) struct ClientAuthFailed(ErrorBody);

/// 401 of the MFA API's bearer endpoints (RFC 6750 §3.1).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "No bearer token (a bare `Bearer` challenge, no body), or invalid_token: the \
                   mfa_token is unknown, used or expired",
    headers(("WWW-Authenticate" = String, description = "Bearer challenge"))
)]
pub(crate) struct MfaTokenRejected;

/// 401 of `/userinfo` (RFC 6750 §3.1).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "No access token (a bare `Bearer` challenge and an empty body, RFC 6750 \
                   §3.1), or invalid_token (a JSON error body)",
    headers(("WWW-Authenticate" = String, description = "Bearer challenge"))
)]
pub(crate) struct AccessTokenRejected;

/// 403 of `/userinfo` (RFC 6750 §3.1, OpenID Connect Core §5.3).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "insufficient_scope: the token lacks `openid`",
    headers(("WWW-Authenticate" = String, description = "Bearer error=\"insufficient_scope\""))
)]
pub(crate) struct OpenidScopeMissing(ErrorBody);

/// 400 of the admin API's writes.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "invalid_request: an unsupported Content-Type, or a body that is not JSON or \
                   YAML"
)]
pub(crate) struct ResourceUnreadable(ErrorBody);

/// 401 of every admin API operation.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "invalid_token: the admin bearer token is missing or wrong, or an \
                   administrator's access token is not live",
    headers(("WWW-Authenticate" = String, description = "Bearer error=\"invalid_token\""))
)]
pub(crate) struct AdminTokenInvalid(ErrorBody);

/// 403 of every admin API operation: an administrator's access token that may not do this.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "access_denied or insufficient_scope: an access token without the \
                   gatehouse:admin scope, a second factor or a console role; a \
                   gatehouse:viewer's change"
)]
pub(crate) struct AdminRoleRefused(ErrorBody);

/// The refusals of every admin API operation's credentials.
pub(crate) type AdminTokenRejected = Answers<(AdminTokenInvalid, AdminRoleRefused)>;

/// 404 of an admin API operation on a collection.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "the admin API is off (no admin token configured)"
)]
pub(crate) struct AdminApiOff(ErrorBody);

/// 404 of an admin API operation on one client.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "no such client, or the admin API is off (no admin token configured)"
)]
pub(crate) struct NoSuchClient(ErrorBody);

/// 404 of an admin API operation on one webhook endpoint.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "no such webhook, or the admin API is off (no admin token configured)"
)]
pub(crate) struct NoSuchWebhook(ErrorBody);

/// 400 of a malformed query parameter.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 400,
    description = "invalid_request: a malformed query parameter"
)]
pub(crate) struct BadQuery(ErrorBody);

/// 404 of an admin API operation on one user.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 404,
    description = "no such user, or the admin API is off (no admin token configured)"
)]
pub(crate) struct NoSuchUser(ErrorBody);

/// 409 of the admin API's writes.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 409,
    description = "conflict: the resource exists, or a unique field is taken"
)]
pub(crate) struct ResourceConflict(ErrorBody);

/// 413: the body limit of [`crate::extract::MAX_BODY`].
#[derive(utoipa::IntoResponses)]
#[response(status = 413, description = "The body exceeds 64 KiB")]
pub(crate) struct PayloadTooLarge(ErrorBody);

/// 422 of the admin API's writes.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 422,
    description = "invalid_body: a field is missing or invalid"
)]
pub(crate) struct ResourceInvalid(ErrorBody);

/// 500: an internal error, whose text is logged and never sent.
#[derive(utoipa::IntoResponses)]
#[response(status = 500, description = "server_error; the cause is logged")]
pub(crate) struct ServerError(ErrorBody);

/// 503 of the endpoints that hash a password or a client secret.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 503,
    description = "temporarily_unavailable: the password-hash queue sheds (full, or standing under overload)",
    headers(("Retry-After" = u64, description = "seconds"))
)]
pub(crate) struct HashQueueFull(ErrorBody);

/// Several of the answers above documented together (a tuple of them), for a family of
/// operations that all answer the same errors: `responses(.., ClientErrors)`.
pub(crate) struct Answers<T>(PhantomData<T>);

/// `IntoResponses` for `Answers` of tuples of these arities: the union of the members' answers.
macro_rules! answers_of_tuples {
    ($(($($member:ident),+)),+) => {$(
        impl<$($member: IntoResponses),+> IntoResponses for Answers<($($member,)+)> {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                let mut responses = BTreeMap::new();
                $(responses.append(&mut $member::responses());)+
                responses
            }
        }
    )+};
}

answers_of_tuples!(
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H)
);

/// The errors of a write to the admin API (`PUT`, `POST`).
pub(crate) type AdminWriteErrors = Answers<(
    ResourceUnreadable,
    AdminTokenRejected,
    AdminApiOff,
    ResourceConflict,
    PayloadTooLarge,
    ResourceInvalid,
    ServerError,
    HashQueueFull,
)>;

/// The errors of reading an admin API collection (`GET /Client`, `/User`, `/Event`).
pub(crate) type CollectionErrors = Answers<(AdminTokenRejected, AdminApiOff, ServerError)>;

/// The errors of an admin API operation on one client.
pub(crate) type ClientErrors = Answers<(AdminTokenRejected, NoSuchClient, ServerError)>;

/// The errors of an admin API operation on one webhook endpoint.
pub(crate) type WebhookErrors = Answers<(AdminTokenRejected, NoSuchWebhook, ServerError)>;

/// The errors of a query on one webhook endpoint.
pub(crate) type WebhookQueryErrors =
    Answers<(BadQuery, AdminTokenRejected, NoSuchWebhook, ServerError)>;

/// The errors of a write to a webhook endpoint (`POST /Webhook`, `PUT /Webhook/{id}`).
pub(crate) type WebhookWriteErrors = Answers<(
    ResourceUnreadable,
    AdminTokenRejected,
    NoSuchWebhook,
    PayloadTooLarge,
    ResourceInvalid,
    ServerError,
    BadQuery,
)>;

/// The errors of an admin API operation on one user.
pub(crate) type UserErrors = Answers<(AdminTokenRejected, NoSuchUser, ServerError)>;

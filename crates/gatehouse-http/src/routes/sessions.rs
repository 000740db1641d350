//! The admin API's sessions (issue 16): `GET /User/{id}/sessions` and `GET /Client/{id}/sessions`
//! list live sessions as a Bundle of Session resources (never a token), `DELETE
//! /User/{id}/sessions[/{sid}]` ends them, each ending recorded as a `session_revoked` event
//! with reason `admin`. A `?client=ID` query narrows a user's sessions to one client.

use axum::extract::{Path, RawQuery};
use axum::response::Response;
use gatehouse_core::admin::SessionQuery;
use gatehouse_core::Error;

use super::admin::reply;
use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::error_responses::{AdminTokenRejected, ClientErrors, ServerError};
use crate::params::Params;
use crate::resource::AdminAuth;

/// `GET /User/{username}/sessions?client=ID`.
#[utoipa::path(
    get,
    path = "/User/{id}/sessions",
    tag = "admin",
    summary = "List a user's live sessions, newest first",
    params(
        ("id" = String, Path, description = "The username"),
        ("client" = Option<String>, Query, description = "Only the sessions with this client"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of Session resources (id, client, created_at, \
            last_used_at, expires_at, scope, amr, ip, user_agent; never a token); never cached",
         body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed query parameter", body = ErrorBody),
        AdminTokenRejected,
        (status = 404, description = "no such user or client, or the admin API is off (no admin token configured)", body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn list_user_sessions(
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(username, None, query.as_deref())?;
    Ok(reply(false, admin.session_bundle(&query).await?))
}

/// `DELETE /User/{username}/sessions?client=ID`: ends every live session of the user.
#[utoipa::path(
    delete,
    path = "/User/{id}/sessions",
    tag = "admin",
    summary = "End a user's sessions (all, or those with one client)",
    params(
        ("id" = String, Path, description = "The username"),
        ("client" = Option<String>, Query, description = "Only the sessions with this client"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "`{\"revoked\": [session ids]}`; their refresh and access \
            tokens are dead at once; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed query parameter", body = ErrorBody),
        AdminTokenRejected,
        (status = 404, description = "no such user or client, or the admin API is off (no admin token configured)", body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn delete_user_sessions(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = user_query(username, None, query.as_deref())?;
    Ok(reply(false, admin.delete_sessions(&ctx, &query).await?))
}

/// `DELETE /User/{username}/sessions/{sid}`: ends one session.
#[utoipa::path(
    delete,
    path = "/User/{id}/sessions/{sid}",
    tag = "admin",
    summary = "End one session of a user",
    params(
        ("id" = String, Path, description = "The username"),
        ("sid" = String, Path, description = "The session id (the id_token's sid claim)"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "`{\"revoked\": [sid]}`; its refresh and access tokens are \
            dead at once; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        AdminTokenRejected,
        (status = 404, description = "no such user, the session is not a live one of theirs, or the admin API is off (no admin token configured)", body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn delete_user_session(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path((username, sid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let query = user_query(username, Some(sid), None)?;
    Ok(reply(false, admin.delete_sessions(&ctx, &query).await?))
}

/// `GET /Client/{id}/sessions`.
#[utoipa::path(
    get,
    path = "/Client/{id}/sessions",
    tag = "admin",
    summary = "List a client's live sessions, newest first",
    params(("id" = String, Path, description = "The client id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of Session resources (never a token); never \
            cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        ClientErrors,
    )
)]
pub(crate) async fn list_client_sessions(
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let query = SessionQuery {
        client_id: Some(id),
        ..SessionQuery::default()
    };
    Ok(reply(false, admin.session_bundle(&query).await?))
}

/// The sessions of `username` (one of them: `id`), narrowed by the query's `client`.
fn user_query(
    username: String,
    id: Option<String>,
    query: Option<&str>,
) -> Result<SessionQuery, Error> {
    let mut params = Params::from_form(query.unwrap_or("").as_bytes())?;
    Ok(SessionQuery {
        username: Some(username),
        client_id: params.take("client"),
        id,
    })
}

//! The admin API (Aidbox-compatible resources): `PUT`/`GET`/`DELETE /Client/{id}`,
//! `GET`/`POST /Client`, and the same for `/User`; their sessions are in `sessions.rs`. Each
//! handler checks the admin token (the [`AdminAuth`] extractor), reads the body as JSON or YAML
//! and calls the core. The route table documents a write with `openapi::write_doc`, which adds the resource body all writes
//! share to the handler's annotation.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::audit::EventFilter;
use gatehouse_core::Error;
use serde_json::Value;

use crate::client_address::Context;
use crate::error::{ApiError, ErrorBody};
use crate::error_responses::{
    AdminTokenRejected, AdminWriteErrors, ClientErrors, CollectionErrors, ServerError, UserErrors,
};
use crate::params::Params;
use crate::resource::{AdminAuth, ResourceBody};
use crate::response::NoStore;

/// `PUT /Client/{id}`.
#[utoipa::path(
    put,
    path = "/Client/{id}",
    tag = "admin",
    summary = "Create or replace a client",
    params(("id" = String, Path, description = "The client id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The replaced client; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 201, description = "The created client; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        AdminWriteErrors,
    )
)]
pub(crate) async fn put_client(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(id): Path<String>,
    ResourceBody(body): ResourceBody,
) -> Result<Response, ApiError> {
    let (resource, created) = admin.put_client(&ctx, &id, &body).await?;
    Ok(reply(created, resource))
}

/// `POST /Client`, the id in the body.
#[utoipa::path(
    post,
    path = "/Client",
    tag = "admin",
    summary = "Create a client (its id in the body)",
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "The created client; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        AdminWriteErrors,
    )
)]
pub(crate) async fn post_client(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    ResourceBody(body): ResourceBody,
) -> Result<Response, ApiError> {
    Ok(reply(true, admin.create_client(&ctx, &body).await?))
}

/// `GET /Client/{id}`.
#[utoipa::path(
    get,
    path = "/Client/{id}",
    tag = "admin",
    summary = "Read a client",
    params(("id" = String, Path, description = "The client id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The client; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        ClientErrors,
    )
)]
pub(crate) async fn get_client(
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.client(&id).await?))
}

/// `GET /Client`.
#[utoipa::path(
    get,
    path = "/Client",
    tag = "admin",
    summary = "List the clients",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of clients; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        CollectionErrors,
    )
)]
pub(crate) async fn list_clients(AdminAuth(admin): AdminAuth) -> Result<Response, ApiError> {
    Ok(reply(false, admin.clients().await?))
}

/// `DELETE /Client/{id}`.
#[utoipa::path(
    delete,
    path = "/Client/{id}",
    tag = "admin",
    summary = "Delete a client",
    params(("id" = String, Path, description = "The client id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The deleted client; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        ClientErrors,
    )
)]
pub(crate) async fn delete_client(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.delete_client(&ctx, &id).await?))
}

/// `PUT /User/{username}?keep_session=SID`. `keep_session` is a query parameter, not a body
/// field: it says where the change is made from, which is no property of the user.
#[utoipa::path(
    put,
    path = "/User/{id}",
    tag = "admin",
    summary = "Create or replace a user",
    params(
        ("id" = String, Path, description = "The username"),
        ("keep_session" = Option<String>, Query, description = "With a new password and \
            --sessions-on-password-change all-but-current: the session the change is made \
            from, which stays alive"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The replaced user; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 201, description = "The created user; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        AdminWriteErrors,
    )
)]
pub(crate) async fn put_user(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(username): Path<String>,
    RawQuery(query): RawQuery,
    ResourceBody(body): ResourceBody,
) -> Result<Response, ApiError> {
    let keep = Params::from_form(query.unwrap_or_default().as_bytes())?.take("keep_session");
    // A new password and the end of the sessions it ends happen together even if the caller
    // drops the request halfway: the write runs as its own task.
    let write = tokio::spawn(async move {
        admin
            .put_user(&ctx, &username, &body, keep.as_deref())
            .await
    });
    let (resource, created) = write
        .await
        .map_err(|_| gatehouse_core::Error::internal("the user write task failed"))??;
    Ok(reply(created, resource))
}

/// `GET /User/{username}`.
#[utoipa::path(
    get,
    path = "/User/{id}",
    tag = "admin",
    summary = "Read a user",
    params(("id" = String, Path, description = "The username")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The user; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        UserErrors,
    )
)]
pub(crate) async fn get_user(
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.user(&username).await?))
}

/// `GET /User`.
#[utoipa::path(
    get,
    path = "/User",
    tag = "admin",
    summary = "List the users",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of users; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        CollectionErrors,
    )
)]
pub(crate) async fn list_users(AdminAuth(admin): AdminAuth) -> Result<Response, ApiError> {
    Ok(reply(false, admin.users().await?))
}

/// `DELETE /User/{username}`.
#[utoipa::path(
    delete,
    path = "/User/{id}",
    tag = "admin",
    summary = "Delete a user",
    params(("id" = String, Path, description = "The username")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The deleted user; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        UserErrors,
    )
)]
pub(crate) async fn delete_user(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.delete_user(&ctx, &username).await?))
}

/// `POST /User/{username}/unlock`: forget the user's failed logins and lift any lockout.
#[utoipa::path(
    post,
    path = "/User/{id}/unlock",
    tag = "admin",
    summary = "Unlock a user locked out by brute-force detection",
    params(("id" = String, Path, description = "The username")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "`{\"username\", \"unlocked\"}`; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        UserErrors,
    )
)]
pub(crate) async fn unlock_user(
    AdminAuth(admin): AdminAuth,
    Context(ctx): Context,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.unlock_user(&ctx, &username).await?))
}

/// `GET /User/{username}/authenticators`: the user's second factors.
#[utoipa::path(
    get,
    path = "/User/{id}/authenticators",
    tag = "admin",
    summary = "List a user's second factors (TOTP, recovery code)",
    params(("id" = String, Path, description = "The username")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of Authenticator resources (never a secret); \
            never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        UserErrors,
    )
)]
pub(crate) async fn list_authenticators(
    AdminAuth(admin): AdminAuth,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, admin.authenticators(&username).await?))
}

/// `DELETE /User/{username}/authenticators/{authenticator_id}`.
#[utoipa::path(
    delete,
    path = "/User/{id}/authenticators/{authenticator_id}",
    tag = "admin",
    summary = "Remove a user's second factor; removing TOTP removes the recovery code too",
    params(
        ("id" = String, Path, description = "The username"),
        ("authenticator_id" = String, Path, description = "The factor's id"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of the removed factors; never cached",
         body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        AdminTokenRejected,
        (status = 404, description = "no such user or factor, or the admin API is off (no admin token configured)", body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn delete_authenticator(
    AdminAuth(admin): AdminAuth,
    Path((username, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(reply(
        false,
        admin.remove_authenticator(&username, &id).await?,
    ))
}

/// `GET /Event?user=U&since=T&limit=N`: audit events, newest first.
#[utoipa::path(
    get,
    path = "/Event",
    tag = "admin",
    summary = "List audit events, newest first",
    params(
        ("user" = Option<String>, Query, description = "Only this user's events"),
        ("since" = Option<i64>, Query, description = "Only events at or after this Unix time"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100, at most 1000)"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of events; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request: a malformed query parameter", body = ErrorBody),
        CollectionErrors,
    )
)]
pub(crate) async fn list_events(
    AdminAuth(admin): AdminAuth,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = event_filter(query.as_deref().unwrap_or(""))?;
    Ok(reply(false, admin.events(&filter).await?))
}

/// The most events one `GET /Event` returns.
const MAX_EVENTS: u32 = 1000;

fn event_filter(query: &str) -> Result<EventFilter, Error> {
    let mut params = Params::from_form(query.as_bytes())?;
    let number = |name: &str, raw: Option<String>| -> Result<Option<i64>, Error> {
        raw.map(|v| {
            v.parse::<i64>()
                .map_err(|_| Error::invalid_request(format!("{name} must be an integer")))
        })
        .transpose()
    };
    let limit = number("limit", params.take("limit"))?.unwrap_or(100);
    if !(1..=i64::from(MAX_EVENTS)).contains(&limit) {
        return Err(Error::invalid_request(format!(
            "limit must be 1 to {MAX_EVENTS}"
        )));
    }
    Ok(EventFilter {
        user: params.take("user"),
        since: number("since", params.take("since"))?,
        limit: u32::try_from(limit).unwrap_or(MAX_EVENTS),
    })
}

/// 201 or 200 with the resource as JSON, never cached.
pub(crate) fn reply(created: bool, resource: Value) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    NoStore::new((status, Json(resource))).into_response()
}

//! The admin API's webhook endpoints (issue 21): `GET`/`POST /Webhook`, `GET`/`PUT`/`DELETE
//! /Webhook/{id}`, the delivery log `GET /Webhook/{id}/deliveries`, `POST
//! /Webhook/{id}/replay` and `POST /Webhook/{id}/test`. Behind the admin token, like the rest
//! of the admin API; the secret is in an answer only when it was just made or set.

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use gatehouse_core::store::ReplaySelection;
use gatehouse_core::webhook::Webhooks;
use gatehouse_core::Error;
use serde_json::json;
use std::sync::Arc;

use super::admin::reply;
use crate::client_address::Context;
use crate::error::ApiError;
use crate::error_responses::{
    CollectionErrors, WebhookErrors, WebhookQueryErrors, WebhookWriteErrors,
};
use crate::params::Params;
use crate::resource::{AdminAuth, ResourceBody};
use crate::AppState;

/// The webhook service, once [`AdminAuth`] has checked the token.
fn service(app: &AppState) -> Result<Arc<Webhooks>, Error> {
    app.webhooks
        .clone()
        .ok_or_else(|| Error::NotFound("no such endpoint".into()))
}

/// `GET /Webhook`.
#[utoipa::path(
    get,
    path = "/Webhook",
    tag = "admin",
    summary = "List webhook endpoints (never a secret)",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of Webhook resources; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        CollectionErrors,
    )
)]
pub(crate) async fn list(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
) -> Result<Response, ApiError> {
    Ok(reply(false, service(&app)?.list().await?))
}

/// `POST /Webhook`.
#[utoipa::path(
    post,
    path = "/Webhook",
    tag = "admin",
    summary = "Add a webhook endpoint (url, events, optional secret, description, enabled)",
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "The endpoint, with its `secret` (whsec_...) shown this \
            once; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookWriteErrors,
    )
)]
pub(crate) async fn create(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Context(ctx): Context,
    ResourceBody(body): ResourceBody,
) -> Result<Response, ApiError> {
    Ok(reply(true, service(&app)?.create(&ctx, &body).await?))
}

/// `GET /Webhook/{id}`.
#[utoipa::path(
    get,
    path = "/Webhook/{id}",
    tag = "admin",
    summary = "Read a webhook endpoint",
    params(("id" = String, Path, description = "The endpoint id (wh_...)")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The endpoint; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookErrors,
    )
)]
pub(crate) async fn get(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, service(&app)?.get(&id).await?))
}

/// `PUT /Webhook/{id}`.
#[utoipa::path(
    put,
    path = "/Webhook/{id}",
    tag = "admin",
    summary = "Change a webhook endpoint's fields (those absent stay)",
    params(("id" = String, Path, description = "The endpoint id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The endpoint (with `secret` if one was set); never cached",
         body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookWriteErrors,
    )
)]
pub(crate) async fn update(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Context(ctx): Context,
    Path(id): Path<String>,
    ResourceBody(body): ResourceBody,
) -> Result<Response, ApiError> {
    Ok(reply(false, service(&app)?.update(&ctx, &id, &body).await?))
}

/// `DELETE /Webhook/{id}`.
#[utoipa::path(
    delete,
    path = "/Webhook/{id}",
    tag = "admin",
    summary = "Remove a webhook endpoint and its delivery log",
    params(("id" = String, Path, description = "The endpoint id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "`{\"removed\": id}`; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookErrors,
    )
)]
pub(crate) async fn remove(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Context(ctx): Context,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    service(&app)?.remove(&ctx, &id).await?;
    Ok(reply(false, json!({ "removed": id })))
}

/// `GET /Webhook/{id}/deliveries?status=&limit=`.
#[utoipa::path(
    get,
    path = "/Webhook/{id}/deliveries",
    tag = "admin",
    summary = "A webhook endpoint's delivery log, newest first",
    params(
        ("id" = String, Path, description = "The endpoint id"),
        ("status" = Option<String>, Query, description = "pending, delivered or failed"),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to 1000; default 100)"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "A Bundle of WebhookDelivery resources (status, attempts, \
            last_status, last_error, webhook-id); never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookQueryErrors,
    )
)]
pub(crate) async fn deliveries(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let status = params.take("status");
    let limit = number(&mut params, "limit")?
        .map(|n| {
            u32::try_from(n).map_err(|_| Error::invalid_request("limit must be from 1 to 1000"))
        })
        .transpose()?;
    let log = service(&app)?
        .deliveries(&id, status.as_deref(), limit)
        .await?;
    Ok(reply(false, log))
}

/// `POST /Webhook/{id}/replay?delivery=N` (or `failed=true`, or `all=true`; `since=UNIX_SECS`).
#[utoipa::path(
    post,
    path = "/Webhook/{id}/replay",
    tag = "admin",
    summary = "Send deliveries again with their original webhook-id",
    params(
        ("id" = String, Path, description = "The endpoint id"),
        ("delivery" = Option<i64>, Query, description = "This delivery"),
        ("failed" = Option<bool>, Query, description = "true: every delivery whose attempts all failed"),
        ("all" = Option<bool>, Query, description = "true: every delivery"),
        ("since" = Option<i64>, Query, description = "Only those made at or after this Unix time (seconds)"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "`{\"replayed\": N}`; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookQueryErrors,
    )
)]
pub(crate) async fn replay(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Context(ctx): Context,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mut params = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let since_ms = number(&mut params, "since")?
        .unwrap_or(0)
        .saturating_mul(1000);
    let flag = |params: &mut Params, name: &str| match params.take(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::invalid_request(format!(
            "{name} must be true or false"
        ))),
    };
    let failed = flag(&mut params, "failed")?;
    let all = flag(&mut params, "all")?;
    let selection = match (number(&mut params, "delivery")?, failed, all) {
        (Some(n), false, false) => ReplaySelection::One(n),
        (None, true, false) => ReplaySelection::FailedSince(since_ms),
        (None, false, true) => ReplaySelection::AllSince(since_ms),
        _ => {
            return Err(Error::invalid_request(
                "give exactly one of delivery=N, failed=true or all=true",
            )
            .into())
        }
    };
    let count = service(&app)?.replay(&ctx, &id, &selection).await?;
    Ok(reply(false, json!({ "replayed": count })))
}

/// `POST /Webhook/{id}/test`.
#[utoipa::path(
    post,
    path = "/Webhook/{id}/test",
    tag = "admin",
    summary = "Send a signed webhook.test message to the endpoint now",
    params(("id" = String, Path, description = "The endpoint id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "What the endpoint answered: delivered, status, error, \
            duration_ms; never cached", body = Object,
         headers(("Cache-Control" = String, description = "no-store"))),
        WebhookErrors,
    )
)]
pub(crate) async fn test(
    AdminAuth(_): AdminAuth,
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(reply(false, service(&app)?.test(&id).await?))
}

/// An optional integer query parameter.
fn number(params: &mut Params, name: &str) -> Result<Option<i64>, Error> {
    params
        .take(name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| Error::invalid_request(format!("{name} must be an integer")))
        })
        .transpose()
}

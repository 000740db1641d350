//! Liveness (`/healthz`), readiness (`/readyz`) and the answer to a handler that panicked.

use std::any::Any;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use crate::response::NoStore;
use crate::AppState;

/// The body of `/healthz` and `/readyz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Status {
    /// `ok`, `ready` or `unavailable`.
    status: &'static str,
}

/// `GET /healthz`: the process is up and serving. It does not touch the database, so a
/// database outage does not get the process restarted.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness",
    responses((status = 200, description = "the process serves requests", body = Status))
)]
pub(crate) async fn healthz() -> impl IntoResponse {
    Json(Status { status: "ok" })
}

/// `GET /readyz`: the database answers, so requests can be served; 503 while it does not.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness",
    responses(
        (status = 200, description = "the database answers", body = Status),
        (status = 503, description = "the database is unreachable", body = Status)
    )
)]
pub(crate) async fn readyz(State(app): State<AppState>) -> Response {
    // A probe must answer quickly: a pool that keeps retrying an unreachable database would
    // otherwise hold the request for its whole acquire timeout.
    let ping = tokio::time::timeout(READY_TIMEOUT, app.store.ping()).await;
    match ping {
        Ok(Ok(())) => Json(Status { status: "ready" }).into_response(),
        Ok(Err(err)) => not_ready(&err),
        Err(elapsed) => not_ready(&elapsed),
    }
}

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

fn not_ready(err: &dyn std::fmt::Display) -> Response {
    tracing::warn!(%err, "not ready: the database does not answer");
    let body = Json(Status {
        status: "unavailable",
    });
    NoStore::new((StatusCode::SERVICE_UNAVAILABLE, body)).into_response()
}

/// A panic is a bug: log it and answer like any internal error, without its text.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = msg, "handler panicked");
    let body = Json(json!({"error": "server_error"}));
    NoStore::new((StatusCode::INTERNAL_SERVER_ERROR, body)).into_response()
}

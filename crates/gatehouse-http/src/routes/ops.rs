//! Operations endpoint `/metrics` (Prometheus text format); `/openapi.json` is served by
//! `openapi.rs`.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// `GET /metrics`: every metric in the Prometheus text exposition format 0.0.4.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4",
         body = String, content_type = "text/plain")
    )
)]
pub(crate) async fn metrics(State(app): State<AppState>) -> Response {
    let body = app.metrics.render(app.store.as_ref());
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

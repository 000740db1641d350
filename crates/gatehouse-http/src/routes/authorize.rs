//! `GET /auth/authorize` of Aidbox's secure code flow: a 302 to the client's registered
//! `redirect_uri` with `#code=...&state=...`, or a JSON error and never a redirect (no open
//! redirector, as RFC 6749 §4.1.2.1 asks of unknown clients and redirect URIs).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use gatehouse_core::Error;

use crate::error::{ApiError, ErrorBody};
use crate::openapi::responses::ServerError;
use crate::params::Params;
use crate::response::NoStore;
use crate::AppState;

/// `GET /auth/authorize?grant_type=password&client_id=..&state=..`.
#[utoipa::path(
    get,
    path = "/auth/authorize",
    tag = "oauth",
    summary = "One-time code for the password grant (Aidbox's secure code flow)",
    params(
        ("grant_type" = Option<String>, Query, description = "Must be `password`"),
        ("client_id" = Option<String>, Query, description = "A client with a redirect_uri"),
        ("state" = Option<String>, Query, description = "Echoed in the redirect"),
    ),
    responses(
        (status = 302, description = "To the client's redirect_uri with `#code=..&state=..`; \
            never cached",
         headers(("Location" = String, description = "redirect_uri#code=..&state=.."),
                 ("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request (missing or repeated parameters, unknown \
            client) or unauthorized_client; never a redirect", body = ErrorBody),
        ServerError,
    )
)]
pub(crate) async fn authorize(
    State(app): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let params = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let location = app
        .codes
        .authorize(
            params.get("grant_type"),
            params.get("client_id"),
            params.get("state"),
        )
        .await?;
    let location = HeaderValue::from_str(&location)
        .map_err(|_| Error::internal("redirect location is not a valid header"))?;
    Ok(NoStore::new((
        StatusCode::FOUND,
        [(header::LOCATION, location)],
    )))
}

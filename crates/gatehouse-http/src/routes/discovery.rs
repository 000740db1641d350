//! Discovery: RFC 8414 and OpenID Connect Discovery metadata, and the JWKS (RFC 7517) with every
//! key in force (the current key and those still verifying tokens they signed).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::openapi::responses::ServerError;
use crate::AppState;

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "discovery",
    summary = "Authorization server metadata (RFC 8414 §3, OpenID Connect Discovery 1.0 §4)",
    responses(
        (status = 200, description = "The metadata; cacheable for 300 s", body = ServerMetadata,
         headers(("Cache-Control" = String, description = "public, max-age=300"))),
        ServerError,
    )
)]
pub(crate) async fn configuration(State(app): State<AppState>) -> Result<Response, ApiError> {
    let json = app.discovery.metadata_json().await?;
    Ok(json_response(&json, "public, max-age=300"))
}

/// `GET /.well-known/jwks.json`. Cached briefly, since keys change only by rotation and a new
/// key signs only after the server reloads its ring.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    summary = "The public signing keys (RFC 7517 §5)",
    responses(
        (status = 200, description = "Every key in force; cacheable for 60 s", body = Jwks,
         headers(("Cache-Control" = String, description = "public, max-age=60"))),
    )
)]
pub(crate) async fn jwks(State(app): State<AppState>) -> Response {
    json_response(app.keys.ring().await.jwks_json(), "public, max-age=60")
}

/// A JSON document rendered beforehand, cacheable for `max_age` (a fixed header value).
fn json_response(json: &str, max_age: &'static str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(max_age)),
        ],
        json.to_owned(),
    )
        .into_response()
}

/// Authorization server metadata (RFC 8414 §2); the fields always present.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the core builds the metadata
pub(crate) struct ServerMetadata {
    /// The issuer identifier.
    issuer: String,
    /// The token endpoint's URL.
    token_endpoint: String,
    /// The JWKS URL.
    jwks_uri: String,
}

/// A JWK Set (RFC 7517 §5).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the core builds the set
pub(crate) struct Jwks {
    /// The public keys.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<()>,
}

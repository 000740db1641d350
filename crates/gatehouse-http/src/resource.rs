//! Extractors of the admin API: [`AdminAuth`] (the bearer admin token, RFC 6750 §2.1, compared
//! in constant time by the core, or an administrator's access token of scope `gatehouse:admin`:
//! a `gatehouse:viewer` may only read) and [`ResourceBody`] (a resource in JSON or YAML).

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use gatehouse_core::admin::AdminService;
use gatehouse_core::Error;
use serde_json::Value;
use utoipa::openapi::request_body::{RequestBody, RequestBodyBuilder};
use utoipa::openapi::schema::{Object, Type};
use utoipa::openapi::{ContentBuilder, Required};

use crate::error::ApiError;
use crate::extract::read_limited;
use crate::AppState;

/// The admin service, for a request that carried the admin token. Without a configured token
/// the admin API does not exist (404).
pub struct AdminAuth(pub Arc<AdminService>);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let Some(admin) = app.admin.clone() else {
            return Err(Error::NotFound("no such endpoint".into()).into());
        };
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(token) = token else {
            return Err(
                Error::InvalidToken("a valid admin bearer token is required".into()).into(),
            );
        };
        if admin.is_authorized(token) {
            return Ok(AdminAuth(admin));
        }
        // An administrator's access token (scope gatehouse:admin): a viewer only reads.
        let administrator = app.admin_tokens.administrator(token).await?;
        let reads = parts.method == Method::GET || parts.method == Method::HEAD;
        if !reads && !administrator.role.can_write() {
            return Err(
                Error::AccessDenied("a gatehouse:viewer may not change anything".into()).into(),
            );
        }
        Ok(AdminAuth(admin))
    }
}

/// The OpenAPI description of a [`ResourceBody`].
pub(crate) fn resource_body_doc() -> RequestBody {
    let object = || {
        ContentBuilder::new()
            .schema(Some(Object::with_type(Type::Object)))
            .build()
    };
    RequestBodyBuilder::new()
        .description(Some(
            "The resource, as JSON or YAML (also text/yaml, application/x-yaml). At most 64 KiB.",
        ))
        .content("application/json", object())
        .content("application/yaml", object())
        .required(Some(Required::True))
        .build()
}

/// A resource body: YAML for `application/yaml`, `text/yaml` or `application/x-yaml`; JSON for
/// `application/json`; without a Content-Type, JSON and then YAML are tried.
pub struct ResourceBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ResourceBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let essence = req.headers().get(header::CONTENT_TYPE).map(|v| {
            v.to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        let bytes = read_limited(req.into_body()).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::invalid_request("the request body is not valid UTF-8"))?;
        let value = match essence.as_deref() {
            Some("application/json") => json(text)?,
            Some("application/yaml" | "text/yaml" | "application/x-yaml") => yaml(text)?,
            None => json(text).or_else(|_| yaml(text))?,
            Some(_) => {
                return Err(Error::invalid_request(
                    "unsupported Content-Type: send application/json or application/yaml",
                )
                .into())
            }
        };
        Ok(ResourceBody(value))
    }
}

fn json(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|_| Error::invalid_request("the body is not valid JSON"))
}

fn yaml(text: &str) -> Result<Value, Error> {
    yaml_serde::from_str(text).map_err(|_| Error::invalid_request("the body is not valid YAML"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aidbox_yaml_reads_as_json() {
        let v =
            yaml("id: ro-basic-client\nresourceType: Client\ngrant_types:\n- password\n").unwrap();
        assert_eq!(v["grant_types"][0], "password");
        assert!(json("id: x").is_err());
    }
}

//! The OpenAPI 3.1 document at `/openapi.json`, built from the route table in `lib.rs` and the
//! `#[utoipa::path]` annotation on each handler, so it cannot drift from what is served. It
//! serves itself too (`serve`); the error answers many operations share are described in
//! `error_responses.rs`.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};

use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::ErrorBody;
use crate::routes::discovery::{Jwks, ServerMetadata};
use crate::routes::health::Status;
use crate::routes::introspect::{IntrospectRequest, IntrospectionResponse};
use crate::routes::mfa::{
    AssociateRequest, AssociateResponse, AuthenticatorInfo, ChallengeRequest, ChallengeResponse,
};
use crate::routes::revoke::RevokeRequest;
use crate::routes::token::{TokenRequest, TokenSuccess};
use crate::routes::userinfo::{UserinfoClaims, UserinfoRequest};

/// The OpenAPI side of a route: its methods and operation, from the handler's annotation.
pub(crate) type Doc = fn() -> (Vec<HttpMethod>, Operation);

/// The [`Doc`] of a handler annotated with `#[utoipa::path]` (pass its `__path_NAME` type).
pub(crate) fn doc<P: utoipa::Path>() -> (Vec<HttpMethod>, Operation) {
    (P::methods(), P::operation())
}

/// The [`Doc`] of an admin API write: the handler's annotation (pass its `__path_NAME` type)
/// and the resource it reads ([`crate::resource::ResourceBody`]), described once for all writes.
pub(crate) fn write_doc<P: utoipa::Path>() -> (Vec<HttpMethod>, Operation) {
    let (methods, mut operation) = doc::<P>();
    operation.request_body = Some(crate::resource::resource_body_doc());
    (methods, operation)
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatehouse",
        description = "An OAuth 2.0 authorization server for the Resource Owner Password \
                       Credentials grant (RFC 6749 §4.3), with the Client Credentials grant \
                       (§4.4) for machine-to-machine callers."
    ),
    components(schemas(
        TokenRequest,
        TokenSuccess,
        ErrorBody,
        Status,
        RevokeRequest,
        IntrospectRequest,
        IntrospectionResponse,
        UserinfoRequest,
        UserinfoClaims,
        ServerMetadata,
        Jwks,
        AuthenticatorInfo,
        AssociateRequest,
        AssociateResponse,
        ChallengeRequest,
        ChallengeResponse
    )),
    modifiers(&ClientAuth)
)]
struct ApiDoc;

/// Declares HTTP Basic client authentication (RFC 6749 §2.3.1), bearer access tokens (RFC 6750)
/// and the admin API's bearer token.
struct ClientAuth;

impl Modify for ClientAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "client_secret_basic",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
            );
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
            components.add_security_scheme(
                "admin_token",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The document: every row of the route table, aliases included.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut api = ApiDoc::openapi();
    for route in crate::routes() {
        let (methods, operation) = (route.doc)();
        // Aliases share a handler, and operation ids must be unique: derive one from the method
        // and the path.
        for method in methods {
            let mut operation = operation.clone();
            operation.operation_id = Some(operation_id(&method, route.path));
            api.paths
                .add_path_operation(route.path, vec![method], operation);
        }
    }
    api
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    summary = "The OpenAPI 3.1 document of this server",
    responses(
        (status = 200, description = "OpenAPI 3.1 document", body = serde_json::Value,
         content_type = "application/json")
    )
)]
pub(crate) async fn serve() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
        .into_response()
}

/// The document as JSON, built once.
pub(crate) fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_json()
            .unwrap_or_else(|_| r#"{"error":"server_error"}"#.into())
    });
    &JSON
}

fn operation_id(method: &HttpMethod, path: &str) -> String {
    let method = match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Delete => "delete",
        HttpMethod::Patch => "patch",
        HttpMethod::Head => "head",
        HttpMethod::Options => "options",
        HttpMethod::Trace => "trace",
    };
    let path: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{method}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route of the table is in the document, under OpenAPI 3.1.
    #[test]
    fn every_route_is_documented() {
        let api = document();
        let json = serde_json::to_value(&api).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        for route in crate::routes() {
            let (methods, _) = (route.doc)();
            for method in methods {
                let m = serde_json::to_value(&method).unwrap();
                let m = m.as_str().unwrap();
                assert!(
                    json["paths"][route.path][m].is_object(),
                    "{m} {} is not in the document",
                    route.path
                );
            }
        }
        let ids: Vec<_> = json["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap().to_owned())
            .collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(ids.len(), unique.len(), "duplicate operation ids: {ids:?}");
    }
}

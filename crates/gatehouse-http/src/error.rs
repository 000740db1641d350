//! The only mapping from [`gatehouse_core::Error`] to HTTP responses (RFC 6749 §5.2, RFC 6750
//! §3.1). Bodies are `{"error", "error_description"?}`; an internal error's text is logged,
//! never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::error::{is_description_text, mend};
use gatehouse_core::Error;
use serde::Serialize;

use crate::response::NoStore;

/// The error response body (RFC 6749 §5.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error code, e.g. `invalid_grant`.
    pub error: &'static str,
    /// A human-readable explanation, safe to show.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// With `mfa_required` only: the token that continues the login (Auth0's MFA API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
    /// With `invalid_password` only: the policy rule the new password failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

impl From<gatehouse_core::store::StoreError> for ApiError {
    fn from(err: gatehouse_core::store::StoreError) -> Self {
        ApiError(err.into())
    }
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match &self.0 {
            Error::InvalidClient { .. } | Error::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Error::InsufficientScope(_)
            | Error::MfaRequired { .. }
            | Error::AccessDenied(_)
            | Error::PasswordLeaked => StatusCode::FORBIDDEN,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::InvalidBody(_) | Error::InvalidPassword { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Overloaded { .. } | Error::UserStoreUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::TooManyRequests { .. } | Error::TooManyCodes { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A description as sent: every message gatehouse writes keeps to RFC 6749 §5.2's character
/// set, and client-sent values are echoed through [`gatehouse_core::error::echo`]. A debug build
/// (every test run) panics on a message that does not, so the test that reaches it fails; a
/// release build mends it rather than break the client's parser.
fn checked_description(text: &str) -> String {
    if is_description_text(text) {
        return text.to_owned();
    }
    if cfg!(debug_assertions) {
        panic!("error_description outside RFC 6749 section 5.2's characters: {text:?}");
    }
    mend(text)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = &self.0;
        if let Error::Internal(source) = err {
            tracing::error!(error = %source, cause = ?source.source(), "internal error");
        }
        let body = ErrorBody {
            error: err.code(),
            error_description: err.description().map(checked_description),
            mfa_token: match err {
                Error::MfaRequired { mfa_token } => Some(mfa_token.clone()),
                _ => None,
            },
            rule: match err {
                Error::InvalidPassword { rule, .. } => Some(rule),
                _ => None,
            },
        };
        let mut response = NoStore::with_pragma((self.status(), Json(body))).into_response();
        let headers = response.headers_mut();
        match err {
            // RFC 9110 §15.5.2: a 401 carries a challenge; RFC 6749 §5.2 names Basic.
            Error::InvalidClient { .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"gatehouse\", charset=\"UTF-8\""),
                );
            }
            Error::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Error::Overloaded { retry_after, close } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
                if *close {
                    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
            }
            Error::UserStoreUnavailable { retry_after }
            | Error::TooManyRequests { retry_after }
            | Error::TooManyCodes { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

/// An error of a resource protected by a bearer token (RFC 6750 §3): the same response as
/// [`ApiError`], with `WWW-Authenticate: Bearer error="…"` for every RFC 6750 error code; a
/// request with no token at all gets a bare `Bearer` challenge and no error code (§3.1).
#[derive(Debug)]
pub enum BearerError {
    /// The request carried no access token.
    Missing,
    /// The request or its token failed.
    Failed(Error),
}

impl From<Error> for BearerError {
    fn from(err: Error) -> Self {
        BearerError::Failed(err)
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let err = match self {
            BearerError::Missing => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"gatehouse\""),
                );
                return response;
            }
            BearerError::Failed(err) => err,
        };
        let challenge = match &err {
            Error::InvalidRequest(_) => Some("Bearer error=\"invalid_request\""),
            Error::InvalidToken(_) => Some("Bearer error=\"invalid_token\""),
            Error::InsufficientScope(_) => {
                Some("Bearer error=\"insufficient_scope\", scope=\"openid\"")
            }
            _ => None,
        };
        let mut response = ApiError(err).into_response();
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

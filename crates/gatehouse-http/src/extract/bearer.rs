//! Bearer access tokens (RFC 6750 §2): [`BearerToken`] from the `Authorization` header (§2.1),
//! [`BearerTokenOrBody`] from the header or an `access_token` body parameter (§2.2). They reject
//! with [`BearerError`], which answers with the RFC 6750 §3 challenge.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use gatehouse_core::Error;

use super::{authorization, FormOrJson};
use crate::error::BearerError;

/// The access token of `Authorization: Bearer` (RFC 6750 §2.1). Without an Authorization header
/// the request is [`BearerError::Missing`] (a bare challenge, §3.1); a header of another shape
/// is `invalid_request`.
#[derive(Debug)]
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, BearerError> {
        let token = from_headers(&parts.headers)?.ok_or(BearerError::Missing)?;
        Ok(BearerToken(token))
    }
}

/// The access token of a `POST`: in the Authorization header (RFC 6750 §2.1) or as the
/// `access_token` parameter of a form or JSON body (§2.2), not both. It reads the body, so it is
/// the handler's last extractor.
#[derive(Debug)]
pub struct BearerTokenOrBody(pub String);

impl<S: Send + Sync> FromRequest<S> for BearerTokenOrBody {
    type Rejection = BearerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, BearerError> {
        let from_header = from_headers(req.headers())?;
        let from_body = if has_body(req.headers()) {
            let FormOrJson(mut params) = FormOrJson::from_request(req, state)
                .await
                .map_err(|e| e.0)?;
            params.take("access_token")
        } else {
            None
        };
        match (from_header, from_body) {
            (Some(token), None) | (None, Some(token)) => Ok(BearerTokenOrBody(token)),
            (Some(_), Some(_)) => Err(Error::invalid_request(
                "the access token was sent twice (RFC 6750 section 2)",
            )
            .into()),
            (None, None) => Err(BearerError::Missing),
        }
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::CONTENT_TYPE)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// `Some(token)` from `Authorization: Bearer`, `None` when there is no Authorization header.
fn from_headers(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = authorization(headers)? else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::invalid_request("the Authorization header is not ASCII"))?;
    match value.trim().split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(Error::invalid_request(
            "the Authorization header must be Bearer followed by the access token",
        )),
    }
}

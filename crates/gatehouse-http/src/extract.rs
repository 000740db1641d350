//! Extractors that reject with [`ApiError`] (or [`crate::error::BearerError`]), so malformed
//! input gets an RFC-shaped JSON answer rather than framework plain text: [`FormOrJson`] (a
//! body's parameters), [`BasicAuth`], [`ClientRequest`] (a client's credentials and
//! parameters) and [`BearerToken`]. Only the last extractor of a handler may read the body, so
//! extractors that need both a header and the body ([`ClientRequest`], [`BearerTokenOrBody`])
//! read both themselves.

mod bearer;
mod client;

pub use bearer::{BearerToken, BearerTokenOrBody};
pub use client::ClientRequest;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use gatehouse_core::client_credentials::BasicCredentials;
use gatehouse_core::error::AuthMethod;
use gatehouse_core::Error;
use secrecy::SecretString;

use crate::error::ApiError;
use crate::params::{form_decode, Params};

/// The largest request body accepted (64 KiB).
pub const MAX_BODY: usize = 64 * 1024;

/// The parameters of a form or JSON body.
pub struct FormOrJson(pub Params);

impl<S: Send + Sync> FromRequest<S> for FormOrJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let kind = BodyKind::of(req.headers())?;
        let bytes = read_body(req.into_body()).await?;
        let params = match kind {
            BodyKind::Form => Params::from_form(&bytes)?,
            BodyKind::Json => Params::from_json(&bytes)?,
        };
        Ok(FormOrJson(params))
    }
}

enum BodyKind {
    Form,
    Json,
}

impl BodyKind {
    /// A missing Content-Type is read as a form, as curl and many HTTP libraries send forms.
    fn of(headers: &HeaderMap) -> Result<Self, Error> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Ok(BodyKind::Form);
        };
        let value = value
            .to_str()
            .map_err(|_| Error::invalid_request("the Content-Type header is not ASCII"))?;
        let mut parts = value.split(';');
        let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        for param in parts {
            if let Some((name, v)) = param.split_once('=') {
                let v = v.trim().trim_matches('"');
                if name.trim().eq_ignore_ascii_case("charset") && !v.eq_ignore_ascii_case("utf-8") {
                    return Err(Error::invalid_request(
                        "only the UTF-8 charset is supported",
                    ));
                }
            }
        }
        match essence.as_str() {
            "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
            "application/json" => Ok(BodyKind::Json),
            _ => Err(Error::invalid_request(
                "unsupported Content-Type: send application/x-www-form-urlencoded or application/json",
            )),
        }
    }
}

/// Whether the body is JSON (`application/json`) rather than a form (the default without a
/// Content-Type); an unsupported Content-Type is `invalid_request`.
pub(crate) fn is_json(headers: &HeaderMap) -> Result<bool, Error> {
    Ok(matches!(BodyKind::of(headers)?, BodyKind::Json))
}

/// Reads a body of at most [`MAX_BODY`] bytes.
pub(crate) async fn read_limited(body: Body) -> Result<axum::body::Bytes, Error> {
    read_body(body).await
}

async fn read_body(body: Body) -> Result<axum::body::Bytes, Error> {
    use http_body_util::{BodyExt, LengthLimitError, Limited};
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(Error::PayloadTooLarge(
            format!("the request body exceeds {MAX_BODY} bytes").into(),
        )),
        Err(_) => Err(Error::invalid_request("the request body could not be read")),
    }
}

/// The one `Authorization` header, if any; a repeated one is `invalid_request`.
fn authorization(headers: &HeaderMap) -> Result<Option<&HeaderValue>, Error> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next();
    if values.next().is_some() {
        return Err(Error::invalid_request(
            "the Authorization header is repeated",
        ));
    }
    Ok(value)
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1, RFC 7617).
#[derive(Debug)]
pub struct BasicAuth(pub BasicCredentials);

impl<S: Send + Sync> FromRequestParts<S> for BasicAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match BasicAuth::from_headers(&parts.headers)? {
            Some(basic) => Ok(basic),
            None => Err(Error::InvalidClient {
                method: AuthMethod::None,
                description: "client authentication is required".into(),
            }
            .into()),
        }
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for BasicAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, ApiError> {
        Ok(BasicAuth::from_headers(&parts.headers)?)
    }
}

impl BasicAuth {
    /// `None` when there is no `Authorization: Basic` header; `invalid_client` when it is
    /// malformed.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, Error> {
        let malformed = || Error::InvalidClient {
            method: AuthMethod::Basic,
            description: "malformed HTTP Basic credentials".into(),
        };
        let Some(value) = authorization(headers)? else {
            return Ok(None);
        };
        let value = value.to_str().map_err(|_| malformed())?;
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return if value.trim().eq_ignore_ascii_case("basic") {
                Err(malformed())
            } else {
                Ok(None)
            };
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
        let (raw_id, raw_secret) = decoded.split_once(':').ok_or_else(malformed)?;
        let id = form_decode(raw_id).unwrap_or_else(|_| raw_id.to_owned());
        let (secret, undecoded) = match form_decode(raw_secret) {
            Ok(s) if s == raw_secret => (s, None),
            Ok(s) => (s, Some(SecretString::from(raw_secret.to_owned()))),
            Err(_) => (raw_secret.to_owned(), None),
        };
        Ok(Some(BasicAuth(BasicCredentials {
            id,
            secret: SecretString::from(secret),
            undecoded,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn basic(value: &str) -> Result<Option<BasicCredentials>, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        Ok(BasicAuth::from_headers(&headers)?.map(|b| b.0))
    }

    /// RFC 6749 §2.3.1: id and secret are form-encoded before base64.
    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:p%3Ass+word"));
        let b = basic(&header).unwrap().unwrap();
        assert_eq!(b.id, "my app");
        assert_eq!(b.secret.expose_secret(), "p:ss word");
        assert_eq!(b.undecoded.unwrap().expose_secret(), "p%3Ass+word");
    }

    #[test]
    fn a_colon_in_the_secret_survives() {
        let header = format!("basic {}", STANDARD.encode("app:a:b"));
        let b = basic(&header).unwrap().unwrap();
        assert_eq!(b.secret.expose_secret(), "a:b");
    }

    #[test]
    fn malformed_basic_is_invalid_client_and_other_schemes_are_ignored() {
        for bad in [
            "Basic",
            "Basic !!!",
            "Basic Y4NmE4MzFhZGFkNzU2YWRhN",
            "Basic bm9jb2xvbg==",
        ] {
            assert_eq!(basic(bad).unwrap_err().code(), "invalid_client", "{bad}");
        }
        assert!(basic("Bearer abc").unwrap().is_none());
    }
}

//! Response wrappers: [`NoStore`] keeps an answer out of every cache (RFC 9111 §5.2.2.5), as
//! RFC 6749 §5.1 asks of anything carrying tokens, credentials or other sensitive information;
//! handlers wrap their answers in it rather than setting the headers by hand.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

/// `T`'s response with `Cache-Control: no-store`, and `Pragma: no-cache` too for the answers
/// of RFC 6749 §5.1 (tokens and their errors), which HTTP/1.0 caches read.
#[derive(Debug, Clone, Copy)]
pub struct NoStore<T> {
    inner: T,
    pragma: bool,
}

impl<T> NoStore<T> {
    /// `Cache-Control: no-store` alone.
    pub fn new(inner: T) -> Self {
        NoStore {
            inner,
            pragma: false,
        }
    }

    /// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
    pub fn with_pragma(inner: T) -> Self {
        NoStore {
            inner,
            pragma: true,
        }
    }
}

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut response = self.inner.into_response();
        let headers: &mut HeaderMap = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.pragma {
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn no_store_sets_cache_control_and_pragma_only_when_asked() {
        let plain = NoStore::new((StatusCode::CREATED, "x")).into_response();
        assert_eq!(plain.status(), StatusCode::CREATED);
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-store");
        assert!(plain.headers().get(header::PRAGMA).is_none());
        let token = NoStore::with_pragma("x").into_response();
        assert_eq!(token.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(token.headers()[header::PRAGMA], "no-cache");
    }
}

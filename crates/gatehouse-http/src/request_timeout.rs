//! The per-request deadline (`--request-timeout`): a request whose response is not ready in
//! time gets an RFC-shaped JSON error instead of holding its connection and its resources.
//!
//! Which error depends on whose fault the delay is. While the request body is still arriving,
//! the client is the slow one (a slow-loris upload): `408 Request Timeout` (RFC 9110 §15.5.9)
//! with `{"error":"invalid_request"}` and `Connection: close`, since the rest of the body is not
//! worth waiting for. Once the body is complete, the server is the slow one: `503` with
//! `{"error":"temporarily_unavailable"}` and `Retry-After`, like the password-hash queue's
//! shedding. Slow *headers* never reach this layer: hyper's header read timeout cuts those
//! connections off first (see the binary's `connections.rs`).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::Error;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::ApiError;

/// The deadline of one request: the state of [`enforce`].
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub Duration);

/// Middleware (`axum::middleware::from_fn_with_state`): runs the rest of the stack under the
/// deadline and answers 408 or 503 (see the module docs) when it passes.
pub async fn enforce(
    State(RequestTimeout(limit)): State<RequestTimeout>,
    req: Request,
    next: Next,
) -> Response {
    // A bodiless request (GET, or `Content-Length: 0`) is complete from the start.
    let received = Arc::new(AtomicBool::new(req.body().is_end_stream()));
    let req = req.map(|body| {
        Body::new(Watched {
            inner: body,
            received: received.clone(),
        })
    });
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) if received.load(Ordering::Acquire) => {
            tracing::warn!(timeout = ?limit, "request timed out in the server");
            ApiError(Error::overloaded()).into_response()
        }
        Err(_) => {
            tracing::warn!(timeout = ?limit, "request body not received in time");
            let err = Error::invalid_request("the request was not received in time");
            let mut response = ApiError(err).into_response();
            *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// `body`, noting in `received` when it has been received in full.
pub(crate) fn watched(body: Body, received: Arc<AtomicBool>) -> Body {
    Body::new(Watched {
        inner: body,
        received,
    })
}

/// A request body that notes when it has been received in full.
struct Watched {
    inner: Body,
    received: Arc<AtomicBool>,
}

impl Watched {
    fn note_end(&self) {
        self.received.store(true, Ordering::Release);
    }
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.note_end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.note_end();
        }
        end
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

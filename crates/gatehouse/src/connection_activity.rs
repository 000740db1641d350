//! What counts as activity on a connection, for `--idle-timeout`: requests only. Each request
//! is counted as in flight from the moment hyper hands it to the service until its response
//! body has been sent (or dropped, when the client resets the stream); the connection is idle
//! when no request is in flight, and has been since the last one ended. HTTP/2 PINGs, SETTINGS
//! and WINDOW_UPDATEs are frames hyper answers itself, never requests: a client that only
//! answers (or sends) pings stays idle and is closed.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use http_body::Frame;
use tokio::time::Instant;

/// The requests in flight on one connection and when the last one ended.
#[derive(Debug)]
pub(crate) struct Activity {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
    /// Whether any request has started (the first-request timeout).
    started: std::sync::atomic::AtomicBool,
}

impl Activity {
    /// A connection that has served nothing yet, opened now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
            started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Counts a request as in flight until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.started.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self.clone())
    }

    /// Whether a request has ever started on this connection.
    pub(crate) fn has_started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// When the connection will have been idle for `timeout`, if nothing happens before; `None`
    /// while a request is in flight.
    pub(crate) fn idle_deadline(&self, timeout: std::time::Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(*self.last.lock().unwrap_or_else(PoisonError::into_inner) + timeout)
    }

    fn touch(&self) {
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }
}

/// One request in flight; dropping it ends the request's activity.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // Touch before the count drops, so an idle check never sees 0 with an old instant.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request in flight until it has been sent or dropped.
pub(crate) fn tracked(body: Body, guard: InFlight) -> Body {
    Body::new(Tracked {
        body,
        _guard: guard,
    })
}

struct Tracked {
    body: Body,
    _guard: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_connection_is_idle_only_when_no_request_is_in_flight() {
        let activity = Activity::new();
        assert!(!activity.has_started());
        assert!(activity.idle_deadline(Duration::from_secs(1)).is_some());
        let first = activity.begin();
        let second = activity.begin();
        assert!(activity.has_started());
        assert_eq!(activity.idle_deadline(Duration::from_secs(1)), None);
        drop(first);
        assert_eq!(activity.idle_deadline(Duration::from_secs(1)), None);
        let before = Instant::now();
        drop(second);
        let deadline = activity.idle_deadline(Duration::from_secs(1)).unwrap();
        assert!(deadline >= before + Duration::from_secs(1));
    }

    #[tokio::test]
    async fn the_request_stays_in_flight_until_its_body_is_dropped() {
        let activity = Activity::new();
        let body = tracked(Body::from("x"), activity.begin());
        assert_eq!(activity.idle_deadline(Duration::from_secs(1)), None);
        let bytes = axum::body::to_bytes(body, 10).await.unwrap();
        assert_eq!(&bytes[..], b"x");
        assert!(activity.idle_deadline(Duration::from_secs(1)).is_some());
    }
}

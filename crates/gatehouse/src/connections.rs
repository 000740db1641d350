//! The accept loop, for plain HTTP and HTTPS alike: it caps the connections served at once,
//! bounds how long a client may take over its TLS handshake and its request headers, bounds the
//! size of those headers, and on shutdown lets open connections finish their requests.
//!
//! The cap (`--max-connections`) is a semaphore taken *before* `accept`: at the cap, new
//! connections are not refused but wait in the kernel's listen backlog until a served one
//! closes. A refusal (accept, then close) would invite clients to reconnect at once and add to
//! the load, while a queued connection is served as soon as a slot frees up and costs the
//! server nothing meanwhile; a client that will not wait has its own connect timeout.
//!
//! Slow clients cannot hold a slot for long: the TLS handshake and each request's headers must
//! arrive within `--header-timeout` (hyper's header read timeout, which also closes an HTTP/1.1
//! connection idle for that long between requests), and the request body within
//! `--request-timeout` (the `request_timeout` layer of gatehouse-http, which answers 408).
//!
//! Idle clients cannot either: a connection (HTTP/2 above all, which the header timeout does not
//! reap) with no request in flight for `--idle-timeout` is closed gracefully (GOAWAY on
//! HTTP/2); what counts as a request is in `connection_activity.rs`, and pings do not. HTTP/2
//! connections carry at most [`MAX_H2_STREAMS`] streams at once, and h2's limits on streams
//! reset by the client before they were served and on streams the server had to reset bound
//! the rapid-reset attack (CVE-2023-44487) and its variants. One address holds at most
//! `--max-connections-per-address` connections (`connection_cap.rs`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::ConnectInfo;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::connection_activity::{tracked, Activity};
use crate::connection_cap::{AddressCap, AddressSlot};

/// Connections served at once by default.
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// Seconds a client has for its TLS handshake and for each request's headers by default.
pub(crate) const DEFAULT_HEADER_TIMEOUT_SECS: u32 = 10;
/// Seconds a request may take, body included, by default.
pub(crate) const DEFAULT_REQUEST_TIMEOUT_SECS: u32 = 30;
/// Seconds a connection may stay open without a request in flight by default: nginx's
/// `keepalive_timeout` and Go's `http.Server` use 75 s.
pub(crate) const DEFAULT_IDLE_TIMEOUT_SECS: u32 = 75;

/// The largest request head (request line and headers) of HTTP/1.1: a larger one gets 431.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers a request may have (HTTP/1.1): more get 431.
const MAX_HEADERS: usize = 64;
/// The largest header list of an HTTP/2 request.
const MAX_H2_HEADER_LIST: u32 = 64 * 1024;
/// Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS): more
/// are refused (RST_STREAM REFUSED_STREAM). RFC 9113 recommends at least 100; one OAuth client
/// never needs more.
pub(crate) const MAX_H2_STREAMS: u32 = 100;
/// Streams a client may reset before the server accepted them before the connection is closed
/// with GOAWAY ENHANCE_YOUR_CALM: the rapid-reset attack (CVE-2023-44487). h2's own default.
const MAX_H2_PENDING_RESETS: usize = 20;
/// Streams the server may reset for the client's protocol errors (refused streams included)
/// before the connection is closed with GOAWAY: the "MadeYouReset" variant of rapid reset.
const MAX_H2_LOCAL_RESETS: usize = 256;

/// What bounds each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionLimits {
    /// Connections served at once; more wait to be accepted.
    pub(crate) max_connections: u32,
    /// Time for the TLS handshake, and for each request's headers.
    pub(crate) header_timeout: Duration,
    /// Time a connection may stay open with no request in flight.
    pub(crate) idle_timeout: Duration,
    /// Time open requests get to finish once a connection is closing (the request timeout),
    /// after which it is dropped.
    pub(crate) drain_timeout: Duration,
    /// Connections one address may hold open at once (0: no cap).
    pub(crate) max_per_address: u32,
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes, then waits for
/// the open connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<RustlsConfig>,
    limits: ConnectionLimits,
    per_address: Arc<AddressCap>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.context("the connection slots closed")?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(address_slot) = per_address.admit(peer.ip()) else {
            // Closed at once (dropping the stream), and the global slot with it.
            tracing::debug!(%peer, "too many connections from this address: closed");
            continue;
        };
        let conn = Conn {
            app: app.clone(),
            peer,
            limits,
            stopping: stopping.clone(),
            _slot: slot,
            _address_slot: address_slot,
        };
        tokio::spawn(conn.run(stream, tls.clone()));
    }
    drop(listener);
    let _ = stop.send(true);
    // Each open connection holds a slot until it ends: all slots back means all are done.
    let _ = slots.acquire_many(limits.max_connections).await;
    Ok(())
}

/// One accepted connection and what it needs.
struct Conn {
    app: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
    /// Released when the connection ends.
    _slot: OwnedSemaphorePermit,
    /// This connection's place in its address's count, released when it ends.
    _address_slot: AddressSlot,
}

impl Conn {
    async fn run(self, stream: TcpStream, tls: Option<RustlsConfig>) {
        // Small responses go out at once rather than wait for more to fill a segment.
        let _ = stream.set_nodelay(true);
        let Some(tls) = tls else {
            return self.http(stream).await;
        };
        // The current configuration, so that a SIGHUP reload applies to new handshakes.
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.get_inner());
        let peer = self.peer;
        match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.http(stream).await,
            Ok(Err(err)) => tracing::debug!(%peer, %err, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out: connection closed"),
        }
    }

    /// Serves HTTP/1.1 or HTTP/2 (by preface or ALPN) on `io` until the client closes, a
    /// timeout fires, or the server stops.
    async fn http<I>(mut self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (app, peer, limits) = (self.app.clone(), self.peer, self.limits);
        let activity = Activity::new();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            // In flight from here until the response body is sent or dropped.
            let in_flight = requests.begin();
            req.extensions_mut().insert(ConnectInfo(peer));
            let response = app.clone().oneshot(req);
            async move {
                let response = response.await?;
                Ok::<_, std::convert::Infallible>(response.map(|body| tracked(body, in_flight)))
            }
        });
        let builder = builder(limits);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        let stopping = async {
            // The guard `wait_for` returns is not `Send`: drop it at once.
            let _ = self.stopping.wait_for(|stop| *stop).await.map(|_| ());
        };
        tokio::pin!(stopping);
        // Until its first request, a connection is in hyper-util's protocol detection (HTTP/1.1
        // or the HTTP/2 preface), which has no timeout of its own: a client that connects and
        // stays silent would hold its slot for ever. It gets `header_timeout` for that request.
        let first_request = tokio::time::sleep(limits.header_timeout);
        tokio::pin!(first_request);
        let mut awaiting_first = true;
        // Checked when it fires, then set again from the last activity.
        let idle = tokio::time::sleep(limits.idle_timeout);
        tokio::pin!(idle);
        let ended = loop {
            tokio::select! {
                ended = conn.as_mut() => break ended,
                () = &mut stopping => {
                    // Finish the request in flight (bounded by --request-timeout), then close.
                    conn.as_mut().graceful_shutdown();
                    break drain(conn, limits.drain_timeout, peer).await;
                }
                () = &mut first_request, if awaiting_first => {
                    if !activity.has_started() {
                        tracing::debug!(%peer, "no request within the header timeout: closed");
                        return;
                    }
                    awaiting_first = false;
                }
                () = &mut idle => match activity.idle_deadline(limits.idle_timeout) {
                    Some(deadline) if deadline <= tokio::time::Instant::now() => {
                        tracing::debug!(%peer, "no request within the idle timeout: closing");
                        // HTTP/2: GOAWAY, then close; HTTP/1.1: close.
                        conn.as_mut().graceful_shutdown();
                        break drain(conn, limits.drain_timeout, peer).await;
                    }
                    Some(deadline) => idle.as_mut().reset(deadline),
                    // A request is in flight: look again a whole timeout later.
                    None => idle
                        .as_mut()
                        .reset(tokio::time::Instant::now() + limits.idle_timeout),
                },
            }
        };
        if let Err(err) = ended {
            tracing::debug!(%peer, %err, "connection ended with an error");
        }
    }
}

/// The connection builder: HTTP/1.1 and HTTP/2 with their limits.
fn builder(limits: ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_H2_HEADER_LIST)
        .max_concurrent_streams(MAX_H2_STREAMS)
        .max_pending_accept_reset_streams(MAX_H2_PENDING_RESETS)
        .max_local_error_reset_streams(MAX_H2_LOCAL_RESETS)
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout);
    builder
}

/// Waits for a connection told to shut down gracefully to finish its open requests, for at most
/// `limit`: a client that neither finishes nor acknowledges the GOAWAY is then cut off, so it
/// cannot hold its slot, or the server's shutdown, any longer.
async fn drain<F, E>(conn: F, limit: Duration, peer: SocketAddr) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
{
    match tokio::time::timeout(limit, conn).await {
        Ok(ended) => ended,
        Err(_) => {
            tracing::debug!(%peer, "connection still open after the request timeout: dropped");
            Ok(())
        }
    }
}

/// An accept error is the peer's (it reset before being accepted) or a lack of resources
/// (EMFILE); neither should stop the server. Pause briefly so a lack of file descriptors does
/// not become a busy loop.
async fn accept_failed(err: std::io::Error) {
    tracing::warn!(%err, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(50)).await;
}

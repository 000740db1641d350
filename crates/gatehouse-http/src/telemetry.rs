//! Operations plumbing of the HTTP layer: the Prometheus recorder behind `GET /metrics`, the
//! per-route request counter and latency histogram, and the request id (`X-Request-Id`) that
//! every log line of a request carries through its tracing span.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_core::clock::Stopwatch;
use gatehouse_core::store::Store;
use gatehouse_core::telemetry;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestId, RequestId};

/// The request-id header, taken from the request or generated, and echoed in the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Latency buckets in seconds: argon2id at OWASP cost takes tens of milliseconds per hash.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What the recorder could not do.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct MetricsError(String);

/// How often the installed recorder's histogram samples are drained (as the exporter's own
/// `install()` does, on its 5 s default).
pub const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The Prometheus exporter's handle: renders the text exposition format on demand.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl Metrics {
    /// Installs the process-wide recorder (once per process) and describes every metric. On a
    /// tokio runtime (as `serve` calls it), a task drains the histograms' samples into their
    /// buckets every few seconds ([`UPKEEP_INTERVAL`]): the recorder keeps each sample until
    /// then, so without it memory grew with every request between two scrapes (about 20 bytes
    /// a request, measured), and without any scrape for ever.
    pub fn install() -> Result<Self, MetricsError> {
        let handle = builder()?
            .install_recorder()
            .map_err(|e| MetricsError(e.to_string()))?;
        telemetry::describe();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let upkeep = handle.clone();
            runtime.spawn(async move {
                let mut every = tokio::time::interval(UPKEEP_INTERVAL);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    upkeep.run_upkeep();
                }
            });
        }
        Ok(Metrics { handle })
    }

    /// A recorder that is not installed globally: `/metrics` then shows only what is recorded
    /// at scrape time. For router tests, which may build many routers in one process.
    pub fn detached() -> Result<Self, MetricsError> {
        Ok(Metrics {
            handle: builder()?.build_recorder().handle(),
        })
    }

    /// The Prometheus text exposition, after sampling the database pool.
    pub fn render(&self, store: &dyn Store) -> String {
        let pool = store.pool_stats();
        metrics::gauge!(telemetry::DB_POOL_SIZE).set(f64::from(pool.size));
        metrics::gauge!(telemetry::DB_POOL_IDLE).set(f64::from(pool.idle));
        metrics::gauge!(telemetry::DB_POOL_MAX).set(f64::from(pool.max));
        self.handle.run_upkeep();
        self.handle.render()
    }
}

fn builder() -> Result<PrometheusBuilder, MetricsError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| MetricsError(e.to_string()))
}

/// Route middleware: counts each request and records its latency under the route's pattern
/// (`/oauth/token`, never the raw path), its method from a fixed set ([`method_label`]) and the
/// response status, a number the server chose: every label is drawn from a small fixed set, so
/// no request can add series of its own. Requests that match no route never get here (the
/// router's fallback answers them outside this layer) and add no series at all.
pub(crate) async fn track(path: MatchedPath, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let watch = Stopwatch::start();
    let response = next.run(req).await;
    let labels = [
        ("endpoint", path.as_str().to_owned()),
        ("method", method.to_owned()),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!(telemetry::HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(telemetry::HTTP_DURATION, &labels).record(watch.elapsed_secs());
    response
}

/// The `method` label: one of the methods the routes use or HTTP clients commonly send, else
/// `other`. Any token is a valid HTTP method, so the raw method would let each request invent
/// a series (issue 15: 3,000 invented methods made 51,000 series and a 107 MB scrape).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Keeps a client's `X-Request-Id` only when it is short printable ASCII (so it cannot forge
/// log lines or bloat them); otherwise drops it so a fresh one is generated.
pub(crate) async fn sanitize_request_id(mut req: Request) -> Request {
    let acceptable = req.headers().get(&REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 128
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:@+=/".contains(c))
    });
    if !acceptable {
        req.headers_mut().remove(&REQUEST_ID);
    }
    req
}

/// Generates request ids: 128 random bits, hex.
#[derive(Clone, Copy, Default)]
pub(crate) struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&gatehouse_core::random::id())
            .ok()
            .map(RequestId::new)
    }
}

/// The span around a request: its id, method and path. Never headers, query or body, which can
/// hold credentials.
pub(crate) fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_fixed_set_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for invented in ["FOO", "get", "PROPFIND", "CONNECT", "TRACE"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }
}

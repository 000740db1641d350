//! A webhook receiver for the tests: a real HTTP server on a loopback port that verifies every
//! delivery with the Standard Webhooks reference library (`standardwebhooks`, from the
//! specification's repository), records it, and answers as the test scripts it to: a queue of
//! statuses, then a default; optionally holding each request until released.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: i64,
    /// The parsed body.
    pub body: Value,
    /// Whether the reference library verified it with the receiver's secret.
    pub verified: bool,
    /// When it arrived.
    pub at: Instant,
    /// The status it was answered with.
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    received: Vec<Received>,
    script: VecDeque<u16>,
    default_status: u16,
    hold: bool,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    release: Arc<Notify>,
    arrived: Arc<Notify>,
}

impl Receiver {
    /// Starts a receiver that verifies with `secret` (`whsec_…`) and answers 200.
    pub async fn start(secret: Option<&str>) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            secret: secret.map(str::to_owned),
            default_status: 200,
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Receiver {
            addr,
            inner,
            release: Arc::new(Notify::new()),
            arrived: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/{*path}", post(handle))
            .route("/", post(handle))
            .with_state(receiver.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        receiver
    }

    /// The URL deliveries go to.
    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// Answers these statuses to the next requests, in order, then the default.
    pub fn script(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().script.extend(statuses);
    }

    /// The status answered once the script is spent.
    pub fn answer(&self, status: u16) {
        self.inner.lock().unwrap().default_status = status;
    }

    /// Holds every request until [`Receiver::release`] (or `hold(false)`).
    pub fn hold(&self, on: bool) {
        self.inner.lock().unwrap().hold = on;
        if !on {
            self.release.notify_waiters();
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until `done` holds for what was received, or panics after `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "receiver: {what} not seen within {within:?}; got {} requests: {:?}",
                got.len(),
                got.iter().map(|r| (&r.id, r.answered)).collect::<Vec<_>>()
            );
            let _ = tokio::time::timeout(Duration::from_millis(50), self.arrived.notified()).await;
        }
    }
}

async fn handle(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (verified, hold, status) = {
        let mut inner = r.inner.lock().unwrap();
        let verified = inner.secret.as_deref().is_some_and(|secret| {
            standardwebhooks::Webhook::new(secret)
                .and_then(|w| w.verify(&body, &headers))
                .is_ok()
        });
        let status = inner.script.pop_front().unwrap_or(inner.default_status);
        (verified, inner.hold, status)
    };
    let record = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(0),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        verified,
        at: Instant::now(),
        answered: status,
    };
    r.inner.lock().unwrap().received.push(record);
    r.arrived.notify_waiters();
    if hold {
        loop {
            let released = r.release.notified();
            if !r.inner.lock().unwrap().hold {
                break;
            }
            released.await;
        }
    }
    StatusCode::from_u16(status).unwrap()
}

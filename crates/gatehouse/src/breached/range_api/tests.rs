//! Tests of the range API client against a real local HTTP server speaking the range format.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;

use super::*;

/// SHA-1("password") = 5BAA6 1E4C9B93F3F0682250B6CF8331B7EE68FD8.
const PASSWORD_SUFFIX: &str = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";

const HEALTHY: u8 = 0;
const FAILING: u8 = 1;
const SLOW: u8 = 2;

/// A request the fake API saw: the prefix and the `Add-Padding` header.
type Seen = (String, Option<String>);

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<AtomicU8>,
}

impl Fake {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

async fn range(
    State(fake): State<Fake>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
) -> Result<String, StatusCode> {
    let padding = headers
        .get("add-padding")
        .map(|v| v.to_str().unwrap().to_owned());
    fake.seen.lock().unwrap().push((prefix.clone(), padding));
    match fake.mode.load(Ordering::SeqCst) {
        FAILING => return Err(StatusCode::SERVICE_UNAVAILABLE),
        SLOW => tokio::time::sleep(Duration::from_secs(5)).await,
        _ => {}
    }
    // "password" is known 9 times; "hunter2"'s suffix appears only as padding (count 0).
    Ok(match prefix.as_str() {
        "5BAA6" => format!(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{PASSWORD_SUFFIX}:9\r\n\
             FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF:0\r\n"
        ),
        // SHA-1("hunter2") = F3BBB D66A63D4BF1747940578EC3D0103530E21D
        "F3BBB" => "D66A63D4BF1747940578EC3D0103530E21D:0\r\n\
                    00000000000000000000000000000000000:3\r\n"
            .to_owned(),
        _ => "0000000000000000000000000000000000A:2\r\n".to_owned(),
    })
}

/// Starts the fake API on 127.0.0.1; returns its base URL and its state.
async fn fake_api() -> (String, Fake) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/range/{prefix}", get(range))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/"), fake)
}

fn api(base: &str, timeout_ms: u64, open_for_ms: u64) -> RangeApi {
    RangeApi::with_breaker(
        base,
        Duration::from_millis(timeout_ms),
        Duration::from_millis(open_for_ms),
    )
    .unwrap()
}

#[tokio::test]
async fn a_known_password_is_a_hit_and_sends_only_the_prefix_with_padding() {
    let (base, fake) = fake_api().await;
    let api = api(&base, 1000, 30_000);
    assert!(api.contains("password").await);
    assert_eq!(
        fake.seen(),
        vec![("5BAA6".to_owned(), Some("true".to_owned()))]
    );
    assert_eq!(api.source(), BreachSource::Online);
}

#[tokio::test]
async fn an_unknown_password_is_a_miss() {
    let (base, fake) = fake_api().await;
    let api = api(&base, 1000, 30_000);
    assert!(!api.contains("correct horse battery staple").await);
    assert_eq!(fake.seen().len(), 1);
}

/// A padding line (count 0) carrying the very suffix asked for is not a hit.
#[tokio::test]
async fn padding_lines_never_match() {
    let (base, _fake) = fake_api().await;
    assert_eq!(
        upper_hex_sha1("hunter2"),
        "F3BBBD66A63D4BF1747940578EC3D0103530E21D"
    );
    assert!(!api(&base, 1000, 30_000).contains("hunter2").await);
}

#[tokio::test]
async fn a_server_that_is_down_fails_open_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = api(&format!("http://{addr}"), 1000, 30_000);
    let started = Instant::now();
    assert!(!api.contains("password").await);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_server_is_cut_off_by_the_timeout() {
    let (base, fake) = fake_api().await;
    fake.set(SLOW);
    let api = api(&base, 200, 30_000);
    let started = Instant::now();
    assert!(!api.contains("password").await);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

/// Five failures in a row open the breaker: the server then sees no request, and answers are
/// `false` at once. After the open time one probe is sent; its answer closes the breaker.
#[tokio::test]
async fn the_breaker_opens_after_five_failures_and_a_probe_closes_it() {
    let (base, fake) = fake_api().await;
    fake.set(FAILING);
    let api = api(&base, 1000, 300);
    for _ in 0..FAILURES_TO_OPEN {
        assert!(!api.contains("password").await);
    }
    assert_eq!(fake.seen().len(), 5);
    fake.set(HEALTHY);
    for _ in 0..3 {
        assert!(!api.contains("password").await, "answered while open");
    }
    assert_eq!(
        fake.seen().len(),
        5,
        "a request was sent while the breaker was open"
    );

    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(api.contains("password").await, "the probe");
    assert_eq!(fake.seen().len(), 6);
    assert!(api.contains("password").await);
    assert_eq!(fake.seen().len(), 7);
}

#[test]
fn a_failed_probe_opens_the_breaker_again_and_only_one_probe_goes_out() {
    let start = Instant::now();
    let mut breaker = Breaker::new(Duration::from_secs(30));
    for i in 1..FAILURES_TO_OPEN {
        assert!(breaker.admit(start));
        assert_eq!(breaker.record(false, start), None, "failure {i}");
    }
    assert!(breaker.admit(start));
    assert_eq!(breaker.record(false, start), Some(true));
    assert!(!breaker.admit(start + Duration::from_secs(29)));

    let later = start + Duration::from_secs(30);
    assert!(breaker.admit(later), "the probe");
    assert!(
        !breaker.admit(later),
        "a second probe while the first is out"
    );
    assert_eq!(
        breaker.record(false, later),
        None,
        "a failed probe is not logged again"
    );
    assert!(!breaker.admit(later + Duration::from_secs(29)));

    let again = later + Duration::from_secs(30);
    assert!(breaker.admit(again));
    assert_eq!(breaker.record(true, again), Some(false));
    assert!(breaker.admit(again));
    // Closed again: it takes five new failures to open.
    assert_eq!(breaker.record(false, again), None);
    assert!(breaker.admit(again));
}

/// A probe whose request was dropped unanswered (its login cancelled by the client) records
/// nothing: after another open period a new probe goes out, so the breaker cannot stay open for
/// good.
#[test]
fn a_lost_probe_does_not_keep_the_breaker_open() {
    let start = Instant::now();
    let mut breaker = Breaker::new(Duration::from_secs(30));
    for _ in 0..FAILURES_TO_OPEN {
        assert!(breaker.admit(start));
        breaker.record(false, start);
    }
    let later = start + Duration::from_secs(30);
    assert!(breaker.admit(later), "the probe, then lost");
    assert!(!breaker.admit(later + Duration::from_secs(29)));
    let again = later + Duration::from_secs(30);
    assert!(breaker.admit(again), "a new probe after the lost one");
    assert_eq!(breaker.record(true, again), Some(false));
}

#[test]
fn answers_are_parsed_line_by_line() {
    let suffix = PASSWORD_SUFFIX;
    assert!(body_holds(&format!("{suffix}:3"), suffix));
    assert!(body_holds(
        &format!("{}:3\n", suffix.to_lowercase()),
        suffix
    ));
    assert!(!body_holds(&format!("{suffix}:0"), suffix));
    assert!(!body_holds(&format!("{suffix}:x"), suffix));
    assert!(!body_holds("", suffix));
}

#[test]
fn only_http_and_https_urls_are_accepted() {
    assert!(RangeApi::new("ftp://example.com", Duration::from_secs(1)).is_err());
    assert!(RangeApi::new("not a url", Duration::from_secs(1)).is_err());
}

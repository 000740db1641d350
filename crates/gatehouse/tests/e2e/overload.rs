//! Overload: admission to the password-hash pool (RFC 6749 §5.2 `temporarily_unavailable`,
//! RFC 9110 §10.2.3 `Retry-After`). A burst on an idle server queues and is served; a queue that
//! stands is cut to one place per worker; the excess is shed before the request does any other
//! work, and its 503 is held on a timer before it is sent, except beyond the bound of held
//! answers, which are answered at once with `Connection: close`.

use std::time::{Duration, Instant};

use gatehouse_core::hash_admission::MIN_HOLD;
use reqwest::header::HeaderMap;

use crate::server::{json, TestServer};

/// Argon2 slow enough (OWASP memory, 8 passes: tens of milliseconds) that a burst of requests
/// overlaps on one worker however fast this machine is.
fn slow_hashing_server(extra: &[&str]) -> TestServer {
    TestServer::builder()
        .owasp_hashing()
        .env("GATEHOUSE_ARGON2_ITERATIONS", "8")
        .args(&["--hash-workers", "1", "--hash-queue", "1"])
        .args(extra)
        .spawn()
}

/// A correct login for alice, which must succeed.
async fn login(s: &TestServer) {
    let resp = s
        .password_grant(("app", "app-secret"), "alice", "correct horse", None)
        .await;
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
}

/// One password grant's answer: status, headers, body, latency.
type Answer = (u16, HeaderMap, serde_json::Value, Duration);

/// Where a spawned task sends its grants: the server's HTTP client and token endpoint.
#[derive(Clone)]
struct Endpoint {
    http: reqwest::Client,
    url: String,
}

impl Endpoint {
    fn of(s: &TestServer) -> Self {
        Endpoint {
            http: s.http.clone(),
            url: s.url("/oauth/token"),
        }
    }
}

/// One password grant for alice with `password`.
async fn grant(s: &Endpoint, password: &str) -> Answer {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", password),
    ];
    let started = Instant::now();
    let resp = s
        .http
        .post(&s.url)
        .basic_auth("app", Some("app-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, headers, body) = json(resp).await;
    (status.as_u16(), headers, body, started.elapsed())
}

/// Fires `n` password grants at once; returns each one's answer.
async fn burst(s: &TestServer, n: usize, password: &str) -> Vec<Answer> {
    let grants: Vec<_> = (0..n)
        .map(|_| {
            let (s, password) = (Endpoint::of(s), password.to_owned());
            tokio::spawn(async move { grant(&s, &password).await })
        })
        .collect();
    let mut out = Vec::new();
    for g in grants {
        out.push(g.await.unwrap());
    }
    out
}

/// Whether the answer closes its connection.
fn closes(headers: &HeaderMap) -> bool {
    headers
        .get("connection")
        .is_some_and(|v| v.to_str().unwrap().eq_ignore_ascii_case("close"))
}

/// A shed answer: 503 `temporarily_unavailable` with a description and `Retry-After` ≥ 1.
#[track_caller]
fn assert_shed(answer: &Answer) {
    let (status, headers, body, _) = answer;
    assert_eq!(*status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let retry = headers
        .get("retry-after")
        .expect("a 503 without Retry-After");
    let retry: u64 = retry.to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "Retry-After {retry}");
}

/// A shed answer that was held: not sent before the shortest hold, connection kept.
#[track_caller]
fn assert_held(answer: &Answer) {
    assert_shed(answer);
    let (_, headers, _, elapsed) = answer;
    assert!(!closes(headers), "a held answer closed its connection");
    assert!(
        *elapsed >= MIN_HOLD,
        "a shed answer came back after {elapsed:?}, before the shortest hold {MIN_HOLD:?}"
    );
}

/// With the default admission and real OWASP parameters, 16 logins at once on an idle server
/// (the client's secret verified once before, as any running server has) all succeed: a burst
/// queues instead of being shed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_logins_on_an_idle_server_is_served() {
    let s = TestServer::builder()
        .owasp_hashing()
        .default_admission()
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    login(&s).await;

    for (status, _, body, _) in burst(&s, 16, "correct horse").await {
        assert_eq!(status, 200, "{body}");
        assert!(body["access_token"].is_string(), "{body}");
    }
}

/// With one hash worker and a queue of one, a burst of correct logins gets 200 for the admitted
/// requests and a 503 with `Retry-After` for the rest; nothing else. A shed answer is held on a
/// timer (at least the shortest hold) rather than sent at once, so a client that retries at once
/// comes back at a bounded rate. (Before the hold, a shed answer came back faster than any
/// admitted one; this test asserted that.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_hash_queue_sheds_the_excess_after_a_hold_and_serves_the_rest() {
    let s = slow_hashing_server(&[]);
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    // Client authentication's own secret hash is remembered after the first success; pay it now
    // so the burst measures only the password grant.
    login(&s).await;

    let results = burst(&s, 24, "correct horse").await;
    let (mut ok, mut shed) = (0, 0);
    for answer in &results {
        match answer.0 {
            200 => {
                assert!(answer.2["access_token"].is_string(), "{}", answer.2);
                ok += 1;
            }
            _ => {
                assert_held(answer);
                shed += 1;
            }
        }
    }
    assert!(ok > 0, "no request was admitted");
    assert!(
        shed > 0,
        "24 concurrent logins on 1 worker + 1 queued: none was shed"
    );
    // The queue is empty again: the next login is admitted.
    login(&s).await;
}

/// Under a standing overload the deep burst queue is not kept: once the queue has not been
/// empty for the overload interval, only one request per worker may wait and the rest are shed,
/// held, though the burst queue (the default, 32 per worker) has room for all of them. Six
/// clients log in over and over, retrying a 503 at once, until each has three tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_standing_queue_is_cut_to_one_place_per_worker() {
    let s = TestServer::builder()
        .owasp_hashing()
        .env("GATEHOUSE_ARGON2_ITERATIONS", "8")
        .args(&["--hash-workers", "1", "--hash-queue", "32"])
        .args(&["--hash-overload-interval-ms", "1"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    login(&s).await;

    let clients: Vec<_> = (0..6)
        .map(|_| {
            let s = Endpoint::of(&s);
            tokio::spawn(async move {
                let (mut ok, mut shed) = (0, Vec::new());
                while ok < 3 {
                    let answer = grant(&s, "correct horse").await;
                    match answer.0 {
                        200 => ok += 1,
                        _ => shed.push(answer),
                    }
                    assert!(shed.len() < 500, "a client was shed 500 times");
                }
                shed
            })
        })
        .collect();
    let mut shed = Vec::new();
    for c in clients {
        shed.extend(c.await.unwrap());
    }
    assert!(
        !shed.is_empty(),
        "6 clients on 1 worker with room for 32 to wait: the standing queue was never cut"
    );
    for answer in &shed {
        assert_held(answer);
    }
}

/// At most `--hash-max-held` shed answers are held at once; a request shed beyond them is
/// answered at once, still 503 with `Retry-After`, and its connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_held_bound_a_shed_answer_closes_its_connection() {
    let s = TestServer::builder()
        .owasp_hashing()
        .env("GATEHOUSE_ARGON2_ITERATIONS", "8")
        .args(&["--hash-workers", "1", "--hash-queue", "0"])
        .args(&["--hash-max-held", "2"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    login(&s).await;

    let results = burst(&s, 16, "correct horse").await;
    let mut closed = 0;
    for answer in results.iter().filter(|a| a.0 != 200) {
        assert_shed(answer);
        if closes(&answer.1) {
            closed += 1;
        } else {
            assert_held(answer);
        }
    }
    assert!(
        closed > 0,
        "16 logins on 1 worker, no queue and 2 held answers: none closed its connection"
    );
    login(&s).await;
}

/// A shed request is refused before the account's attempt is counted, so a flood that is shed
/// cannot lock the account out: only the admitted wrong guesses count toward the lockout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shed_requests_do_not_count_toward_the_lockout() {
    let s = slow_hashing_server(&["--brute-force-threshold", "10"]);
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    login(&s).await;

    let results = burst(&s, 40, "wrong").await;
    let admitted = results.iter().filter(|r| r.0 == 400).count();
    let shed = results.iter().filter(|r| r.0 == 503).count();
    assert_eq!(admitted + shed, results.len(), "{results:?}");
    assert!(shed >= 10, "only {shed} of 40 were shed: {results:?}");
    assert!(admitted < 10, "{admitted} wrong guesses were admitted");
    // Had the shed requests counted, the account would be locked and this would be refused.
    login(&s).await;
}

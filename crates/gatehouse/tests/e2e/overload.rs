//! Overload: the bounded queue in front of the password-hash pool sheds the excess at once with
//! 503 `temporarily_unavailable` and `Retry-After` (RFC 6749 §5.2, RFC 9110 §10.2.3), before the
//! request does any other work, while the requests it admits are answered normally.

use std::time::{Duration, Instant};

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

/// Fires `n` password grants at once; returns each one's status, `Retry-After`, body and latency.
async fn burst(
    s: &TestServer,
    n: usize,
    password: &str,
) -> Vec<(u16, Option<String>, serde_json::Value, Duration)> {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", password),
    ];
    let grants: Vec<_> = (0..n)
        .map(|_| {
            let request = s
                .http
                .post(s.url("/oauth/token"))
                .basic_auth("app", Some("app-secret"))
                .form(&form);
            tokio::spawn(async move {
                let started = Instant::now();
                let resp = request.send().await.unwrap();
                let elapsed = started.elapsed();
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let (status, _, body) = json(resp).await;
                (status.as_u16(), retry, body, elapsed)
            })
        })
        .collect();
    let mut out = Vec::new();
    for g in grants {
        out.push(g.await.unwrap());
    }
    out
}

/// With one hash worker and a queue of one, a burst of correct logins gets 200 for the admitted
/// requests and an immediate 503 with `Retry-After` for the rest; nothing else. A shed answer
/// comes back faster than any admitted one, which waits for at least one hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_hash_queue_sheds_the_excess_at_once_and_serves_the_rest() {
    let s = slow_hashing_server(&[]);
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "correct horse", &[]);
    // Client authentication's own secret hash is remembered after the first success; pay it now
    // so the burst measures only the password grant.
    login(&s).await;

    let results = burst(&s, 24, "correct horse").await;
    let (mut ok, mut shed) = (Vec::new(), Vec::new());
    for (status, retry, body, elapsed) in &results {
        match status {
            200 => {
                assert!(body["access_token"].is_string(), "{body}");
                ok.push(*elapsed);
            }
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                assert!(body["error_description"].is_string(), "{body}");
                let retry = retry.as_deref().expect("a 503 without Retry-After");
                assert!(retry.parse::<u64>().unwrap() >= 1, "Retry-After {retry}");
                shed.push(*elapsed);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!ok.is_empty(), "no request was admitted");
    assert!(
        !shed.is_empty(),
        "24 concurrent logins on 1 worker + 1 queued: none was shed"
    );
    let slowest_shed = shed.iter().max().unwrap();
    let fastest_ok = ok.iter().min().unwrap();
    assert!(
        slowest_shed < fastest_ok,
        "a shed answer ({slowest_shed:?}) took longer than an admitted login ({fastest_ok:?})"
    );
    // The queue is empty again: the next login is admitted.
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

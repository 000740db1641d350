//! Per-account brute-force detection over HTTP: lockout after the threshold, the locked answer
//! identical to a wrong password's, release after the wait, success resetting the count, other
//! accounts unaffected, concurrent guesses held to the threshold, `user unlock`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::events::events;
use crate::server::{json, TestServer};

const CLIENT: (&str, &str) = ("app", "app-secret");

fn server(threshold: &str, wait: &str) -> TestServer {
    // These tests fire up to 20 guesses at once to test the lockout, not the shedding of the
    // hash queue (overload.rs): a queue deep enough for all of them.
    let s = TestServer::builder()
        .args(&[
            "--hash-queue",
            "32",
            "--brute-force-threshold",
            threshold,
            "--brute-force-wait",
            wait,
            "--brute-force-max-wait",
            "30",
        ])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "right-password", &[]);
    s.add_user("bob", "bobs-password", &[]);
    s
}

async fn attempt(s: &TestServer, user: &str, password: &str) -> (u16, Value, Vec<String>) {
    let (status, headers, body) = json(s.password_grant(CLIENT, user, password, None).await).await;
    let mut names: Vec<String> = headers
        .iter()
        // Per-response values that say nothing about the account: the date, the length (the
        // bodies are compared whole) and the random request id.
        .filter(|(k, _)| *k != "date" && *k != "content-length" && *k != "x-request-id")
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    names.sort();
    (status.as_u16(), body, names)
}

/// Keycloak-style lockout: the threshold-th failure locks; while locked the right password gets
/// exactly the wrong password's answer; other accounts are unaffected; the lock lifts.
#[tokio::test]
async fn an_account_locks_after_the_threshold_and_unlocks_after_the_wait() {
    let s = server("3", "2");
    let wrong = attempt(&s, "alice", "wrong").await;
    assert_eq!(wrong.0, 400);
    assert_eq!(wrong.1["error"], "invalid_grant");
    attempt(&s, "alice", "wrong").await;
    attempt(&s, "alice", "wrong").await;
    let locked_at = Instant::now();
    let locked = attempt(&s, "alice", "right-password").await;
    assert_eq!(
        locked, wrong,
        "a locked account answers like a wrong password"
    );
    assert_eq!(attempt(&s, "bob", "bobs-password").await.0, 200);
    // Released after the wait: poll, never sleep a fixed time.
    loop {
        let (status, ..) = attempt(&s, "alice", "right-password").await;
        if status == 200 {
            break;
        }
        assert!(
            locked_at.elapsed() < Duration::from_secs(10),
            "never unlocked"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = events(&s, &["--user", "alice"]);
    let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"lockout"), "{kinds:?}");
    assert!(all.iter().any(|e| e["detail"]["reason"] == "locked"));
    assert!(all
        .iter()
        .all(|e| e["ip"] == "127.0.0.1" || e["kind"] == "admin_change"));
}

/// A success resets the count: failures before it do not add up with failures after it.
#[tokio::test]
async fn a_success_resets_the_count() {
    let s = server("3", "30");
    for _ in 0..2 {
        attempt(&s, "alice", "wrong").await;
    }
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 200);
    for _ in 0..2 {
        attempt(&s, "alice", "wrong").await;
    }
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 200);
}

/// Concurrent guesses cannot overrun the limit: of 20 at once with threshold 5, at most 5 reach
/// the real hash (counted as `bad_credentials` failures); the rest are refused as locked.
#[tokio::test]
async fn concurrent_guesses_get_at_most_threshold_verifications() {
    let s = server("5", "30");
    let guesses = (0..20).map(|i| {
        let s = &s;
        async move { attempt(s, "alice", &format!("guess-{i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    assert!(answers.iter().all(|a| a.0 == 400));
    let all = events(&s, &["--user", "alice"]);
    let verified = all
        .iter()
        .filter(|e| e["detail"]["reason"] == "bad_credentials")
        .count();
    let locked = all
        .iter()
        .filter(|e| e["detail"]["reason"] == "locked")
        .count();
    assert_eq!(verified, 5, "{all:?}");
    assert_eq!(locked, 15);
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 400);
}

/// `gatehouse user unlock` lifts the lock at once and records an unlock event.
#[tokio::test]
async fn user_unlock_lifts_the_lock() {
    let s = server("2", "30");
    attempt(&s, "alice", "wrong").await;
    attempt(&s, "alice", "wrong").await;
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 400);
    let out = s.cli(&["user", "unlock", "alice"], None);
    assert!(out.status.success());
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 200);
    assert!(events(&s, &["--user", "alice"])
        .iter()
        .any(|e| e["kind"] == "unlock"));
}

/// Issue 15 finding 8: client secrets are not locked like accounts (anyone who knows a client_id
/// could lock the application out); wrong secrets count on the guessing address's throttle
/// instead (`client_auth.rs`). Past the threshold, the right secret still works.
#[tokio::test]
async fn a_client_secret_is_never_locked() {
    let s = server("3", "30");
    let bad = ("app", "nope");
    for _ in 0..5 {
        let (status, ..) = json(s.password_grant(bad, "alice", "right-password", None).await).await;
        assert_eq!(status.as_u16(), 401);
    }
    let (status, _, body) = json(
        s.password_grant(CLIENT, "alice", "right-password", None)
            .await,
    )
    .await;
    assert_eq!(status.as_u16(), 200, "{body}");
}

/// `--brute-force off` turns the lockout off.
#[tokio::test]
async fn brute_force_off_never_locks() {
    let s = TestServer::builder()
        .args(&["--brute-force", "off", "--brute-force-threshold", "2"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "right-password", &[]);
    for _ in 0..4 {
        attempt(&s, "alice", "wrong").await;
    }
    assert_eq!(attempt(&s, "alice", "right-password").await.0, 200);
}

/// The admin API unlocks an account (`POST /User/{id}/unlock`) and shows the audit trail
/// (`GET /Event`): the lockout, the unlock, and no secret anywhere in it.
#[tokio::test]
async fn the_admin_api_unlocks_and_lists_events() {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", crate::admin::TOKEN)
        .args(&["--brute-force-threshold", "2", "--brute-force-wait", "600"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "right-password", &[]);
    attempt(&s, "alice", "wrong").await;
    attempt(&s, "alice", "wrong").await;
    assert_eq!(
        attempt(&s, "alice", "right-password").await.0,
        400,
        "locked"
    );

    let admin = |req: reqwest::RequestBuilder| req.bearer_auth(crate::admin::TOKEN).send();
    let resp = admin(s.http.post(s.url("/User/alice/unlock")))
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unlocked"], true);
    assert_eq!(
        attempt(&s, "alice", "right-password").await.0,
        200,
        "unlocked"
    );

    let resp = admin(s.http.get(s.url("/Event?user=alice&limit=50")))
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resourceType"], "Bundle");
    let kinds: Vec<&str> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["kind"].as_str().unwrap())
        .collect();
    for kind in ["lockout", "unlock", "login_success", "login_failure"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let text = body.to_string();
    assert!(!text.contains("right-password") && !text.contains("app-secret"));

    let resp = admin(s.http.get(s.url("/Event?limit=zero"))).await.unwrap();
    let (status, _, body) = json(resp).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let resp = s.http.get(s.url("/Event")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

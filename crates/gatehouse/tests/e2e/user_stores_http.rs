//! Users who live elsewhere (issue 22) over the real binary, HTTP part: an HTTP credential
//! check served by the test (bearer secret, `valid`, attributes), outages failing closed with
//! `temporarily_unavailable`, lazy migration, MFA and sessions of a user made from a store, and
//! the time an unknown user costs beside a wrong password.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

use crate::events::events;
use crate::server::{json, TestServer};
use crate::user_stores::{assert_refused, listed, login, server, CLIENT};

const HTTP_SECRET: &str = "store-secret-123";

/// An HTTP credential check served by this test: `POST {username, password}` with the bearer
/// secret, answering per `mode` after `delay_ms`.
#[derive(Clone, Default)]
struct HttpStore {
    mode: Arc<Mutex<&'static str>>,
    delay_ms: Arc<AtomicU64>,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

impl HttpStore {
    async fn start() -> (HttpStore, String, tokio::task::JoinHandle<()>) {
        let store = HttpStore::default();
        *store.mode.lock().unwrap() = "up";
        let app = Router::new()
            .route("/check", post(check))
            .with_state(store.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/check", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (store, url, task)
    }

    fn set(&self, mode: &'static str) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn check(
    State(store): State<HttpStore>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let delay = store.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    store
        .seen
        .lock()
        .unwrap()
        .push((auth.clone(), body.clone()));
    let mode = *store.mode.lock().unwrap();
    match mode {
        "fail" => return (StatusCode::INTERNAL_SERVER_ERROR, "it broke".into()),
        "garbage" => return (StatusCode::OK, "<html>".into()),
        _ => {}
    }
    if auth != format!("Bearer {HTTP_SECRET}") {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let (user, password) = (body["username"].as_str(), body["password"].as_str());
    let valid = matches!(
        (user, password),
        (Some("erin"), Some("erin-pass-1")) | (Some("gina"), Some("gina-pass-1"))
    );
    let answer = json!({
        "valid": valid,
        "attributes": { "email": format!("{}@legacy.example", user.unwrap_or("")), "roles": ["staff"] },
    });
    (StatusCode::OK, answer.to_string())
}

fn http_store(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[[user_store]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\n\
         secret = \"{HTTP_SECRET}\"\nallow_insecure = true\ntimeout_ms = 2000\n{extra}\n"
    )
}

/// The HTTP check gets the username and password as JSON with the bearer secret; `valid`
/// decides, the attributes are copied; a 500 or a body that is not the JSON is an outage
/// (503 `temporarily_unavailable`, never `invalid_grant`), and the store coming back ends it.
#[tokio::test]
async fn http_store_checks_with_a_bearer_secret_and_fails_closed() {
    let (store, url, _task) = HttpStore::start().await;
    let (s, _dir) = server(&http_store("legacy", &url, "migrate = false"), &[]);

    let (status, body) = login(&s, "erin", "erin-pass-1").await;
    assert_eq!(status, 200, "{body}");
    {
        let seen = store.seen.lock().unwrap();
        let (auth, sent) = seen.last().unwrap();
        assert_eq!(auth, &format!("Bearer {HTTP_SECRET}"));
        assert_eq!(
            sent,
            &json!({"username": "erin", "password": "erin-pass-1"})
        );
    }
    let users = listed(&s, "legacy");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "erin@legacy.example");
    assert_eq!(users[0]["password_checked_by"], "legacy");
    let (status, body) = login(&s, "erin", "wrong").await;
    assert_refused(status, &body, "invalid_grant");
    let (status, body) = login(&s, "nobody", "wrong").await;
    assert_refused(status, &body, "invalid_grant");

    for mode in ["fail", "garbage"] {
        store.set(mode);
        let (status, body) = login(&s, "erin", "erin-pass-1").await;
        assert_eq!(status, 503, "{mode}: {body}");
        assert_refused(status, &body, "temporarily_unavailable");
    }
    store.set("up");
    let (status, body) = login(&s, "erin", "erin-pass-1").await;
    assert_eq!(status, 200, "{body}");
    // The password is in no event and no log line.
    let all = events(&s, &[]);
    assert!(!serde_json::to_string(&all).unwrap().contains("erin-pass-1"));
}

/// `migrate = true` through the HTTP check: once migrated, the store is never asked again.
#[tokio::test]
async fn http_store_migrates_the_password_at_the_first_login() {
    let (store, url, task) = HttpStore::start().await;
    let (s, _dir) = server(&http_store("legacy", &url, "migrate = true"), &[]);
    let (status, body) = login(&s, "gina", "gina-pass-1").await;
    assert_eq!(status, 200, "{body}");
    store.set("fail");
    task.abort();
    let asked = store.seen.lock().unwrap().len();
    let (status, body) = login(&s, "gina", "gina-pass-1").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = login(&s, "gina", "wrong").await;
    assert_refused(status, &body, "invalid_grant");
    assert_eq!(
        store.seen.lock().unwrap().len(),
        asked,
        "the store was asked again"
    );
    let users = listed(&s, "legacy");
    assert_eq!(users[0]["password_checked_by"], "local");
}

/// With a slow store configured, a wrong password of a local user is held as long as an
/// unknown user (which asks the store): medians over interleaved tries, a generous bound.
#[tokio::test]
async fn an_unknown_user_costs_what_a_wrong_password_costs() {
    let (store, url, _task) = HttpStore::start().await;
    store.delay_ms.store(150, Ordering::SeqCst);
    let (s, _dir) = server(&http_store("legacy", &url, ""), &[]);
    s.add_user("frank", "frank-pass-1", &[]);
    for i in 0..3 {
        login(&s, &format!("warm{i}"), "x").await;
    }
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let t = Instant::now();
        let (status, _) = login(&s, &format!("ghost{i}"), "guess").await;
        unknown.push(t.elapsed());
        assert_eq!(status, 400);
        let t = Instant::now();
        let (status, _) = login(&s, "frank", "guess").await;
        wrong.push(t.elapsed());
        assert_eq!(status, 400);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (u, w) = (median(&mut unknown), median(&mut wrong));
    eprintln!("median unknown user {u:?}, wrong password {w:?}");
    assert!(
        u >= Duration::from_millis(150),
        "the store was asked: {u:?}"
    );
    assert!(
        w.as_secs_f64() >= u.as_secs_f64() * 0.7,
        "not equalised: {u:?} vs {w:?}"
    );
    assert!(
        w.as_secs_f64() <= u.as_secs_f64() * 1.5 + 0.05,
        "held too long: {u:?} vs {w:?}"
    );
}

/// A user from a store is an ordinary user once made: a client that requires MFA challenges
/// the first external login, the user enrols TOTP and completes it, later logins need the
/// code, and the login is a session the CLI lists.
#[tokio::test]
async fn mfa_and_sessions_work_for_users_from_a_store() {
    use crate::mfa::{associate, otp_grant, Totp, MFA_OTP};
    let (_store, url, _task) = HttpStore::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gatehouse.toml");
    std::fs::write(&path, http_store("legacy", &url, "migrate = false")).unwrap();
    let s = TestServer::builder()
        .env("GATEHOUSE_CONFIG", path.to_str().unwrap())
        .spawn();
    s.add_refreshing_client(CLIENT.0, CLIENT.1, &["--mfa", "required"]);

    let (status, body) = login(&s, "erin", "erin-pass-1").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("mfa_required")),
        "{body}"
    );
    let token = body["mfa_token"].as_str().unwrap().to_owned();
    let (status, e) = associate(&s, &token).await;
    assert_eq!(status, 200, "{e}");
    let mut totp = Totp::new(e["secret"].as_str().unwrap());
    let (status, tokens) = otp_grant(&s, "/oauth/token", CLIENT, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["refresh_token"].is_string());

    let (status, body) = login(&s, "erin", "erin-pass-1").await;
    assert_eq!(status, 403, "the factor is asked again: {body}");
    let token = body["mfa_token"].as_str().unwrap();
    let form = [
        ("grant_type", MFA_OTP),
        ("mfa_token", token),
        ("otp", &totp.next().await),
    ];
    let (status, _, tokens) = json(s.post_form("/oauth/token", Some(CLIENT), &form).await).await;
    assert_eq!(status.as_u16(), 200, "{tokens}");
    let sessions = s.cli_ok(&["session", "list", "--user", "erin"], None);
    assert_eq!(sessions.as_array().map(Vec::len), Some(2), "{sessions}");
}

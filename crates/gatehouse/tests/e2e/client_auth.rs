//! Client authentication under attack (RFC 6749 §2.3, RFC 7523 §2.2), over real HTTP: failed
//! secrets and assertions count on the guessing address's throttle and never lock the client out
//! (HS256 clients included); the limit holds against concurrent guesses; `auth0-forwarded-for`
//! is honoured only when the request proved the client; every failure leaves a
//! `client_auth_failure` event with its reason, aggregated so that a flood writes a handful.

use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::admin::{put_json, TOKEN};
use crate::events::events;
use crate::keys::{claims, ClientKey};
use crate::server::{json, TestServer};

/// A password request to `/oauth/token` for alice with her password, unless `form` says
/// otherwise: Basic credentials if given, more form fields and headers.
async fn token(
    s: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> (u16, HeaderMap, Value) {
    let base = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "right-password"),
    ];
    let mut fields: Vec<(&str, &str)> = base
        .into_iter()
        .filter(|(k, _)| form.iter().all(|(f, _)| f != k))
        .collect();
    fields.extend_from_slice(form);
    let mut req = s.http.post(s.url("/oauth/token")).form(&fields);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, headers, body) = json(req.send().await.unwrap()).await;
    (status.as_u16(), headers, body)
}

/// A server behind a trusted proxy (127.0.0.1), so that each request names its address with
/// `X-Forwarded-For`; an address may fail 5 times.
fn proxied_server() -> TestServer {
    let s = TestServer::builder()
        .args(&[
            "--ip-failure-limit",
            "5",
            "--trusted-proxies",
            "127.0.0.1/32",
        ])
        .spawn();
    s.add_user("alice", "right-password", &[]);
    s
}

/// 40 wrong secrets for `client` sent at once from one address: exactly the limit (5) are
/// checked (401), the other 35 get 429 with `Retry-After` before any check; the client's right
/// secret then works from another address, again and again, while the guessing address stays
/// throttled whatever it presents.
async fn guessing_throttles_the_address_not_the_client(s: &TestServer, client: (&str, &str)) {
    let guesser = [("x-forwarded-for", "203.0.113.9")];
    let guesses = (0..40).map(|i| {
        let wrong = format!("guess-{i}");
        async move { token(s, Some((client.0, &wrong)), &[], &guesser).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let refused = answers.iter().filter(|a| a.0 == 401).count();
    let throttled: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!(refused, 5, "{answers:?}");
    assert_eq!(throttled.len(), 35, "{answers:?}");
    for (_, headers, body) in &throttled {
        assert_eq!(body["error"], "too_many_attempts");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0, "{retry}");
        let description = body["error_description"].as_str().unwrap();
        assert!(description
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
    }
    let owner = [("x-forwarded-for", "198.51.100.7")];
    for _ in 0..3 {
        let (status, _, body) = token(s, Some(client), &[], &owner).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, ..) = token(s, Some(client), &[], &guesser).await;
    assert_eq!(
        status, 429,
        "a throttled address is refused whatever it presents"
    );
}

/// Issue 15 finding 8: anyone who knew a client_id could lock the client out with 30 wrong
/// secrets. Failures now count on the guessing address only.
#[tokio::test]
async fn concurrent_wrong_secrets_throttle_the_address_not_the_client() {
    let s = proxied_server();
    s.add_client("app", &["--secret", "app-secret"]);
    guessing_throttles_the_address_not_the_client(&s, ("app", "app-secret")).await;
}

/// Issue 15 finding 8, for a client whose tokens are HS256 keyed by its (sealed) secret: it
/// reserved an attempt on every request, so guesses locked it out too.
#[tokio::test]
async fn an_hs256_client_is_throttled_by_address_not_locked() {
    let s = proxied_server();
    let args = ["--secret", "connect-secret", "--access-token-alg", "HS256"];
    s.add_client("connect", &args);
    guessing_throttles_the_address_not_the_client(&s, ("connect", "connect-secret")).await;
}

/// Unknown client ids count on the address too: a guesser enumerating ids gets 429.
#[tokio::test]
async fn guessing_client_ids_throttles_the_address() {
    let s = proxied_server();
    let from = [("x-forwarded-for", "203.0.113.20")];
    for i in 0..5 {
        let id = format!("guess-{i}");
        let (status, ..) = token(&s, Some((&id, "x")), &[], &from).await;
        assert_eq!(status, 401);
    }
    let (status, _, body) = token(&s, None, &[("client_id", "guess-5")], &from).await;
    assert_eq!(status, 429, "{body}");
}

/// Issue 15 finding 4: `auth0-forwarded-for` is honoured only for a request that proved the
/// client. With the secret, the vouched-for address is throttled (and another one is not);
/// with the bare client_id of a client whose secret is not required, a new vouched-for address
/// per guess no longer escapes the throttle: the real peer is throttled.
#[tokio::test]
async fn auth0_forwarded_for_needs_the_secret_in_this_request() {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .args(&["--ip-failure-limit", "3"])
        .spawn();
    s.add_user("alice", "right-password", &[]);
    let body = json!({"secret": "backend-secret", "grant_types": ["password"],
        "auth": {"password": {"secret_required": false, "trust_forwarded_for": true}}});
    let (status, body) = put_json(&s, "/Client/backend", &body).await;
    assert_eq!(status.as_u16(), 201, "{body}");
    let backend = Some(("backend", "backend-secret"));
    let wrong = [("password", "wrong")];

    let vouched = |ip: &'static str| [("auth0-forwarded-for", ip)];
    for _ in 0..3 {
        let (status, ..) = token(&s, backend, &wrong, &vouched("192.0.2.50")).await;
        assert_eq!(status, 400);
    }
    let (status, ..) = token(&s, backend, &[], &vouched("192.0.2.50")).await;
    assert_eq!(status, 429, "the vouched-for address is throttled");
    let (status, ..) = token(&s, backend, &[], &vouched("192.0.2.51")).await;
    assert_eq!(status, 200, "another end user of the backend is not");

    let bare = [("client_id", "backend"), ("password", "wrong")];
    for i in 0..3 {
        let ip = format!("192.0.2.{}", 100 + i);
        let (status, _, body) = token(&s, None, &bare, &[("auth0-forwarded-for", &ip)]).await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _, body) = token(&s, None, &bare, &[("auth0-forwarded-for", "192.0.2.200")]).await;
    assert_eq!(status, 429, "the peer is throttled: {body}");
    let failures: Vec<Value> = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "login_failure" && e["detail"]["reason"] == "bad_credentials")
        .collect();
    let from_peer = failures.iter().filter(|e| e["ip"] == "127.0.0.1").count();
    assert_eq!(from_peer, 3, "{failures:?}");
}

/// A server with a secret client `app` and an assertion client `oracle-app` (Ed25519 key).
fn event_server(key: &ClientKey, extra: &[&str]) -> TestServer {
    let s = TestServer::builder().args(extra).spawn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, key.jwks().to_string()).unwrap();
    let jwks = ["--jwks-file", path.to_str().unwrap()];
    s.add_client("oracle-app", &jwks);
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "right-password", &[]);
    s
}

/// The status of a password request authenticated by `assertion`.
async fn with_assertion(s: &TestServer, assertion: &str) -> u16 {
    let form = [
        (
            "client_assertion_type",
            gatehouse_core::client_assertion::JWT_BEARER,
        ),
        ("client_assertion", assertion),
    ];
    token(s, None, &form, &[]).await.0
}

/// The `client_auth_failure` events, newest first.
fn failures(s: &TestServer) -> Vec<Value> {
    events(s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "client_auth_failure")
        .collect()
}

/// Issue 15 finding 10: a wrong secret, an expired assertion, a replayed one and an unknown
/// client each leave one event naming the reason, the client and the address; the answer to
/// the client is unchanged (401 invalid_client).
#[tokio::test]
async fn each_failed_client_authentication_leaves_an_event_with_its_reason() {
    let key = ClientKey::ed25519("k1");
    let s = event_server(&key, &[]);
    let (status, ..) = token(&s, Some(("app", "wrong")), &[], &[]).await;
    assert_eq!(status, 401);
    let expired = key.sign(&claims("oracle-app", &s.base, -120));
    assert_eq!(with_assertion(&s, &expired).await, 401);
    let fresh = key.sign(&claims("oracle-app", &s.base, 60));
    assert_eq!(with_assertion(&s, &fresh).await, 200);
    assert_eq!(with_assertion(&s, &fresh).await, 401);
    let long_id = "x".repeat(200);
    assert_eq!(token(&s, Some((&long_id, "s")), &[], &[]).await.0, 401);

    let all = failures(&s);
    let reason =
        |r: &str| -> Vec<&Value> { all.iter().filter(|e| e["detail"]["reason"] == r).collect() };
    let wrong = reason("wrong_secret");
    assert_eq!(wrong.len(), 1, "{all:?}");
    assert_eq!(wrong[0]["client_id"], "app");
    assert_eq!(wrong[0]["ip"], "127.0.0.1");
    assert!(wrong[0]["request_id"].is_string());
    for (r, id) in [
        ("assertion_expired", "oracle-app"),
        ("assertion_replayed", "oracle-app"),
    ] {
        let found = reason(r);
        assert_eq!(found.len(), 1, "{r}: {all:?}");
        assert_eq!(found[0]["client_id"], id);
    }
    let unknown = reason("unknown_client");
    assert_eq!(unknown.len(), 1, "{all:?}");
    assert_eq!(
        unknown[0]["client_id"],
        "x".repeat(128),
        "capped to 128 characters"
    );
    assert_eq!(all.len(), 4, "{all:?}");
}

/// Issue 15 finding 10, bounded as finding 2: 200 wrong secrets from one address (throttle off,
/// so every one is checked) write one event, not 200; the throttled ones (429) write none.
#[tokio::test]
async fn a_flood_of_wrong_secrets_writes_a_handful_of_events() {
    let key = ClientKey::ed25519("k1");
    let s = event_server(&key, &["--ip-failure-limit", "0"]);
    let before = events(&s, &[]).len();
    for round in 0..10 {
        let guesses = (0..20).map(|i| {
            let wrong = format!("guess-{round}-{i}");
            let s = &s;
            async move { token(s, Some(("app", &wrong)), &[], &[]).await.0 }
        });
        let statuses = futures::future::join_all(guesses).await;
        assert!(statuses.iter().all(|&st| st == 401), "{statuses:?}");
    }
    let all = failures(&s);
    assert!(
        !all.is_empty() && all.len() <= 3,
        "{} events: {all:?}",
        all.len()
    );
    assert_eq!(events(&s, &[]).len() - before, all.len(), "no other rows");

    let limited = event_server(&key, &["--ip-failure-limit", "20"]);
    let mut throttled = 0;
    for i in 0..200 {
        let wrong = format!("guess-{i}");
        let (status, ..) = token(&limited, Some(("app", &wrong)), &[], &[]).await;
        throttled += usize::from(status == 429);
    }
    assert_eq!(throttled, 180);
    let all = failures(&limited);
    assert_eq!(all.len(), 1, "{all:?}");
}

//! Webhooks over real HTTP (issue 21): audit events delivered to a receiver that verifies each
//! with the Standard Webhooks reference library; retries with the same `webhook-id`; endpoints
//! disabled after failing too long or on 410; the delivery log and replay; the admin API's
//! `/Webhook` and the CLI; the address policy (no loopback, private or link-local targets by
//! default); a slow receiver never holding up a login; two instances on one database sending
//! each event once, and at least once across a receiver outage and a `kill -9`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::admin::TOKEN;
use crate::database::TestDatabase;
use crate::server::{assert_status, json as read_json, TestServer};
use crate::webhook_receiver::{Received, Receiver};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const APP: (&str, &str) = ("app", "app-secret");
const WAIT: Duration = Duration::from_secs(20);

/// A server that may send to loopback receivers, polls the outbox often and retries quickly.
fn server(extra_env: &[(&str, &str)]) -> TestServer {
    let mut b = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .env("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "on")
        .env("GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS", "50")
        .env("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE", "300ms,300ms,300ms");
    for (k, v) in extra_env {
        b = b.env(k, v);
    }
    let s = b.spawn();
    s.add_client(APP.0, &["--secret", APP.1]);
    s.add_user("ivy@example.com", "ivy-password", &[]);
    s
}

fn add_webhook(s: &TestServer, url: &str, events: &str) -> String {
    let out = s.cli_ok(
        &[
            "webhook", "add", url, "--events", events, "--secret", SECRET,
        ],
        None,
    );
    assert_eq!(out["secret"], SECRET);
    out["id"].as_str().unwrap().to_owned()
}

async fn failed_login(s: &TestServer) {
    let resp = s
        .password_grant(APP, "ivy@example.com", "wrong-password", None)
        .await;
    let (status, _, body) = read_json(resp).await;
    assert_status(status, &body, 400);
    assert_eq!(body["error"], "invalid_grant");
}

/// `gatehouse events` output (JSON lines), as text.
fn events_text(s: &TestServer) -> String {
    let out = s.cli(&["events", "--limit", "100"], None);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn of_type<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.body["type"] == kind).collect()
}

/// A failed login reaches the receiver as a `login_failure` message that the reference library
/// verifies, whose `webhook-id` is `msg_` and the stored event's id; a success, not in the
/// filter, is not sent.
#[tokio::test]
async fn events_are_delivered_signed_as_the_standard_says() {
    let receiver = Receiver::start(Some(SECRET)).await;
    let s = server(&[]);
    let id = add_webhook(&s, &receiver.url(), "login_failure,lockout");
    failed_login(&s).await;
    s.login(APP, "ivy@example.com", "ivy-password", None).await;
    let got = receiver
        .wait_for(WAIT, "a login_failure", |g| {
            !of_type(g, "login_failure").is_empty()
        })
        .await;
    let delivery = of_type(&got, "login_failure")[0].clone();
    assert!(
        delivery.verified,
        "the reference library refused: {delivery:?}"
    );
    let data = &delivery.body["data"];
    assert_eq!(data["user"], "ivy@example.com");
    assert_eq!(data["client_id"], "app");
    assert_eq!(data["detail"]["reason"], "bad_credentials");
    let event_id = data["id"].as_str().unwrap();
    assert_eq!(delivery.id, format!("msg_{event_id}"));
    assert!(
        events_text(&s).contains(event_id),
        "the event {event_id} is stored"
    );
    // Nothing but the filtered kinds, even after the success's event was written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(of_type(&receiver.received(), "login_success").is_empty());
    // The delivery log says it was delivered, once.
    wait_for_status(&s, &id, "delivered").await;
    let log = s.cli_ok(&["webhook", "deliveries", &id], None);
    let entries = log["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    let d = &entries[0]["resource"];
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 200);
    assert_eq!(d["webhook-id"], delivery.id);
}

/// A receiver that fails twice gets the same message three times, with the same `webhook-id`,
/// each attempt signed again (the library verifies every one), spaced by the schedule; the log
/// shows three attempts and the success.
#[tokio::test]
async fn failed_deliveries_are_retried_with_the_same_webhook_id() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.script(&[500, 503]);
    let s = server(&[]);
    let id = add_webhook(&s, &receiver.url(), "login_failure");
    failed_login(&s).await;
    let got = receiver
        .wait_for(WAIT, "three attempts", |g| g.len() >= 3)
        .await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|r| r.verified && r.id == got[0].id),
        "{got:?}"
    );
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 503, 200]
    );
    for pair in got.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(290), "retried after {gap:?}");
        // Each attempt is stamped (and signed) when it is made.
        assert!(pair[1].timestamp >= pair[0].timestamp);
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), 3, "nothing after the success");
    let d = &wait_for_status(&s, &id, "delivered").await;
    assert_eq!(d["attempts"], 3);
}

/// An endpoint failing (no success) for longer than `--webhook-disable-after` is disabled and
/// a `webhook_disabled` event says so (delivered to another endpoint that asked for it); while
/// disabled nothing is sent nor queued for it; enabled again, its pending delivery resumes with
/// the same `webhook-id`, and `replay --all` sends it once more.
#[tokio::test]
async fn an_endpoint_failing_too_long_is_disabled_and_resumes_when_enabled() {
    let broken = Receiver::start(Some(SECRET)).await;
    broken.answer(500);
    let watcher = Receiver::start(Some(SECRET)).await;
    // Nine attempts over about 1.8 s: the endpoint has failed for a second well before the
    // last, so the delivery is still pending when the endpoint is disabled.
    let s = server(&[
        ("GATEHOUSE_WEBHOOK_DISABLE_AFTER", "1"),
        (
            "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE",
            "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
        ),
    ]);
    let id = add_webhook(&s, &broken.url(), "login_failure");
    add_webhook(&s, &watcher.url(), "webhook_disabled");
    failed_login(&s).await;
    let got = watcher
        .wait_for(WAIT, "a webhook_disabled message", |g| {
            !of_type(g, "webhook_disabled").is_empty()
        })
        .await;
    let disabled = of_type(&got, "webhook_disabled")[0];
    assert!(disabled.verified);
    assert_eq!(disabled.body["data"]["detail"]["webhook_id"], id.as_str());
    assert_eq!(disabled.body["data"]["detail"]["reason"], "failing");
    let shown = s.cli_ok(&["webhook", "show", &id], None);
    assert_eq!(shown["enabled"], false);
    assert_eq!(shown["disabled_reason"], "failing");
    assert!(shown["failing_since"].is_string());
    let log = s.cli_ok(&["webhook", "deliveries", &id], None);
    let pending = &log["entry"][0]["resource"];
    assert_eq!(pending["status"], "pending", "{log}");
    let attempts = pending["attempts"].as_i64().unwrap();
    assert!((5..9).contains(&attempts), "{log}");
    assert_eq!(pending["last_status"], 500);

    // A disabled endpoint gets nothing: no attempt, and no delivery queued for new events.
    let sent = broken.received().len();
    failed_login(&s).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        broken.received().len(),
        sent,
        "a disabled endpoint gets nothing"
    );
    assert_eq!(
        s.cli_ok(&["webhook", "deliveries", &id], None)["total"],
        1,
        "nothing queued while disabled"
    );
    let failing_id = broken.received()[0].id.clone();

    // Back in service: the pending delivery resumes, with its webhook-id.
    broken.answer(200);
    let enabled = s.cli_ok(&["webhook", "update", &id, "--enabled", "true"], None);
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    assert_eq!(enabled["failing_since"], Value::Null);
    let got = broken
        .wait_for(WAIT, "the resumed delivery", |g| {
            g.iter().any(|r| r.answered == 200)
        })
        .await;
    let ok: Vec<&Received> = got.iter().filter(|r| r.answered == 200).collect();
    assert!(ok[0].verified);
    assert_eq!(ok[0].id, failing_id, "the same message, resumed");
    let d = wait_for_status(&s, &id, "delivered").await;
    assert_eq!(d["attempts"].as_i64().unwrap(), attempts + 1);
    let replayed = s.cli_ok(&["webhook", "replay", &id, "--all"], None);
    assert_eq!(replayed["replayed"], 1);
    broken
        .wait_for(WAIT, "the replay", |g| {
            g.iter()
                .filter(|r| r.answered == 200 && r.id == failing_id)
                .count()
                == 2
        })
        .await;
}

/// A delivery whose every attempt failed is `failed`, with the last status and error, and the
/// endpoint stays enabled (it has not failed for long); `replay --failed` sends it again with
/// its original `webhook-id`.
#[tokio::test]
async fn a_failed_delivery_is_replayed_with_its_webhook_id() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.script(&[502]);
    let s = server(&[("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE", "")]);
    let id = add_webhook(&s, &receiver.url(), "login_failure");
    failed_login(&s).await;
    let d = wait_for_status(&s, &id, "failed").await;
    assert_eq!(
        (d["attempts"].as_i64(), d["last_status"].as_i64()),
        (Some(1), Some(502))
    );
    assert_eq!(d["last_error"], "the receiver answered 502");
    assert_eq!(s.cli_ok(&["webhook", "show", &id], None)["enabled"], true);
    let replayed = s.cli_ok(&["webhook", "replay", &id, "--failed"], None);
    assert_eq!(replayed["replayed"], 1);
    let got = receiver
        .wait_for(WAIT, "the replay", |g| g.len() == 2)
        .await;
    assert_eq!(got[1].id, got[0].id);
    assert_eq!(got[1].answered, 200);
    assert!(got[1].verified);
    wait_for_status(&s, &id, "delivered").await;
    // Nothing failed is left to replay.
    let again = s.cli_ok(&["webhook", "replay", &id, "--failed"], None);
    assert_eq!(again["replayed"], 0);
}

/// The newest delivery of endpoint `id` once its status is `status`.
async fn wait_for_status(s: &TestServer, id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = s.cli_ok(&["webhook", "deliveries", id], None);
        let d = log["entry"][0]["resource"].clone();
        if d["status"] == status {
            return d;
        }
        assert!(Instant::now() < deadline, "no {status} delivery: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 410 Gone disables the endpoint at once (the receiver says it wants no more).
#[tokio::test]
async fn gone_disables_at_once() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.answer(410);
    let s = server(&[]);
    let id = add_webhook(&s, &receiver.url(), "login_failure");
    failed_login(&s).await;
    receiver
        .wait_for(WAIT, "one attempt", |g| !g.is_empty())
        .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let shown = s.cli_ok(&["webhook", "show", &id], None);
        if shown["enabled"] == false {
            assert_eq!(shown["disabled_reason"], "gone");
            break;
        }
        assert!(Instant::now() < deadline, "not disabled: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let events = events_text(&s);
    assert!(events.contains("webhook_disabled"), "{events}");
}

/// A receiver that holds its request does not hold up logins: while it sits on a delivery,
/// logins keep answering, and their events queue in the outbox.
#[tokio::test]
async fn a_slow_receiver_never_holds_up_a_login() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.hold(true);
    let s = server(&[]);
    add_webhook(&s, &receiver.url(), "*");
    failed_login(&s).await;
    receiver
        .wait_for(WAIT, "the held delivery", |g| !g.is_empty())
        .await;
    for _ in 0..5 {
        s.login(APP, "ivy@example.com", "ivy-password", None).await;
        failed_login(&s).await;
    }
    receiver.hold(false);
    receiver
        .wait_for(WAIT, "every event", |g| {
            of_type(g, "login_success").len() >= 5 && of_type(g, "login_failure").len() >= 6
        })
        .await;
}

/// The admin API: add (the secret shown once, never again), read, list, change, the delivery
/// log, a test send, replay and removal; bad bodies are 422s naming the field; the admin
/// token is required.
#[tokio::test]
async fn the_admin_api_manages_endpoints() {
    let receiver = Receiver::start(None).await;
    let s = server(&[]);
    assert!(!outbox_trigger_on(&s).await, "off while nobody listens");
    let (status, made) = admin(
        &s,
        reqwest::Method::POST,
        "/Webhook",
        Some(json!({
            "url": receiver.url(),
            "events": ["login_failure", "lockout"],
            "description": "security alerts",
        })),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert!(outbox_trigger_on(&s).await, "on with an enabled endpoint");
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(&secret);
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("wh_"));
    let (_, read) = admin(&s, reqwest::Method::GET, &format!("/Webhook/{id}"), None).await;
    assert_eq!(read["events"], json!(["login_failure", "lockout"]));
    assert_eq!(read["description"], "security alerts");
    assert!(read.get("secret").is_none() && !read.to_string().contains(&secret));
    let (_, list) = admin(&s, reqwest::Method::GET, "/Webhook", None).await;
    assert_eq!(list["total"], 1);
    assert!(!list.to_string().contains(&secret));

    // A test send, signed with the secret just shown.
    let (status, test) = admin(
        &s,
        reqwest::Method::POST,
        &format!("/Webhook/{id}/test"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["delivered"], true);
    let got = receiver.wait_for(WAIT, "the test", |g| !g.is_empty()).await;
    assert_eq!(got[0].body["type"], "webhook.test");
    assert!(got[0].verified);

    // Delivered events, the log and a replay of one delivery.
    failed_login(&s).await;
    receiver
        .wait_for(WAIT, "the login_failure", |g| g.len() >= 2)
        .await;
    // The receiver has it; the server records the success just after: poll the log.
    let deadline = Instant::now() + WAIT;
    let delivery = loop {
        let path = format!("/Webhook/{id}/deliveries?status=delivered");
        let (_, log) = admin(&s, reqwest::Method::GET, &path, None).await;
        if let Some(id) = log["entry"][0]["resource"]["id"].as_i64() {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "never recorded as delivered: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, replayed) = admin(
        &s,
        reqwest::Method::POST,
        &format!("/Webhook/{id}/replay?delivery={delivery}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(replayed["replayed"], 1);
    let got = receiver
        .wait_for(WAIT, "the replay", |g| g.len() >= 3)
        .await;
    assert_eq!(got[2].id, got[1].id, "a replay keeps the webhook-id");

    // A new secret, shown once; the next delivery verifies with it.
    let (status, changed) = admin(
        &s,
        reqwest::Method::PUT,
        &format!("/Webhook/{id}"),
        Some(json!({
            "secret": "generate", "events": ["*"], "description": null
        })),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    let new_secret = changed["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["description"], Value::Null);
    receiver.set_secret(new_secret);
    s.login(APP, "ivy@example.com", "ivy-password", None).await;
    let got = receiver
        .wait_for(WAIT, "a login_success", |g| {
            !of_type(g, "login_success").is_empty()
        })
        .await;
    assert!(of_type(&got, "login_success")[0].verified);

    // Refusals, each naming the field.
    for (body, field) in [
        (json!({"url": receiver.url()}), "events"),
        (json!({"events": ["lockout"]}), "url"),
        (
            json!({"url": receiver.url(), "events": ["nonsense"]}),
            "events",
        ),
        (
            json!({"url": receiver.url(), "events": ["*", "lockout"]}),
            "events",
        ),
        (
            json!({"url": "ftp://example.com/", "events": ["lockout"]}),
            "url",
        ),
        (
            json!({"url": "https://u:p@example.com/", "events": ["lockout"]}),
            "url",
        ),
        (
            json!({"url": receiver.url(), "events": ["lockout"], "secret": "whsec_c2hvcnQ="}),
            "secret",
        ),
        (
            json!({"url": receiver.url(), "events": ["lockout"], "secret": "plain"}),
            "secret",
        ),
        (
            json!({"url": receiver.url(), "events": ["lockout"], "colour": "red"}),
            "colour",
        ),
        (
            json!({"url": receiver.url(), "events": ["lockout"], "description": "a\u{7}b"}),
            "description",
        ),
    ] {
        let (status, err) = admin(&s, reqwest::Method::POST, "/Webhook", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {err}");
        let description = err["error_description"].as_str().unwrap();
        assert!(description.starts_with(field), "{body}: {description}");
        assert!(description
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'));
    }
    let (status, _) = admin(&s, reqwest::Method::GET, "/Webhook/wh_nope", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &s,
        reqwest::Method::GET,
        &format!("/Webhook/{id}/deliveries?limit=x"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = admin(
        &s,
        reqwest::Method::POST,
        &format!("/Webhook/{id}/replay"),
        None,
    )
    .await;
    assert_eq!(status, 400);
    let unauthorized = s.http.get(s.url("/Webhook")).send().await.unwrap();
    assert_eq!(unauthorized.status(), 401);
    let wrong = s
        .http
        .get(s.url("/Webhook"))
        .bearer_auth("not-the-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let (status, _) = admin(&s, reqwest::Method::DELETE, &format!("/Webhook/{id}"), None).await;
    assert_eq!(status, 200);
    let (status, _) = admin(&s, reqwest::Method::GET, &format!("/Webhook/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(
        s.db.scalar("SELECT COUNT(*) FROM webhook_deliveries").await,
        0
    );
    assert!(
        !outbox_trigger_on(&s).await,
        "off again with the last endpoint gone"
    );
    let changes = events_text(&s);
    for action in [
        "webhook_add",
        "webhook_update",
        "webhook_replay",
        "webhook_remove",
    ] {
        assert!(changes.contains(action), "no {action} event");
    }
}

/// Whether the outbox trigger is on: PostgreSQL switches it with the endpoints (SQLite keeps it
/// on, so there the answer follows the endpoints by definition).
async fn outbox_trigger_on(s: &TestServer) -> bool {
    match s.db.backend {
        crate::database::Backend::Postgres => {
            let sql = "SELECT COUNT(*) FILTER (WHERE tgenabled = 'O') FROM pg_trigger \
                       WHERE tgname = 'events_webhook_outbox'";
            s.db.scalar(sql).await == 1
        }
        crate::database::Backend::Sqlite => {
            s.db.scalar("SELECT COUNT(*) FROM webhooks WHERE enabled")
                .await
                > 0
        }
    }
}

async fn admin(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method, s.url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let (status, _, body) = read_json(req.send().await.unwrap()).await;
    (status.as_u16(), body)
}

/// Without `--webhook-allow-private`, URLs at loopback, private and link-local addresses (in
/// every spelling the URL parser knows) and plain http are refused, in the API and the CLI;
/// an endpoint stored while they were allowed is not sent to once they are not: its delivery
/// fails naming the address.
#[tokio::test]
async fn private_targets_are_refused_by_default() {
    let receiver = Receiver::start(Some(SECRET)).await;
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .env("GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS", "50")
        .env("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE", "")
        .spawn();
    s.add_client(APP.0, &["--secret", APP.1]);
    s.add_user("ivy@example.com", "ivy-password", &[]);
    for url in [
        "https://127.0.0.1/hook",
        "https://2130706433/hook",
        "https://0x7f.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
    ] {
        let (status, err) = admin(
            &s,
            reqwest::Method::POST,
            "/Webhook",
            Some(json!({"url": url, "events": ["*"]})),
        )
        .await;
        assert_eq!(status, 422, "{url}: {err}");
        let out = s.cli_refused(&["webhook", "add", url, "--events", "*"], None);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("url"),
            "{url}"
        );
    }
    assert_eq!(s.db.scalar("SELECT COUNT(*) FROM webhooks").await, 0);
    // Stored while allowed (a CLI run that allowed it), refused when sending.
    let out = s.cli_ok(
        &[
            "--webhook-allow-private",
            "on",
            "webhook",
            "add",
            &receiver.url(),
            "--events",
            "login_failure",
            "--secret",
            SECRET,
        ],
        None,
    );
    let id = out["id"].as_str().unwrap();
    failed_login(&s).await;
    let deadline = Instant::now() + WAIT;
    let d = loop {
        let log = s.cli_ok(&["webhook", "deliveries", id], None);
        let d = log["entry"][0]["resource"].clone();
        if d["status"] == "failed" {
            break d;
        }
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        d["last_error"].as_str().unwrap().contains("127.0.0.1"),
        "{d}"
    );
    assert!(
        receiver.received().is_empty(),
        "nothing reached the loopback receiver"
    );
}

/// Two instances on one database deliver every event exactly once to a healthy receiver:
/// deliveries are claimed under a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), so none is
/// sent by both. Prints the event-to-receiver latency.
#[tokio::test]
async fn two_instances_deliver_each_event_exactly_once() {
    let receiver = Receiver::start(Some(SECRET)).await;
    let db = TestDatabase::fresh();
    let env = [
        ("GATEHOUSE_ADMIN_TOKEN", TOKEN),
        ("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "on"),
        ("GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS", "20"),
    ];
    let spawn = |db: &TestDatabase| {
        let mut b = TestServer::builder().database(db);
        for (k, v) in env {
            b = b.env(k, v);
        }
        b.spawn()
    };
    let a = spawn(&db);
    let b = spawn(&db);
    a.add_client(APP.0, &["--secret", APP.1]);
    a.add_user("ivy@example.com", "ivy-password", &[]);
    add_webhook(&a, &receiver.url(), "login_failure");
    const N: usize = 40;
    let mut sent = Vec::new();
    for i in 0..N {
        let s = if i % 2 == 0 { &a } else { &b };
        failed_login(s).await;
        sent.push(Instant::now());
    }
    let got = receiver
        .wait_for(WAIT, "every event", |g| g.len() >= N)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = receiver.received();
    assert_eq!(got_after.len(), got.len(), "a delivery was sent twice");
    let mut ids: Vec<&str> = got_after.iter().map(|r| r.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), N, "each of the {N} events once");
    assert!(got_after.iter().all(|r| r.verified && r.answered == 200));
    assert_eq!(
        db.scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 1"
        )
        .await,
        N as i64
    );
    let mut latencies: Vec<Duration> = got_after
        .iter()
        .zip(&sent)
        .map(|(r, s)| r.at.saturating_duration_since(*s))
        .collect();
    latencies.sort_unstable();
    println!(
        "webhook latency over {N} events, two instances: p50 {:?}, p99 {:?}",
        latencies[N / 2],
        latencies[N * 99 / 100]
    );
}

/// At least once across a receiver outage and a `kill -9`: events made while the receiver
/// fails, and while an instance dies holding claims, all arrive once it is back.
#[tokio::test]
async fn deliveries_survive_a_receiver_outage_and_a_kill_9() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.answer(503);
    let db = TestDatabase::fresh();
    let spawn = |db: &TestDatabase| {
        TestServer::builder()
            .database(db)
            .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
            .env("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "on")
            .env("GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS", "50")
            .env("GATEHOUSE_WEBHOOK_RETRY_SCHEDULE", "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms")
            // A short request timeout keeps the lease (timeout + 30 s) from outliving the test.
            .env("GATEHOUSE_WEBHOOK_TIMEOUT_MS", "500")
            .spawn()
    };
    let mut a = spawn(&db);
    let b = spawn(&db);
    a.add_client(APP.0, &["--secret", APP.1]);
    a.add_user("ivy@example.com", "ivy-password", &[]);
    add_webhook(&a, &receiver.url(), "login_failure");
    for i in 0..10 {
        failed_login(if i % 2 == 0 { &a } else { &b }).await;
    }
    receiver
        .wait_for(WAIT, "failing attempts", |g| g.len() >= 10)
        .await;
    a.kill9();
    receiver.answer(200);
    let got = receiver
        .wait_for(Duration::from_secs(60), "all ten events delivered", |g| {
            let mut ok: Vec<&str> = g
                .iter()
                .filter(|r| r.answered == 200)
                .map(|r| r.id.as_str())
                .collect();
            ok.sort_unstable();
            ok.dedup();
            ok.len() >= 10
        })
        .await;
    assert!(got.iter().all(|r| r.verified));
    drop(b);
}

/// The outbox is bounded: deliveries older than the retention are swept, delivered or not,
/// and the backlog and attempts show in the metrics.
#[tokio::test]
async fn old_deliveries_are_swept_and_the_outbox_is_measured() {
    let receiver = Receiver::start(Some(SECRET)).await;
    receiver.answer(500);
    let s = server(&[("GATEHOUSE_CLEANUP_INTERVAL", "1")]);
    add_webhook(&s, &receiver.url(), "login_failure");
    failed_login(&s).await;
    receiver
        .wait_for(WAIT, "an attempt", |g| !g.is_empty())
        .await;
    assert_eq!(
        s.db.scalar("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
    // Eight days old: past the default retention of seven.
    s.db.execute("UPDATE webhook_deliveries SET created_at = created_at - 691200000")
        .await;
    let deadline = Instant::now() + WAIT;
    while s.db.scalar("SELECT COUNT(*) FROM webhook_deliveries").await > 0 {
        assert!(Instant::now() < deadline, "the old delivery was not swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = s.metrics_text().await;
    assert!(
        metrics.contains("gatehouse_webhook_attempts_total{outcome=\"retry\"}"),
        "{metrics}"
    );
}

/// A receiver written against the PyPI `standardwebhooks` library, unchanged, verifies every
/// delivery (three failed logins, then the lockout they do not cause: only the kinds asked
/// for). Runs where `.ci/run` installed the library (GATEHOUSE_TEST_PYTHON), else is skipped
/// with a notice.
#[tokio::test]
async fn the_pypi_library_verifies_every_delivery() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let Some(python) = crate::libraries::python() else {
        return;
    };
    let script = crate::libraries::clients_dir().join("python/webhook_receiver.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .args([SECRET, "3"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let port = first.strip_prefix("listening ").unwrap();
    let s = server(&[]);
    add_webhook(
        &s,
        &format!("http://127.0.0.1:{port}/hooks"),
        "login_failure",
    );
    for _ in 0..3 {
        failed_login(&s).await;
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the Python receiver answered in time")
            .unwrap()
            .expect("a line per delivery");
        let got: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(got["verified"], true, "{got}");
        assert_eq!(got["type"], "login_failure");
        seen.push(got["id"].as_str().unwrap().to_owned());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 3);
    assert!(child.wait().await.unwrap().success());
}

/// At most 64 endpoints (each stored event makes a row per matching endpoint): 72 adds fired
/// in two waves of 36 at once leave exactly 64, and the others are told why (409).
#[tokio::test]
async fn concurrent_adds_stop_at_the_endpoint_limit() {
    let s = server(&[]);
    // Two waves of 36 at once (under the 64 connections one address may hold): the second
    // crosses the limit.
    let mut answers = Vec::new();
    for wave in 0..2 {
        let adds = (0..36).map(|n| {
            let url = format!("https://hooks{wave}-{n}.example.com/");
            let body = json!({"url": url, "events": ["lockout"]});
            let req = s
                .http
                .post(s.url("/Webhook"))
                .bearer_auth(TOKEN)
                .json(&body);
            async move { req.send().await.unwrap() }
        });
        answers.extend(futures::future::join_all(adds).await);
    }
    let mut created = 0;
    for resp in answers {
        let (status, _, body) = read_json(resp).await;
        match status.as_u16() {
            201 => created += 1,
            409 => assert!(body["error_description"]
                .as_str()
                .unwrap()
                .contains("at most 64")),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(created, 64);
    assert_eq!(s.db.scalar("SELECT COUNT(*) FROM webhooks").await, 64);
}

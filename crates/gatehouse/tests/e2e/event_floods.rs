//! Issue 15, finding 2: an address must not fill the disk through audit events. A login refused
//! by the per-address throttle before any credential check writes no row of its own (one
//! aggregated `login_throttled` event per address and window, and a metric), revoking an unknown
//! token writes nothing, and a username kept in an event is capped at the username limit. Each
//! attack is sent over HTTP and its rows are counted in the database.

use serde_json::Value;

use crate::database::Backend;
use crate::events::events;
use crate::server::{json, TestServer};

const APP: (&str, &str) = ("app", "app-secret");
/// The longest username accepted, in bytes (`gatehouse_core::user::MAX_USERNAME_LEN`).
const MAX_USERNAME_LEN: usize = 256;

fn server(extra: &[&str]) -> TestServer {
    let s = TestServer::builder().args(extra).spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "alice-password", &[]);
    s
}

async fn event_rows(s: &TestServer) -> i64 {
    s.db.scalar("SELECT count(*) FROM events").await
}

/// Bytes of the SQLite database and its WAL after a checkpoint (0 on PostgreSQL).
async fn sqlite_bytes(s: &TestServer) -> u64 {
    if s.db.backend != Backend::Sqlite {
        return 0;
    }
    // The first column of the checkpoint's answer is 1 when a reader kept it from finishing.
    let busy = s.db.scalar("PRAGMA wal_checkpoint(TRUNCATE)").await;
    assert_eq!(busy, 0, "the checkpoint was blocked");
    let path = s.db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let size = |p: &str| std::fs::metadata(p).map_or(0, |m| m.len());
    size(&path) + size(&format!("{path}-wal"))
}

async fn wrong_login(s: &TestServer, username: &str) -> u16 {
    let resp = s
        .password_grant(APP, username, "wrong-password", None)
        .await;
    resp.status().as_u16()
}

/// The value of one series in the `/metrics` scrape.
async fn metric(s: &TestServer, series: &str) -> f64 {
    let text = s.http.get(s.url("/metrics")).send().await.unwrap();
    let text = text.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// The flood of the finding: once an address is throttled, 500 logins with 60 KB usernames from
/// it (50 at a time) all get 429 and add one aggregated event (not 500 rows of 60 KB); the
/// metric counts all 500.
#[tokio::test]
async fn a_throttled_flood_with_huge_usernames_adds_one_aggregated_event() {
    let s = server(&["--ip-failure-limit", "1"]);
    assert_eq!(wrong_login(&s, "alice").await, 400);
    let rows_before = event_rows(&s).await;
    let bytes_before = sqlite_bytes(&s).await;
    let huge = "a".repeat(60_000);
    for _ in 0..10 {
        let batch = (0..50).map(|_| wrong_login(&s, &huge));
        let statuses = futures::future::join_all(batch).await;
        assert!(statuses.iter().all(|&st| st == 429), "{statuses:?}");
    }
    let grown = event_rows(&s).await - rows_before;
    let bytes_grown = sqlite_bytes(&s).await.saturating_sub(bytes_before);
    eprintln!("500 throttled 60 KB logins: {grown} event rows, {bytes_grown} bytes of db + wal");
    assert_eq!(grown, 1, "{:?}", events(&s, &[]));
    // Before the fix: 500 rows of 60 KB, about 30 MB. A page or two now.
    assert!(bytes_grown <= 64 * 1024, "{bytes_grown} bytes");
    let all = events(&s, &[]);
    let aggregated: Vec<&Value> = all
        .iter()
        .filter(|e| e["kind"] == "login_throttled")
        .collect();
    assert_eq!(aggregated.len(), 1, "{all:?}");
    assert_eq!(aggregated[0]["ip"], "127.0.0.1");
    assert_eq!(aggregated[0]["detail"]["reason"], "ip_throttled");
    assert_eq!(aggregated[0]["detail"]["count"], 1);
    assert!(aggregated[0]["user"].is_null(), "{all:?}");
    // Nothing of the flood's usernames is stored.
    let stored: i64 =
        s.db.scalar("SELECT CAST(coalesce(max(length(username)), 0) AS BIGINT) FROM events")
            .await;
    assert!(stored <= MAX_USERNAME_LEN as i64, "{stored}");
    let counted = metric(
        &s,
        r#"gatehouse_requests_rejected_total{reason="ip_throttled"}"#,
    )
    .await;
    assert_eq!(counted, 500.0);
}

/// The next event of a throttled address, once its window has passed, carries the number of
/// rejections since the previous one: every rejection is in some event's count.
#[tokio::test]
async fn aggregated_events_count_every_rejection_since_the_previous_one() {
    let s = server(&["--ip-failure-limit", "1", "--rejected-event-window", "1"]);
    assert_eq!(wrong_login(&s, "alice").await, 400);
    for _ in 0..20 {
        assert_eq!(wrong_login(&s, "alice").await, 429);
    }
    // The window is one second: the next rejection opens a new one.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(wrong_login(&s, "alice").await, 429);
    let all = events(&s, &[]);
    let counts: Vec<u64> = all
        .iter()
        .filter(|e| e["kind"] == "login_throttled")
        .map(|e| e["detail"]["count"].as_u64().unwrap())
        .collect();
    assert!(counts.len() >= 2, "{all:?}");
    assert_eq!(counts.iter().sum::<u64>(), 21, "{all:?}");
}

/// RFC 7009 §2.2 answers 200 for an unknown token; 200 such revocations write no event.
#[tokio::test]
async fn revoking_unknown_tokens_writes_no_event() {
    let s = server(&[]);
    let rows_before = event_rows(&s).await;
    // The first checks the client secret on the hash pool; the rest find it verified already
    // (sent all at once, they would be shed with 503 before it is).
    s.revoke(APP, "no-such-token", None).await;
    s.revoke(APP, "no-such-token-either", None).await;
    for batch in 0..9 {
        let revokes = (0..22).map(|i| {
            let s = &s;
            async move {
                let token = format!("no-such-token-{batch}-{i}");
                s.revoke(APP, &token, None).await;
            }
        });
        futures::future::join_all(revokes).await;
    }
    assert_eq!(
        event_rows(&s).await - rows_before,
        0,
        "{:?}",
        events(&s, &[])
    );
}

/// A failed login with a 2,000-byte username (past the limit, in two-byte characters) is
/// recorded with the username cut to the limit on a character boundary.
#[tokio::test]
async fn a_long_username_is_stored_capped() {
    let s = server(&[]);
    let long = "é".repeat(1000);
    let (status, _, body) = json(s.password_grant(APP, &long, "wrong", None).await).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    let all = events(&s, &[]);
    let failure = all
        .iter()
        .find(|e| e["kind"] == "login_failure")
        .expect("a login_failure event");
    let user = failure["user"].as_str().unwrap();
    assert_eq!(user.len(), MAX_USERNAME_LEN);
    assert_eq!(user, "é".repeat(MAX_USERNAME_LEN / 2));
}

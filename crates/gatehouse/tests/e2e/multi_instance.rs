//! Several `gatehouse serve` processes on one database (PostgreSQL in production; the same
//! tests run on a shared SQLite file): migrations run once, every instance signs with the same
//! key, and what the CLI changes takes effect at every instance. A token issued by one instance
//! is introspected (RFC 7662), refreshed (RFC 6749 §6) and revoked (RFC 7009) at the other; a
//! rotated key reaches the other's JWKS (RFC 7517) within the key-ring reload TTL; concurrent
//! refreshes over both instances have exactly one winner; an admin-API change made through one
//! instance takes effect at the other.
//!
//! On PostgreSQL an instance keeps the clients, users and access tokens it reads most in memory
//! (`gatehouse_store::hot_cache`): what another instance or the CLI changes reaches it by a
//! change notice, and nothing it remembers is older than one second. So a change made elsewhere
//! is polled for, for at most [`STALENESS_BOUND`] (the one second and a margin for the polling
//! requests); a change made through an instance applies at that instance at once.

use std::thread;
use std::time::Duration;

use serde_json::{json as body, Value};

use crate::admin::{put_json, TOKEN};
use crate::database::{Backend, TestDatabase};
use crate::jwt_parts;
use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer};

const APP: (&str, &str) = ("app", "s");

/// How long a change made elsewhere may take to reach an instance: its memory of hot rows
/// serves nothing older than one second; the rest is the margin of the polling requests.
const STALENESS_BOUND: Duration = Duration::from_millis(1500);

/// Polls `holds` (every 20 ms) until it is true, for at most [`STALENESS_BOUND`]; panics,
/// naming `what`, when it never is. How long it took.
async fn within_bound<F, Fut>(what: &str, mut holds: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if holds().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < STALENESS_BOUND,
            "{what}: not seen within {STALENESS_BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts two servers on `db` at the same moment.
fn start_two(db: &TestDatabase) -> (TestServer, TestServer) {
    let (a, b) = (db.clone(), db.clone());
    let a = thread::spawn(move || TestServer::builder().database(&a).spawn());
    let b = thread::spawn(move || TestServer::builder().database(&b).spawn());
    (a.join().unwrap(), b.join().unwrap())
}

/// The number of migrations this build embeds for `backend`.
fn migration_count(backend: Backend) -> i64 {
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let dir = format!(
        "{}/../gatehouse-store/migrations/{folder}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_dir(dir).unwrap().count() as i64
}

/// The `kid` of an access token issued by `s` for the shared client and user.
async fn issued_kid(s: &TestServer) -> String {
    let body = s.login(("app", "s"), "ivy", "pw", None).await;
    let (header, _) = jwt_parts(body["access_token"].as_str().unwrap());
    header["kid"].as_str().unwrap().to_owned()
}

/// Two instances starting together on an empty database both come up, the migrations are
/// applied once (PostgreSQL: sqlx holds an advisory lock while migrating), and exactly one
/// signing key is created, which both use. Repeated on fresh databases to meet the race often.
#[tokio::test]
async fn instances_starting_together_migrate_once_and_share_one_signing_key() {
    for _ in 0..3 {
        let db = TestDatabase::fresh();
        let (a, b) = start_two(&db);
        let applied = db.scalar("SELECT COUNT(*) FROM _sqlx_migrations").await;
        assert_eq!(applied, migration_count(db.backend));
        assert_eq!(db.scalar("SELECT COUNT(*) FROM signing_keys").await, 1);
        a.add_client("app", &["--secret", "s"]);
        a.add_user("ivy", "pw", &[]);
        assert_eq!(issued_kid(&a).await, issued_kid(&b).await);
    }
}

/// A client and a user added (then removed) through the CLI take effect at both instances: a
/// password is read with every login, a removed client is forgotten within the staleness bound.
#[tokio::test]
async fn cli_changes_take_effect_at_every_instance() {
    let db = TestDatabase::fresh();
    let (a, b) = start_two(&db);
    b.add_client("app", &["--secret", "s"]);
    b.add_user("ivy", "pw", &[]);
    for s in [&a, &b] {
        issued_kid(s).await;
    }

    a.cli_ok(
        &["user", "set-password", "ivy", "--password-stdin"],
        Some("new\n"),
    );
    for s in [&a, &b] {
        reply(s.password_grant(("app", "s"), "ivy", "pw", None).await)
            .await
            .oauth_error(400, "invalid_grant");
        let (status, _, body) =
            json(s.password_grant(("app", "s"), "ivy", "new", None).await).await;
        assert_status(status, &body, 200);
    }

    a.cli_ok(&["client", "remove", "app"], None);
    for s in [&a, &b] {
        within_bound("the removed client refused", || async {
            let (status, _, body) =
                json(s.password_grant(("app", "s"), "ivy", "new", None).await).await;
            if status == 200 {
                return false;
            }
            assert_oauth_error(status, &body, 401, "invalid_client");
            true
        })
        .await;
    }
}

/// Two servers on one fresh database, started one after the other, both with the admin token
/// and one issuer (as behind a load balancer: each token's `iss` must be every instance's); the
/// client `app` (password and refresh_token grants) and the user `ivy` exist.
fn shared_pair() -> (TestServer, TestServer) {
    let db = TestDatabase::fresh();
    let spawn = || {
        TestServer::builder()
            .database(&db)
            .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
            .env("GATEHOUSE_ISSUER", "https://auth.example.test")
            .spawn()
    };
    let (a, b) = (spawn(), spawn());
    a.add_refreshing_client("app", APP.1, &["--scopes", "read write"]);
    a.add_user("ivy", "pw", &[]);
    (a, b)
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

/// RFC 7662, RFC 6749 §6 and RFC 7009 across instances: a token issued by A is introspected and
/// refreshed at B; B revokes the new refresh token, and reports it and its access token inactive
/// at once; A does within the staleness bound, and refuses the refresh token at once (refresh
/// tokens are never held in memory).
#[tokio::test]
async fn a_token_from_one_instance_is_introspected_refreshed_and_revoked_at_the_other() {
    let (a, b) = shared_pair();
    let first = a.login(APP, "ivy", "pw", Some("read write")).await;
    let (at1, rt1) = (
        field(&first, "access_token"),
        field(&first, "refresh_token"),
    );
    let seen = b.introspect(APP, at1).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], "app");
    assert_eq!(seen["username"], "ivy");
    assert_eq!(seen["scope"], "read write");
    let seen = b.introspect(APP, rt1).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["token_type"], "refresh_token");

    let second = b.refresh_ok(APP, rt1, Some("read")).await;
    let (at2, rt2) = (
        field(&second, "access_token"),
        field(&second, "refresh_token"),
    );
    // The rotation made at B is seen at A: the old token is spent, the new one live.
    assert_eq!(a.introspect(APP, rt1).await, body!({"active": false}));
    assert_eq!(a.introspect(APP, rt2).await["active"], true);
    assert_eq!(a.introspect(APP, at2).await["scope"], "read");

    b.revoke(APP, rt2, Some("refresh_token")).await;
    for token in [rt2, at2] {
        assert_eq!(b.introspect(APP, token).await, body!({"active": false}));
    }
    reply(a.refresh(APP, rt2, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    for token in [rt2, at2] {
        within_bound("the revocation at the other instance", || async {
            a.introspect(APP, token).await == body!({"active": false})
        })
        .await;
    }
}

/// `gatehouse keys rotate` against the shared database while both run: B publishes the new key
/// in its JWKS within the key-ring reload TTL (5 s; polled for at most 10 s) and signs with it.
#[tokio::test]
async fn a_rotated_key_is_published_by_the_other_instance_within_the_reload_ttl() {
    let (a, b) = shared_pair();
    let jwks = |s: &TestServer| {
        let req = s.http.get(s.url("/.well-known/jwks.json"));
        async move {
            let body = reply(req.send().await.unwrap()).await.ok();
            body["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // B has its ring loaded (and a login signed) before the rotation.
    let old = jwks(&b).await;
    assert_eq!(old.len(), 1);
    b.login(APP, "ivy", "pw", None).await;

    let rotated = a.cli_ok(&["keys", "rotate", "--alg", "ES256"], None);
    let kid = field(&rotated, "kid").to_owned();
    assert_ne!(kid, old[0]);
    let started = std::time::Instant::now();
    let mut published = jwks(&b).await;
    while !published.contains(&kid) && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        published = jwks(&b).await;
    }
    assert!(
        published.contains(&kid) && published.contains(&old[0]),
        "B publishes {published:?} {:?} after the rotation, expected {kid} and {}",
        started.elapsed(),
        old[0]
    );
    // Published means loaded: B now signs with the new key.
    let tokens = b.login(APP, "ivy", "pw", None).await;
    let (header, _) = jwt_parts(field(&tokens, "access_token"));
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(header["alg"], "ES256");
}

/// RFC 9700 §4.14.2 across instances: 20 refreshes of one token, 10 at each instance, fired
/// together: exactly one 200, 19 invalid_grant, and the reuse revoked the winner's successor.
#[tokio::test]
async fn concurrent_refreshes_over_both_instances_have_exactly_one_winner() {
    let (a, b) = shared_pair();
    let login = a.login(APP, "ivy", "pw", None).await;
    let rt = field(&login, "refresh_token").to_owned();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = if i % 2 == 0 { &a } else { &b };
            let req = s.refresh_request(APP, &rt);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                json(req.send().await.unwrap()).await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (status, _, body) = task.await.unwrap();
        if status == 200 {
            winners.push(body);
        } else {
            assert_oauth_error(status, &body, 400, "invalid_grant");
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    reply(
        b.refresh(APP, field(&winners[0], "refresh_token"), None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
}

/// A `PUT /Client/app` through A's admin API that drops the refresh_token grant and the
/// `write` scope applies at A at once and at B within the staleness bound (B held the client
/// in memory: it had just authenticated it).
#[tokio::test]
async fn an_admin_api_change_through_one_instance_applies_at_the_other_within_the_bound() {
    let (a, b) = shared_pair();
    let tokens = b.login(APP, "ivy", "pw", Some("read write")).await;
    let rt = field(&tokens, "refresh_token");

    let change = body!({"grant_types": ["password"], "scopes": ["read"]});
    let (status, resource) = put_json(&a, "/Client/app", &change).await;
    assert_status(status, &resource, 200);
    let (status, _, body) = json(a.password_grant(APP, "ivy", "pw", Some("write")).await).await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    within_bound("the narrowed client at the other instance", || async {
        let (status, _, body) = json(b.password_grant(APP, "ivy", "pw", Some("write")).await).await;
        status == 400 && body["error"] == "invalid_scope"
    })
    .await;
    reply(b.refresh(APP, rt, None).await)
        .await
        .oauth_error(400, "unauthorized_client");
    let (status, _, body) = json(b.password_grant(APP, "ivy", "pw", Some("write")).await).await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    let granted = b.login(APP, "ivy", "pw", Some("read")).await;
    assert_eq!(granted["scope"], "read");
    assert!(granted.get("refresh_token").is_none(), "{granted}");

    // And back, through B this time, seen at A; the secret was kept by both PUTs.
    let change = body!({"grant_types": ["password", "refresh_token"], "scopes": ["read", "write"]});
    let (status, resource) = put_json(&b, "/Client/app", &change).await;
    assert_status(status, &resource, 200);
    within_bound("the widened client at the other instance", || async {
        let (status, _, _) =
            json(a.password_grant(APP, "ivy", "pw", Some("read write")).await).await;
        status == 200
    })
    .await;
    let granted = a.login(APP, "ivy", "pw", Some("read write")).await;
    let (status, _, body) =
        json(a.refresh(APP, field(&granted, "refresh_token"), None).await).await;
    assert_status(status, &body, 200);
}

/// The bound on what an instance remembers, attacked from every side it serves from memory:
/// B has just read (and so holds) the client, the user and the access token when each is
/// changed elsewhere (through A's revocation endpoint, and through the CLI: another process).
/// B must see each change within the bound; on PostgreSQL a change notice normally brings it
/// in milliseconds. The same changes made through B itself apply at B at once.
#[tokio::test]
async fn changes_made_elsewhere_reach_an_instances_memory_within_the_bound() {
    let (a, b) = shared_pair();
    a.add_user("jo", "pw2", &[]);

    // A revocation at A (RFC 7009) of a token B holds.
    let tokens = a.login(APP, "ivy", "pw", None).await;
    let at = field(&tokens, "access_token");
    assert_eq!(b.introspect(APP, at).await["active"], true);
    assert_eq!(b.introspect(APP, at).await["active"], true);
    a.revoke(APP, at, Some("access_token")).await;
    let took = within_bound("A's revocation at B", || async {
        b.introspect(APP, at).await == body!({"active": false})
    })
    .await;
    eprintln!("a revocation at A reached B in {took:?}");

    // A user disabled through the CLI: their live token is dead at B.
    let tokens = a.login(APP, "jo", "pw2", None).await;
    let at = field(&tokens, "access_token");
    assert_eq!(b.introspect(APP, at).await["username"], "jo");
    a.cli_ok(&["user", "disable", "jo"], None);
    within_bound("the disabled user's token at B", || async {
        b.introspect(APP, at).await == body!({"active": false})
    })
    .await;

    // The client narrowed through the CLI: B, which just authenticated it, grants `write` no more.
    let (status, _, body) = json(b.password_grant(APP, "ivy", "pw", Some("write")).await).await;
    assert_status(status, &body, 200);
    a.cli_ok(&["client", "update", "app", "--scopes", "read"], None);
    within_bound("the narrowed client at B", || async {
        let (status, _, body) = json(b.password_grant(APP, "ivy", "pw", Some("write")).await).await;
        status == 400 && body["error"] == "invalid_scope"
    })
    .await;

    // Through B itself, at once: B revokes a token it holds and never reports it live again.
    let tokens = b.login(APP, "ivy", "pw", None).await;
    let at = field(&tokens, "access_token");
    assert_eq!(b.introspect(APP, at).await["active"], true);
    b.revoke(APP, at, Some("access_token")).await;
    assert_eq!(b.introspect(APP, at).await, body!({"active": false}));
}

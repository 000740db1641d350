//! The per-address throttle over HTTP: failures from one address across many accounts get
//! 429 with `Retry-After` without locking the accounts; the allowlist; X-Forwarded-For behind a
//! trusted proxy; `auth0-forwarded-for` only for a permitted confidential client.

use crate::events::events;
use crate::server::{json, TestServer};

fn server(extra: &[&str]) -> TestServer {
    let s = TestServer::builder()
        .args(&["--ip-failure-limit", "3"])
        .args(extra)
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_client(
        "backend",
        &["--secret", "backend-secret", "--trust-forwarded-for"],
    );
    s.add_client("untrusted", &["--secret", "untrusted-secret"]);
    for u in ["u1", "u2", "u3", "u4"] {
        s.add_user(u, "right-password", &[]);
    }
    s
}

async fn login(
    s: &TestServer,
    client: (&str, &str),
    user: &str,
    pw: &str,
    h: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(s.url("/oauth/token"))
        .basic_auth(client.0, Some(client.1))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", pw),
        ]);
    for (k, v) in h {
        req = req.header(*k, *v);
    }
    let (status, headers, body) = json(req.send().await.unwrap()).await;
    (status.as_u16(), headers, body)
}

/// Credential stuffing: three failures on three accounts throttle the address with 429 and
/// Retry-After; the accounts themselves stay unlocked for another address.
#[tokio::test]
async fn failures_across_accounts_throttle_the_address_not_the_accounts() {
    let s = server(&["--trusted-proxies", "127.0.0.1/32"]);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for u in ["u1", "u2", "u3"] {
        let (status, ..) =
            login(&s, ("app", "app-secret"), u, "wrong", &from("198.51.100.1")).await;
        assert_eq!(status, 400);
    }
    let (status, headers, body) = login(
        &s,
        ("app", "app-secret"),
        "u4",
        "right-password",
        &from("198.51.100.1"),
    )
    .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_attempts");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 864, "{retry}");
    // Another address (the right-most untrusted hop) logs in to the same accounts.
    let (status, ..) = login(
        &s,
        ("app", "app-secret"),
        "u1",
        "right-password",
        &from("6.6.6.6, 198.51.100.2"),
    )
    .await;
    assert_eq!(status, 200);
    let throttled = events(&s, &[])
        .into_iter()
        .find(|e| e["kind"] == "login_throttled")
        .expect("a throttled event");
    assert_eq!(throttled["ip"], "198.51.100.1");
    assert_eq!(throttled["detail"]["reason"], "ip_throttled");
}

/// Without a trusted proxy, X-Forwarded-For is ignored: the peer (127.0.0.1) is throttled.
#[tokio::test]
async fn forwarded_for_is_ignored_from_an_untrusted_peer() {
    let s = server(&[]);
    for (i, u) in ["u1", "u2", "u3"].iter().enumerate() {
        let ip = format!("203.0.113.{i}");
        login(
            &s,
            ("app", "app-secret"),
            u,
            "wrong",
            &[("x-forwarded-for", &ip)],
        )
        .await;
    }
    let (status, ..) = login(&s, ("app", "app-secret"), "u4", "right-password", &[]).await;
    assert_eq!(status, 429);
}

/// Allowlisted addresses are never throttled.
#[tokio::test]
async fn the_allowlist_exempts_addresses() {
    let s = server(&["--ip-allowlist", "127.0.0.0/8"]);
    for u in ["u1", "u2", "u3", "u1"] {
        login(&s, ("app", "app-secret"), u, "wrong", &[]).await;
    }
    let (status, ..) = login(&s, ("app", "app-secret"), "u4", "right-password", &[]).await;
    assert_eq!(status, 200);
}

/// `auth0-forwarded-for` is honoured for a confidential client with trust_forwarded_for only:
/// its end users' failures count against their own address, not the backend's.
#[tokio::test]
async fn auth0_forwarded_for_needs_a_permitted_confidential_client() {
    let s = server(&[]);
    let backend = ("backend", "backend-secret");
    let vouched = |ip: &'static str| [("auth0-forwarded-for", ip)];
    for u in ["u1", "u2", "u3"] {
        login(&s, backend, u, "wrong", &vouched("192.0.2.50")).await;
    }
    let (status, ..) = login(&s, backend, "u4", "right-password", &vouched("192.0.2.50")).await;
    assert_eq!(status, 429, "the vouched-for address is throttled");
    let (status, ..) = login(&s, backend, "u4", "right-password", &vouched("192.0.2.51")).await;
    assert_eq!(status, 200, "another end user of the same backend is not");
    let all = events(&s, &[]);
    assert!(all.iter().any(|e| e["ip"] == "192.0.2.50"));

    // The header from a client without the permission is ignored: the peer is throttled.
    let untrusted = ("untrusted", "untrusted-secret");
    for (i, u) in ["u1", "u2", "u3"].iter().enumerate() {
        let ip = format!("192.0.2.{}", 60 + i);
        login(&s, untrusted, u, "wrong", &[("auth0-forwarded-for", &ip)]).await;
    }
    let (status, ..) = login(
        &s,
        untrusted,
        "u4",
        "right-password",
        &[("auth0-forwarded-for", "192.0.2.99")],
    )
    .await;
    assert_eq!(status, 429);
}

/// Concurrent guesses cannot overrun the address's limit: of 20 wrong passwords sent at once
/// from one address with `--ip-failure-limit 5`, exactly 5 reach the password hash (400
/// `invalid_grant`, recorded as `bad_credentials`); the other 15 get 429 with `Retry-After`
/// before any hash work (counted in one aggregated `login_throttled` event, not one row each).
/// A right password from that address is throttled too, while another address logs in.
#[tokio::test]
async fn concurrent_guesses_from_one_address_cannot_overrun_the_limit() {
    let s = TestServer::builder()
        .args(&[
            "--ip-failure-limit",
            "5",
            "--trusted-proxies",
            "127.0.0.1/32",
        ])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    let users = ["u1", "u2", "u3", "u4"];
    for u in users {
        s.add_user(u, "right-password", &[]);
    }
    // The client's secret is verified (and remembered) first, from another address: these
    // guesses test the password throttle, not a client's first requests, whose secret checks
    // take attempts from the same bucket until one has verified (client_auth.rs).
    let warm = [("x-forwarded-for", "203.0.113.11")];
    assert_eq!(
        login(&s, ("app", "app-secret"), "u1", "right-password", &warm)
            .await
            .0,
        200
    );
    let from = [("x-forwarded-for", "203.0.113.9")];
    let guesses = (0..20).map(|i| {
        let (s, from) = (&s, &from);
        async move {
            let user = users[i % users.len()];
            login(s, ("app", "app-secret"), user, &format!("guess-{i}"), from).await
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let rejected = answers.iter().filter(|a| a.0 == 400).count();
    let throttled: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!(rejected, 5, "{answers:?}");
    assert_eq!(throttled.len(), 15, "{answers:?}");
    for (_, headers, body) in &throttled {
        assert_eq!(body["error"], "too_many_attempts");
        let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 864, "{retry}");
    }
    let all = events(&s, &[]);
    let reason = |r: &str| {
        all.iter()
            .filter(|e| e["kind"] == "login_failure" && e["detail"]["reason"] == r)
            .count()
    };
    assert_eq!(reason("bad_credentials"), 5, "{all:?}");
    assert_eq!(reason("ip_throttled"), 0, "{all:?}");
    let aggregated: Vec<_> = all
        .iter()
        .filter(|e| e["kind"] == "login_throttled")
        .collect();
    assert_eq!(aggregated.len(), 1, "{all:?}");
    assert_eq!(aggregated[0]["detail"]["count"], 1, "{all:?}");
    assert_eq!(aggregated[0]["ip"], "203.0.113.9");
    let failures = all.iter().filter(|e| e["kind"] == "login_failure");
    assert!(
        failures.clone().all(|e| e["ip"] == "203.0.113.9"),
        "{all:?}"
    );

    let (status, ..) = login(&s, ("app", "app-secret"), "u1", "right-password", &from).await;
    assert_eq!(status, 429);
    let other = [("x-forwarded-for", "203.0.113.10")];
    let (status, ..) = login(&s, ("app", "app-secret"), "u1", "right-password", &other).await;
    assert_eq!(status, 200);
}

/// A successful login gives its attempt back: with a limit of 2, any number of right passwords
/// from one address never throttle it, and one failure still leaves room for one more.
#[tokio::test]
async fn successful_logins_do_not_use_up_the_address_limit() {
    let s = TestServer::builder()
        .args(&["--ip-failure-limit", "2"])
        .spawn();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("u1", "right-password", &[]);
    let app = ("app", "app-secret");
    for _ in 0..5 {
        assert_eq!(login(&s, app, "u1", "right-password", &[]).await.0, 200);
    }
    assert_eq!(login(&s, app, "u1", "wrong", &[]).await.0, 400);
    assert_eq!(login(&s, app, "u1", "right-password", &[]).await.0, 200);
    assert_eq!(login(&s, app, "u1", "wrong", &[]).await.0, 400);
    assert_eq!(login(&s, app, "u1", "right-password", &[]).await.0, 429);
}

/// Whether this machine can listen on `addr` and, for `[::]`, reach it over 127.0.0.1 (a
/// dual-stack socket); the IPv6 tests say loudly when they are skipped.
fn can_serve(addr: &str, reach_over_ipv4: bool) -> bool {
    let Ok(listener) = std::net::TcpListener::bind(addr) else {
        eprintln!("SKIPPED: this machine cannot listen on {addr} (no IPv6)");
        return false;
    };
    let port = listener.local_addr().unwrap().port();
    if reach_over_ipv4 && std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        eprintln!("SKIPPED: {addr} is not dual-stack here (net.ipv6.bindv6only=1?)");
        return false;
    }
    true
}

/// Issue 15, finding 7: an IPv6 client given a /64 rotates its address on every guess. The
/// throttle keys IPv6 by its /64 (`--throttle-ipv6-prefix`), so the rotation is throttled after
/// the limit, while another /64 is not; events keep each full address. The server listens on
/// `[::1]`, behind a trusted proxy `::1/128` that forwards the rotating addresses.
#[tokio::test]
async fn rotating_through_one_ipv6_64_is_throttled() {
    if !can_serve("[::1]:0", false) {
        return;
    }
    let s = TestServer::builder()
        .listen("[::1]:0")
        .args(&["--ip-failure-limit", "3", "--trusted-proxies", "::1/128"])
        .spawn();
    assert!(s.base.starts_with("http://[::1]:"), "{}", s.base);
    s.add_client("app", &["--secret", "app-secret"]);
    for u in ["u1", "u2", "u3", "u4"] {
        s.add_user(u, "right-password", &[]);
    }
    let app = ("app", "app-secret");
    for (i, u) in ["u1", "u2", "u3"].iter().enumerate() {
        let ip = format!("2001:db8:1:2::{:x}", 0x100 + i);
        let (status, _, body) = login(&s, app, u, "wrong", &[("x-forwarded-for", &ip)]).await;
        assert_eq!(status, 400, "{ip}: {body}");
    }
    // A fresh address of the same /64, with the right password: throttled all the same.
    let fresh = [("x-forwarded-for", "2001:db8:1:2:ffff:ffff:ffff:1")];
    let (status, headers, body) = login(&s, app, "u4", "right-password", &fresh).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_attempts");
    assert!(headers.contains_key("retry-after"));
    // The neighbouring /64 is somebody else.
    let other = [("x-forwarded-for", "2001:db8:1:3::100")];
    let (status, _, body) = login(&s, app, "u4", "right-password", &other).await;
    assert_eq!(status, 200, "{body}");

    let all = events(&s, &[]);
    let ips: Vec<&str> = all
        .iter()
        .filter(|e| e["kind"] == "login_failure")
        .filter_map(|e| e["ip"].as_str())
        .collect();
    // The throttled request writes no failure of its own but sets off the bucket's one
    // aggregated event, which names the /64 and keeps the full address that set it off.
    let throttled: Vec<&serde_json::Value> = all
        .iter()
        .filter(|e| e["kind"] == "login_throttled")
        .collect();
    assert_eq!(throttled.len(), 1, "{all:?}");
    assert_eq!(throttled[0]["ip"], "2001:db8:1:2:ffff:ffff:ffff:1");
    assert_eq!(throttled[0]["detail"]["bucket"], "2001:db8:1:2::/64");
    assert_eq!(throttled[0]["detail"]["count"], 1);
    for full in [
        "2001:db8:1:2::100",
        "2001:db8:1:2::101",
        "2001:db8:1:2::102",
    ] {
        assert!(
            ips.contains(&full),
            "events keep the full address {full}: {ips:?}"
        );
    }
}

/// A wider `--throttle-ipv6-prefix` puts neighbouring /64s in one bucket; 128 restores one
/// bucket per address.
#[tokio::test]
async fn the_ipv6_prefix_is_configurable() {
    if !can_serve("[::1]:0", false) {
        return;
    }
    for (prefix, expected) in [("48", 429), ("128", 200)] {
        let s = TestServer::builder()
            .listen("[::1]:0")
            .args(&["--ip-failure-limit", "2", "--trusted-proxies", "::1/128"])
            .args(&["--throttle-ipv6-prefix", prefix])
            .spawn();
        s.add_client("app", &["--secret", "app-secret"]);
        s.add_user("u1", "right-password", &[]);
        let app = ("app", "app-secret");
        for ip in ["2001:db8:1:2::1", "2001:db8:1:3::1"] {
            let (status, ..) = login(&s, app, "u1", "wrong", &[("x-forwarded-for", ip)]).await;
            assert_eq!(status, 400);
        }
        let next = [("x-forwarded-for", "2001:db8:1:4::1")];
        let (status, _, body) = login(&s, app, "u1", "right-password", &next).await;
        assert_eq!(status, expected, "/{prefix}: {body}");
    }
}

/// Issue 15, finding 7: on a dual-stack listener (`[::]`) an IPv4 peer is seen as
/// `::ffff:127.0.0.1`. It still matches the IPv4 entries of `--trusted-proxies` (so each
/// forwarded client has its own bucket instead of everyone sharing the proxy's) and of
/// `--ip-allowlist`, and events record it as IPv4.
#[tokio::test]
async fn a_dual_stack_listener_matches_ipv4_proxies_and_allowlist() {
    if !can_serve("[::]:0", true) {
        return;
    }
    let dual_stack = |extra: &[&str]| {
        let mut s = TestServer::builder()
            .listen("[::]:0")
            .args(&["--ip-failure-limit", "3"])
            .args(extra)
            .spawn();
        assert!(s.base.starts_with("http://[::]:"), "{}", s.base);
        s.base = s.base.replace("[::]", "127.0.0.1");
        s.add_client("app", &["--secret", "app-secret"]);
        for u in ["u1", "u2", "u3", "u4"] {
            s.add_user(u, "right-password", &[]);
        }
        s
    };
    let app = ("app", "app-secret");

    let s = dual_stack(&["--trusted-proxies", "127.0.0.1/32"]);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    for u in ["u1", "u2", "u3"] {
        let (status, ..) = login(&s, app, u, "wrong", &from("198.51.100.1")).await;
        assert_eq!(status, 400);
    }
    let (status, _, body) = login(&s, app, "u4", "right-password", &from("198.51.100.1")).await;
    assert_eq!(status, 429, "{body}");
    let (status, _, body) = login(&s, app, "u4", "right-password", &from("198.51.100.2")).await;
    assert_eq!(status, 200, "another client behind the proxy: {body}");
    let all = events(&s, &[]);
    assert!(
        all.iter()
            .filter(|e| e["kind"] == "login_failure")
            .all(|e| e["ip"] == "198.51.100.1"),
        "{all:?}"
    );

    let s = dual_stack(&["--ip-allowlist", "127.0.0.1/32"]);
    for u in ["u1", "u2", "u3", "u1"] {
        let (status, ..) = login(&s, app, u, "wrong", &[]).await;
        assert_eq!(status, 400);
    }
    let (status, _, body) = login(&s, app, "u4", "right-password", &[]).await;
    assert_eq!(
        status, 200,
        "the allowlisted peer is never throttled: {body}"
    );
    let all = events(&s, &[]);
    let failure = all
        .iter()
        .find(|e| e["kind"] == "login_failure")
        .expect("a failure");
    assert_eq!(failure["ip"], "127.0.0.1", "recorded as IPv4: {failure}");
}

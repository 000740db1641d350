//! Audit events over the real binary: `gatehouse events` JSON lines, with ip and request id,
//! refresh and reuse, admin changes, and never a password, secret or token.

use serde_json::Value;

use crate::server::{json, TestServer};

/// `gatehouse events` with extra arguments, parsed.
pub fn events(s: &TestServer, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "--limit", "1000"];
    args.extend_from_slice(extra);
    let out = s.cli(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every kind of event is recorded with its address and request id, and none holds a secret.
#[tokio::test]
async fn events_are_recorded_without_secrets() {
    let s = TestServer::builder()
        .args(&["--admin-token", "admin-token-0123456789"])
        .spawn();
    s.add_refreshing_client("app", "app-secret-xyz", &[]);
    s.add_user("alice", "alice-password-xyz", &[]);
    let resp = s
        .post_raw(
            "/oauth/token",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-request-id", "req-42"),
                ("authorization", "Basic YXBwOmFwcC1zZWNyZXQteHl6"),
            ],
            "grant_type=password&username=alice&password=wrong-password-xyz",
        )
        .await;
    assert_eq!(resp.status().as_u16(), 400);
    let (status, _, tokens) = json(
        s.password_grant(
            ("app", "app-secret-xyz"),
            "alice",
            "alice-password-xyz",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status.as_u16(), 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, _, refreshed) =
        json(s.refresh(("app", "app-secret-xyz"), &refresh, None).await).await;
    assert_eq!(status.as_u16(), 200, "{refreshed}");
    // Reuse of the rotated token revokes the family.
    let (status, ..) = json(s.refresh(("app", "app-secret-xyz"), &refresh, None).await).await;
    assert_eq!(status.as_u16(), 400);
    s.password_grant(
        ("app", "bad-secret-xyz"),
        "alice",
        "alice-password-xyz",
        None,
    )
    .await;
    let admin = reqwest::Client::new()
        .delete(s.url("/User/alice"))
        .bearer_auth("admin-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 200);

    let all = events(&s, &[]);
    let kinds: Vec<&str> = all.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "login_failure",
        "login_success",
        "refresh",
        "refresh_reuse",
        "admin_change",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let failure = all
        .iter()
        .find(|e| e["request_id"] == "req-42")
        .expect("the request id is recorded");
    assert_eq!(failure["detail"]["reason"], "bad_credentials");
    assert_eq!(failure["ip"], "127.0.0.1");
    assert_eq!(failure["user"], "alice");
    assert!(all
        .iter()
        .any(|e| e["kind"] == "client_auth_failure" && e["detail"]["reason"] == "wrong_secret"));
    let reuse = all.iter().find(|e| e["kind"] == "refresh_reuse").unwrap();
    assert!(reuse["detail"]["family_id"].is_string());
    let text = serde_json::to_string(&all).unwrap();
    for secret in [
        "app-secret-xyz",
        "alice-password-xyz",
        "wrong-password-xyz",
        "bad-secret-xyz",
        "admin-token-0123456789",
        &refresh,
        tokens["access_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "an event holds a secret");
    }
    // Filters: --user and --limit.
    assert!(events(&s, &["--user", "nobody"]).is_empty());
    let out = s.cli(&["events", "--limit", "1"], None);
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
}

/// RFC 7009 revocations are audited: what kind of token, its family, whether the caller owned
/// it — never the token itself; an unknown token is recorded as such and still answers 200.
#[tokio::test]
async fn revocations_are_recorded_without_the_token() {
    let s = TestServer::spawn();
    s.add_refreshing_client("app", "app-secret", &[]);
    s.add_user("erin", "erins-password", &[]);
    let tokens = s
        .login(("app", "app-secret"), "erin", "erins-password", None)
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    s.revoke(("app", "app-secret"), refresh, Some("refresh_token"))
        .await;
    s.revoke(("app", "app-secret"), "no-such-token", None).await;

    let all = events(&s, &[]);
    let revocations: Vec<&Value> = all.iter().filter(|e| e["kind"] == "revocation").collect();
    // The unknown token's revocation answers 200 and writes nothing.
    assert_eq!(revocations.len(), 1, "{all:?}");
    let known = revocations
        .iter()
        .find(|e| e["detail"]["token_type"] == "refresh_token")
        .expect("the refresh token's revocation");
    assert_eq!(known["client_id"], "app");
    assert_eq!(known["detail"]["revoked"], true);
    assert!(known["detail"]["family_id"].is_string());
    assert!(known["request_id"].is_string() && known["ip"] == "127.0.0.1");
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(refresh), "a token in the events");
}

/// Every change through the admin API is an `admin_change` event with the caller's address and
/// the request's id (`X-Request-Id` when the caller sends one), `detail.via = "admin_api"`, as
/// `GET /Event` shows; the same changes from the CLI say `via: "cli"`, with no address or request
/// id (there is no request).
#[tokio::test]
async fn admin_changes_carry_the_request_context() {
    let token = crate::admin::TOKEN;
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", token)
        .spawn();
    let user = serde_json::json!({"password": "pw-0123456789"});
    let client = serde_json::json!({"id": "web", "secret": "web-secret-0123"});
    use reqwest::Method;
    // (method, path, body, X-Request-Id, the event's action), sent in this order.
    let calls = [
        (
            Method::PUT,
            "/User/bob",
            Some(&user),
            "req-put-user",
            "create_user",
        ),
        (
            Method::PUT,
            "/User/bob",
            Some(&user),
            "req-update-user",
            "update_user",
        ),
        (
            Method::POST,
            "/Client",
            Some(&client),
            "req-post-client",
            "create_client",
        ),
        (
            Method::PUT,
            "/Client/web",
            Some(&client),
            "req-put-client",
            "update_client",
        ),
        (
            Method::DELETE,
            "/Client/web",
            None,
            "req-delete-client",
            "delete_client",
        ),
        (
            Method::POST,
            "/User/bob/unlock",
            None,
            "req-unlock",
            "unlock",
        ),
        (
            Method::DELETE,
            "/User/bob",
            None,
            "req-delete-user",
            "delete_user",
        ),
    ];
    let mut expected = Vec::new();
    for (method, path, body, request_id, action) in calls {
        let mut req = s.http.request(method, s.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.header("x-request-id", request_id).send().await.unwrap();
        assert!(resp.status().is_success(), "{action}: {}", resp.status());
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        expected.push((action, id));
    }
    s.add_user("carol", "pw-0123456789", &[]);

    let resp = s.get_bearer("/Event?limit=100", token).await;
    let (status, _, body) = json(resp).await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<&Value> = body["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    for (action, request_id) in &expected {
        assert!(request_id.starts_with("req-"), "{request_id}");
        let event = events
            .iter()
            .find(|e| e["request_id"] == request_id.as_str())
            .unwrap_or_else(|| panic!("no event for {action} ({request_id}): {events:?}"));
        if *action == "unlock" {
            assert_eq!(event["kind"], "unlock");
        } else {
            assert_eq!(event["kind"], "admin_change");
            assert_eq!(event["detail"]["action"], *action);
        }
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        assert_eq!(event["detail"]["via"], "admin_api", "{event}");
    }
    let cli = events
        .iter()
        .find(|e| e["user"] == "carol")
        .expect("the CLI's user add is recorded");
    assert_eq!(cli["kind"], "admin_change");
    assert_eq!(cli["detail"]["action"], "create_user");
    assert_eq!(cli["detail"]["via"], "cli");
    assert!(cli["ip"].is_null() && cli["request_id"].is_null(), "{cli}");
    assert!(
        !body.to_string().contains("pw-0123456789") && !body.to_string().contains("web-secret")
    );
}

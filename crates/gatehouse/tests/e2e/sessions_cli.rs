//! Sessions from the command line against the running server's database (issue 16): `session
//! list|revoke`, `user disable|enable`, `user add --active false`, and what the server then
//! does with the logins and tokens of those users.

use serde_json::{json, Value};

use crate::admin::{admin_server, TOKEN};
use crate::server::{reply, TestServer};
use crate::sessions_api::{by_agent, entries, login_as};

const APP: (&str, &str) = ("app", "app-secret");

fn server() -> TestServer {
    let s = admin_server();
    s.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid"]);
    s
}

/// The events of `user`, newest first, from `GET /Event`.
async fn events(s: &TestServer, user: &str) -> Vec<Value> {
    let resp = s.get_bearer(&format!("/Event?user={user}"), TOKEN).await;
    entries(&reply(resp).await.ok())
}

/// `session list` shows sessions by user and by client, never a token; `session revoke ID`
/// and `session revoke --user U --client C` end them at once and print their ids; `session
/// revoke` alone is refused rather than ending every session.
#[tokio::test]
async fn cli_lists_and_revokes_sessions() {
    let s = server();
    s.add_user("bob", "pw-0123456789", &[]);
    let one = login_as(&s, APP, "bob", "agent-one").await;
    let two = login_as(&s, APP, "bob", "agent-two").await;

    let listed = s.cli_ok(&["session", "list", "--user", "bob"], None);
    let sessions = listed.as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{listed}");
    let text = listed.to_string();
    for t in [&one, &two] {
        for key in ["access_token", "refresh_token"] {
            assert!(
                !text.contains(t[key].as_str().unwrap()),
                "a token leaked: {text}"
            );
        }
    }
    let first = by_agent(&sessions, "agent-one")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = by_agent(&sessions, "agent-two")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(by_agent(&sessions, "agent-one")["amr"], json!(["pwd"]));
    let by_client = s.cli_ok(&["session", "list", "--client", "app"], None);
    assert_eq!(by_client.as_array().unwrap().len(), 2);

    let refused = s.cli_refused(&["session", "revoke"], None);
    assert!(!refused.stderr.is_empty());
    s.cli_refused(&["session", "list", "--user", "nobody"], None);
    s.cli_refused(
        &["session", "revoke", "no-such-session", "--user", "bob"],
        None,
    );

    let revoked = s.cli_ok(&["session", "revoke", &first], None);
    assert_eq!(revoked, json!([first]));
    reply(
        s.refresh(APP, one["refresh_token"].as_str().unwrap(), None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
    let access = one["access_token"].as_str().unwrap();
    assert_eq!(s.introspect(APP, access).await["active"], false);
    assert_eq!(s.userinfo(access).await.status(), 401);
    s.refresh_ok(APP, two["refresh_token"].as_str().unwrap(), None)
        .await;

    let revoked = s.cli_ok(
        &["session", "revoke", "--user", "bob", "--client", "app"],
        None,
    );
    assert_eq!(revoked, json!([second]));
    let left = s.cli_ok(&["session", "list", "--user", "bob"], None);
    assert_eq!(left, json!([]));
    let ended = events(&s, "bob").await;
    let cli_event = ended
        .iter()
        .find(|e| e["kind"] == "session_revoked" && e["detail"]["sessions"] == json!([first]))
        .unwrap_or_else(|| panic!("no session_revoked event for {first}: {ended:?}"));
    assert_eq!(cli_event["detail"]["reason"], "admin");
    assert_eq!(cli_event["detail"]["via"], "cli");
}

/// `user disable` ends the user's sessions; their logins then fail exactly as a wrong password
/// does (same status and body), with a `login_failure` event of reason `disabled`, and count
/// toward no lockout; `user enable` lets them log in again, but the ended sessions stay ended.
#[tokio::test]
async fn a_disabled_user_fails_like_a_wrong_password() {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .env("GATEHOUSE_BRUTE_FORCE_THRESHOLD", "2")
        .spawn();
    s.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid"]);
    s.add_user("carl", "pw-0123456789", &[]);
    let before = login_as(&s, APP, "carl", "agent").await;

    let shown = s.cli_ok(&["user", "disable", "carl"], None);
    assert_eq!(shown["active"], false);
    assert_eq!(s.cli_ok(&["user", "show", "carl"], None)["active"], false);
    let refresh = before["refresh_token"].as_str().unwrap();
    reply(s.refresh(APP, refresh, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    assert_eq!(
        s.userinfo(before["access_token"].as_str().unwrap())
            .await
            .status(),
        401
    );

    // A wrong password, before the user was disabled: the answer to compare with.
    s.add_user("dan", "pw-0123456789", &[]);
    let wrong = reply(s.password_grant(APP, "dan", "wrong-password", None).await).await;
    wrong.oauth_error(400, "invalid_grant");
    // More disabled logins than the lockout threshold: none of them counts.
    for _ in 0..3 {
        let disabled = reply(s.password_grant(APP, "carl", "pw-0123456789", None).await).await;
        assert_eq!(disabled.status, wrong.status);
        assert_eq!(
            disabled.body, wrong.body,
            "a disabled user looks like a wrong password"
        );
    }
    let seen = events(&s, "carl").await;
    let failures: Vec<_> = seen
        .iter()
        .filter(|e| e["kind"] == "login_failure" && e["detail"]["reason"] == "disabled")
        .collect();
    assert_eq!(failures.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .any(|e| e["kind"] == "session_revoked" && e["detail"]["reason"] == "user_disabled"),
        "{seen:?}"
    );

    let shown = s.cli_ok(&["user", "enable", "carl"], None);
    assert_eq!(shown["active"], true);
    login_as(&s, APP, "carl", "agent").await;
    reply(s.refresh(APP, refresh, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    s.cli_refused(&["user", "disable", "nobody"], None);
}

/// `user add --active false` adds a user who cannot log in until `user enable`.
#[tokio::test]
async fn a_user_can_be_added_disabled() {
    let s = server();
    let added = s.add_user("dora", "pw-0123456789", &["--active", "false"]);
    assert_eq!(added["active"], false);
    reply(s.password_grant(APP, "dora", "pw-0123456789", None).await)
        .await
        .oauth_error(400, "invalid_grant");
    s.cli_ok(&["user", "enable", "dora"], None);
    login_as(&s, APP, "dora", "agent").await;
    s.cli_refused(
        &[
            "user",
            "add",
            "eve",
            "--password-stdin",
            "--active",
            "maybe",
        ],
        Some("pw"),
    );
}

/// `user set-password` ends the user's sessions by default; with
/// `GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE=none` (read by the CLI as by the server) it ends none.
#[tokio::test]
async fn set_password_ends_sessions_as_configured() {
    let s = server();
    s.add_user("fay", "pw-0123456789", &[]);
    let old = login_as(&s, APP, "fay", "agent").await;
    s.cli_ok(
        &["user", "set-password", "fay", "--password-stdin"],
        Some("pw-0123456789\n"),
    );
    let refresh = old["refresh_token"].as_str().unwrap();
    reply(s.refresh(APP, refresh, None).await)
        .await
        .oauth_error(400, "invalid_grant");

    let kept = TestServer::builder()
        .env("GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE", "none")
        .spawn();
    kept.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid"]);
    kept.add_user("fay", "pw-0123456789", &[]);
    let old = login_as(&kept, APP, "fay", "agent").await;
    kept.cli_ok(
        &["user", "set-password", "fay", "--password-stdin"],
        Some("pw-0123456789\n"),
    );
    kept.refresh_ok(APP, old["refresh_token"].as_str().unwrap(), None)
        .await;
}

//! Issue 20 over real HTTP and the real CLI: the NIST SP 800-63B-4 password policy wherever a
//! password is set (admin API, `user add`, `user set-password`, self-service), the knowing
//! override, the history, Unicode NFKC normalisation with its transition for old hashes, the
//! self-service change (`POST /account/password`) and the maximum age. The breached lists are
//! in `breached.rs`.

use serde_json::{json, Value};

use crate::admin::{put_json, TOKEN};
use crate::events::events;
use crate::server::{reply, TestServer};

const APP: (&str, &str) = ("app", "app-secret");
const GOOD: &str = "correct horse battery staple";

/// [`bare_server`] and `erin` with [`GOOD`].
fn server(extra: &[(&str, &str)]) -> TestServer {
    let s = bare_server(extra);
    s.add_user("erin", GOOD, &[]);
    s
}

/// A server with NIST's default policy and the admin API, and a client that may use the
/// password and refresh grants and grant `account`.
fn bare_server(extra: &[(&str, &str)]) -> TestServer {
    let mut b = TestServer::builder()
        .nist_passwords()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN);
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let s = b.spawn();
    s.add_client(
        "app",
        &[
            "--secret",
            "app-secret",
            "--grant-types",
            "password,refresh_token",
            "--scopes",
            "openid account",
            "--default-scopes",
            "openid",
        ],
    );
    s
}

/// The rule a refused write named, after checking the answer's shape: 422 `invalid_password`
/// with the rule and a description in RFC 6749 §5.2's characters that never holds the password.
#[track_caller]
fn refused_rule(status: reqwest::StatusCode, body: &Value, password: &str) -> String {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "invalid_password", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(!description.contains(password), "{description}");
    body["rule"].as_str().unwrap().to_owned()
}

/// Every rule of the default policy in the admin API: too short (counted in characters after
/// NFKC, not bytes), a control character, the username or a variant of it, the service's name;
/// a long passphrase of lower-case words and spaces, or of non-ASCII letters, is fine.
#[tokio::test]
async fn the_admin_api_names_the_rule_a_new_password_fails() {
    let s = server(&[]);
    for (password, rule) in [
        ("fourteen chars", "min_length"),
        ("tab\tin the middle!", "characters"),
        ("Frank.Miller 2024", "context"),
        ("frank.miller@corp.example", "context"),
        ("GateHouse-2024-2025", "context"),
    ] {
        let body = json!({"password": password, "email": "frank.miller@corp.example"});
        let (status, answer) = put_json(&s, "/User/frank.miller", &body).await;
        assert_eq!(
            refused_rule(status, &answer, password),
            rule,
            "{password:?}"
        );
    }
    // 14 two-byte characters are 28 bytes and still too short; 15 are enough.
    let short = "äöüßéèêëçñõåøæ";
    let (status, answer) = put_json(&s, "/User/frank", &json!({"password": short})).await;
    assert_eq!(refused_rule(status, &answer, short), "min_length");
    let (status, created) =
        put_json(&s, "/User/frank", &json!({"password": "äöüßéèêëçñõåøæœ"})).await;
    assert_eq!(status, 201, "{created}");
    assert!(created["password_changed_at"].as_i64().unwrap() > 1_700_000_000);
    assert!(created["password_change_required"].is_null(), "{created}");
    let (status, _) = put_json(
        &s,
        "/User/gina",
        &json!({"password": "purple monkey dishwasher"}),
    )
    .await;
    assert_eq!(status, 201);
    s.login(APP, "gina", "purple monkey dishwasher", None).await;
    // A refused PUT of an existing user changes nothing, not even the fields next to it.
    let body = json!({"password": "short", "email": "new@example.com"});
    let (status, answer) = put_json(&s, "/User/gina", &body).await;
    assert_eq!(refused_rule(status, &answer, "short"), "min_length");
    let (_, gina) = crate::admin::get(&s, "/User/gina").await;
    assert!(gina["email"].is_null(), "{gina}");
    s.login(APP, "gina", "purple monkey dishwasher", None).await;
}

/// `"allow_weak_password": true` sets a failing password knowingly, records which rule it
/// failed (never the password), and the user logs in with it: a policy binds new passwords,
/// never logins.
#[tokio::test]
async fn an_administrator_can_set_a_weak_password_knowingly_and_it_is_recorded() {
    let s = server(&[]);
    let body = json!({"password": "pw", "allow_weak_password": true});
    let (status, _) = put_json(&s, "/User/kim", &body).await;
    assert_eq!(status, 201);
    s.login(APP, "kim", "pw", None).await;
    let weak: Vec<Value> = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "weak_password_allowed")
        .collect();
    assert_eq!(weak.len(), 1, "{weak:?}");
    assert_eq!(weak[0]["detail"]["rule"], "min_length");
    assert_eq!(weak[0]["detail"]["via"], "admin_api");
    assert_eq!(weak[0]["user"], "kim");
    assert!(!weak[0].to_string().contains("\"pw\""), "{}", weak[0]);
    // The flag is a boolean.
    let (status, answer) = put_json(
        &s,
        "/User/kim",
        &json!({"password": "x", "allow_weak_password": "yes"}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
}

/// The CLI holds `user add` and `user set-password` to the same rules, says which rule failed
/// without echoing the password, and takes `--allow-weak-password`.
#[tokio::test]
async fn the_cli_refuses_weak_passwords_unless_told() {
    let s = server(&[]);
    let out = s.cli(
        &["user", "add", "lee", "--password-stdin"],
        Some("hunter2\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_password: min_length"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let out = s.cli(&["user", "show", "lee"], None);
    assert!(!out.status.success(), "a refused user must not exist");
    s.add_user("lee", "hunter2", &["--allow-weak-password"]);
    let out = s.cli(
        &["user", "set-password", "lee", "--password-stdin"],
        Some("lee\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid_password: min_length"), "{err}");
    s.cli_ok(
        &["user", "set-password", "lee", "--password-stdin"],
        Some(&format!("{GOOD}\n")),
    );
    s.login(APP, "lee", GOOD, None).await;
    let recorded: Vec<Value> = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "weak_password_allowed")
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["detail"]["via"], "cli");
}

/// `--password-require-classes` and `--password-history` (operators bound by older rules): a
/// password mixing too few classes is refused, and so is any of the last N; the N+1th back is
/// allowed again.
#[tokio::test]
async fn classes_and_history_are_enforced_when_configured() {
    let s = bare_server(&[
        ("GATEHOUSE_PASSWORD_REQUIRE_CLASSES", "3"),
        ("GATEHOUSE_PASSWORD_HISTORY", "2"),
    ]);
    s.add_user("erin", "Correct horse battery 0", &[]);
    let first = "Correct horse battery 1";
    let second = "Correct horse battery 2";
    let third = "Correct horse battery 3";
    let (status, answer) = put_json(&s, "/User/erin", &json!({"password": GOOD})).await;
    assert_eq!(refused_rule(status, &answer, GOOD), "character_classes");
    for password in [first, second] {
        let (status, answer) = put_json(&s, "/User/erin", &json!({"password": password})).await;
        assert_eq!(status, 200, "{answer}");
    }
    // `second` is the current one, `first` the one before: both are refused.
    for password in [second, first] {
        let (status, answer) = put_json(&s, "/User/erin", &json!({"password": password})).await;
        assert_eq!(refused_rule(status, &answer, password), "history");
    }
    let (status, _) = put_json(&s, "/User/erin", &json!({"password": third})).await;
    assert_eq!(status, 200);
    // Now the history holds `third` and `second`: `first` is allowed again.
    let (status, _) = put_json(&s, "/User/erin", &json!({"password": first})).await;
    assert_eq!(status, 200);
    s.login(APP, "erin", first, None).await;
}

/// NFKC: a password typed in full-width letters is the same password as in ASCII. A hash stored
/// before passwords were normalised (here imported: bcrypt of the full-width form) still logs
/// in with the form it was made of, is rehashed to the normalised form at that login, and from
/// then on either form works.
#[tokio::test]
async fn passwords_are_normalised_and_old_hashes_of_the_typed_form_still_log_in() {
    let s = server(&[]);
    let wide = "ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ";
    let narrow = "correct horse battery";
    s.add_user("nora", wide, &[]);
    s.login(APP, "nora", narrow, None).await;
    s.login(APP, "nora", wide, None).await;

    let hash = bcrypt::hash(wide, 4).unwrap();
    let line = json!({"username": "olga", "password_hash": hash}).to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    s.cli_ok(&["user", "import", file.to_str().unwrap()], None);
    reply(s.password_grant(APP, "olga", narrow, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    s.login(APP, "olga", wide, None).await;
    let olga = s.cli_ok(&["user", "show", "olga"], None);
    let scheme = olga["password_scheme"].as_str().unwrap();
    assert!(scheme.starts_with("argon2id "), "{olga}");
    s.login(APP, "olga", narrow, None).await;
    s.login(APP, "olga", wide, None).await;
}

/// A login with the `account` scope.
async fn account_login(s: &TestServer, user: &str, password: &str) -> Value {
    s.login(APP, user, password, Some("openid account")).await
}

/// `POST /account/password`.
async fn change(s: &TestServer, token: &str, current: &str, new: &str) -> crate::reply::Reply {
    let resp = s
        .http
        .post(s.url("/account/password"))
        .bearer_auth(token)
        .form(&[("current_password", current), ("new_password", new)])
        .send()
        .await
        .unwrap();
    crate::reply::Reply {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

/// The self-service change: the current password proven, the new one held to the client's
/// rules, the old one refused afterwards, every session ended (the default
/// `--sessions-on-password-change all`), and a `password_changed` event.
#[tokio::test]
async fn a_user_changes_their_own_password() {
    let s = server(&[]);
    let tokens = account_login(&s, "erin", GOOD).await;
    let other = account_login(&s, "erin", GOOD).await;
    let token = tokens["access_token"].as_str().unwrap();
    let new = "a brand new passphrase";
    let weak = change(&s, token, GOOD, "too short").await;
    assert_eq!(
        refused_rule(weak.status, &weak.body, "too short"),
        "min_length"
    );
    let done = change(&s, token, GOOD, new).await;
    assert_eq!(done.status, 204, "{:?}", done.body);
    assert_eq!(done.headers["cache-control"], "no-store");
    reply(s.password_grant(APP, "erin", GOOD, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    s.login(APP, "erin", new, None).await;
    for t in [&tokens, &other] {
        let refresh = t["refresh_token"].as_str().unwrap();
        reply(s.refresh(APP, refresh, None).await)
            .await
            .oauth_error(400, "invalid_grant");
    }
    let changed: Vec<Value> = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "password_changed")
        .collect();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["user"], "erin");
    assert_eq!(changed[0]["client_id"], "app");
}

/// With `--sessions-on-password-change all-but-current`, the session the change is made from
/// lives on and the others end.
#[tokio::test]
async fn all_but_current_keeps_the_session_the_change_is_made_from() {
    let s = server(&[("GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE", "all-but-current")]);
    let mine = account_login(&s, "erin", GOOD).await;
    let other = account_login(&s, "erin", GOOD).await;
    let token = mine["access_token"].as_str().unwrap();
    let done = change(&s, token, GOOD, "a brand new passphrase").await;
    assert_eq!(done.status, 204, "{:?}", done.body);
    s.refresh_ok(APP, mine["refresh_token"].as_str().unwrap(), None)
        .await;
    reply(
        s.refresh(APP, other["refresh_token"].as_str().unwrap(), None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
}

/// What the endpoint refuses: no token (401 with a bare Bearer challenge), a token without the
/// `account` scope (403 insufficient_scope), a client token (401), a wrong current password
/// (403 access_denied, counted toward the lockout: with a threshold of 3 the account locks),
/// a missing field (400).
#[tokio::test]
async fn the_self_service_change_refuses_what_it_must() {
    let s = server(&[("GATEHOUSE_BRUTE_FORCE_THRESHOLD", "3")]);
    let resp = s
        .http
        .post(s.url("/account/password"))
        .form(&[
            ("current_password", GOOD),
            ("new_password", "another passphrase"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");

    let plain = s.login(APP, "erin", GOOD, Some("openid")).await;
    let no_scope = change(
        &s,
        plain["access_token"].as_str().unwrap(),
        GOOD,
        "another passphrase",
    )
    .await;
    assert_eq!(no_scope.status, 403, "{:?}", no_scope.body);
    assert_eq!(no_scope.body["error"], "insufficient_scope");

    let token = account_login(&s, "erin", GOOD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let missing = s
        .http
        .post(s.url("/account/password"))
        .bearer_auth(&token)
        .form(&[("new_password", "another passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    for _ in 0..3 {
        let wrong = change(&s, &token, "not my password at all", "another passphrase").await;
        assert_eq!(wrong.status, 403, "{:?}", wrong.body);
        assert_eq!(wrong.body["error"], "access_denied");
    }
    // Three failures lock the account: even the right password is refused now, at the token
    // endpoint and here.
    reply(s.password_grant(APP, "erin", GOOD, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    let locked = change(&s, &token, GOOD, "another passphrase").await;
    assert_eq!(locked.status, 403, "{:?}", locked.body);
}

/// Eight concurrent changes from the same current password: exactly one wins (the others find
/// the password changed, or the current one wrong), and the password is the winner's.
#[tokio::test]
async fn concurrent_self_service_changes_let_exactly_one_win() {
    let s = server(&[("GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE", "none")]);
    let token = account_login(&s, "erin", GOOD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (s, token) = (&s, token.clone());
            async move {
                let new = format!("concurrent passphrase {i}");
                (change(s, &token, GOOD, &new).await.status.as_u16(), new)
            }
        })
        .collect();
    let results = futures::future::join_all(tasks).await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|(status, _)| *status == 204)
        .map(|(_, new)| new)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (status, _) in &results {
        assert!([204, 403, 409].contains(status), "{results:?}");
    }
    s.login(APP, "erin", winners[0], None).await;
}

/// `--password-max-age-days`: a login with a password older than that succeeds, says
/// `password_change_required: expired` in the token response, marks the user (the User
/// resource shows it), and records a `password_expired` event; a new password lifts the mark.
#[tokio::test]
async fn an_expired_password_is_marked_at_login() {
    let s = server(&[("GATEHOUSE_PASSWORD_MAX_AGE_DAYS", "30")]);
    let fresh = s.login(APP, "erin", GOOD, None).await;
    assert!(fresh.get("password_change_required").is_none(), "{fresh}");
    // Thirty-one days ago.
    let aged = chrono_days_ago(31);
    s.db.execute(&format!(
        "UPDATE users SET password_changed_at = {aged} WHERE username = 'erin'"
    ))
    .await;
    let old = s.login(APP, "erin", GOOD, None).await;
    assert_eq!(old["password_change_required"], "expired", "{old}");
    let (_, erin) = crate::admin::get(&s, "/User/erin").await;
    assert_eq!(erin["password_change_required"], "expired", "{erin}");
    let expired = events(&s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "password_expired")
        .count();
    assert_eq!(expired, 1);
    let (status, _) = put_json(
        &s,
        "/User/erin",
        &json!({"password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, erin) = crate::admin::get(&s, "/User/erin").await;
    assert!(erin["password_change_required"].is_null(), "{erin}");
    let renewed = s.login(APP, "erin", "a brand new passphrase", None).await;
    assert!(
        renewed.get("password_change_required").is_none(),
        "{renewed}"
    );
}

/// Unix seconds `days` days ago, by the clock the server reads.
fn chrono_days_ago(days: i64) -> i64 {
    use gatehouse_core::clock::{Clock, SystemClock};
    SystemClock.now() - days * 86_400
}

/// `user import` of plaintext passwords (`"password"` lines): each is held to the policy (a
/// refused line is reported by number, never with its password, and the others are imported),
/// `--allow-weak-password` imports it knowingly, and the imported users log in.
#[tokio::test]
async fn imported_plaintext_passwords_are_held_to_the_policy() {
    let s = bare_server(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    let lines = [
        json!({"username": "yara", "password": GOOD}),
        json!({"username": "zed", "password": "zed2024"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    let out = s.cli(&["user", "import", path], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2: invalid_password: min_length"),
        "{err}"
    );
    assert!(!err.contains("zed2024"), "{err}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({"imported": 1, "skipped_existing": 0, "failed": 1})
    );
    s.login(APP, "yara", GOOD, None).await;
    let again = s.cli_ok(&["user", "import", path, "--allow-weak-password"], None);
    assert_eq!(
        again,
        json!({"imported": 1, "skipped_existing": 1, "failed": 0})
    );
    s.login(APP, "zed", "zed2024", None).await;
}

/// Only an access token changes a password: the same login's refresh token and id_token, sent
/// as the bearer, are `invalid_token`, and the password stays.
#[tokio::test]
async fn only_an_access_token_changes_a_password() {
    let s = server(&[]);
    let tokens = account_login(&s, "erin", GOOD).await;
    for field in ["refresh_token", "id_token"] {
        let wrong = tokens[field].as_str().unwrap();
        let r = change(&s, wrong, GOOD, "a brand new passphrase").await;
        assert_eq!(r.status, 401, "{field}: {:?}", r.body);
        assert_eq!(r.body["error"], "invalid_token", "{field}");
    }
    s.login(APP, "erin", GOOD, None).await;
}

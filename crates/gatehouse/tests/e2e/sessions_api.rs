//! Sessions in the admin API over real HTTP (issue 16): `GET /User/{id}/sessions`, `DELETE
//! /User/{id}/sessions[/{sid}]`, `GET /Client/{id}/sessions`, the Client resource's session
//! limit, `PUT /User/{id}?keep_session=SID`, and the `session_revoked` events. The CLI's
//! `session` and `user disable|enable` commands are in `sessions_cli.rs`.

use serde_json::{json, Value};

use crate::admin::{admin_server, get, put_json, send, TOKEN};
use crate::jwt_parts;
use crate::server::{assert_status, reply, TestServer};

const APP: (&str, &str) = ("app", "app-secret");

/// A password login of `user` sent with this User-Agent; the token response.
pub async fn login_as(s: &TestServer, client: (&str, &str), user: &str, agent: &str) -> Value {
    let form = [
        ("grant_type", "password"),
        ("username", user),
        ("password", "pw-0123456789"),
        ("scope", "openid"),
    ];
    let resp = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth(client.0, Some(client.1))
        .header("User-Agent", agent)
        .form(&form)
        .send()
        .await
        .unwrap();
    reply(resp).await.token_response()
}

/// The resources of a Bundle.
pub fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .unwrap_or_else(|| panic!("not a Bundle: {bundle}"))
        .iter()
        .map(|e| e["resource"].clone())
        .collect()
}

/// The session opened by the login whose User-Agent was `agent`.
#[track_caller]
pub fn by_agent<'a>(sessions: &'a [Value], agent: &str) -> &'a Value {
    sessions
        .iter()
        .find(|s| s["user_agent"] == agent)
        .unwrap_or_else(|| panic!("no session from {agent}: {sessions:?}"))
}

async fn delete(s: &TestServer, path: &str) -> (reqwest::StatusCode, Value) {
    send(s, reqwest::Method::DELETE, path, None, "").await
}

/// Whether an access token still passes introspection and `/userinfo`.
async fn access_token_works(s: &TestServer, token: &str) -> bool {
    let active = s.introspect(APP, token).await["active"] == json!(true);
    let userinfo = s.userinfo(token).await.status().as_u16();
    assert_eq!(
        active,
        userinfo == 200,
        "introspection and /userinfo disagree"
    );
    if !active {
        assert_eq!(userinfo, 401);
    }
    active
}

/// Two logins from two user agents are two sessions, shown with their client, scope, amr,
/// address and user agent but never a token; ending one (`DELETE /User/{id}/sessions/{sid}`)
/// kills its refresh token (invalid_grant) and its access token (inactive at introspection,
/// 401 at /userinfo) at once while the other lives on; the ending is a `session_revoked` event
/// with reason `admin`; `DELETE /User/{id}/sessions` ends the rest.
#[tokio::test]
async fn admin_lists_and_ends_a_users_sessions() {
    let s = admin_server();
    s.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid email"]);
    s.add_user("ann", "pw-0123456789", &[]);
    let laptop = login_as(&s, APP, "ann", "laptop-agent/1.0").await;
    let phone = login_as(&s, APP, "ann", "phone-agent/2.0").await;

    let (status, bundle) = get(&s, "/User/ann/sessions").await;
    assert_status(status, &bundle, 200);
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["total"], 2, "{bundle}");
    let text = bundle.to_string();
    for token in [&laptop, &phone].iter().flat_map(|t| {
        ["access_token", "refresh_token", "id_token"].map(|k| t[k].as_str().unwrap().to_owned())
    }) {
        assert!(!text.contains(&token), "a token leaked into {text}");
    }
    let sessions = entries(&bundle);
    let first = by_agent(&sessions, "laptop-agent/1.0").clone();
    let second = by_agent(&sessions, "phone-agent/2.0").clone();
    for (session, tokens) in [(&first, &laptop), (&second, &phone)] {
        assert_eq!(session["resourceType"], "Session");
        assert_eq!(session["client"], "app");
        assert_eq!(session["user"], "ann");
        assert_eq!(session["amr"], json!(["pwd"]));
        assert_eq!(session["scope"], "openid");
        assert_eq!(session["ip"], "127.0.0.1");
        let (_, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
        assert_eq!(
            claims["sid"], session["id"],
            "the id_token names the session"
        );
    }
    let sid = first["id"].as_str().unwrap();

    let (status, filtered) = get(&s, "/User/ann/sessions?client=app").await;
    assert_status(status, &filtered, 200);
    assert_eq!(filtered["total"], 2);

    let (status, body) = delete(&s, &format!("/User/ann/sessions/{sid}")).await;
    assert_status(status, &body, 200);
    assert_eq!(body["revoked"], json!([sid]));
    let laptop_refresh = laptop["refresh_token"].as_str().unwrap();
    reply(s.refresh(APP, laptop_refresh, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    assert!(!access_token_works(&s, laptop["access_token"].as_str().unwrap()).await);
    assert!(access_token_works(&s, phone["access_token"].as_str().unwrap()).await);
    let rotated = s
        .refresh_ok(APP, phone["refresh_token"].as_str().unwrap(), None)
        .await;
    assert!(access_token_works(&s, rotated["access_token"].as_str().unwrap()).await);

    let (status, bundle) = get(&s, "/Client/app/sessions").await;
    assert_status(status, &bundle, 200);
    let left = entries(&bundle);
    assert_eq!(left.len(), 1, "{bundle}");
    assert_eq!(
        left[0]["id"], second["id"],
        "a refresh stays in its session"
    );

    let resp = s.get_bearer("/Event?user=ann", TOKEN).await;
    let events = entries(&reply(resp).await.ok());
    let revoked = events
        .iter()
        .find(|e| e["kind"] == "session_revoked")
        .unwrap_or_else(|| panic!("no session_revoked event: {events:?}"));
    assert_eq!(revoked["detail"]["reason"], "admin");
    assert_eq!(revoked["detail"]["sessions"], json!([sid]));
    assert_eq!(revoked["detail"]["via"], "admin_api");

    let (status, body) = delete(&s, "/User/ann/sessions").await;
    assert_status(status, &body, 200);
    assert_eq!(body["revoked"], json!([second["id"]]));
    assert!(!access_token_works(&s, rotated["access_token"].as_str().unwrap()).await);
    let (_, bundle) = get(&s, "/User/ann/sessions").await;
    assert_eq!(bundle["total"], 0, "{bundle}");
}

/// Unknown users, clients and sessions are 404s, as elsewhere in the admin API; a session of
/// another user, or one already ended, is not one of this user's.
#[tokio::test]
async fn unknown_users_clients_and_sessions_are_not_found() {
    let s = admin_server();
    s.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid"]);
    s.add_user("ann", "pw-0123456789", &[]);
    s.add_user("bea", "pw-0123456789", &[]);
    login_as(&s, APP, "bea", "agent").await;
    let (_, bundle) = get(&s, "/User/bea/sessions").await;
    let beas = entries(&bundle)[0]["id"].as_str().unwrap().to_owned();

    for (method, path) in [
        (reqwest::Method::GET, "/User/nobody/sessions".to_owned()),
        (reqwest::Method::DELETE, "/User/nobody/sessions".to_owned()),
        (
            reqwest::Method::GET,
            "/User/ann/sessions?client=nope".to_owned(),
        ),
        (reqwest::Method::GET, "/Client/nope/sessions".to_owned()),
        (
            reqwest::Method::DELETE,
            "/User/ann/sessions/no-such-id".to_owned(),
        ),
        (
            reqwest::Method::DELETE,
            format!("/User/ann/sessions/{beas}"),
        ),
    ] {
        let (status, body) = send(&s, method.clone(), &path, None, "").await;
        assert_status(status, &body, 404);
        assert_eq!(body["error"], "not_found", "{method} {path}");
    }
    let (status, _) = delete(&s, &format!("/User/bea/sessions/{beas}")).await;
    assert_eq!(status, 200);
    let (status, _) = delete(&s, &format!("/User/bea/sessions/{beas}")).await;
    assert_eq!(status, 404, "an ended session is not live");
    let resp = s
        .get_bearer("/User/bea/sessions", "wrong-token-0123456789")
        .await;
    assert_eq!(resp.status(), 401);
}

/// `max_sessions_per_user` and `session_limit_policy` are Client resource fields (null: the
/// server's default) and the same-named `client add|update` flags; `deny` refuses the login
/// beyond the limit.
#[tokio::test]
async fn clients_carry_their_session_limit() {
    let s = admin_server();
    let body = json!({"secret": "lim-secret", "grant_types": ["password"], "scopes": ["openid"],
        "max_sessions_per_user": 2, "session_limit_policy": "deny"});
    let (status, created) = put_json(&s, "/Client/lim", &body).await;
    assert_status(status, &created, 201);
    assert_eq!(created["max_sessions_per_user"], 2);
    assert_eq!(created["session_limit_policy"], "deny");
    s.add_client(
        "cli-lim",
        &[
            "--secret",
            "s",
            "--max-sessions-per-user",
            "2",
            "--session-limit-policy",
            "deny",
        ],
    );
    s.add_client("plain", &[]);
    let (status, list) = get(&s, "/Client").await;
    assert_status(status, &list, 200);
    let clients = entries(&list);
    for id in ["lim", "cli-lim"] {
        let c = clients.iter().find(|c| c["id"] == id).unwrap();
        assert_eq!(c["max_sessions_per_user"], 2, "{c}");
        assert_eq!(c["session_limit_policy"], "deny", "{c}");
    }
    let plain = clients.iter().find(|c| c["id"] == "plain").unwrap();
    assert!(plain["max_sessions_per_user"].is_null(), "{plain}");
    assert!(plain["session_limit_policy"].is_null(), "{plain}");

    s.add_user("ann", "pw-0123456789", &[]);
    let limited = ("lim", "lim-secret");
    login_as(&s, limited, "ann", "a").await;
    login_as(&s, limited, "ann", "b").await;
    let resp = s
        .password_grant(limited, "ann", "pw-0123456789", None)
        .await;
    reply(resp).await.oauth_error(400, "invalid_grant");

    s.cli_ok(
        &[
            "client",
            "update",
            "cli-lim",
            "--max-sessions-per-user",
            "default",
        ],
        None,
    );
    let (_, shown) = get(&s, "/Client/cli-lim").await;
    assert!(shown["max_sessions_per_user"].is_null(), "{shown}");
    assert_eq!(
        shown["session_limit_policy"], "deny",
        "update keeps what it is not given"
    );
    for bad in [json!(-1), json!(1.5), json!("2")] {
        let (status, body) =
            put_json(&s, "/Client/bad", &json!({"max_sessions_per_user": bad})).await;
        assert_status(status, &body, 422);
    }
    let body = json!({"session_limit_policy": "newest"});
    let (status, body) = put_json(&s, "/Client/bad", &body).await;
    assert_status(status, &body, 422);
    s.cli_refused(
        &[
            "client",
            "update",
            "plain",
            "--session-limit-policy",
            "newest",
        ],
        None,
    );
    s.cli_refused(
        &["client", "update", "nope", "--max-sessions-per-user", "1"],
        None,
    );
}

/// The server's `--max-sessions-per-user` and `--session-limit-policy` hold for clients that
/// set none; a client's own 0 is no limit.
#[tokio::test]
async fn the_server_default_session_limit_applies_to_clients_without_one() {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .args(&[
            "--max-sessions-per-user",
            "1",
            "--session-limit-policy",
            "deny",
        ])
        .spawn();
    s.add_client("app", &["--secret", "s", "--scopes", "openid"]);
    let free = [
        "--secret",
        "s",
        "--scopes",
        "openid",
        "--max-sessions-per-user",
        "0",
    ];
    s.add_client("free", &free);
    s.add_user("ann", "pw-0123456789", &[]);
    login_as(&s, ("app", "s"), "ann", "a").await;
    let resp = s
        .password_grant(("app", "s"), "ann", "pw-0123456789", None)
        .await;
    reply(resp).await.oauth_error(400, "invalid_grant");
    for agent in ["a", "b", "c"] {
        login_as(&s, ("free", "s"), "ann", agent).await;
    }
    let (_, bundle) = get(&s, "/User/ann/sessions?client=free").await;
    assert_eq!(bundle["total"], 3);
}

/// With `--sessions-on-password-change all-but-current`, `PUT /User/{id}?keep_session=SID`
/// with a new password ends every other session of the user and keeps that one.
#[tokio::test]
async fn a_password_change_can_keep_the_current_session() {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .env("GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE", "all-but-current")
        .spawn();
    s.add_refreshing_client(APP.0, APP.1, &["--scopes", "openid"]);
    s.add_user("ann", "pw-0123456789", &[]);
    let current = login_as(&s, APP, "ann", "current").await;
    let other = login_as(&s, APP, "ann", "other").await;
    let (_, bundle) = get(&s, "/User/ann/sessions").await;
    let sessions = entries(&bundle);
    let keep = by_agent(&sessions, "current")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let path = format!("/User/ann?keep_session={keep}");
    let (status, body) = put_json(&s, &path, &json!({"password": "new-pw-0123456789"})).await;
    assert_status(status, &body, 200);
    assert!(access_token_works(&s, current["access_token"].as_str().unwrap()).await);
    assert!(!access_token_works(&s, other["access_token"].as_str().unwrap()).await);
    let (_, bundle) = get(&s, "/User/ann/sessions").await;
    assert_eq!(entries(&bundle).len(), 1, "{bundle}");
    assert_eq!(entries(&bundle)[0]["id"], keep.as_str());
}

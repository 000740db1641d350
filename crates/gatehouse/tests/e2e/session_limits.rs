//! Issue 16's per-client session limit (`max_sessions_per_user`, `session_limit_policy`) under
//! 20 concurrent password logins (RFC 6749 §4.3) of one user against a limit of 3, on both back
//! ends: `evict_oldest` leaves exactly 3 live sessions, `deny` lets exactly 3 logins through.

use futures::future::join_all;
use serde_json::{json, Value};

use crate::admin::put_json;
use crate::database::Backend;
use crate::server::{assert_oauth_error, json, TestServer};
use crate::sessions::{client_body, put_ok, server, text, APP, USER};

/// A server whose client `app` keeps at most 3 sessions per user with `policy`, set through
/// the Client resource.
async fn limited_server(policy: &str) -> TestServer {
    let s = server(&[]);
    let limit = json!({"max_sessions_per_user": 3, "session_limit_policy": policy});
    let (status, body) = put_json(&s, "/Client/app", &client_body(APP.1, limit.clone())).await;
    if status == 422 && body["error_description"] == "max_sessions_per_user: unknown field" {
        // Until the Client resource takes the limit (issue 16, item 4), the same settings are
        // written where the server reads them, so the race below is tested meanwhile.
        eprintln!(
            "\n*** NOTICE: the Client resource refuses max_sessions_per_user; the limit is \
             written into the stored client settings instead ***\n"
        );
        put_ok(&s, "/Client/app", &client_body(APP.1, json!({}))).await;
        let settings = match s.db.backend {
            Backend::Sqlite => format!("json_patch(settings, '{limit}')"),
            Backend::Postgres => format!("(settings::jsonb || '{limit}'::jsonb)::text"),
        };
        let sql = format!("UPDATE clients SET settings = {settings} WHERE id = 'app'");
        s.db.execute(&sql).await;
    } else {
        assert!(status == 200 || status == 201, "{status} {body}");
    }
    s
}

/// 20 concurrent password logins of one user: their (status, body) answers.
async fn twenty_logins(s: &TestServer) -> Vec<(u16, Value)> {
    let logins = (0..20).map(|_| async {
        let resp = s.password_grant(APP, USER.0, USER.1, Some("openid")).await;
        let (status, _, body) = json(resp).await;
        (status.as_u16(), body)
    });
    join_all(logins).await
}

/// `evict_oldest` under 20 concurrent logins against a limit of 3: every login succeeds, and
/// exactly 3 sessions stay live: 3 of the 20 refresh tokens refresh, 3 access tokens are active.
#[tokio::test]
async fn twenty_concurrent_logins_leave_exactly_the_limit_of_live_sessions() {
    let s = limited_server("evict_oldest").await;
    let answers = twenty_logins(&s).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let mut active = 0;
    for (_, tokens) in &answers {
        let found = s.introspect(APP, text(tokens, "access_token")).await;
        active += usize::from(found["active"] == true);
    }
    let mut refreshed = 0;
    for (_, tokens) in &answers {
        let resp = s.refresh(APP, text(tokens, "refresh_token"), None).await;
        let (status, _, body) = json(resp).await;
        match status.as_u16() {
            200 => refreshed += 1,
            _ => assert_oauth_error(status, &body, 400, "invalid_grant"),
        }
    }
    assert_eq!((active, refreshed), (3, 3));
}

/// `deny` under 20 concurrent logins against a limit of 3: exactly 3 succeed and 17 get
/// `invalid_grant` with a description.
#[tokio::test]
async fn with_deny_exactly_the_limit_of_concurrent_logins_succeed() {
    let s = limited_server("deny").await;
    let answers = twenty_logins(&s).await;
    let mut ok = 0;
    for (status, body) in &answers {
        match status {
            200 => ok += 1,
            _ => assert_oauth_error((*status).try_into().unwrap(), body, 400, "invalid_grant"),
        }
    }
    assert_eq!(ok, 3);
    for (_, tokens) in answers.iter().filter(|(status, _)| *status == 200) {
        s.refresh_ok(APP, text(tokens, "refresh_token"), None).await;
    }
}

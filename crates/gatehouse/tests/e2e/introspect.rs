//! Token introspection (RFC 7662) over HTTP.

use crate::refresh::{logged_in, login, server, APP, OTHER, USER};
use crate::reply::Reply;
use crate::revoke::revoke_access_token_and_see_it_refused;
use crate::server::{json, reply, TestServer};

/// RFC 7662 §2.2: a live access token's metadata.
#[tokio::test]
async fn a_live_access_token_is_described() {
    let (s, tokens) = logged_in("openid email").await;
    let at = tokens["access_token"].as_str().unwrap();
    let body = s.introspect(APP, at).await;
    let user = s.cli_ok(&["user", "show", USER.0], None);
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "openid email");
    assert_eq!(body["client_id"], "app");
    assert_eq!(body["username"], "alice@example.com");
    assert_eq!(body["sub"], user["id"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["aud"], "app");
    assert_eq!(body["iss"], s.base);
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        3600
    );
    for alias in ["/introspect", "/oauth2/v1/introspect"] {
        let resp = s.post_form(alias, Some(APP), &[("token", at)]).await;
        let (_, _, aliased) = json(resp).await;
        assert_eq!(aliased["active"], true, "{alias}");
    }
}

/// A refresh token is described too; `token_type_hint` is honoured.
#[tokio::test]
async fn a_refresh_token_is_described() {
    let (s, tokens) = logged_in("openid").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let server = &s;
    let hinted = |hint: &'static str| {
        let form = [("token", rt), ("token_type_hint", hint)];
        async move {
            json(
                server
                    .post_form("/oauth/introspect", Some(APP), &form)
                    .await,
            )
            .await
        }
    };
    let (_, _, body) = hinted("refresh_token").await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], "app");
    // A wrong hint still finds it (RFC 7662 §2.1).
    assert_eq!(hinted("access_token").await.2["active"], true);
}

/// RFC 7662 §2.2: unknown, revoked and foreign tokens are `active: false` and nothing more.
#[tokio::test]
async fn unknown_revoked_and_foreign_tokens_are_inactive() {
    let (s, tokens) = logged_in("openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let inactive = serde_json::json!({"active": false});
    assert_eq!(s.introspect(APP, "garbage").await, inactive);
    assert_eq!(s.introspect(APP, "a.b.c").await, inactive);
    // Foreign: another client may not learn about app's tokens.
    assert_eq!(s.introspect(OTHER, at).await, inactive);
    assert_eq!(s.introspect(OTHER, rt).await, inactive);
    s.revoke(APP, at, None).await;
    assert_eq!(s.introspect(APP, at).await, inactive);
    // A tampered JWT is unknown.
    let mut tampered = at.to_owned();
    tampered.pop();
    assert_eq!(s.introspect(APP, &tampered).await, inactive);
}

/// `/oauth/introspect` with `form`, and Basic credentials when `basic` is given.
async fn introspect_with(
    s: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Reply {
    reply(s.post_form("/oauth/introspect", basic, form).await).await
}

/// Introspection is for authenticated clients only.
#[tokio::test]
async fn introspection_requires_client_authentication() {
    let s = server();
    s.add_client("pub", &[]);
    let tokens = login(&s, "openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    introspect_with(&s, None, &[("token", at)])
        .await
        .oauth_error(401, "invalid_client");
    introspect_with(&s, Some(("app", "wrong")), &[("token", at)])
        .await
        .basic_invalid_client();
    let public = [("token", at), ("client_id", "pub")];
    introspect_with(&s, None, &public)
        .await
        .oauth_error(401, "invalid_client");
    introspect_with(&s, Some(APP), &[])
        .await
        .oauth_error(400, "invalid_request");
}

/// Opaque access tokens (Aidbox's default) are resolved by introspection and revocable at once.
#[tokio::test]
async fn opaque_access_tokens_are_resolved_and_revocable() {
    let s = server();
    s.add_client(
        "aidbox",
        &[
            "--secret",
            "s",
            "--scopes",
            "openid email",
            "--token-format",
            "opaque",
        ],
    );
    let client = ("aidbox", "s");
    let tokens = s.login(client, USER.0, USER.1, Some("openid email")).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert!(!at.contains('.'), "opaque, not a JWT: {at}");
    assert_eq!(at.len(), 55, "time prefix and 256 random bits: {at}");
    let body = s.introspect(client, at).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["username"], "alice@example.com");
    assert_eq!(body["scope"], "openid email");
    revoke_access_token_and_see_it_refused(&s, client, at).await;
}

//! Token revocation (RFC 7009) over HTTP.

use crate::refresh::{logged_in, login, refreshed_once, server, APP, OTHER};
use crate::server::{assert_oauth_error, json, reply, TestServer};

/// Checks that /userinfo accepts access token `at`, revokes it (hint `access_token`), then checks
/// that introspection reports it inactive (RFC 7662 §2.2) and /userinfo refuses it with 401.
pub async fn revoke_access_token_and_see_it_refused(
    s: &TestServer,
    client: (&str, &str),
    at: &str,
) {
    assert_eq!(s.userinfo(at).await.status().as_u16(), 200);
    s.revoke(client, at, Some("access_token")).await;
    assert_eq!(s.introspect(client, at).await["active"], false);
    assert_eq!(s.userinfo(at).await.status().as_u16(), 401);
}

/// RFC 7009 §2.1: revoking a refresh token revokes its family and the access tokens issued
/// from it.
#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let (s, first, second) = refreshed_once("openid").await;
    s.revoke(APP, &second.refresh, Some("refresh_token")).await;
    reply(s.refresh(APP, &second.refresh, None).await)
        .await
        .oauth_error(400, "invalid_grant");
    assert_eq!(s.introspect(APP, &first.access).await["active"], false);
    assert_eq!(s.introspect(APP, &second.access).await["active"], false);
}

/// Revoking a JWT access token: introspection reports it inactive and /userinfo refuses it,
/// though its signature still verifies until it expires.
#[tokio::test]
async fn a_revoked_jwt_access_token_is_inactive_and_refused() {
    let (s, tokens) = logged_in("openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    revoke_access_token_and_see_it_refused(&s, APP, at).await;
    // Revoking the access token alone leaves the refresh token working.
    let rt = tokens["refresh_token"].as_str().unwrap();
    s.refresh_ok(APP, rt, None).await;
}

/// RFC 7009 §2.2: unknown tokens answer 200; another client's token is left alone, still 200.
#[tokio::test]
async fn unknown_and_foreign_tokens_answer_200_and_stay_untouched() {
    let s = server();
    s.revoke(APP, "no-such-token", None).await;
    s.revoke(APP, "no-such-token", Some("refresh_token")).await;
    s.revoke(APP, "no-such-token", Some("unknown_hint")).await;
    let tokens = login(&s, "openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    s.revoke(OTHER, at, None).await;
    s.revoke(OTHER, rt, None).await;
    assert_eq!(s.introspect(APP, at).await["active"], true);
    s.refresh_ok(APP, rt, None).await;
}

/// Revocation is client-authenticated, at every product's path.
#[tokio::test]
async fn revocation_requires_client_authentication_at_every_path() {
    let (s, tokens) = logged_in("openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    let resp = s
        .post_form("/oauth/revoke", Some(("app", "wrong")), &[("token", at)])
        .await;
    reply(resp).await.oauth_error(401, "invalid_client");
    let resp = s.post_form("/oauth/revoke", None, &[("token", at)]).await;
    let (status, _, body) = json(resp).await;
    assert_oauth_error(status, &body, 401, "invalid_client");
    assert_eq!(s.introspect(APP, at).await["active"], true);
    for path in ["/revoke", "/oauth2/v1/revoke"] {
        let resp = s.post_form(path, Some(APP), &[("token", "x")]).await;
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
    let resp = s
        .post_form("/oauth2/v1/revoke", Some(APP), &[("token", at)])
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(s.introspect(APP, at).await["active"], false);
}

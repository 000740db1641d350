//! The OpenID Connect UserInfo endpoint and id_tokens (OpenID Connect Core §2, §5.3), with
//! RFC 6750 bearer-token errors.

use crate::jwt_parts;
use crate::refresh::{logged_in, login, server, APP, USER};
use crate::server::reply;

/// OpenID Connect Core §2: `openid` brings an id_token with the scope's claims.
#[tokio::test]
async fn openid_brings_an_id_token_with_the_granted_claims() {
    let (s, tokens) = logged_in("openid email profile").await;
    let (header, claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    let user = s.cli_ok(&["user", "show", USER.0], None);
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["iss"], s.base);
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["preferred_username"], "alice@example.com");
    assert!(claims.get("phone_number").is_none());
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
    assert!(claims["auth_time"].as_i64().unwrap() <= iat);
    let no_openid = login(&s, "email").await;
    assert!(no_openid.get("id_token").is_none());
}

/// OpenID Connect Core §5.3: GET and POST, header or form body (RFC 6750 §2.1, §2.2).
#[tokio::test]
async fn userinfo_returns_the_claims_of_the_token() {
    let (s, tokens) = logged_in("openid phone").await;
    let at = tokens["access_token"].as_str().unwrap();
    let user = s.cli_ok(&["user", "show", USER.0], None);
    let body = reply(s.userinfo(at).await).await.ok_no_store();
    assert_eq!(body["sub"], user["id"]);
    assert_eq!(body["phone_number"], "+15555550100");
    assert_eq!(body["phone_number_verified"], false);
    assert!(body.get("email").is_none());
    let resp = s
        .http
        .post(s.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = s
        .post_form("/userinfo", None, &[("access_token", at)])
        .await;
    let body = reply(resp).await.ok();
    assert_eq!(body["sub"], user["id"]);
}

/// RFC 6750 §3.1: invalid_token 401, insufficient_scope 403, invalid_request 400, each with a
/// `WWW-Authenticate: Bearer error=...` challenge.
#[tokio::test]
async fn userinfo_failures_follow_rfc6750() {
    let s = server();
    // §3.1: no token, no error code.
    let resp = s.get("/userinfo", &[]).await;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"gatehouse\""
    );

    let bogus = reply(s.userinfo("bogus").await).await;
    let challenge = bogus.oauth_error(401, "invalid_token").challenge();
    assert_eq!(challenge, "Bearer error=\"invalid_token\"");

    let tokens = login(&s, "email").await;
    let at = tokens["access_token"].as_str().unwrap();
    let no_openid = reply(s.userinfo(at).await).await;
    let challenge = no_openid.oauth_error(403, "insufficient_scope").challenge();
    assert!(challenge.starts_with("Bearer error=\"insufficient_scope\""));

    let tokens = login(&s, "openid").await;
    let at = tokens["access_token"].as_str().unwrap();
    let resp = s
        .http
        .post(s.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    let both = reply(resp).await;
    let challenge = both.oauth_error(400, "invalid_request").challenge();
    assert_eq!(challenge, "Bearer error=\"invalid_request\"");
    let resp = s.get("/userinfo", &[("authorization", "Basic YTpi")]).await;
    reply(resp).await.oauth_error(400, "invalid_request");
    // A refresh token is not an access token.
    let rt = tokens["refresh_token"].as_str().unwrap();
    let resp = s.userinfo(rt).await;
    assert_eq!(resp.status().as_u16(), 401);
    let _ = APP;
}

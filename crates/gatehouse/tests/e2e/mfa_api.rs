//! Auth0's MFA API as its SDKs drive it (`@auth0/auth0-auth-js` `MfaClient`): the README's
//! `/mfa/challenge` request (client authentication included), the enrol -> challenge -> verify
//! sequence of a fresh enrolment, and `deleteAuthenticator` (`DELETE /mfa/authenticators/{id}`),
//! which removes the factor (the otp one with the recovery code) and ends its sessions, given a
//! login that passed that factor.

use serde_json::{json, Value};

use crate::events::events;
use crate::mfa::{
    associate, authenticator, bearer_get, mfa_token, otp_grant, server_with, Totp, APP,
};
use crate::server::{reply, TestServer};

/// `DELETE /mfa/authenticators/{id}` with `token` as the bearer token, if any.
async fn delete_authenticator(s: &TestServer, id: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = s.http.delete(s.url(&format!("/mfa/authenticators/{id}")));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// `POST /mfa/challenge` for `token`, with Basic client authentication when `client` is given.
async fn challenge(
    s: &TestServer,
    client: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    s.post_form("/mfa/challenge", client, form).await
}

/// alice's login through `app` completed with her first code after a fresh enrolment: the
/// token response, the otp factor's id and the code generator.
async fn enrolled_login(s: &TestServer) -> (Value, String, Totp) {
    let token = mfa_token(s, APP).await;
    let (status, e) = associate(s, &token).await;
    assert_eq!(status, 200, "{e}");
    let mut totp = Totp::new(e["secret"].as_str().unwrap());
    let (status, tokens) = otp_grant(s, "/oauth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{tokens}");
    (tokens, e["id"].as_str().unwrap().to_owned(), totp)
}

/// The README's challenge request: the client authenticates as at the token endpoint (here
/// with Basic, as the README's curl does), the mfa_token goes in the body. Without client
/// authentication it is 401 `invalid_client`, which is why the README must show it.
#[tokio::test]
async fn the_readme_challenge_request_authenticates_the_client() {
    let readme = include_str!("../../../../README.md");
    assert!(
        readme.contains(
            "curl -s -u mfa-app:mfa-secret http://127.0.0.1:8080/mfa/challenge \\\n  \
             -d mfa_token=Q2x… -d challenge_type=otp"
        ),
        "the README's /mfa/challenge example changed: update this test with it"
    );
    let s = server_with(&[]);
    enrolled_login(&s).await;
    let token = mfa_token(&s, APP).await;
    let form = [("mfa_token", token.as_str()), ("challenge_type", "otp")];
    let body = reply(challenge(&s, Some(APP), &form).await)
        .await
        .ok_no_store();
    assert_eq!(body, json!({ "challenge_type": "otp" }));

    let bare = reply(challenge(&s, None, &form).await).await;
    bare.oauth_error(401, "invalid_client");
}

/// Auth0's SDK sequence for a new user: enrol (`/mfa/associate`), challenge, verify (the
/// mfa-otp grant). The challenge is answered for the pending factor, by its id too, and the
/// first code then activates it.
#[tokio::test]
async fn a_fresh_enrolment_is_challenged_then_verified() {
    let s = server_with(&[]);
    let token = mfa_token(&s, APP).await;
    let form = [("mfa_token", token.as_str()), ("challenge_type", "otp")];
    // No factor at all yet: nothing to challenge.
    reply(challenge(&s, Some(APP), &form).await)
        .await
        .oauth_error(400, "unsupported_challenge_type");

    let (status, e) = associate(&s, &token).await;
    assert_eq!(status, 200, "{e}");
    let id = e["id"].as_str().unwrap();
    let body = reply(challenge(&s, Some(APP), &form).await).await.ok();
    assert_eq!(body, json!({ "challenge_type": "otp" }));
    let by_id = [
        ("mfa_token", token.as_str()),
        ("challenge_type", "otp"),
        ("authenticator_id", id),
    ];
    let body = reply(challenge(&s, Some(APP), &by_id).await).await.ok();
    assert_eq!(body, json!({ "challenge_type": "otp" }));
    let (_, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(authenticator(&list, "otp")["active"], false, "{list}");

    let mut totp = Totp::new(e["secret"].as_str().unwrap());
    let (status, tokens) = otp_grant(&s, "/oauth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{tokens}");
    let token = mfa_token(&s, APP).await;
    let (_, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(authenticator(&list, "otp")["active"], true, "{list}");
}

/// `deleteAuthenticator` with an access token of a login that passed the factor (Auth0's
/// rule): the otp factor goes with the recovery code, every session opened with it ends (the
/// access tokens are inactive, the refresh tokens refused, the bearer's own session too), and
/// the removal is recorded; the id is then unknown (404) and the user enrols again.
#[tokio::test]
async fn deleting_an_authenticator_removes_it_and_ends_its_sessions() {
    let s = server_with(&[]);
    let (first, otp_id, mut totp) = enrolled_login(&s).await;
    let token = mfa_token(&s, APP).await;
    let (status, second) = otp_grant(&s, "/oauth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{second}");
    let bearer = second["access_token"].as_str().unwrap();

    let resp = delete_authenticator(&s, &otp_id, Some(bearer)).await;
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.text().await.unwrap().is_empty());

    let listed = s.cli_ok(&["user", "mfa", "list", "alice"], None);
    assert_eq!(listed, json!([]), "the recovery code went too");
    for tokens in [&first, &second] {
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(s.introspect(APP, access).await["active"], false);
        let refresh = tokens["refresh_token"].as_str().unwrap();
        reply(s.refresh(APP, refresh, None).await)
            .await
            .oauth_error(400, "invalid_grant");
    }
    let alice = events(&s, &["--user", "alice"]);
    let removals: Vec<&Value> = alice
        .iter()
        .filter(|e| e["kind"] == "mfa_removal")
        .collect();
    assert_eq!(removals.len(), 2, "{alice:?}");
    assert!(removals.iter().all(|e| e["detail"]["by"] == "mfa_api"));
    let ended = alice
        .iter()
        .find(|e| e["kind"] == "session_revoked")
        .expect("a session_revoked event");
    assert_eq!(ended["detail"]["reason"], "factor_removed");
    assert_eq!(ended["detail"]["via"], "mfa_api");
    assert_eq!(ended["detail"]["sessions"].as_array().unwrap().len(), 2);

    // The bearer's session ended with the factor; a new login has no factor to remove.
    reply(delete_authenticator(&s, &otp_id, Some(bearer)).await)
        .await
        .oauth_error(401, "invalid_token");
    let token = mfa_token(&s, APP).await;
    reply(delete_authenticator(&s, &otp_id, Some(&token)).await)
        .await
        .oauth_error(404, "not_found");
    let (status, e) = associate(&s, &token).await;
    assert_eq!(status, 200, "{e}");
}

/// Who may remove what. No bearer token is a bare 401 Bearer challenge, a wrong one 401
/// `invalid_token`. The password alone must not replace an active factor: an `mfa_token`, or an
/// access token of a login without the second factor, is 403 `access_denied` for it (and the
/// factor stays), while an `mfa_token` may drop a factor still pending. Another user's factor
/// id is 404.
#[tokio::test]
async fn deleting_an_authenticator_needs_a_login_that_passed_it() {
    let s = server_with(&[]);
    s.add_client("plain", &["--secret", "plain-secret"]);
    s.add_user("bob", "bob-password", &[]);
    let (_, otp_id, _) = enrolled_login(&s).await;

    let resp = delete_authenticator(&s, &otp_id, None).await;
    assert_eq!(resp.status().as_u16(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    reply(delete_authenticator(&s, &otp_id, Some("not-a-token")).await)
        .await
        .oauth_error(401, "invalid_token");

    let token = mfa_token(&s, APP).await;
    reply(delete_authenticator(&s, &otp_id, Some(&token)).await)
        .await
        .oauth_error(403, "access_denied");
    let password_only = s
        .login(("plain", "plain-secret"), "alice", "alice-password", None)
        .await;
    let access = password_only["access_token"].as_str().unwrap();
    reply(delete_authenticator(&s, &otp_id, Some(access)).await)
        .await
        .oauth_error(403, "access_denied");
    let (_, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "alice keeps her factors: {list}"
    );

    // bob: alice's factor is not his (404); his own pending enrolment he may drop.
    let bob = reply(s.password_grant(APP, "bob", "bob-password", None).await).await;
    bob.oauth_error(403, "mfa_required");
    let bob_token = bob.body["mfa_token"].as_str().unwrap();
    reply(delete_authenticator(&s, &otp_id, Some(bob_token)).await)
        .await
        .oauth_error(404, "not_found");
    let (status, e) = associate(&s, bob_token).await;
    assert_eq!(status, 200, "{e}");
    let pending = e["id"].as_str().unwrap();
    let resp = delete_authenticator(&s, pending, Some(bob_token)).await;
    assert_eq!(resp.status().as_u16(), 204);
    let (_, list) = bearer_get(&s, "/mfa/authenticators", bob_token).await;
    assert_eq!(list, json!([]));
}

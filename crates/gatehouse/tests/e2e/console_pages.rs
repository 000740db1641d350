//! The web console's pages over real HTTP: users found among many and paged by key, a password
//! reset and the end of sessions recorded `via: console`, events filtered and exported, a client
//! made, configured and rotated in the console that works with the password grant; and the admin
//! REST API taking an administrator's access token (scope gatehouse:admin) besides the static
//! token.

use reqwest::header::CONTENT_TYPE;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::console::{
    admin_get, admin_put, admin_status, console_server, console_token, introspect_app,
    password_grant_app, password_grant_status, Browser, ADMIN, VIEWER,
};
/// Users are found among many by a search and paged by key; a password reset and the end of
/// their sessions from the console are recorded `via: console`.
#[tokio::test]
async fn users_are_searched_paged_and_managed() {
    let s = console_server(&[]);
    for i in 0..60 {
        let status = admin_put(
            &s,
            &format!("/User/member{i:03}"),
            json!({"password": "member-password-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut b = Browser::new(&s);
    b.sign_in(ADMIN, None).await;
    let first = b.get("/admin/users?q=member").await;
    assert_eq!(first.body.matches("/admin/users/member").count(), 50);
    assert!(first.body.contains("after=member049"), "{}", first.body);
    let second = b.get("/admin/users?q=member&after=member049").await;
    assert_eq!(second.body.matches("/admin/users/member").count(), 10);
    assert!(!second.body.contains("next-page"));
    let one = b.get("/admin/users?q=ber042").await;
    assert_eq!(one.body.matches("/admin/users/member").count(), 1);

    let token = password_grant_app(&s, "member042", "member-password-1", "read").await;
    let user = b.get("/admin/users/member042").await;
    assert_eq!(
        user.body.matches("class=\"session\"").count(),
        1,
        "{}",
        user.body
    );
    let csrf = user.csrf();
    let reset = b
        .post(
            "/admin/users/member042/password",
            &[
                ("csrf_token", &csrf),
                ("password", "a-brand-new-password-9"),
            ],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    let ended = b
        .post("/admin/users/member042/sessions", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert!(b
        .get("/admin/users/member042")
        .await
        .body
        .contains("no-sessions"));
    let introspected = introspect_app(&s, &token).await;
    assert_eq!(introspected["active"], false);
    assert_eq!(
        password_grant_status(&s, "member042", "a-brand-new-password-9").await,
        StatusCode::OK
    );
    let events = admin_get(&s, "/Event?user=member042").await;
    let via: Vec<&str> = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["detail"]["via"] == "console")
        .map(|e| e["resource"]["kind"].as_str().unwrap())
        .collect();
    assert!(!via.is_empty(), "{events}");
    let filtered = b
        .get("/admin/events?user=member042&kind=login_success")
        .await;
    assert!(filtered.body.contains("login_success"));
    assert!(!filtered.body.contains(">admin_change<"));
    let export = b.get("/admin/events.jsonl?user=member042").await;
    assert_eq!(export.headers[CONTENT_TYPE], "application/jsonl");
    for line in export.body.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["user"], "member042");
    }
}

/// A client made in the console works with the password grant over HTTP, its secret rotated
/// in the console replaces the old one, and deleting needs the id typed again.
#[tokio::test]
async fn a_client_made_in_the_console_works() {
    let s = console_server(&[]);
    let mut b = Browser::new(&s);
    b.sign_in(ADMIN, None).await;
    let page = b.get("/admin/clients").await;
    let resource = json!({"grant_types": ["password"], "scopes": ["read"]}).to_string();
    let made = b
        .post(
            "/admin/clients",
            &[
                ("csrf_token", &page.csrf()),
                ("id", "shop"),
                ("resource", &resource),
                ("with_secret", "1"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = made.text_of("secret");
    let grant = |secret: String| {
        let http = reqwest::Client::new();
        let url = s.url("/oauth/token");
        async move {
            http.post(url)
                .basic_auth("shop", Some(secret))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "plain"),
                    ("password", "plain-password-1"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(grant(secret.clone()).await, StatusCode::OK);
    let client = b.get("/admin/clients/shop").await;
    let saved = b
        .post(
            "/admin/clients/shop/settings",
            &[
                ("csrf_token", &client.csrf()),
                ("grant_password", "1"),
                ("refresh_token", "1"),
                ("scopes", "read write"),
                ("mfa", "optional"),
                ("token_format", "opaque"),
                ("secret_required", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let stored = admin_get(&s, "/Client/shop").await;
    assert_eq!(stored["mfa"], "optional", "{stored}");
    assert_eq!(stored["scopes"], json!(["read", "write"]));
    assert_eq!(stored["auth"]["password"]["token_format"], "opaque");
    assert_eq!(stored["auth"]["password"]["refresh_token"], true);
    assert_eq!(stored["has_secret"], true, "the secret is kept");
    // Assertion keys: a client's JWKS, shown again in the form.
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
    .to_string();
    let with_keys = b
        .post(
            "/admin/clients/shop/settings",
            &[
                ("csrf_token", &client.csrf()),
                ("grant_password", "1"),
                ("secret_required", "1"),
                ("jwks", &jwks),
            ],
        )
        .await;
    assert_eq!(with_keys.status, StatusCode::OK, "{}", with_keys.body);
    assert_eq!(
        admin_get(&s, "/Client/shop").await["jwks"]["keys"][0]["kid"],
        "k1"
    );
    let shown = b.get("/admin/clients/shop").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown
        .body
        .contains("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
    let rotated = b
        .post(
            "/admin/clients/shop/secret",
            &[("csrf_token", &client.csrf())],
        )
        .await;
    let new_secret = rotated.text_of("secret");
    assert_ne!(new_secret, secret);
    assert_eq!(grant(secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(grant(new_secret).await, StatusCode::OK);
    let refused = b
        .post(
            "/admin/clients/shop/delete",
            &[("csrf_token", &client.csrf()), ("confirm", "shopp")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let deleted = b
        .post(
            "/admin/clients/shop/delete",
            &[("csrf_token", &client.csrf()), ("confirm", "shop")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        admin_status(&s, "/Client/shop").await,
        StatusCode::NOT_FOUND
    );
}

/// The admin API takes an administrator's access token from the console client: an admin
/// reads and writes, a viewer only reads (a write is 403), a plain user's token is refused
/// even with the scope, and a role taken away takes effect at once.
#[tokio::test]
async fn the_admin_api_takes_administrators_tokens() {
    let s = console_server(&[]);
    let (admin, _) = console_token(&s, ADMIN, None).await;
    let (viewer, _) = console_token(&s, VIEWER, None).await;
    let http = reqwest::Client::new();
    let get = |token: String| {
        let req = http.get(s.url("/User/plain")).bearer_auth(token);
        async move { req.send().await.unwrap().status() }
    };
    let put = |token: String, name: &str| {
        let req = http
            .put(s.url(&format!("/User/{name}")))
            .bearer_auth(token)
            .json(&json!({"password": "made-by-token-1"}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(get(admin.clone()).await, StatusCode::OK);
    assert_eq!(put(admin.clone(), "by-admin").await, StatusCode::CREATED);
    assert_eq!(get(viewer.clone()).await, StatusCode::OK);
    assert_eq!(
        put(viewer.clone(), "by-viewer").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get("not-a-token".into()).await, StatusCode::UNAUTHORIZED);

    // A plain user is not even issued the admin scope; a token of another scope is refused.
    crate::console::ensure_app(&s).await;
    let refused = s
        .password_grant(
            ("app", "app-secret"),
            "plain",
            "plain-password-1",
            Some("gatehouse:admin"),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let plain = password_grant_app(&s, "plain", "plain-password-1", "read").await;
    assert_eq!(get(plain).await, StatusCode::FORBIDDEN);

    // The admin loses the role: the same token is refused at once.
    let status = admin_put(&s, "/User/root", json!({"roles": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(admin).await, StatusCode::FORBIDDEN);
}

//! The admin API over real HTTP: seed 004's Client bodies verbatim (YAML), the token endpoint
//! honouring what they set, users, field-named 422s, and the bearer admin token.

use serde_json::{json, Value};

use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer};

pub const TOKEN: &str = "test-admin-token-0123456789";

pub fn admin_server() -> TestServer {
    TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN)
        .spawn()
}

/// An admin request with a raw body and Content-Type.
pub async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (reqwest::StatusCode, Value) {
    let mut req = s
        .http
        .request(method, s.url(path))
        .bearer_auth(TOKEN)
        .body(body.to_owned());
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    let (status, headers, body) = json(req.send().await.unwrap()).await;
    if status.is_success() {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status, body)
}

/// An admin PUT with a raw body of this Content-Type.
pub async fn put(
    s: &TestServer,
    path: &str,
    content_type: &str,
    body: &str,
) -> (reqwest::StatusCode, Value) {
    send(s, reqwest::Method::PUT, path, Some(content_type), body).await
}

pub async fn put_json(s: &TestServer, path: &str, body: &Value) -> (reqwest::StatusCode, Value) {
    send(
        s,
        reqwest::Method::PUT,
        path,
        Some("application/json"),
        &body.to_string(),
    )
    .await
}

pub async fn post_yaml(s: &TestServer, yaml: &str) -> (reqwest::StatusCode, Value) {
    send(
        s,
        reqwest::Method::POST,
        "/Client",
        Some("application/yaml"),
        yaml,
    )
    .await
}

pub async fn get(s: &TestServer, path: &str) -> (reqwest::StatusCode, Value) {
    send(s, reqwest::Method::GET, path, None, "").await
}

/// Asserts that no secret, password or hash appears anywhere in `body`.
#[track_caller]
pub fn assert_no_secrets(body: &Value, secrets: &[&str]) {
    let text = body.to_string();
    for needle in secrets
        .iter()
        .chain(&["$argon2", "secret_hash", "password_hash", "sealed"])
    {
        assert!(!text.contains(needle), "{needle:?} leaked in {text}");
    }
}

/// Seed 004: `PUT Client/myapp` with the YAML body verbatim; the client then gets tokens with
/// its secret at `/auth/token`, and the secret never comes back.
#[tokio::test]
async fn seed_004_put_client_yaml_verbatim() {
    let s = admin_server();
    let yaml = "secret: verysecret\ngrant_types:\n  - password\n";
    let (status, body) = put(&s, "/Client/myapp", "text/yaml", yaml).await;
    assert_status(status, &body, 201);
    assert_eq!(body["id"], "myapp");
    assert_eq!(body["resourceType"], "Client");
    assert_eq!(body["grant_types"], json!(["password"]));
    assert_no_secrets(&body, &["verysecret"]);
    s.add_user("user@mail.com", "password", &[]);

    let form = [
        ("grant_type", "password"),
        ("username", "user@mail.com"),
        ("password", "password"),
    ];
    let resp = s
        .post_form("/auth/token", Some(("myapp", "verysecret")), &form)
        .await;
    reply(resp).await.ok();
    // secret_required defaults to true: without the secret the client is refused.
    let resp = s
        .post_form(
            "/auth/token",
            None,
            &[form.as_slice(), &[("client_id", "myapp")]].concat(),
        )
        .await;
    reply(resp).await.oauth_error(401, "invalid_client");

    let (status, body) = get(&s, "/Client/myapp").await;
    assert_status(status, &body, 200);
    assert_no_secrets(&body, &["verysecret"]);
    assert_eq!(body["has_secret"], true);
}

/// Seed 004's four "Client examples", each `POST /Client` with its YAML verbatim (no
/// Content-Type, as in the page: JSON is tried, then YAML), and what each one means.
#[tokio::test]
async fn seed_004_client_examples_verbatim() {
    let s = admin_server();
    s.add_user("user@mail.com", "password", &[]);
    let basic = "id: ro-basic-client\nresourceType: Client\ngrant_types:\n- password\n";
    let redirect = "id: ro-default-client\nresourceType: Client\ngrant_types:\n- password\nauth:\n  password:\n    redirect_uri: http://localhost:3449/auth.html\n";
    let secret = "id: ro-secret-client\nsecret: verysecretsecret\nresourceType: Client\ngrant_types:\n- password\nauth:\n  password:\n    secret_required: true\n";
    let jwt = "id: ro-jwt-client\ngrant_types:\n- password\nresourceType: Client\nauth:\n  password:\n    token_format: jwt\n    refresh_token: true\n    access_token_expiration: 3600\n";
    for body in [basic, redirect, secret, jwt] {
        let (status, resp) = send(&s, reqwest::Method::POST, "/Client", None, body).await;
        assert_status(status, &resp, 201);
        assert_no_secrets(&resp, &["verysecretsecret"]);
    }
    let (_, c) = get(&s, "/Client/ro-jwt-client").await;
    assert_eq!(c["auth"]["password"]["token_format"], "jwt");
    assert_eq!(c["auth"]["password"]["refresh_token"], true);
    assert_eq!(c["auth"]["password"]["access_token_expiration"], 3600);
    let (_, c) = get(&s, "/Client/ro-basic-client").await;
    assert_eq!(
        c["auth"]["password"]["token_format"], "opaque",
        "Aidbox: otherwise opaque"
    );
    let (_, c) = get(&s, "/Client/ro-default-client").await;
    assert_eq!(
        c["auth"]["password"]["redirect_uri"],
        "http://localhost:3449/auth.html"
    );

    let (status, list) = get(&s, "/Client").await;
    assert_status(status, &list, 200);
    assert_eq!(list["resourceType"], "Bundle");
    assert_eq!(list["total"], 4);
    assert_no_secrets(&list, &["verysecretsecret"]);

    let user = [
        ("grant_type", "password"),
        ("username", "user@mail.com"),
        ("password", "password"),
    ];
    let with = |id: &'static str| [user.as_slice(), &[("client_id", id)]].concat();
    reply(
        s.post_form("/auth/token", None, &with("ro-basic-client"))
            .await,
    )
    .await
    .ok();
    reply(
        s.post_form("/auth/token", None, &with("ro-secret-client"))
            .await,
    )
    .await
    .oauth_error(401, "invalid_client");
    let mut secret_form = with("ro-secret-client");
    secret_form.push(("client_secret", "verysecretsecret"));
    reply(s.post_form("/auth/token", None, &secret_form).await)
        .await
        .ok();
    let body = reply(
        s.post_form("/auth/token", None, &with("ro-jwt-client"))
            .await,
    )
    .await
    .ok();
    assert_eq!(body["expires_in"], 3600);
    // A second POST of the same id conflicts.
    let (status, body) = send(&s, reqwest::Method::POST, "/Client", None, basic).await;
    assert_oauth_error(status, &body, 409, "conflict");
}

/// Issue 4 point 3: `secret_required: false` lets a client with a secret use the password grant
/// without it; switching it back to true demands it on the very next request.
#[tokio::test]
async fn secret_required_false_allows_the_password_grant_without_the_secret() {
    let s = admin_server();
    s.add_user("jane", "pw", &[]);
    let client = |required: bool| json!({"secret": "s3cret", "grant_types": ["password"], "auth": {"password": {"secret_required": required}}});
    let form = [
        ("grant_type", "password"),
        ("username", "jane"),
        ("password", "pw"),
        ("client_id", "app"),
    ];
    let (status, body) = put_json(&s, "/Client/app", &client(false)).await;
    assert_status(status, &body, 201);
    reply(s.post_form("/auth/token", None, &form).await)
        .await
        .ok();
    // A wrong secret is still wrong.
    reply(
        s.post_form("/auth/token", Some(("app", "nope")), &form[..3])
            .await,
    )
    .await
    .oauth_error(401, "invalid_client");
    let (status, body) = put_json(&s, "/Client/app", &client(true)).await;
    assert_status(status, &body, 200);
    reply(s.post_form("/auth/token", None, &form).await)
        .await
        .oauth_error(401, "invalid_client");
    reply(
        s.post_form("/auth/token", Some(("app", "s3cret")), &form[..3])
            .await,
    )
    .await
    .ok();
}

/// A new secret works on the next request and the old one stops working; a PUT without
/// `secret` keeps it; DELETE removes the client.
#[tokio::test]
async fn changes_take_effect_on_the_next_request() {
    let s = admin_server();
    s.add_user("jane", "pw", &[]);
    let form = [
        ("grant_type", "password"),
        ("username", "jane"),
        ("password", "pw"),
    ];
    // The status of a password grant by `app` with this secret.
    let (server, form) = (&s, &form);
    let with_secret = move |secret: &'static str| async move {
        let resp = server
            .post_form("/token", Some(("app", secret)), form)
            .await;
        json(resp).await
    };
    put_json(&s, "/Client/app", &json!({"secret": "first-secret"})).await;
    assert_eq!(with_secret("first-secret").await.0, 200);
    put_json(&s, "/Client/app", &json!({"secret": "second-secret"})).await;
    assert_eq!(with_secret("first-secret").await.0, 401);
    put_json(&s, "/Client/app", &json!({"scopes": ["read"]})).await;
    let (status, _, body) = with_secret("second-secret").await;
    assert_status(status, &body, 200);
    let (status, body) = send(&s, reqwest::Method::DELETE, "/Client/app", None, "").await;
    assert_status(status, &body, 200);
    let (status, body) = get(&s, "/Client/app").await;
    assert_oauth_error(status, &body, 404, "not_found");
    assert_eq!(with_secret("second-secret").await.0, 401);
}

/// Invalid bodies get 422 with `error_description` starting with the field's name.
#[tokio::test]
async fn invalid_bodies_are_422_naming_the_field() {
    let s = admin_server();
    let cases = [
        (json!({"grant_types": ["implicit"]}), "grant_types"),
        (
            json!({"auth": {"password": {"access_token_expiration": "soon"}}}),
            "auth.password.access_token_expiration",
        ),
        (
            json!({"auth": {"password": {"redirect_uri": "http://evil.example/cb"}}}),
            "auth.password.redirect_uri",
        ),
        (
            json!({"auth": {"password": {"token_format": "xml"}}}),
            "auth.password.token_format",
        ),
        (
            json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "jwks",
        ),
        (json!({"id": "other"}), "id"),
        (json!({"secret": ""}), "secret"),
        (json!({"scopes": ["a\"b"]}), "scopes"),
        (
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
            "jwks",
        ),
        (json!({"colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, resp) = put_json(&s, "/Client/app", &body).await;
        assert_oauth_error(status, &resp, 422, "invalid_request");
        let d = resp["error_description"].as_str().unwrap();
        assert!(d.starts_with(&format!("{field}:")), "{body} -> {d}");
    }
    let (status, resp) = put_json(&s, "/User/jane", &json!({"email": "j@example.com"})).await;
    assert_oauth_error(status, &resp, 422, "invalid_request");
    assert!(resp["error_description"]
        .as_str()
        .unwrap()
        .starts_with("password:"));
    // Not JSON or YAML at all: 400.
    let (status, resp) = put(&s, "/Client/app", "application/json", "{").await;
    assert_oauth_error(status, &resp, 400, "invalid_request");
}

/// Without a valid bearer admin token: 401 with a Bearer challenge; without a configured token
/// the admin API does not exist.
#[tokio::test]
async fn the_admin_token_guards_the_api() {
    let s = admin_server();
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Basic YTpi"),
    ] {
        let mut req = s.http.get(s.url("/Client"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let (status, headers, body) = json(req.send().await.unwrap()).await;
        assert_oauth_error(status, &body, 401, "invalid_token");
        assert!(headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
    let off = TestServer::spawn();
    let resp = off.get_bearer("/Client", TOKEN).await;
    assert_eq!(resp.status(), 404);
}

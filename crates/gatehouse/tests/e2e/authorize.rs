//! Aidbox's secure code flow over real HTTP: `GET /auth/authorize` redirects with a one-time
//! code in the fragment, and seed 004's JSON and form token requests carry it.

use serde_json::json;

use crate::admin::{admin_server, post_yaml, put_json};
use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer, FORM};

const REDIRECT_CLIENT: &str = "id: ro-default-client\nresourceType: Client\ngrant_types:\n- password\nauth:\n  password:\n    redirect_uri: http://localhost:3449/auth.html\n";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `GET /auth/authorize` for `client_id`; returns the code from the Location fragment.
pub async fn code_for(s: &TestServer, client_id: &str) -> String {
    let url = s.url(&format!(
        "/auth/authorize?grant_type=password&client_id={client_id}&state=example"
    ));
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, fragment) = location.split_once('#').unwrap();
    let code = fragment
        .strip_prefix("code=")
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(fragment.ends_with("&state=example"), "{location}");
    code.to_owned()
}

fn seed_server() -> TestServer {
    let s = admin_server();
    s.add_user("user@mail.com", "password", &[]);
    s
}

/// Seed 004: the redirect (302 to `[redirect_uri]#code=...&state=example`), then the JSON and
/// the form requests of the page verbatim with the code each got; a code works once.
#[tokio::test]
async fn seed_004_secure_code_flow_verbatim() {
    let s = seed_server();
    let (status, body) = post_yaml(&s, REDIRECT_CLIENT).await;
    assert_status(status, &body, 201);

    let url =
        s.url("/auth/authorize?grant_type=password&client_id=ro-default-client&state=example");
    let resp = no_redirects().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:3449/auth.html#code="),
        "{location}"
    );
    let code = code_for(&s, "ro-default-client").await;

    let json_body = format!("{{\"code\":\"{code}\",\n \"client_id\":\"ro-default-client\",\n \"grant_type\":\"password\",\n \"username\":\"user@mail.com\",\n \"password\":\"password\"}}");
    let send_json =
        |body: String| s.post_raw("/auth/token", &[("Content-Type", "application/json")], body);
    let body = reply(send_json(json_body.clone()).await).await.ok();
    assert_eq!(body["token_type"], "Bearer");
    // The same code again: refused.
    reply(send_json(json_body).await)
        .await
        .oauth_error(400, "invalid_grant");

    let code = code_for(&s, "ro-default-client").await;
    let form_body = format!("grant_type=password\n     &client_id=ro-default-client\n     &username=user%40mail.com\n     &password=password\n     &code={code}");
    let resp = s.post_raw("/auth/token", &[FORM], form_body).await;
    reply(resp).await.ok();
}

/// For a client with a redirect URI the code is required; a code from another client, or one
/// that is made up, is `invalid_grant`.
#[tokio::test]
async fn codes_are_required_bound_to_their_client_and_single_use() {
    let s = seed_server();
    post_yaml(&s, REDIRECT_CLIENT).await;
    let other = json!({"grant_types": ["password"], "auth": {"password": {"redirect_uri": "https://other.example/cb"}}});
    assert_eq!(put_json(&s, "/Client/other-client", &other).await.0, 201);
    let form = |client: &'static str, code: Option<&str>| {
        let mut f = vec![
            ("grant_type", "password".to_owned()),
            ("client_id", client.to_owned()),
            ("username", "user@mail.com".to_owned()),
            ("password", "password".to_owned()),
        ];
        if let Some(c) = code {
            f.push(("code", c.to_owned()));
        }
        f
    };
    let post = |f: Vec<(&'static str, String)>| s.http.post(s.url("/auth/token")).form(&f).send();

    reply(post(form("ro-default-client", None)).await.unwrap())
        .await
        .oauth_error(400, "invalid_request");
    reply(
        post(form("ro-default-client", Some("made-up")))
            .await
            .unwrap(),
    )
    .await
    .oauth_error(400, "invalid_grant");

    let foreign = code_for(&s, "other-client").await;
    reply(
        post(form("ro-default-client", Some(&foreign)))
            .await
            .unwrap(),
    )
    .await
    .oauth_error(400, "invalid_grant");
    // The owner can still use it: a failed attempt by another client does not spend it.
    reply(post(form("other-client", Some(&foreign))).await.unwrap())
        .await
        .ok();
    reply(post(form("other-client", Some(&foreign))).await.unwrap())
        .await
        .oauth_error(400, "invalid_grant");
}

/// No open redirect: an unknown client, a client without a redirect URI, or a wrong
/// `grant_type` gets a JSON error and no Location.
#[tokio::test]
async fn authorize_never_redirects_for_unknown_or_unregistered_clients() {
    let s = seed_server();
    post_yaml(&s, REDIRECT_CLIENT).await;
    s.add_client("no-redirect", &[]);
    for (query, status, code) in [
        (
            "grant_type=password&client_id=nobody&state=x",
            400,
            "invalid_request",
        ),
        (
            "grant_type=password&client_id=no-redirect&state=x",
            400,
            "unauthorized_client",
        ),
        (
            "grant_type=code&client_id=ro-default-client",
            400,
            "invalid_request",
        ),
        ("client_id=ro-default-client", 400, "invalid_request"),
        ("grant_type=password", 400, "invalid_request"),
    ] {
        let resp = no_redirects()
            .get(s.url(&format!("/auth/authorize?{query}")))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().get("location").is_none(), "{query}");
        let (got, _, body) = json(resp).await;
        assert_oauth_error(got, &body, status, code);
    }
}

/// `gatehouse client add --redirect-uri` registers a code-flow client from the CLI.
#[tokio::test]
async fn cli_registers_a_redirect_uri() {
    let s = seed_server();
    s.add_client("cli-app", &["--redirect-uri", "https://app.example/cb"]);
    let code = code_for(&s, "cli-app").await;
    let form = [
        ("grant_type", "password"),
        ("client_id", "cli-app"),
        ("username", "user@mail.com"),
        ("password", "password"),
        ("code", code.as_str()),
    ];
    let (status, _, body) = json(s.post_form("/auth/token", None, &form).await).await;
    assert_status(status, &body, 200);
    let out = s.cli(
        &[
            "client",
            "add",
            "bad-app",
            "--redirect-uri",
            "http://evil.example/",
        ],
        None,
    );
    assert!(!out.status.success());
}

//! The admin API's User resources over real HTTP: the password is write-only and takes effect
//! at once.

use serde_json::json;

use crate::admin::{admin_server, assert_no_secrets, get, put, put_json, send};
use crate::server::{assert_oauth_error, assert_status, json};

/// Users: PUT creates (and can then log in), GET and the list never show the password or its
/// hash, a new password works at once, DELETE removes the account.
#[tokio::test]
async fn user_resources() {
    let s = admin_server();
    s.add_client(
        "app",
        &["--secret", "app-secret", "--scopes", "openid email"],
    );
    let yaml = "password: first-pw\nemail: jane@example.com\nphoneNumber: \"+15550100\"\nscopes: [openid]\n";
    let (status, body) = put(&s, "/User/Jane", "application/x-yaml", yaml).await;
    assert_status(status, &body, 201);
    assert_eq!(body["id"], "jane");
    assert_eq!(body["phone"], "+15550100");
    assert_no_secrets(&body, &["first-pw"]);
    let body = s
        .login(
            ("app", "app-secret"),
            "jane",
            "first-pw",
            Some("openid email"),
        )
        .await;
    assert_eq!(body["scope"], "openid", "the user's scopes limit the grant");

    let (status, body) = put_json(&s, "/User/jane", &json!({"password": "second-pw"})).await;
    assert_status(status, &body, 200);
    assert_eq!(
        body["email"], "jane@example.com",
        "a PUT without email keeps it"
    );
    let (status, _, _) = json(
        s.password_grant(("app", "app-secret"), "jane", "first-pw", None)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    s.login(("app", "app-secret"), "jane", "second-pw", None)
        .await;

    let (status, list) = get(&s, "/User").await;
    assert_status(status, &list, 200);
    assert_eq!(list["total"], 1);
    assert_no_secrets(&list, &["first-pw", "second-pw"]);
    let (status, body) = send(&s, reqwest::Method::DELETE, "/User/jane", None, "").await;
    assert_status(status, &body, 200);
    let (status, _, _) = json(
        s.password_grant(("app", "app-secret"), "jane", "second-pw", None)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = get(&s, "/User/jane").await;
    assert_oauth_error(status, &body, 404, "not_found");
}

//! The command line changes clients and users as the admin API does (issue 17): `client add`
//! registers a `client_secret_jwt` client, `client update` sets the fields it lacked
//! (`secret_required`, `refresh_token`, `redirect_uri`, the secret…) and removes optional ones
//! with '', and `user update` changes a user's fields, each checked over HTTP afterwards. That
//! every field has a flag is checked by the binary's `field_parity` tests.

use serde_json::json;

use crate::admin::{admin_server, get};
use crate::server::reply;

/// `client add --token-endpoint-auth-method client_secret_jwt` seals the secret (before, only
/// the admin API could), and `client update` then changes the fields the API has.
#[tokio::test]
async fn client_update_sets_every_kind_of_field() {
    let s = admin_server();
    let added = s.cli_ok(
        &[
            "client",
            "add",
            "jwt-app",
            "--secret",
            "jwt-secret",
            "--token-endpoint-auth-method",
            "client_secret_jwt",
        ],
        None,
    );
    assert_eq!(
        added["settings"]["token_endpoint_auth_method"],
        "client_secret_jwt"
    );
    assert!(added["settings"].get("sealed_secret").is_none(), "{added}");

    s.add_client("app", &["--secret", "app-secret"]);
    s.cli_ok(
        &[
            "client",
            "update",
            "app",
            "--secret-required",
            "false",
            "--refresh-token",
            "true",
            "--access-token-expiration",
            "120",
            "--redirect-uri",
            "https://app.example.com/cb",
            "--trust-forwarded-for",
            "true",
            "--token-format",
            "opaque",
        ],
        None,
    );
    let (_, shown) = get(&s, "/Client/app").await;
    let password = &shown["auth"]["password"];
    assert_eq!(password["secret_required"], false, "{shown}");
    assert_eq!(password["refresh_token"], true, "{shown}");
    assert_eq!(password["access_token_expiration"], 120, "{shown}");
    assert_eq!(password["redirect_uri"], "https://app.example.com/cb");
    assert_eq!(password["trust_forwarded_for"], true);
    assert_eq!(password["token_format"], "opaque");

    // '' removes an optional field; a new secret replaces the old one.
    let out = s.cli_ok(
        &[
            "client",
            "update",
            "app",
            "--redirect-uri",
            "",
            "--generate-secret",
        ],
        None,
    );
    let secret = out["client_secret"].as_str().expect("the generated secret");
    let (_, shown) = get(&s, "/Client/app").await;
    assert!(
        shown["auth"]["password"].get("redirect_uri").is_none(),
        "{shown}"
    );
    s.add_user("alice", "alice-password", &[]);
    reply(
        s.password_grant(("app", "app-secret"), "alice", "alice-password", None)
            .await,
    )
    .await
    .oauth_error(401, "invalid_client");
    s.login(("app", secret), "alice", "alice-password", None)
        .await;

    s.cli_refused(
        &["client", "update", "app", "--token-format", "paper"],
        None,
    );
    s.cli_refused(&["client", "update", "nope", "--mfa", "off"], None);
}

/// `user update` changes the fields named and keeps the rest (the password included);
/// `--active false` disables the user, '' removes an optional field.
#[tokio::test]
async fn user_update_changes_the_fields_named() {
    let s = admin_server();
    s.add_client("app", &["--secret", "app-secret"]);
    s.add_user("alice", "alice-password", &["--email", "a@example.com"]);
    s.cli_ok(
        &[
            "user",
            "update",
            "alice",
            "--phone",
            "+15550100",
            "--scopes",
            "openid email",
        ],
        None,
    );
    let (_, shown) = get(&s, "/User/alice").await;
    assert_eq!(shown["email"], "a@example.com", "{shown}");
    assert_eq!(shown["phone"], "+15550100");
    assert_eq!(shown["scopes"], json!(["openid", "email"]));
    s.login(("app", "app-secret"), "alice", "alice-password", None)
        .await;

    s.cli_ok(
        &[
            "user", "update", "alice", "--email", "", "--active", "false",
        ],
        None,
    );
    let (_, shown) = get(&s, "/User/alice").await;
    assert!(shown["email"].is_null(), "{shown}");
    assert_eq!(shown["active"], false);
    reply(
        s.password_grant(("app", "app-secret"), "alice", "alice-password", None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
    s.cli_refused(&["user", "update", "nobody", "--active", "true"], None);
}

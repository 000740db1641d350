//! RFC 6749 §5.2: `error_description` uses only %x20-21 / %x23-5B / %x5D-7E (printable ASCII
//! without `"` and `\`). Every error body any test reads is checked by the harness
//! (`reply::check_error_body`, and a debug-build server panics on a message outside the set);
//! this test drives the messages that echo what the client sent with hostile values: quotes,
//! backslashes, non-ASCII, control characters and very long values.

use serde_json::json;

use crate::admin::{admin_server, put_json};
use crate::server::{assert_oauth_error, json};

/// True when `text` keeps to the description character set.
fn in_set(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[tokio::test]
async fn echoed_values_keep_to_the_character_set() {
    let s = admin_server();
    s.add_client("app", &["--secret", "s", "--scopes", "read"]);
    let hostile = [
        "\"quoted\"",
        "back\\slash",
        "caf\u{e9} \u{a7}3.2",
        "tab\tnew\nline",
        &"x".repeat(5000),
    ];
    for value in hostile {
        // The token endpoint names the unsupported grant_type it was sent.
        let (status, _, body) = json(
            s.post_form("/oauth/token", Some(("app", "s")), &[("grant_type", value)])
                .await,
        )
        .await;
        assert_oauth_error(status, &body, 400, "unsupported_grant_type");
        let description = body["error_description"].as_str().unwrap();
        assert!(in_set(description), "{body}");
        assert!(description.len() < 200, "the echo is bounded: {body}");

        // The admin API names an unknown field and an unknown grant type.
        let (status, body) = put_json(&s, "/Client/c1", &json!({ value: 1 })).await;
        assert_eq!(status.as_u16(), 422, "{body}");
        assert!(
            in_set(body["error_description"].as_str().unwrap()),
            "{body}"
        );
        let (status, body) = put_json(&s, "/Client/c1", &json!({ "grant_types": [value] })).await;
        assert_eq!(status.as_u16(), 422, "{body}");
        assert!(
            in_set(body["error_description"].as_str().unwrap()),
            "{body}"
        );
    }
    // Parameter names are the client's too: a repeated one is named within the set, on every
    // endpoint that parses a form (schemathesis found these with control characters).
    for path in [
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/userinfo",
    ] {
        let body = "%0B%22%C3%A9=a&%0B%22%C3%A9=b&grant_type=password";
        let (status, _, body) = json(
            s.post_raw(
                path,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body,
            )
            .await,
        )
        .await;
        assert_eq!(status.as_u16(), 400, "{path}: {body}");
        assert_eq!(
            body["error_description"], "the ??? parameter is repeated (RFC 6749 section 3.2)",
            "{path}"
        );
    }
    // The ASCII part of an echoed value survives, so the message still says what was wrong.
    let (_, _, body) = json(
        s.post_form(
            "/oauth/token",
            Some(("app", "s")),
            &[("grant_type", "implicit\"")],
        )
        .await,
    )
    .await;
    assert_eq!(
        body["error_description"],
        "grant_type implicit? is not supported"
    );
    // A scope token with a quote is refused with a description that names it in words.
    let (status, _, body) = json(
        s.post_form(
            "/oauth/token",
            Some(("app", "s")),
            &[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
                ("scope", "\"read\""),
            ],
        )
        .await,
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("double quote"));
}

//! The token endpoint and the password grant (RFC 6749 §3.2, §4.3, §5).

use serde_json::Value;

use crate::jwt_parts;
use crate::reply::Reply;
use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer};

const SCOPES: &str = "openid email phone contacts.read";

fn server_with_app() -> TestServer {
    let s = TestServer::spawn();
    s.add_refreshing_client(
        "app",
        "app-secret",
        &["--scopes", SCOPES, "--default-scopes", "openid"],
    );
    s.add_user(
        "alice@example.com",
        "correct horse",
        &["--email", "alice@example.com"],
    );
    s
}

/// Alice's password grant (no scope) with `client`'s Basic credentials.
async fn alice_via(s: &TestServer, client: (&str, &str)) -> Reply {
    reply(
        s.password_grant(client, "alice@example.com", "correct horse", None)
            .await,
    )
    .await
}

/// RFC 6749 §4.3.3 and §5.1: a JWT access token (RFC 9068), `Cache-Control: no-store`.
#[tokio::test]
async fn password_grant_issues_an_rfc9068_access_token() {
    let s = server_with_app();
    let resp = s
        .password_grant(
            ("app", "app-secret"),
            "alice@example.com",
            "correct horse",
            Some("openid email"),
        )
        .await;
    let body = reply(resp).await.token_response();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid email");
    let (header, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], s.base);
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["scope"], "openid email");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    let user = s.cli_ok(&["user", "show", "alice@example.com"], None);
    assert_eq!(claims["sub"], user["id"]);
}

/// The token endpoint answers identically at every product's path.
#[tokio::test]
async fn every_token_path_serves_the_grant() {
    let s = server_with_app();
    for path in ["/oauth/token", "/token", "/oauth2/v1/token", "/auth/token"] {
        let form = [
            ("grant_type", "password"),
            ("username", "alice@example.com"),
            ("password", "correct horse"),
        ];
        let (status, _, body) =
            json(s.post_form(path, Some(("app", "app-secret")), &form).await).await;
        assert_status(status, &body, 200);
        assert_eq!(body["scope"], "openid", "{path}: default scopes apply");
    }
}

/// Unknown user and wrong password give the identical answer (no user enumeration).
#[tokio::test]
async fn unknown_user_and_wrong_password_answer_identically() {
    let s = server_with_app();
    let wrong = s
        .password_grant(("app", "app-secret"), "alice@example.com", "wrong", None)
        .await;
    let (ws, wh, wb) = json(wrong).await;
    let unknown = s
        .password_grant(("app", "app-secret"), "mallory@example.com", "wrong", None)
        .await;
    let (us, uh, ub) = json(unknown).await;
    assert_oauth_error(ws, &wb, 400, "invalid_grant");
    assert_eq!((ws, &wb), (us, &ub));
    assert_eq!(wh.get("www-authenticate"), uh.get("www-authenticate"));
}

/// Usernames match case-insensitively after PRECIS UsernameCaseMapped normalization.
#[tokio::test]
async fn usernames_match_case_insensitively() {
    let s = server_with_app();
    for name in [
        "ALICE@example.com",
        "Alice@Example.COM",
        "\u{ff41}lice@example.com",
    ] {
        s.login(("app", "app-secret"), name, "correct horse", None)
            .await;
    }
}

/// RFC 6749 §2.3.1: Basic, body credentials, and a public client's bare client_id.
#[tokio::test]
async fn clients_authenticate_by_basic_body_or_as_public() {
    let s = server_with_app();
    s.add_client("spa", &["--scopes", "openid"]);
    let creds = [
        ("grant_type", "password"),
        ("username", "alice@example.com"),
        ("password", "correct horse"),
    ];

    // The password grant at `/token` with `client_auth` in the body and no Basic header.
    let grant_with = |client_auth: &[(&'static str, &'static str)]| {
        let form = [creds.as_slice(), client_auth].concat();
        let s = &s;
        async move { reply(s.post_form("/token", None, &form).await).await }
    };

    let body_auth = [("client_id", "app"), ("client_secret", "app-secret")];
    grant_with(&body_auth).await.ok();

    grant_with(&[("client_id", "spa")]).await.ok();

    // A confidential client cannot pass for public.
    grant_with(&[("client_id", "app")])
        .await
        .oauth_error(401, "invalid_client");

    // A public client that sends a secret is refused.
    let spa_secret = [("client_id", "spa"), ("client_secret", "x")];
    grant_with(&spa_secret)
        .await
        .oauth_error(401, "invalid_client");
}

/// RFC 6749 §2.3.1: id and secret are form-encoded inside the Basic header.
#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "p:s s%word"]);
    s.add_user("bob", "pw", &[]);
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode("app:p%3As+s%25word");
    let resp = s
        .post_raw(
            "/oauth/token",
            &[
                ("Authorization", &format!("Basic {encoded}")),
                crate::server::FORM,
            ],
            "grant_type=password&username=bob&password=pw",
        )
        .await;
    reply(resp).await.ok();
}

/// RFC 6749 §5.2: a failed Basic authentication is 401 with `WWW-Authenticate: Basic`.
#[tokio::test]
async fn wrong_client_secret_is_401_with_a_basic_challenge() {
    let s = server_with_app();
    alice_via(&s, ("app", "nope")).await.basic_invalid_client();
    alice_via(&s, ("ghost", "nope"))
        .await
        .oauth_error(401, "invalid_client");
}

/// RFC 6749 §2.3: a client must not use more than one authentication method.
#[tokio::test]
async fn two_client_authentication_methods_are_invalid_request() {
    let s = server_with_app();
    let form = [
        ("grant_type", "password"),
        ("username", "alice@example.com"),
        ("password", "correct horse"),
        ("client_id", "app"),
        ("client_secret", "app-secret"),
    ];
    reply(
        s.post_form("/oauth/token", Some(("app", "app-secret")), &form)
            .await,
    )
    .await
    .oauth_error(400, "invalid_request");
}

/// RFC 6749 §3.3: granted = requested ∩ client ∩ user; a scope the client may not have is
/// `invalid_scope`.
#[tokio::test]
async fn scopes_are_intersected_and_unknown_scopes_refused() {
    let s = server_with_app();
    s.add_user("carol", "pw", &["--scopes", "openid phone"]);
    let body = s
        .login(
            ("app", "app-secret"),
            "carol",
            "pw",
            Some("openid email phone"),
        )
        .await;
    assert_eq!(body["scope"], "openid phone");

    let (status, _, body) = json(
        s.password_grant(("app", "app-secret"), "carol", "pw", Some("openid admin"))
            .await,
    )
    .await;
    assert_oauth_error(status, &body, 400, "invalid_scope");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("admin"));
}

/// A client may use the password grant only if its grant types include it.
#[tokio::test]
async fn a_client_without_the_password_grant_is_unauthorized_client() {
    let s = server_with_app();
    s.add_client(
        "refresher",
        &["--secret", "x", "--grant-types", "refresh_token"],
    );
    alice_via(&s, ("refresher", "x"))
        .await
        .oauth_error(400, "unauthorized_client");
}

/// RFC 6749 §5.2: missing parameters, unknown grants, repeated parameters.
#[tokio::test]
async fn malformed_requests_get_rfc_errors() {
    let s = server_with_app();
    let basic = Some(("app", "app-secret"));
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("username", "a"), ("password", "b")], "invalid_request"),
        (
            &[("grant_type", "password"), ("password", "b")],
            "invalid_request",
        ),
        (
            &[("grant_type", "password"), ("username", "a")],
            "invalid_request",
        ),
        (
            &[("grant_type", "authorization_code")],
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "password"),
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
            "invalid_request",
        ),
    ];
    for (form, code) in cases {
        let (status, _, body) = json(s.post_form("/oauth/token", basic, form).await).await;
        assert_oauth_error(status, &body, 400, code);
    }
}

/// Bodies: form with or without charset, JSON; anything else is refused; over 64 KiB is 413.
#[tokio::test]
async fn body_encodings_and_limits() {
    let s = server_with_app();
    let auth = ("Authorization", "Basic YXBwOmFwcC1zZWNyZXQ=");
    let form = "grant_type=password&username=alice%40example.com&password=correct+horse";
    let token = async |content_type: &str, body: String| {
        let headers = [auth, ("Content-Type", content_type)];
        reply(s.post_raw("/oauth/token", &headers, body).await).await
    };
    for ct in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ] {
        token(ct, form.into()).await.ok();
    }
    let json_body =
        r#"{"grant_type":"password","username":"alice@example.com","password":"correct horse"}"#;
    token("application/json", json_body.into()).await.ok();

    token("text/plain", form.into())
        .await
        .oauth_error(400, "invalid_request");

    let dup = r#"{"grant_type":"password","grant_type":"password"}"#;
    token("application/json", dup.into())
        .await
        .oauth_error(400, "invalid_request");

    let huge = format!("{form}&pad={}", "x".repeat(70 * 1024));
    token(crate::server::FORM.1, huge)
        .await
        .oauth_error(413, "invalid_request");
}

/// No input produces a 500: a sweep of hostile bodies and headers.
#[tokio::test]
async fn hostile_input_never_produces_a_server_error() {
    let s = server_with_app();
    let bodies: [&[u8]; 8] = [
        b"grant_type=password&username=%ZZ&password=x",
        b"grant_type=password&username=\xff\xfe&password=x",
        b"grant_type=password&username=a%00b&password=x",
        b"=&&&==&",
        b"grant_type=password&username=a&password=b&scope=%22quoted%22",
        b"",
        b"grant_type",
        b"\x00\x01\x02",
    ];
    for body in bodies {
        let resp = s
            .post_raw(
                "/oauth/token",
                &[("Authorization", "Basic YXBwOmFwcC1zZWNyZXQ=")],
                body.to_vec(),
            )
            .await;
        let status = resp.status().as_u16();
        let body_text = resp.text().await.unwrap();
        assert!((400..500).contains(&status), "{status}: {body_text}");
        let parsed: Value = serde_json::from_str(&body_text).unwrap();
        assert!(parsed["error"].is_string());
    }
    let long_user = "a".repeat(300);
    let long_pass = "p".repeat(2000);
    for (u, p) in [
        (long_user.as_str(), "x"),
        ("alice@example.com", long_pass.as_str()),
    ] {
        let resp = s.password_grant(("app", "app-secret"), u, p, None).await;
        let status = resp.status().as_u16();
        assert!(status == 400, "{status}");
    }
}

/// Per-client access-token lifetime.
#[tokio::test]
async fn access_token_ttl_is_per_client() {
    let s = server_with_app();
    s.add_client("short", &["--secret", "x", "--access-token-ttl", "60"]);
    let body = s
        .login(("short", "x"), "alice@example.com", "correct horse", None)
        .await;
    assert_eq!(body["expires_in"], 60);
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
}

/// `/healthz` answers, and SIGTERM stops the server cleanly.
#[tokio::test]
async fn healthz_and_graceful_shutdown() {
    let mut s = TestServer::spawn();
    let resp = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let status = s.terminate();
    assert!(status.success(), "{status:?}");
}

/// An unknown username costs one argon2id hash like a wrong password does, so response time
/// does not reveal which usernames exist. With OWASP parameters a hash takes tens of
/// milliseconds and a lookup well under one, so skipping the hash would show as a ratio far
/// below the bound checked here. The fastest of several interleaved samples is compared: it is
/// the cost of the work itself, while other tests running on the same cores only ever add time.
#[tokio::test]
async fn unknown_usernames_cost_a_hash_like_known_ones() {
    let s = TestServer::builder().owasp_hashing().spawn();
    s.add_client("app", &["--secret", "s"]);
    s.add_user("known", "pw", &[]);
    // Warm the client-secret memory so only the user's hash differs.
    let _ = s.password_grant(("app", "s"), "known", "wrong", None).await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..9 {
        for (name, times) in [("known", &mut known), ("nobody", &mut unknown)] {
            let start = std::time::Instant::now();
            let resp = s.password_grant(("app", "s"), name, "wrong", None).await;
            assert_eq!(resp.status(), 400);
            times.push(start.elapsed());
        }
    }
    let fastest = |t: &[std::time::Duration]| t.iter().min().copied().unwrap().as_secs_f64();
    let ratio = fastest(&unknown) / fastest(&known);
    assert!(
        ratio > 0.5 && ratio < 2.0,
        "fastest unknown/known = {ratio:.2} ({unknown:?} vs {known:?})"
    );
}

/// RFC 6749 §3.3: a scope value holds at least one scope token, so a login granted no scope (no
/// scope asked for, no default scopes) answers without a `scope` member rather than with
/// `"scope": ""`, which oauthlib (requests-oauthlib) reads as a changed scope.
#[tokio::test]
async fn a_login_granted_no_scope_has_no_scope_member() {
    let s = TestServer::spawn();
    s.add_client("bare", &["--secret", "bare-secret", "--scopes", SCOPES]);
    s.add_user("bob", "bob-password", &[]);
    let body = s
        .login(("bare", "bare-secret"), "bob", "bob-password", None)
        .await;
    assert!(body.get("scope").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let body = s
        .login(
            ("bare", "bare-secret"),
            "bob",
            "bob-password",
            Some("email"),
        )
        .await;
    assert_eq!(body["scope"], "email");
}

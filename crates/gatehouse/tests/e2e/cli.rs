//! The command line: `client` and `user` management against a real database, checked over
//! HTTP; configuration precedence.

use crate::server::{json, reply, TestServer};

/// `--password-stdin` drops one trailing newline and nothing else.
#[tokio::test]
async fn password_stdin_drops_exactly_one_trailing_newline() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "s"]);
    // A newline is a control character, which the password policy refuses: this password is
    // set knowingly.
    s.cli_ok(
        &[
            "user",
            "add",
            "dave",
            "--password-stdin",
            "--allow-weak-password",
        ],
        Some("pass word \n\n"),
    );
    s.login(("app", "s"), "dave", "pass word \n", None).await;
    reply(
        s.password_grant(("app", "s"), "dave", "pass word ", None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
}

/// `user set-password` replaces the password; `user remove` and `client remove` take effect.
#[tokio::test]
async fn user_and_client_lifecycle() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "s"]);
    s.add_user("erin", "old", &[]);
    s.cli_ok(
        &["user", "set-password", "Erin", "--password-stdin"],
        Some("new\n"),
    );
    let (status, _, _) = json(s.password_grant(("app", "s"), "erin", "old", None).await).await;
    assert_eq!(status, 400);
    s.login(("app", "s"), "erin", "new", None).await;

    let users = s.cli_ok(&["user", "list"], None);
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert!(
        !users.to_string().contains("$argon2"),
        "no hash in output: {users}"
    );
    s.cli(&["user", "remove", "erin"], None);
    reply(s.password_grant(("app", "s"), "erin", "new", None).await)
        .await
        .oauth_error(400, "invalid_grant");

    let clients = s.cli_ok(&["client", "list"], None);
    assert_eq!(clients[0]["client_id"], "app");
    assert!(!clients.to_string().contains("$argon2"));
    s.cli(&["client", "remove", "app"], None);
    reply(s.password_grant(("app", "s"), "erin", "new", None).await)
        .await
        .oauth_error(401, "invalid_client");
}

/// Duplicate ids and usernames, bad scopes and unknown grant types are refused with a message.
#[tokio::test]
async fn cli_refuses_invalid_input() {
    let s = TestServer::spawn();
    s.add_client("app", &[]);
    for args in [
        &["client", "add", "app"][..],
        &["client", "add", "bad:id"],
        &["client", "add", "x", "--grant-types", "implicit"],
        &[
            "client",
            "add",
            "y",
            "--scopes",
            "a",
            "--default-scopes",
            "b",
        ],
    ] {
        s.cli_refused(args, None);
    }
    s.add_user("frank", "pw", &[]);
    s.cli_refused(&["user", "add", "FRANK", "--password-stdin"], Some("pw"));
    s.cli_refused(&["user", "add", "gina", "--password-stdin"], Some("\n"));
}

/// Secrets are stored hashed: the database never holds the plaintext secret.
#[tokio::test]
async fn secrets_and_passwords_are_stored_hashed() {
    let s = TestServer::spawn();
    s.add_client("app", &["--secret", "plain-client-secret-123"]);
    s.add_user("hank", "plain-user-password-456", &[]);
    let text = s.db.dump().await;
    assert!(!text.contains("plain-client-secret-123"));
    assert!(!text.contains("plain-user-password-456"));
    assert!(text.contains("$argon2id$"));
}

/// Flag beats environment beats file: `--access-token-ttl`-style server options from each source.
#[tokio::test]
async fn config_precedence_flag_env_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gatehouse.toml");
    std::fs::write(
        &file,
        "issuer = \"https://from-file.example\"\nsigning_alg = \"ES256\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap().to_owned();

    // File only.
    let s = TestServer::builder().env("GATEHOUSE_CONFIG", &file).spawn();
    let token = issue(&s).await;
    let (header, claims) = crate::jwt_parts(&token);
    assert_eq!(claims["iss"], "https://from-file.example");
    assert_eq!(header["alg"], "ES256");

    // Environment beats file.
    let s = TestServer::builder()
        .env("GATEHOUSE_CONFIG", &file)
        .env("GATEHOUSE_ISSUER", "https://from-env.example")
        .spawn();
    let (_, claims) = crate::jwt_parts(&issue(&s).await);
    assert_eq!(claims["iss"], "https://from-env.example");

    // Flag beats environment.
    let s = TestServer::builder()
        .env("GATEHOUSE_CONFIG", &file)
        .env("GATEHOUSE_ISSUER", "https://from-env.example")
        .args(&["--issuer", "https://from-flag.example"])
        .spawn();
    let (_, claims) = crate::jwt_parts(&issue(&s).await);
    assert_eq!(claims["iss"], "https://from-flag.example");
}

async fn issue(s: &TestServer) -> String {
    s.add_client("app", &["--secret", "s"]);
    s.add_user("ivy", "pw", &[]);
    let body = s.login(("app", "s"), "ivy", "pw", None).await;
    body["access_token"].as_str().unwrap().to_owned()
}

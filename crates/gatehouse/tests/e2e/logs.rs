//! Logs: every line of a request carries its request id, JSON lines with `--log-format json`,
//! and no password, client secret, token or Basic credential at any level, even with
//! `RUST_LOG=trace` set for every target.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::server::{json, TestServer};

const PASSWORD: &str = "pw-Zebra-7781-quartz";
const SECRET: &str = "sec-Walrus-5523-basalt";

/// The whole flow at trace level: CLI set-up, grants with Basic and body credentials, failed
/// logins; then the server's and the CLI's standard error are searched for every credential.
#[tokio::test]
async fn no_credential_is_ever_logged_even_at_trace_level() {
    let s = TestServer::builder()
        .env("RUST_LOG", "trace")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .capture_logs()
        .spawn();
    let mut cli_logs = String::new();
    for (args, stdin) in [
        (
            vec![
                "client", "add", "app", "--secret", SECRET, "--scopes", "openid",
            ],
            None,
        ),
        (
            vec!["user", "add", "alice", "--password-stdin"],
            Some(format!("{PASSWORD}\n")),
        ),
    ] {
        let out = s.cli(&args, stdin.as_deref());
        assert!(out.status.success());
        cli_logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }

    let basic = s.password_grant(("app", SECRET), "alice", PASSWORD, Some("openid"));
    let (status, _, body) = json(basic.await).await;
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
        ("client_id", "app"),
        ("client_secret", SECRET),
    ];
    let (status, _, body) = json(s.post_form("/token", None, &form).await).await;
    assert_eq!(status, 200, "{body}");
    let body_token = body["access_token"].as_str().unwrap().to_owned();
    let json_body = serde_json::json!({"grant_type": "password", "username": "alice",
        "password": PASSWORD, "client_id": "app", "client_secret": SECRET});
    let resp = s
        .http
        .post(s.url("/auth/token"))
        .json(&json_body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (wrong_password, wrong_secret) = (format!("{PASSWORD}x"), format!("{SECRET}x"));
    let wrong = s.password_grant(("app", SECRET), "alice", &wrong_password, None);
    assert_eq!(wrong.await.status(), 400);
    let bad_client = s.password_grant(("app", &wrong_secret), "alice", PASSWORD, None);
    assert_eq!(bad_client.await.status(), 401);
    let unknown = s.password_grant(("app", SECRET), "mallory", PASSWORD, None);
    assert_eq!(unknown.await.status(), 400);
    // A GET with credentials in the query: the path is logged, never the query.
    let query = format!("/oauth/token?password={PASSWORD}&client_secret={SECRET}");
    s.http.get(s.url(&query)).send().await.unwrap();

    let server_logs = s.log();
    // The logs are real: trace level reached our code, and requests were logged.
    assert!(
        server_logs.contains("\"level\":\"TRACE\"") || server_logs.contains("\"level\":\"DEBUG\"")
    );
    assert!(
        server_logs.contains("finished processing request"),
        "{server_logs}"
    );
    let basic_value = STANDARD.encode(format!("app:{SECRET}"));
    let forbidden = [
        ("the password", PASSWORD.to_owned()),
        ("the client secret", SECRET.to_owned()),
        ("an access token", access_token.clone()),
        (
            "an access token's signature",
            access_token.rsplit('.').next().unwrap().to_owned(),
        ),
        ("an access token", body_token),
        ("the Basic credentials", basic_value),
    ];
    for (what, needle) in &forbidden {
        for (source, logs) in [("server", &server_logs), ("CLI", &cli_logs)] {
            assert!(
                !logs.contains(needle.as_str()),
                "{what} appears in the {source} log"
            );
        }
    }
}

/// With `--log-format json`, each line is one JSON object, and every line logged while serving
/// a request carries that request's id.
#[tokio::test]
async fn json_log_lines_carry_the_request_id() {
    let s = TestServer::builder()
        .args(&["--log-format", "json"])
        .env("RUST_LOG", "debug")
        .capture_logs()
        .spawn();
    let resp = s.get("/readyz", &[("X-Request-Id", "req-7c1d")]).await;
    assert_eq!(resp.headers()["x-request-id"], "req-7c1d");
    let logs = s.log();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of_request: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "req-7c1d")
        .collect();
    assert!(of_request.len() >= 2, "{logs}");
    assert!(of_request
        .iter()
        .any(|l| l["fields"]["message"] == "finished processing request"));
    // Every line logged by the request-handling code is inside a request span.
    for line in &lines {
        let target = line["target"].as_str().unwrap_or("");
        if target.starts_with("tower_http::trace") {
            assert!(line["span"]["request_id"].is_string(), "{line}");
        }
    }
}

//! Issue 20's breached and common passwords over real HTTP: what a login with one does per
//! client (`flag`, `block`, `off`), the refusal of one as a new password, the operator's filter
//! file, and the k-anonymity range API against a local server speaking its documented format,
//! outage included. The filter file's own build is in `blocklist.rs`.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::admin::{get, put_json, TOKEN};
use crate::events::events;
use crate::server::{reply, TestServer};

const APP: (&str, &str) = ("app", "app-secret");
const GOOD: &str = "correct horse battery staple";

/// A server with the default policy, the admin API and `extra`; `app` takes the server's
/// breached-password policy unless `app_args` set one.
fn server(extra: &[(&str, &str)], app_args: &[&str]) -> TestServer {
    let mut b = TestServer::builder()
        .nist_passwords()
        .env("GATEHOUSE_ADMIN_TOKEN", TOKEN);
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let s = b.spawn();
    let mut args = vec!["--secret", "app-secret", "--scopes", "openid account"];
    args.extend_from_slice(app_args);
    s.add_client("app", &args);
    s
}

/// The `password_breached` events of `user`.
fn breached_events(s: &TestServer, user: &str) -> Vec<Value> {
    events(s, &[])
        .into_iter()
        .filter(|e| e["kind"] == "password_breached" && e["user"] == user)
        .collect()
}

/// A metric's value in `/metrics` (0 when absent).
async fn metric(s: &TestServer, line_start: &str) -> f64 {
    let text = s.metrics_text().await;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0.0, |v| v.parse().unwrap())
}

/// The default (`flag`): a login with a common password succeeds and says
/// `password_change_required: breached`; the user is marked `breached:common`, an event names
/// the list (never the password) and the metric counts it; a new password lifts the mark.
#[tokio::test]
async fn a_common_password_is_flagged_at_login_by_default() {
    let s = server(&[], &[]);
    s.add_user("pat", "iloveyou", &["--allow-weak-password"]);
    let tokens = s.login(APP, "pat", "iloveyou", None).await;
    assert_eq!(tokens["password_change_required"], "breached", "{tokens}");
    assert!(tokens["access_token"].is_string());
    let (_, pat) = get(&s, "/User/pat").await;
    assert_eq!(pat["password_change_required"], "breached:common", "{pat}");
    let found = breached_events(&s, "pat");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0]["detail"],
        json!({"list": "common", "action": "flag"})
    );
    assert!(!found[0].to_string().contains("iloveyou"));
    let counted = metric(
        &s,
        "gatehouse_password_findings_total{finding=\"common\",action=\"flag\"}",
    )
    .await;
    assert_eq!(counted, 1.0);
    // Still flagged at the next login, from the mark (the event says so again).
    let again = s.login(APP, "pat", "iloveyou", None).await;
    assert_eq!(again["password_change_required"], "breached");
    let (status, _) = put_json(&s, "/User/pat", &json!({"password": GOOD})).await;
    assert_eq!(status, 200);
    let fresh = s.login(APP, "pat", GOOD, None).await;
    assert!(fresh.get("password_change_required").is_none(), "{fresh}");
    let (_, pat) = get(&s, "/User/pat").await;
    assert!(pat["password_change_required"].is_null(), "{pat}");
}

/// `block`: Auth0's `password_leaked` (403) until the password is changed, without counting
/// toward the lockout (the password was right: with a threshold of 3, five blocked logins still
/// get `password_leaked`, never the locked account's `invalid_grant`); a wrong password gets the
/// ordinary `invalid_grant`, so a guesser learns nothing new.
#[tokio::test]
async fn block_refuses_the_login_with_password_leaked_until_the_password_changes() {
    let s = server(
        &[("GATEHOUSE_BRUTE_FORCE_THRESHOLD", "3")],
        &["--breached-password", "block"],
    );
    s.add_user("quinn", "letmein123", &["--allow-weak-password"]);
    for _ in 0..5 {
        let r = reply(s.password_grant(APP, "quinn", "letmein123", None).await).await;
        r.oauth_error(403, "password_leaked");
    }
    reply(
        s.password_grant(APP, "quinn", "wrong password here", None)
            .await,
    )
    .await
    .oauth_error(400, "invalid_grant");
    let found = breached_events(&s, "quinn");
    assert_eq!(found.len(), 5);
    assert!(found.iter().all(|e| e["detail"]["action"] == "block"));
    let (status, _) = put_json(&s, "/User/quinn", &json!({"password": GOOD})).await;
    assert_eq!(status, 200);
    s.login(APP, "quinn", GOOD, None).await;
}

/// `off`: the lists are not asked at login (no mark, no event) nor when a password is set
/// through the self-service change of that client.
#[tokio::test]
async fn off_asks_no_list() {
    let s = server(&[], &["--breached-password", "off"]);
    s.add_user("rae", "iloveyou", &["--allow-weak-password"]);
    let tokens = s
        .login(APP, "rae", "iloveyou", Some("openid account"))
        .await;
    assert!(tokens.get("password_change_required").is_none(), "{tokens}");
    assert!(breached_events(&s, "rae").is_empty());
    let token = tokens["access_token"].as_str().unwrap();
    let resp = s
        .http
        .post(s.url("/account/password"))
        .bearer_auth(token)
        .form(&[
            ("current_password", "iloveyou"),
            ("new_password", "aaaaaaaaaaaaaaaaaaaa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

/// A new password on a list is refused like a policy failure (`breached`, naming the list),
/// wherever it is set; 15 characters are not enough if they are a repeat or a sequence.
#[tokio::test]
async fn a_common_new_password_is_refused() {
    let s = server(&[], &[]);
    for password in ["aaaaaaaaaaaaaaaa", "1234567890123456", "qwertyuiopasdfgh"] {
        let (status, body) = put_json(&s, "/User/sam", &json!({"password": password})).await;
        assert_eq!(status, 422, "{password}: {body}");
        assert_eq!(body["rule"], "breached", "{body}");
        assert!(body["error_description"]
            .as_str()
            .unwrap()
            .contains("(common)"));
    }
    let out = s.cli(
        &["user", "add", "sam", "--password-stdin"],
        Some("aaaaaaaaaaaaaaaa\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_password: breached"));
}

/// The operator's filter file (`--password-blocklist`, built by `blocklist build`): a password
/// on it is refused as a new one and flagged at login with the list `blocklist`.
#[tokio::test]
async fn the_operators_blocklist_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("leaked.txt");
    let filter = dir.path().join("leaked.filter");
    let leaked = "our very own leaked passphrase";
    let lines: Vec<String> = (0..1000)
        .map(|i| format!("filler passphrase number {i}"))
        .chain([leaked.to_owned()])
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["blocklist", "build", input.to_str().unwrap(), "--output"])
        .arg(&filter)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = server(
        &[("GATEHOUSE_PASSWORD_BLOCKLIST", filter.to_str().unwrap())],
        &[],
    );
    let (status, body) = put_json(&s, "/User/tess", &json!({"password": leaked})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["rule"], "breached");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("(blocklist)"));
    s.add_user("tess", leaked, &["--allow-weak-password"]);
    let tokens = s.login(APP, "tess", leaked, None).await;
    assert_eq!(tokens["password_change_required"], "breached");
    assert_eq!(
        breached_events(&s, "tess")[0]["detail"]["list"],
        "blocklist"
    );
    // A passphrase that is not on it is fine.
    let (status, _) = put_json(&s, "/User/uma", &json!({"password": GOOD})).await;
    assert_eq!(status, 201);
}

/// What the local range server saw: the paths and whether `Add-Padding: true` came with them.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// A server speaking the k-anonymity range format (`GET /range/{PREFIX}`: lines
/// `SUFFIX:COUNT`, padding lines with count 0) that knows `breached`; its address.
async fn range_server(breached: &'static [&'static str]) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut read = 0;
                while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..read]).to_string();
                let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                let padded = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case("add-padding: true"));
                log.lock().unwrap().push((path.clone(), padded));
                let prefix = path.trim_start_matches("/range/").to_owned();
                let mut body = String::new();
                for password in breached {
                    let hex = hex(&Sha1::digest(password.as_bytes()));
                    if hex[..5] == prefix {
                        body.push_str(&format!("{}:42\r\n", &hex[5..]));
                    }
                }
                // Padding: suffixes that match nothing, with a count of 0.
                body.push_str("0000000000000000000000000000000000A:0\r\n");
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The range API (`--breached-password-api`): only the first five hex digits of the SHA-1 leave
/// the server, with the padding header; a password it knows is refused as a new one and flagged
/// at login with the list `online`; one it does not know passes.
#[tokio::test]
async fn the_range_api_is_asked_with_a_five_digit_prefix() {
    const KNOWN: &[&str] = &["a passphrase known to the api"];
    let leaked = KNOWN[0];
    let (base, seen) = range_server(KNOWN).await;
    let s = server(&[("GATEHOUSE_BREACHED_PASSWORD_API", base.as_str())], &[]);
    let (status, body) = put_json(&s, "/User/vic", &json!({"password": leaked})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("(online)"));
    let prefix = hex(&Sha1::digest(leaked.as_bytes()))[..5].to_owned();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], (format!("/range/{prefix}"), true), "{seen:?}");
        assert!(seen.iter().all(|(p, _)| p.len() == "/range/".len() + 5));
    }
    s.add_user("vic", leaked, &["--allow-weak-password"]);
    let tokens = s.login(APP, "vic", leaked, None).await;
    assert_eq!(tokens["password_change_required"], "breached");
    assert_eq!(breached_events(&s, "vic")[0]["detail"]["list"], "online");
    let (status, _) = put_json(&s, "/User/wes", &json!({"password": GOOD})).await;
    assert_eq!(status, 201);
    let tokens = s.login(APP, "wes", GOOD, None).await;
    assert!(tokens.get("password_change_required").is_none(), "{tokens}");
}

/// An outage of the range API never blocks a login or a new password (fail open), and is
/// counted in the metrics.
#[tokio::test]
async fn an_outage_of_the_range_api_fails_open() {
    // A port nobody listens on.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = server(
        &[
            ("GATEHOUSE_BREACHED_PASSWORD_API", base.as_str()),
            ("GATEHOUSE_BREACHED_PASSWORD_API_TIMEOUT_MS", "300"),
        ],
        &[],
    );
    let (status, _) = put_json(&s, "/User/xena", &json!({"password": GOOD})).await;
    assert_eq!(status, 201);
    let tokens = s.login(APP, "xena", GOOD, None).await;
    assert!(tokens.get("password_change_required").is_none(), "{tokens}");
    let errors = metric(
        &s,
        "gatehouse_breached_api_requests_total{outcome=\"error\"}",
    )
    .await;
    assert!(errors >= 2.0, "{errors}");
}

/// `gatehouse demo` shows the policy: the demo user's self-service change to a weak password is
/// refused naming the rule, and the demo's leaked user is flagged at login.
#[tokio::test]
async fn the_demo_shows_a_weak_password_refused_and_a_common_one_flagged() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut demo = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let base = lines
        .next()
        .unwrap()
        .unwrap()
        .trim()
        .strip_prefix("gatehouse listening on ")
        .unwrap()
        .to_owned();
    // Up to the demo's last example, the flagged login's answer.
    let mut printed = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("\"password_change_required\":\"breached\"") {
            break;
        }
    }
    assert!(printed.contains("/account/password"), "{printed}");
    assert!(
        printed.contains("leaked@example.com / iloveyou"),
        "{printed}"
    );
    let http = reqwest::Client::new();
    let token_request = |user: &'static str, password: &'static str| {
        http.post(format!("{base}/oauth/token"))
            .basic_auth("demo-app", Some("demo-secret"))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
                ("scope", "openid account"),
            ])
            .send()
    };
    let demo_user: Value = token_request("demo@example.com", "demo-password")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = demo_user["access_token"].as_str().unwrap();
    let refused = http
        .post(format!("{base}/account/password"))
        .bearer_auth(token)
        .form(&[
            ("current_password", "demo-password"),
            ("new_password", "letmein123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["rule"], "min_length", "{refused}");
    let leaked: Value = token_request("leaked@example.com", "iloveyou")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let _ = demo.kill();
    let _ = demo.wait();
    assert_eq!(leaked["password_change_required"], "breached", "{leaked}");
}

//! Multi-factor login over HTTP in Auth0's wire format: `mfa_required` with an `mfa_token`,
//! `/mfa/authenticators`, `/mfa/associate`, `/mfa/challenge`, the `mfa-otp` and
//! `mfa-recovery-code` grants, Keycloak's `otp`/`totp` next to the password, and the admin API
//! and CLI for factors. TOTP codes are computed here (RFC 6238 with HMAC-SHA-1) from the secret
//! the server handed out, never by the server's own code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha1::Sha1;

use crate::admin::TOKEN as ADMIN_TOKEN;
use crate::events::events;
use crate::server::{assert_oauth_error, assert_status, json, reply, TestServer};

pub const APP: (&str, &str) = ("app", "app-secret");
const OTHER: (&str, &str) = ("other", "other-secret");
pub const MFA_OTP: &str = "http://auth0.com/oauth/grant-type/mfa-otp";
const MFA_RECOVERY: &str = "http://auth0.com/oauth/grant-type/mfa-recovery-code";

pub fn server_with(extra: &[&str]) -> TestServer {
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN)
        .args(extra)
        .spawn();
    s.add_refreshing_client("app", "app-secret", &["--mfa", "required"]);
    s.add_client("other", &["--secret", "other-secret", "--mfa", "required"]);
    s.add_client(
        "relaxed",
        &["--secret", "relaxed-secret", "--mfa", "optional"],
    );
    s.add_user("alice", "alice-password", &[]);
    s
}

fn server() -> TestServer {
    server_with(&[])
}

/// RFC 6238 codes for one enrolled secret, each at a later step than the last (the server
/// accepts a step once), waiting for the clock when two steps ahead would be needed.
pub struct Totp {
    secret: Vec<u8>,
    last: i64,
}

impl Totp {
    pub fn new(base32_secret: &str) -> Self {
        Totp {
            secret: base32_decode(base32_secret),
            last: 0,
        }
    }

    /// The test's own clock, deliberately not the server's: the server's TOTP window is what
    /// is under test.
    #[allow(clippy::disallowed_methods)]
    fn now_step() -> i64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        i64::try_from(secs).unwrap() / 30
    }

    pub async fn next(&mut self) -> String {
        let step = (self.last + 1).max(Self::now_step());
        // The server accepts one step ahead of its clock; wait until `step` is that close.
        while step > Self::now_step() + 1 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.last = step;
        self.code(step)
    }

    /// A code the server must refuse: the current code with its last digit changed.
    pub fn wrong(&self) -> String {
        let mut code = self.code(Self::now_step()).into_bytes();
        code[5] = b'0' + (code[5] - b'0' + 5) % 10;
        String::from_utf8(code).unwrap()
    }

    fn code(&self, step: i64) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(&self.secret).unwrap();
        mac.update(&step.to_be_bytes());
        let d = mac.finalize().into_bytes();
        let o = usize::from(d[19] & 0xf);
        let n = u32::from_be_bytes([d[o] & 0x7f, d[o + 1], d[o + 2], d[o + 3]]);
        format!("{:06}", n % 1_000_000)
    }
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base32") as u32;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

/// A password login that must answer `mfa_required`; returns the `mfa_token`.
/// The kinds of alice's audit events, oldest first (`gatehouse events --user alice`).
fn alice_event_kinds(s: &TestServer) -> Vec<String> {
    events(s, &["--user", "alice"])
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// The authenticator of this type in a list (as `/mfa/authenticators` and `user mfa list`
/// show them); there must be one.
#[track_caller]
pub fn authenticator<'a>(list: &'a Value, kind: &str) -> &'a Value {
    let mut all = list.as_array().unwrap().iter();
    all.find(|a| a["authenticator_type"] == kind).unwrap()
}

pub async fn mfa_token(s: &TestServer, client: (&str, &str)) -> String {
    let (status, headers, body) = json(
        s.password_grant(client, "alice", "alice-password", None)
            .await,
    )
    .await;
    assert_oauth_error(status, &body, 403, "mfa_required");
    assert_eq!(
        body["error_description"],
        "Multifactor authentication required"
    );
    assert_eq!(headers["cache-control"], "no-store");
    body["mfa_token"].as_str().expect("mfa_token").to_owned()
}

pub async fn bearer_get(s: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let resp = s.get_bearer(path, token).await;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn associate(s: &TestServer, token: &str) -> (u16, Value) {
    let resp = s
        .http
        .post(s.url("/mfa/associate"))
        .bearer_auth(token)
        .json(&json!({ "authenticator_types": ["otp"] }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

pub async fn otp_grant(
    s: &TestServer,
    path: &str,
    client: (&str, &str),
    token: &str,
    otp: &str,
) -> (u16, Value) {
    let form = [("grant_type", MFA_OTP), ("mfa_token", token), ("otp", otp)];
    let (status, _, body) = json(s.post_form(path, Some(client), &form).await).await;
    (status.as_u16(), body)
}

/// Enrols alice through `app` and activates the factor; returns her codes and recovery code.
pub async fn enrolled(s: &TestServer) -> (Totp, String) {
    let token = mfa_token(s, APP).await;
    let (status, e) = associate(s, &token).await;
    assert_eq!(status, 200, "{e}");
    let mut totp = Totp::new(e["secret"].as_str().unwrap());
    let (status, body) = otp_grant(s, "/oauth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{body}");
    (totp, e["recovery_codes"][0].as_str().unwrap().to_owned())
}

/// The whole dance for a client that requires MFA and a user without a factor: mfa_required,
/// no active factor, associate, the first code activates the factor and completes the login
/// (with a refresh token, as the password grant gives); the next login is challenged.
#[tokio::test]
async fn a_new_user_enrols_totp_and_completes_the_login() {
    let s = server();
    let token = mfa_token(&s, APP).await;
    let (status, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!((status, list), (200, json!([])));

    let (status, e) = associate(&s, &token).await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["authenticator_type"], "otp");
    let secret = e["secret"].as_str().unwrap();
    assert_eq!(base32_decode(secret).len(), 20);
    let uri = e["barcode_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("algorithm=SHA1&digits=6&period=30"), "{uri}");
    assert_eq!(e["recovery_codes"].as_array().unwrap().len(), 1);

    let (_, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    let otp = authenticator(&list, "otp");
    assert_eq!(otp["active"], false);
    assert_eq!(otp["id"], e["id"]);

    let mut totp = Totp::new(secret);
    let (status, tokens) = otp_grant(&s, "/oauth2/v1/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let intro = s
        .introspect(APP, tokens["access_token"].as_str().unwrap())
        .await;
    assert_eq!(intro["active"], true);

    // The mfa_token died with the completed login.
    let (status, _) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(status, 401);

    // Enrolled now: the next login is challenged, and enrolling again is refused.
    let token = mfa_token(&s, APP).await;
    let (_, list) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert!(
        list.as_array().unwrap().iter().all(|a| a["active"] == true),
        "{list}"
    );
    let form = [("mfa_token", token.as_str()), ("challenge_type", "otp")];
    let body = reply(s.post_form("/mfa/challenge", Some(APP), &form).await)
        .await
        .ok();
    assert_eq!(body, json!({ "challenge_type": "otp" }));
    let (status, body) = associate(&s, &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    let (status, tokens) = otp_grant(&s, "/auth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{tokens}");

    let kinds = alice_event_kinds(&s);
    for kind in ["mfa_enrolment", "mfa_success", "login_success"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing in {kinds:?}"
        );
    }
}

/// A wrong code and a code used once already are both `invalid_grant` "Invalid otp_code.", and
/// are recorded as failures; the mfa_token survives them.
#[tokio::test]
async fn wrong_and_reused_codes_are_refused() {
    let s = server();
    let (mut totp, _) = enrolled(&s).await;
    let used = totp.code(totp.last);
    let token = mfa_token(&s, APP).await;
    for code in [totp.wrong(), used] {
        let (status, body) = otp_grant(&s, "/oauth/token", APP, &token, &code).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_description"], "Invalid otp_code.");
    }
    let (status, body) = otp_grant(&s, "/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{body}");
    let reasons: Vec<Value> = events(&s, &["--user", "alice"])
        .into_iter()
        .filter(|e| e["kind"] == "mfa_failure")
        .map(|e| e["detail"]["reason"].clone())
        .collect();
    assert!(reasons.contains(&json!("wrong_code")), "{reasons:?}");
    assert!(reasons.contains(&json!("reused_code")), "{reasons:?}");
}

/// Two logins sending the same fresh code at once: the step is accepted once.
#[tokio::test]
async fn a_code_sent_twice_at_once_works_once() {
    let s = server();
    let (mut totp, _) = enrolled(&s).await;
    let (a, b) = (mfa_token(&s, APP).await, mfa_token(&s, APP).await);
    let code = totp.next().await;
    let (ra, rb) = tokio::join!(
        otp_grant(&s, "/oauth/token", APP, &a, &code),
        otp_grant(&s, "/oauth/token", APP, &b, &code)
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "{ra:?} {rb:?}");
}

/// An mfa_token is bound to its client: another client gets `invalid_grant` at the token
/// endpoint and at /mfa/challenge.
#[tokio::test]
async fn an_mfa_token_from_another_client_is_refused() {
    let s = server();
    let (mut totp, _) = enrolled(&s).await;
    let token = mfa_token(&s, APP).await;
    let (status, body) = otp_grant(&s, "/oauth/token", OTHER, &token, &totp.next().await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let form = [("mfa_token", token.as_str()), ("challenge_type", "otp")];
    reply(s.post_form("/mfa/challenge", Some(OTHER), &form).await)
        .await
        .oauth_error(400, "invalid_grant");
    // Its own client still completes the login with a later code.
    let (status, body) = otp_grant(&s, "/oauth/token", APP, &token, &totp.next().await).await;
    assert_eq!(status, 200, "{body}");
}

/// An mfa_token past its lifetime is `expired_token` at the token endpoint and `invalid_token`
/// at the bearer endpoints.
#[tokio::test]
async fn an_expired_mfa_token_is_refused() {
    let s = server_with(&["--mfa-token-ttl", "1"]);
    let token = mfa_token(&s, APP).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = otp_grant(&s, "/oauth/token", APP, &token, "123456").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token")),
        "{body}"
    );
    let (status, body) = bearer_get(&s, "/mfa/authenticators", &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _) = associate(&s, &token).await;
    assert_eq!(status, 401);
}

/// An mfa_token is never an access token: /userinfo refuses it, introspection says inactive.
#[tokio::test]
async fn an_mfa_token_is_not_an_access_token() {
    let s = server();
    let token = mfa_token(&s, APP).await;
    let (status, _) = bearer_get(&s, "/userinfo", &token).await;
    assert_eq!(status, 401);
    assert_eq!(s.introspect(APP, &token).await, json!({ "active": false }));
}

/// A recovery code completes a login once, and the answer carries the next one.
#[tokio::test]
async fn a_recovery_code_works_once_and_is_replaced() {
    let s = server();
    let (_, first) = enrolled(&s).await;
    let recover = |token: String, code: String| {
        let s = &s;
        async move {
            let form = [
                ("grant_type", MFA_RECOVERY),
                ("mfa_token", token.as_str()),
                ("recovery_code", code.as_str()),
            ];
            let (status, _, body) = json(s.post_form("/oauth/token", Some(APP), &form).await).await;
            (status.as_u16(), body)
        }
    };
    let (status, body) = recover(mfa_token(&s, APP).await, first.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string());
    let second = body["recovery_code"].as_str().unwrap().to_owned();
    assert_ne!(second, first);

    let (status, body) = recover(mfa_token(&s, APP).await, first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = recover(mfa_token(&s, APP).await, second.to_lowercase()).await;
    assert_eq!(status, 200, "{body}");
}

/// Keycloak's single request: the code next to the password (`otp`, or the legacy `totp`)
/// completes the login; a wrong one is `invalid_grant`; none is `mfa_required`.
#[tokio::test]
async fn a_code_with_the_password_completes_the_login_directly() {
    let s = server();
    let (mut totp, _) = enrolled(&s).await;
    let login = |field: &'static str, code: String| {
        let s = &s;
        async move {
            let form = [
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-password"),
                (field, code.as_str()),
            ];
            let (status, _, body) = json(s.post_form("/oauth/token", Some(APP), &form).await).await;
            (status.as_u16(), body)
        }
    };
    let (status, body) = login("otp", totp.wrong()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = login("otp", totp.next().await).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = login("totp", totp.next().await).await;
    assert_eq!(status, 200, "{body}");
}

/// `optional` asks only users with an active factor; `off` never asks.
#[tokio::test]
async fn optional_mfa_asks_only_enrolled_users() {
    let s = server();
    s.add_client("plain", &["--secret", "plain-secret"]);
    let relaxed = ("relaxed", "relaxed-secret");
    s.login(relaxed, "alice", "alice-password", None).await;
    enrolled(&s).await;
    mfa_token(&s, relaxed).await;
    s.login(("plain", "plain-secret"), "alice", "alice-password", None)
        .await;
}

/// Wrong codes are limited per user (10, then HTTP 429 even for the right code) and count
/// toward the account lockout.
#[tokio::test]
async fn wrong_codes_are_rate_limited_per_user() {
    let s = server();
    let (mut totp, _) = enrolled(&s).await;
    let token = mfa_token(&s, APP).await;
    for _ in 0..10 {
        let (status, body) = otp_grant(&s, "/oauth/token", APP, &token, &totp.wrong()).await;
        assert_eq!(status, 400, "{body}");
    }
    let form = [
        ("grant_type", MFA_OTP),
        ("mfa_token", token.as_str()),
        ("otp", &totp.next().await),
    ];
    let (status, headers, body) = json(s.post_form("/oauth/token", Some(APP), &form).await).await;
    assert_oauth_error(status, &body, 429, "too_many_attempts");
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn wrong_codes_lock_the_account() {
    let s = server_with(&["--brute-force-threshold", "3", "--brute-force-wait", "60"]);
    let (totp, _) = enrolled(&s).await;
    let token = mfa_token(&s, APP).await;
    for _ in 0..3 {
        let (status, _) = otp_grant(&s, "/oauth/token", APP, &token, &totp.wrong()).await;
        assert_eq!(status, 400);
    }
    // Locked: even the right password is refused now.
    let (status, _, body) =
        json(s.password_grant(APP, "alice", "alice-password", None).await).await;
    assert_oauth_error(status, &body, 400, "invalid_grant");
    let kinds = alice_event_kinds(&s);
    assert!(kinds.iter().any(|k| k == "lockout"), "{kinds:?}");
}

/// Administrators list and remove factors (admin API and CLI); a user without a factor enrols
/// again at the next login.
#[tokio::test]
async fn admins_list_and_remove_factors() {
    let s = server();
    enrolled(&s).await;
    let resp = s
        .get_bearer("/User/alice/authenticators", ADMIN_TOKEN)
        .await;
    let body = reply(resp).await.ok();
    assert_eq!(body["total"], 2, "{body}");
    assert!(!body.to_string().contains("secret"), "{body}");

    let listed = s.cli_ok(&["user", "mfa", "list", "alice"], None);
    let otp = authenticator(&listed, "otp");
    let id = otp["id"].as_str().unwrap();

    let resp = s
        .http
        .delete(s.url(&format!("/User/alice/authenticators/{id}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_status(status, &body, 200);
    assert_eq!(
        body["total"], 2,
        "TOTP takes the recovery code with it: {body}"
    );
    assert_eq!(s.cli_ok(&["user", "mfa", "list", "alice"], None), json!([]));
    let out = s.cli(&["user", "mfa", "remove", "alice", id], None);
    assert!(!out.status.success());

    // Enrol again, remove through the CLI.
    enrolled(&s).await;
    let listed = s.cli_ok(&["user", "mfa", "list", "alice"], None);
    let rc = authenticator(&listed, "recovery-code");
    s.cli_ok(
        &["user", "mfa", "remove", "alice", rc["id"].as_str().unwrap()],
        None,
    );
    assert_eq!(
        s.cli_ok(&["user", "mfa", "list", "alice"], None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let kinds = alice_event_kinds(&s);
    assert!(kinds.iter().any(|k| k == "mfa_removal"), "{kinds:?}");
}

/// Discovery lists the MFA grants; the Client resource carries the `mfa` setting.
#[tokio::test]
async fn discovery_and_the_client_resource_show_mfa() {
    let s = server();
    let meta: Value = s
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = meta["grant_types_supported"].as_array().unwrap();
    assert!(
        grants.contains(&json!(MFA_OTP)) && grants.contains(&json!(MFA_RECOVERY)),
        "{grants:?}"
    );
    let resp = s.get_bearer("/Client/app", ADMIN_TOKEN).await;
    let (_, _, body) = json(resp).await;
    assert_eq!(body["mfa"], "required");
    let resp = s
        .http
        .put(s.url("/Client/app"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "secret": "app-secret", "mfa": "off" }))
        .send()
        .await
        .unwrap();
    let body = reply(resp).await.ok();
    assert_eq!(body["mfa"], "off");
    let (status, _, body) =
        json(s.password_grant(APP, "alice", "alice-password", None).await).await;
    assert_status(status, &body, 200);
}

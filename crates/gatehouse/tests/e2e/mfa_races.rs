//! Issue 15, findings 3 and 9: the per-user limit of wrong second-factor codes holds under
//! concurrency (each code is reserved in the store before it is checked), with or without the
//! account lockout, for the `mfa-otp` grant and for Keycloak's `otp` next to the password; and
//! wrong codes sent with the right password count toward the account lockout.

use crate::events::events;
use crate::mfa::{enrolled, mfa_token, otp_grant, server_with, Totp, APP};
use crate::server::{json, TestServer};

/// Wrong codes a user may send (`gatehouse_core::mfa::CODE_BUCKET_LIMIT`).
const CODE_LIMIT: usize = 10;

/// Keycloak's single request: the password and `otp`.
async fn password_and_otp(s: &TestServer, otp: &str) -> u16 {
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "alice-password"),
        ("otp", otp),
    ];
    let (status, _, body) = json(s.post_form("/oauth/token", Some(APP), &form).await).await;
    assert!(
        status == 400 && body["error"] == "invalid_grant"
            || status == 429 && body["error"] == "too_many_attempts",
        "{status} {body}"
    );
    status.as_u16()
}

/// Statuses of 40 wrong codes sent at once through the `mfa-otp` grant.
async fn forty_wrong_otp_grants(s: &TestServer, totp: &Totp) -> Vec<u16> {
    let token = mfa_token(s, APP).await;
    let wrong = totp.wrong();
    let guesses = (0..40).map(|_| otp_grant(s, "/oauth/token", APP, &token, &wrong));
    let answers = futures::future::join_all(guesses).await;
    for (status, body) in &answers {
        let expected = match status {
            400 => "invalid_grant",
            429 => "too_many_attempts",
            _ => panic!("{status} {body}"),
        };
        assert_eq!(body["error"], expected, "{body}");
    }
    answers.into_iter().map(|(status, _)| status).collect()
}

#[track_caller]
fn assert_at_most_the_limit_guessed(statuses: &[u16]) {
    let guessed = statuses.iter().filter(|&&st| st == 400).count();
    let throttled = statuses.iter().filter(|&&st| st == 429).count();
    eprintln!("40 concurrent wrong codes: {guessed} checked, {throttled} throttled");
    assert!(
        guessed <= CODE_LIMIT,
        "{guessed} codes checked: {statuses:?}"
    );
    assert_eq!(guessed + throttled, statuses.len(), "{statuses:?}");
}

/// 40 concurrent wrong codes for one `mfa_token`: at most 10 are checked (400), the rest are
/// 429, and the refusals are one aggregated `mfa_throttled` event, not a row each.
#[tokio::test]
async fn concurrent_wrong_codes_cannot_overrun_the_per_user_limit() {
    let s = server_with(&[]);
    let (totp, _) = enrolled(&s).await;
    let statuses = forty_wrong_otp_grants(&s, &totp).await;
    assert_at_most_the_limit_guessed(&statuses);
    let all = events(&s, &["--user", "alice"]);
    let kind = |k: &str| all.iter().filter(|e| e["kind"] == k).count();
    assert!(kind("mfa_failure") <= CODE_LIMIT, "{all:?}");
    assert_eq!(kind("mfa_throttled"), 1, "{all:?}");
}

/// The same with `--brute-force off`, where the per-user bucket is the only limit.
#[tokio::test]
async fn concurrent_wrong_codes_are_limited_without_the_lockout() {
    let s = server_with(&["--brute-force", "off"]);
    let (totp, _) = enrolled(&s).await;
    let statuses = forty_wrong_otp_grants(&s, &totp).await;
    assert_at_most_the_limit_guessed(&statuses);
}

/// Keycloak's `otp` next to the right password, 40 at once with `--brute-force off`: at most
/// 10 codes are checked, the rest are 429.
#[tokio::test]
async fn concurrent_wrong_codes_with_the_password_are_limited() {
    let s = server_with(&["--brute-force", "off"]);
    let (totp, _) = enrolled(&s).await;
    let wrong = totp.wrong();
    let guesses = (0..40).map(|_| password_and_otp(&s, &wrong));
    let statuses = futures::future::join_all(guesses).await;
    assert_at_most_the_limit_guessed(&statuses);
}

/// Finding 9: the right password with a wrong `otp`, threshold-many times, locks the account;
/// then even the right password with the right code is refused as locked.
#[tokio::test]
async fn wrong_codes_sent_with_the_right_password_lock_the_account() {
    let s = server_with(&["--brute-force-threshold", "3", "--brute-force-wait", "60"]);
    let (mut totp, _) = enrolled(&s).await;
    for _ in 0..3 {
        assert_eq!(password_and_otp(&s, &totp.wrong()).await, 400);
    }
    let right = totp.next().await;
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "alice-password"),
        ("otp", right.as_str()),
    ];
    let (status, _, body) = json(s.post_form("/oauth/token", Some(APP), &form).await).await;
    assert_eq!(status.as_u16(), 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let all = events(&s, &["--user", "alice"]);
    assert!(all.iter().any(|e| e["kind"] == "lockout"), "{all:?}");
    let locked = all
        .iter()
        .any(|e| e["kind"] == "login_failure" && e["detail"]["reason"] == "locked");
    assert!(locked, "{all:?}");
}

/// A login that answers `mfa_required` neither counts as a failure nor clears the count: two
/// wrong passwords, then any number of right ones without a code, then one more wrong password
/// locks the account at threshold 3.
#[tokio::test]
async fn mfa_required_neither_counts_nor_clears_the_lockout() {
    let s = server_with(&["--brute-force-threshold", "3", "--brute-force-wait", "60"]);
    enrolled(&s).await;
    let wrong = || async {
        let resp = s.password_grant(APP, "alice", "wrong", None).await;
        assert_eq!(resp.status().as_u16(), 400);
    };
    wrong().await;
    wrong().await;
    for _ in 0..5 {
        mfa_token(&s, APP).await;
    }
    wrong().await;
    let (status, _, body) =
        json(s.password_grant(APP, "alice", "alice-password", None).await).await;
    assert_eq!(status.as_u16(), 400, "locked: {body}");
}

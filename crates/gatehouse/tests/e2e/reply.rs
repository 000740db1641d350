//! What a test reads back from the server: [`Reply`] (the status, headers and JSON body of one
//! response) and the `#[track_caller]` assertions on it, RFC 6749 §5.2 error bodies and the
//! RFC 6749 §5.2 / RFC 6750 §3 `WWW-Authenticate` challenges included.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

/// One response, read whole: status, headers and the body parsed as JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Reads a response whose body must be JSON.
pub async fn reply(resp: reqwest::Response) -> Reply {
    let (status, headers, body) = json(resp).await;
    Reply {
        status,
        headers,
        body,
    }
}

impl Reply {
    /// Asserts 200 and returns the body.
    #[track_caller]
    pub fn ok(self) -> Value {
        self.expect(200)
    }

    /// Asserts 200 with `Cache-Control: no-store` (RFC 6749 §5.1) and returns the body.
    #[track_caller]
    pub fn ok_no_store(self) -> Value {
        assert_status(self.status, &self.body, 200);
        assert_eq!(self.headers["cache-control"], "no-store");
        self.body
    }

    /// Asserts an RFC 6749 §5.1 token response: 200 with `Cache-Control: no-store` and
    /// `Pragma: no-cache`; returns the body.
    #[track_caller]
    pub fn token_response(self) -> Value {
        assert_status(self.status, &self.body, 200);
        assert_eq!(self.headers["cache-control"], "no-store");
        assert_eq!(self.headers["pragma"], "no-cache");
        self.body
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_status(self.status, &self.body, status);
        self.body
    }

    /// Asserts an RFC 6749 §5.2 error: status and `error` code, with a description.
    #[track_caller]
    pub fn oauth_error(&self, status: u16, code: &str) -> &Reply {
        assert_oauth_error(self.status, &self.body, status, code);
        self
    }

    /// The `WWW-Authenticate` challenge, which must be present.
    #[track_caller]
    pub fn challenge(&self) -> &str {
        self.headers["www-authenticate"].to_str().unwrap()
    }

    /// Asserts RFC 6749 §5.2's answer to failed Basic authentication: 401 `invalid_client`
    /// with a `WWW-Authenticate: Basic ...` challenge.
    #[track_caller]
    pub fn basic_invalid_client(&self) -> &Reply {
        self.oauth_error(401, "invalid_client").basic_challenge()
    }

    /// Asserts a `WWW-Authenticate: Basic ...` challenge (RFC 6749 §5.2, `invalid_client`).
    #[track_caller]
    pub fn basic_challenge(&self) -> &Reply {
        assert!(self.challenge().starts_with("Basic"));
        self
    }
}

/// Asserts the status; the body is shown when it differs.
#[track_caller]
pub fn assert_status(status: StatusCode, body: &Value, expected: u16) {
    assert_eq!(status.as_u16(), expected, "unexpected status; body: {body}");
}

/// Reads a response as (status, headers, JSON body).
pub async fn json(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"));
    check_error_body(&body);
    (status, headers, body)
}

/// The `error` codes gatehouse may answer with: RFC 6749 section 5.2, RFC 6750 section 3.1,
/// RFC 7009 section 2.2.1, the temporarily_unavailable and server_error of section 4.1.2.1,
/// Auth0's MFA API codes and its password_leaked, the admin API's not_found and conflict, and
/// the invalid_password of a new password that fails the policy.
const REGISTERED_ERRORS: [&str; 20] = [
    "invalid_password",
    "password_leaked",
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "invalid_token",
    "insufficient_scope",
    "unsupported_token_type",
    "temporarily_unavailable",
    "server_error",
    "too_many_attempts",
    "mfa_required",
    "expired_token",
    "access_denied",
    "unsupported_challenge_type",
    "not_found",
    "conflict",
];

/// Every error body any test reads (they all pass through [`json`]) keeps to RFC 6749 section
/// 5.2: `error` is a registered code and `error_description` uses only %x20-21 / %x23-5B /
/// %x5D-7E.
#[track_caller]
fn check_error_body(body: &Value) {
    let Some(code) = body.get("error") else {
        return;
    };
    let code = code
        .as_str()
        .unwrap_or_else(|| panic!("error is not a string: {body}"));
    assert!(
        REGISTERED_ERRORS.contains(&code),
        "unregistered error code {code:?}: {body}"
    );
    if let Some(description) = body.get("error_description") {
        let text = description
            .as_str()
            .unwrap_or_else(|| panic!("error_description is not a string: {body}"));
        assert!(
            text.bytes()
                .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
            "error_description outside RFC 6749 section 5.2's characters: {body}"
        );
    }
}

/// Asserts an RFC 6749 §5.2 error: status and `error` code, with a description.
#[track_caller]
pub fn assert_oauth_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(
        status.as_u16(),
        expected_status,
        "unexpected status; body: {body}"
    );
    assert_eq!(body["error"], code, "unexpected error; body: {body}");
    assert!(
        body["error_description"].is_string(),
        "no error_description: {body}"
    );
}

//! The web console's (issue 19) test harness: a server with the console on, an administrator, a
//! viewer and a plain user; a cookie-keeping HTTP client that does not follow redirects and
//! signs in as a browser without script would (password, then a TOTP code computed from the
//! enrolment secret); and admin API helpers. The tests are in `console_security.rs` and
//! `console_pages.rs`.

use std::collections::HashMap;

use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::admin::TOKEN as ADMIN_TOKEN;
use crate::mfa::{Totp, MFA_OTP};
use crate::server::TestServer;

pub const ADMIN: (&str, &str) = ("root", "root-password-1");
pub const VIEWER: (&str, &str) = ("watcher", "watcher-password-1");

/// A server with the console on and the admin API on, an admin, a viewer and a plain user.
pub fn console_server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--console"];
    args.extend_from_slice(extra);
    let s = TestServer::builder()
        .env("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN)
        .args(&args)
        .spawn();
    s.add_user(ADMIN.0, ADMIN.1, &["--role", "gatehouse:admin"]);
    s.add_user(VIEWER.0, VIEWER.1, &["--role", "gatehouse:viewer"]);
    s.add_user("plain", "plain-password-1", &[]);
    s
}

/// A cookie-keeping client that does not follow redirects.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first `csrf_token` field.
    #[track_caller]
    pub fn csrf(&self) -> String {
        self.field("csrf_token")
    }

    /// The value of the hidden or text field `name`.
    #[track_caller]
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| {
            panic!("no {name} field in:\n{}", self.body);
        }) + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        unescape(&self.body[start..end])
    }

    /// The text of the element with this id.
    #[track_caller]
    pub fn text_of(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\">");
        let start = self.body.find(&marker).unwrap_or_else(|| {
            panic!("no #{id} in:\n{}", self.body);
        }) + marker.len();
        let end = self.body[start..].find('<').unwrap() + start;
        unescape(&self.body[start..end])
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The `Set-Cookie` header that sets `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|v| v.starts_with(&format!("{name}=")))
    }
}

/// Undoes the template engine's HTML escaping.
pub fn unescape(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub fn new(s: &TestServer) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: s.base.clone(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(response).await
    }

    /// Signs in with a password and a TOTP code, enrolling when the page asks; returns the
    /// authenticator for later sign-ins.
    pub async fn sign_in(&mut self, (user, password): (&str, &str), totp: Option<Totp>) -> Totp {
        let login = self.get("/admin/login").await;
        assert_eq!(login.status, StatusCode::OK);
        let csrf = login.csrf();
        let step = self
            .post(
                "/admin/login",
                &[
                    ("csrf_token", &csrf),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(step.status, StatusCode::OK, "{}", step.body);
        let mut totp = match totp {
            Some(t) => t,
            None => Totp::new(&step.text_of("totp-secret")),
        };
        let code = totp.next().await;
        let done = self
            .post(
                "/admin/login/otp",
                &[
                    ("csrf_token", &step.csrf()),
                    ("mfa_token", &step.field("mfa_token")),
                    ("otp", &code),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location(), "/admin");
        totp
    }
}

/// An access token from the console client's password grant (and TOTP enrolment).
pub async fn console_token(
    s: &TestServer,
    (user, password): (&str, &str),
    totp: Option<Totp>,
) -> (String, Totp) {
    let http = reqwest::Client::new();
    let answer: Value = http
        .post(s.url("/oauth/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "gatehouse-console"),
            ("username", user),
            ("password", password),
            ("scope", "gatehouse:admin"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mfa_token = answer["mfa_token"]
        .as_str()
        .expect("mfa_required")
        .to_owned();
    let mut totp = match totp {
        Some(t) => t,
        None => {
            let enrolled: Value = http
                .post(s.url("/mfa/associate"))
                .bearer_auth(&mfa_token)
                .json(&json!({"authenticator_types": ["otp"]}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            Totp::new(enrolled["secret"].as_str().unwrap())
        }
    };
    let code = totp.next().await;
    let tokens: Value = http
        .post(s.url("/oauth/token"))
        .form(&[
            ("grant_type", MFA_OTP),
            ("client_id", "gatehouse-console"),
            ("mfa_token", &mfa_token),
            ("otp", &code),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        tokens["access_token"].as_str().expect("tokens").to_owned(),
        totp,
    )
}

pub async fn ensure_app(s: &TestServer) {
    if admin_status(s, "/Client/app").await == StatusCode::NOT_FOUND {
        let body = json!({"secret": "app-secret", "grant_types": ["password"],
                          "scopes": ["gatehouse:admin", "read"]});
        assert_eq!(admin_put(s, "/Client/app", body).await, StatusCode::CREATED);
    }
}

pub async fn password_grant_status(s: &TestServer, user: &str, password: &str) -> StatusCode {
    ensure_app(s).await;
    reqwest::Client::new()
        .post(s.url("/oauth/token"))
        .basic_auth("app", Some("app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

/// An access token of client `app` for `scope` (it allows `gatehouse:admin` and `read`).
pub async fn password_grant_app(s: &TestServer, user: &str, password: &str, scope: &str) -> String {
    ensure_app(s).await;
    let answer: Value = reqwest::Client::new()
        .post(s.url("/oauth/token"))
        .basic_auth("app", Some("app-secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().expect("a token").to_owned()
}

pub async fn introspect_app(s: &TestServer, token: &str) -> Value {
    reqwest::Client::new()
        .post(s.url("/oauth/introspect"))
        .basic_auth("app", Some("app-secret"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn admin_get(s: &TestServer, path: &str) -> Value {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn admin_status(s: &TestServer, path: &str) -> StatusCode {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .status()
}

pub async fn admin_put(s: &TestServer, path: &str, body: Value) -> StatusCode {
    reqwest::Client::new()
        .put(s.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

//! The web console (issue 19) over real HTTP, as a browser without script would use it: sign-in
//! with password and TOTP (enrolment on first sign-in), the session cookie's flags, the security
//! headers, CSRF and missing-cookie refusals, a viewer who cannot change anything, idle and
//! absolute timeouts, sign-out, changes recorded `via: console`, users paged by key; and the
//! admin REST API taking an administrator's access token (scope gatehouse:admin) besides the
//! static token.

use std::collections::HashMap;
use std::time::Duration;

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

/// The console is off without `--console`: its pages do not exist.
#[tokio::test]
async fn the_console_is_off_by_default() {
    let s = TestServer::spawn();
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/admin/login").await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/admin").await.status, StatusCode::NOT_FOUND);
}

/// Sign-in with password and TOTP enrolment; the cookie is HttpOnly and SameSite=Strict (not
/// Secure over plain HTTP); every page carries a strict CSP and X-Frame-Options DENY; the
/// stylesheet is content-addressed and immutable.
#[tokio::test]
async fn an_admin_signs_in_with_password_and_totp() {
    let s = console_server(&[]);
    let mut b = Browser::new(&s);
    let anonymous = b.get("/admin").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/admin/login");
    let login = b.get("/admin/login").await;
    let csp = login.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "no script at all: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(!login.body.contains("<script"));

    b.sign_in(ADMIN, None).await;
    let cookie = b.cookies.get("gatehouse_console").cloned().unwrap();
    assert!(!cookie.is_empty());
    let dashboard = b.get("/admin").await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert!(dashboard.body.contains("Dashboard"));
    assert!(dashboard.body.contains("<svg class=\"chart\""));
    let set = dashboard.set_cookie("gatehouse_console").unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/admin"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP: {set}");

    let css = unescape(&dashboard.body)
        .split("href=\"")
        .find(|p| p.starts_with("/admin/assets/console-"))
        .map(|p| p.split('"').next().unwrap().to_owned())
        .unwrap();
    let sheet = b.get(&css).await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert_eq!(
        sheet.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        b.get("/admin/assets/console-0000.css").await.status,
        StatusCode::NOT_FOUND
    );

    for page in [
        "/admin/clients",
        "/admin/users",
        "/admin/events",
        "/admin/keys",
    ] {
        let p = b.get(page).await;
        assert_eq!(p.status, StatusCode::OK, "{page}: {}", p.body);
        assert_eq!(p.headers["x-frame-options"], "DENY");
    }
}

/// Over HTTPS the session cookies are `Secure` too.
#[tokio::test]
async fn cookies_are_secure_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_pem, key_pem) = crate::tls::self_signed();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    let mut s = TestServer::builder()
        .args(&["--console"])
        .tls(&cert, &key)
        .spawn();
    s.http = crate::tls::trusting(&cert_pem);
    let login = s.http.get(s.url("/admin/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let set = login.headers()[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("gatehouse_console_login="), "{set}");
    assert!(set.contains("; Secure"), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
}

/// A wrong password, an unknown user and a user without a console role get the same answer.
#[tokio::test]
async fn only_admin_roles_sign_in_and_all_refusals_look_alike() {
    let s = console_server(&[]);
    let mut answers = Vec::new();
    for (user, password) in [
        ("plain", "plain-password-1"),
        (ADMIN.0, "wrong-password"),
        ("nobody", "whatever-password"),
    ] {
        let mut b = Browser::new(&s);
        let login = b.get("/admin/login").await;
        let page = b
            .post(
                "/admin/login",
                &[
                    ("csrf_token", &login.csrf()),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{user}");
        assert!(!page.body.contains("mfa_token"));
        answers.push(page.text_of("error"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
}

/// A form without the CSRF token, with another session's, or without the session cookie is
/// refused and changes nothing; the sign-in form needs its token too.
#[tokio::test]
async fn csrf_and_missing_cookie_requests_are_refused() {
    let s = console_server(&[]);
    let mut b = Browser::new(&s);
    let login = b.get("/admin/login").await;
    let no_token = b
        .post(
            "/admin/login",
            &[("username", ADMIN.0), ("password", ADMIN.1)],
        )
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    drop(login);
    b.sign_in(ADMIN, None).await;
    let keys = b.get("/admin/keys").await;
    let csrf = keys.csrf();
    let before = keys.body.matches("class=\"key\"").count();

    let missing = b.post("/admin/keys/rotate", &[]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    let wrong = b
        .post("/admin/keys/rotate", &[("csrf_token", "AAAA")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let mut stranger = Browser::new(&s);
    let no_cookie = stranger
        .post("/admin/keys/rotate", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(no_cookie.status, StatusCode::SEE_OTHER);
    assert_eq!(no_cookie.location(), "/admin/login");
    let after = b
        .get("/admin/keys")
        .await
        .body
        .matches("class=\"key\"")
        .count();
    assert_eq!(before, after, "nothing was rotated");

    let ok = b.post("/admin/keys/rotate", &[("csrf_token", &csrf)]).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let after = b
        .get("/admin/keys")
        .await
        .body
        .matches("class=\"key\"")
        .count();
    assert_eq!(after, before + 1);
    let events = admin_get(&s, "/Event?user=").await;
    let rotated = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|e| e["detail"]["action"] == "rotate_keys")
        .expect("a rotate_keys event");
    assert_eq!(rotated["detail"]["via"], "console");
}

/// A viewer reads every page and changes nothing: every form post is 403.
#[tokio::test]
async fn a_viewer_cannot_change_anything() {
    let s = console_server(&[]);
    let mut b = Browser::new(&s);
    b.sign_in(VIEWER, None).await;
    let users = b.get("/admin/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(
        !users.body.contains("create-user"),
        "no create form for a viewer"
    );
    let csrf = b.get("/admin/keys").await.csrf();
    let posts: &[(&str, &[(&str, &str)])] = &[
        ("/admin/keys/rotate", &[]),
        (
            "/admin/users",
            &[("username", "mallory"), ("password", "mallory-password-1")],
        ),
        (
            "/admin/users/plain/password",
            &[("password", "new-password-123")],
        ),
        ("/admin/users/plain/sessions", &[]),
        ("/admin/users/plain/unlock", &[]),
        (
            "/admin/users/plain",
            &[("roles", "gatehouse:admin"), ("active", "1")],
        ),
        ("/admin/clients", &[("id", "evil"), ("resource", "{}")]),
    ];
    for (path, form) in posts {
        let mut fields = vec![("csrf_token", csrf.as_str())];
        fields.extend_from_slice(form);
        let page = b.post(path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}: {}", page.body);
    }
    let plain = admin_get(&s, "/User/plain").await;
    assert!(
        plain["roles"].as_array().is_none_or(Vec::is_empty),
        "{plain}"
    );
    assert_eq!(
        admin_status(&s, "/User/mallory").await,
        StatusCode::NOT_FOUND
    );
}

/// Sessions end after the idle timeout, and after the absolute one however busy; sign-out
/// ends the session everywhere (the old cookie no longer works).
#[tokio::test]
async fn sessions_time_out_and_sign_out_ends_them() {
    let s = console_server(&[
        "--console-idle-timeout",
        "2",
        "--console-session-lifetime",
        "5",
    ]);
    let mut b = Browser::new(&s);
    let totp = b.sign_in(ADMIN, None).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let idle = b.get("/admin").await;
    assert_eq!(
        idle.status,
        StatusCode::SEE_OTHER,
        "idle session still alive"
    );

    let mut totp = b.sign_in(ADMIN, Some(totp)).await;
    let mut ended = false;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        if b.get("/admin").await.status == StatusCode::SEE_OTHER {
            ended = true;
            break;
        }
    }
    assert!(ended, "the absolute timeout never ended a busy session");

    let _ = totp.next().await;
    b.sign_in(ADMIN, Some(totp)).await;
    let old = b.cookies.clone();
    let csrf = b.get("/admin").await.csrf();
    let out = b.post("/admin/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!b.cookies.contains_key("gatehouse_console"));
    b.cookies = old;
    assert_eq!(
        b.get("/admin").await.status,
        StatusCode::SEE_OTHER,
        "revoked"
    );
}

/// Users are found among many by a search and paged by key; a password reset and the end of
/// their sessions from the console are recorded `via: console`.
#[tokio::test]
async fn users_are_searched_paged_and_managed() {
    let s = console_server(&[]);
    for i in 0..60 {
        let status = admin_put(
            &s,
            &format!("/User/member{i:03}"),
            json!({"password": "member-password-1"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let mut b = Browser::new(&s);
    b.sign_in(ADMIN, None).await;
    let first = b.get("/admin/users?q=member").await;
    assert_eq!(first.body.matches("/admin/users/member").count(), 50);
    assert!(first.body.contains("after=member049"), "{}", first.body);
    let second = b.get("/admin/users?q=member&after=member049").await;
    assert_eq!(second.body.matches("/admin/users/member").count(), 10);
    assert!(!second.body.contains("next-page"));
    let one = b.get("/admin/users?q=ber042").await;
    assert_eq!(one.body.matches("/admin/users/member").count(), 1);

    let token = password_grant_app(&s, "member042", "member-password-1").await;
    let user = b.get("/admin/users/member042").await;
    assert_eq!(
        user.body.matches("class=\"session\"").count(),
        1,
        "{}",
        user.body
    );
    let csrf = user.csrf();
    let reset = b
        .post(
            "/admin/users/member042/password",
            &[
                ("csrf_token", &csrf),
                ("password", "a-brand-new-password-9"),
            ],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    let ended = b
        .post("/admin/users/member042/sessions", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert!(b
        .get("/admin/users/member042")
        .await
        .body
        .contains("no-sessions"));
    let introspected = introspect_app(&s, &token).await;
    assert_eq!(introspected["active"], false);
    assert_eq!(
        password_grant_status(&s, "member042", "a-brand-new-password-9").await,
        StatusCode::OK
    );
    let events = admin_get(&s, "/Event?user=member042").await;
    let via: Vec<&str> = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["detail"]["via"] == "console")
        .map(|e| e["resource"]["kind"].as_str().unwrap())
        .collect();
    assert!(!via.is_empty(), "{events}");
    let filtered = b
        .get("/admin/events?user=member042&kind=login_success")
        .await;
    assert!(filtered.body.contains("login_success"));
    assert!(!filtered.body.contains(">admin_change<"));
    let export = b.get("/admin/events.jsonl?user=member042").await;
    assert_eq!(export.headers[CONTENT_TYPE], "application/jsonl");
    for line in export.body.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["user"], "member042");
    }
}

/// A client made in the console works with the password grant over HTTP, its secret rotated
/// in the console replaces the old one, and deleting needs the id typed again.
#[tokio::test]
async fn a_client_made_in_the_console_works() {
    let s = console_server(&[]);
    let mut b = Browser::new(&s);
    b.sign_in(ADMIN, None).await;
    let page = b.get("/admin/clients").await;
    let resource = json!({"grant_types": ["password"], "scopes": ["read"]}).to_string();
    let made = b
        .post(
            "/admin/clients",
            &[
                ("csrf_token", &page.csrf()),
                ("id", "shop"),
                ("resource", &resource),
                ("with_secret", "1"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.body);
    let secret = made.text_of("secret");
    let grant = |secret: String| {
        let http = reqwest::Client::new();
        let url = s.url("/oauth/token");
        async move {
            http.post(url)
                .basic_auth("shop", Some(secret))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "plain"),
                    ("password", "plain-password-1"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(grant(secret.clone()).await, StatusCode::OK);
    let client = b.get("/admin/clients/shop").await;
    let saved = b
        .post(
            "/admin/clients/shop/settings",
            &[
                ("csrf_token", &client.csrf()),
                ("grant_password", "1"),
                ("refresh_token", "1"),
                ("scopes", "read write"),
                ("mfa", "optional"),
                ("token_format", "opaque"),
                ("secret_required", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.body);
    let stored = admin_get(&s, "/Client/shop").await;
    assert_eq!(stored["mfa"], "optional", "{stored}");
    assert_eq!(stored["scopes"], json!(["read", "write"]));
    assert_eq!(stored["auth"]["password"]["token_format"], "opaque");
    assert_eq!(stored["auth"]["password"]["refresh_token"], true);
    assert_eq!(stored["has_secret"], true, "the secret is kept");
    // Assertion keys: a client's JWKS, shown again in the form.
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})
    .to_string();
    let with_keys = b
        .post(
            "/admin/clients/shop/settings",
            &[
                ("csrf_token", &client.csrf()),
                ("grant_password", "1"),
                ("secret_required", "1"),
                ("jwks", &jwks),
            ],
        )
        .await;
    assert_eq!(with_keys.status, StatusCode::OK, "{}", with_keys.body);
    assert_eq!(
        admin_get(&s, "/Client/shop").await["jwks"]["keys"][0]["kid"],
        "k1"
    );
    let shown = b.get("/admin/clients/shop").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown
        .body
        .contains("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
    let rotated = b
        .post(
            "/admin/clients/shop/secret",
            &[("csrf_token", &client.csrf())],
        )
        .await;
    let new_secret = rotated.text_of("secret");
    assert_ne!(new_secret, secret);
    assert_eq!(grant(secret).await, StatusCode::UNAUTHORIZED);
    assert_eq!(grant(new_secret).await, StatusCode::OK);
    let refused = b
        .post(
            "/admin/clients/shop/delete",
            &[("csrf_token", &client.csrf()), ("confirm", "shopp")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let deleted = b
        .post(
            "/admin/clients/shop/delete",
            &[("csrf_token", &client.csrf()), ("confirm", "shop")],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        admin_status(&s, "/Client/shop").await,
        StatusCode::NOT_FOUND
    );
}

/// The admin API takes an administrator's access token from the console client: an admin
/// reads and writes, a viewer only reads (a write is 403), a plain user's token is refused
/// even with the scope, and a role taken away takes effect at once.
#[tokio::test]
async fn the_admin_api_takes_administrators_tokens() {
    let s = console_server(&[]);
    let (admin, _) = console_token(&s, ADMIN, None).await;
    let (viewer, _) = console_token(&s, VIEWER, None).await;
    let http = reqwest::Client::new();
    let get = |token: String| {
        let req = http.get(s.url("/User/plain")).bearer_auth(token);
        async move { req.send().await.unwrap().status() }
    };
    let put = |token: String, name: &str| {
        let req = http
            .put(s.url(&format!("/User/{name}")))
            .bearer_auth(token)
            .json(&json!({"password": "made-by-token-1"}));
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(get(admin.clone()).await, StatusCode::OK);
    assert_eq!(put(admin.clone(), "by-admin").await, StatusCode::CREATED);
    assert_eq!(get(viewer.clone()).await, StatusCode::OK);
    assert_eq!(
        put(viewer.clone(), "by-viewer").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get("not-a-token".into()).await, StatusCode::UNAUTHORIZED);

    // A plain user's token: the scope alone is not enough.
    let plain = password_grant_app(&s, "plain", "plain-password-1").await;
    assert_eq!(get(plain).await, StatusCode::FORBIDDEN);

    // The admin loses the role: the same token is refused at once.
    let status = admin_put(&s, "/User/root", json!({"roles": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(admin).await, StatusCode::FORBIDDEN);
}

/// An access token from the console client's password grant (and TOTP enrolment).
async fn console_token(
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

async fn ensure_app(s: &TestServer) {
    if admin_status(s, "/Client/app").await == StatusCode::NOT_FOUND {
        let body = json!({"secret": "app-secret", "grant_types": ["password"],
                          "scopes": ["gatehouse:admin", "read"]});
        assert_eq!(admin_put(s, "/Client/app", body).await, StatusCode::CREATED);
    }
}

async fn password_grant_status(s: &TestServer, user: &str, password: &str) -> StatusCode {
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

/// An access token of client `app` (scope gatehouse:admin, which it allows).
async fn password_grant_app(s: &TestServer, user: &str, password: &str) -> String {
    ensure_app(s).await;
    let answer: Value = reqwest::Client::new()
        .post(s.url("/oauth/token"))
        .basic_auth("app", Some("app-secret"))
        .form(&[
            ("grant_type", "password"),
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
    answer["access_token"].as_str().expect("a token").to_owned()
}

async fn introspect_app(s: &TestServer, token: &str) -> Value {
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

async fn admin_get(s: &TestServer, path: &str) -> Value {
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

async fn admin_status(s: &TestServer, path: &str) -> StatusCode {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .status()
}

async fn admin_put(s: &TestServer, path: &str, body: Value) -> StatusCode {
    reqwest::Client::new()
        .put(s.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

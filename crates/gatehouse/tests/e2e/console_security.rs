//! The web console's defences over real HTTP: the console is off by default; sign-in with
//! password and TOTP; the session cookie's flags (Secure over HTTPS); the security headers; the
//! same answer for every refused sign-in; CSRF and missing-cookie refusals; a viewer who cannot
//! change anything; idle and absolute timeouts; sign-out.

use std::time::Duration;

use reqwest::header::SET_COOKIE;
use reqwest::StatusCode;

use crate::console::{admin_get, admin_status, console_server, unescape, Browser, ADMIN, VIEWER};
use crate::server::TestServer;
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

/// The admin scope is issued only to users who hold a console role: a user without one who
/// asks the console's client (or any client allowed the scope) for it directly, with the right
/// password and a second factor, gets `invalid_scope`, and a client that also asks for other
/// scopes gets only those.
#[tokio::test]
async fn the_admin_scope_is_issued_only_to_console_roles() {
    use crate::server::{assert_status, json};
    let s = console_server(&[]);
    let form = [
        ("grant_type", "password"),
        ("client_id", "gatehouse-console"),
        ("username", "plain"),
        ("password", "plain-password-1"),
        ("scope", "gatehouse:admin"),
    ];
    let resp = s
        .http
        .post(s.url("/oauth/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, _, body) = json(resp).await;
    assert_status(status, &body, 400);
    assert_eq!(body["error"], "invalid_scope", "{body}");
    // A client allowed both scopes: the role-less user gets the other one only.
    s.add_client(
        "both",
        &[
            "--secret",
            "both-secret",
            "--scopes",
            "gatehouse:admin read",
        ],
    );
    let resp = s
        .password_grant(
            ("both", "both-secret"),
            "plain",
            "plain-password-1",
            Some("gatehouse:admin read"),
        )
        .await;
    let (status, _, body) = json(resp).await;
    assert_status(status, &body, 200);
    assert_eq!(body["scope"], "read", "{body}");
    let resp = s
        .password_grant(
            ("both", "both-secret"),
            ADMIN.0,
            ADMIN.1,
            Some("gatehouse:admin read"),
        )
        .await;
    let (status, _, body) = json(resp).await;
    // An administrator gets the admin scope (or is asked for the second factor first).
    assert!(
        (status == 200 && body["scope"].as_str().unwrap().contains("gatehouse:admin"))
            || (status == 403 && body["error"] == "mfa_required"),
        "{status}: {body}"
    );
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

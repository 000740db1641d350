//! The web console under `/admin` (issue 19): server-rendered HTML over the same core services
//! the admin API calls, for administrators who sign in with gatehouse's own password grant and
//! a second factor (`login.rs`, then `session.rs` on each request), and the pages (`pages.rs`,
//! `clients.rs`, `users.rs`). Every answer carries a strict Content-Security-Policy (no script
//! at all: plain forms), `X-Frame-Options: DENY` and
//! `Cache-Control: no-store`; the one stylesheet is embedded and served under a content-hashed
//! path with immutable caching. A page needs a live console session (`Signed`); a form post
//! also needs the session's CSRF token in its `csrf_token` field, and a change the role
//! `gatehouse:admin` (a `gatehouse:viewer` gets 403).

mod clients;
mod login;
mod pages;
mod session;
mod users;

pub(crate) use session::{cookie_value, Signed};

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use gatehouse_core::admin::AdminService;
use gatehouse_core::client::Client;
use gatehouse_core::console::ConsoleSessions;
use gatehouse_core::Error;
use minijinja::Environment;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "gatehouse_console";
/// The sign-in page's pre-session cookie (the secret its CSRF token is derived from).
pub(crate) const LOGIN_COOKIE: &str = "gatehouse_console_login";

const CSS: &str = include_str!("console.css");

/// What the console's handlers reach besides [`AppState`].
pub struct Console {
    /// The admin service, recording its changes `via: console`.
    pub admin: Arc<AdminService>,
    /// Seals and times the session cookies.
    pub sessions: ConsoleSessions,
    /// The built-in public client the console signs in with.
    pub client: Client,
    /// Whether the server is served over HTTPS (the cookies are then `Secure`).
    pub secure: bool,
    /// The server's default signing algorithm, for key rotation.
    pub signing_alg: gatehouse_core::token::keys::SigningAlg,
    /// The server key, for key rotation.
    pub sealer: Arc<gatehouse_core::sealing::Sealer>,
    templates: Environment<'static>,
    css_path: String,
}

impl Console {
    /// The console over `admin` (recording `via: console`), signing in with `client`.
    pub fn new(
        admin: Arc<AdminService>,
        sessions: ConsoleSessions,
        client: Client,
        secure: bool,
        keys: (
            gatehouse_core::token::keys::SigningAlg,
            Arc<gatehouse_core::sealing::Sealer>,
        ),
    ) -> Result<Self, Error> {
        let mut templates = Environment::new();
        for (name, source) in TEMPLATES {
            templates
                .add_template(name, source)
                .map_err(Error::internal)?;
        }
        let digest = Sha256::digest(CSS.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Console {
            admin,
            sessions,
            client,
            secure,
            signing_alg: keys.0,
            sealer: keys.1,
            templates,
            css_path: format!("/admin/assets/console-{hash}.css"),
        })
    }

    /// Renders template `name` with `ctx` and the layout's values.
    pub(crate) fn render(
        &self,
        name: &str,
        signed: Option<&Signed>,
        ctx: minijinja::Value,
    ) -> Result<Html<String>, Failure> {
        let layout = minijinja::context! {
            css => self.css_path,
            me => signed.map(|s| s.admin.username.clone()),
            role => signed.map(|s| s.admin.role.as_str()),
            can_write => signed.is_some_and(|s| s.admin.role.can_write()),
            csrf_token => signed.map(|s| s.csrf.clone()),
        };
        let template = self.templates.get_template(name).map_err(internal)?;
        let html = template
            .render(minijinja::context! { ..ctx, ..layout })
            .map_err(internal)?;
        Ok(Html(html))
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""))
    }
}

static TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("otp.html", include_str!("templates/otp.html")),
    ("error.html", include_str!("templates/error.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("clients.html", include_str!("templates/clients.html")),
    ("client.html", include_str!("templates/client.html")),
    ("users.html", include_str!("templates/users.html")),
    ("user.html", include_str!("templates/user.html")),
    ("events.html", include_str!("templates/events.html")),
    ("keys.html", include_str!("templates/keys.html")),
    ("done.html", include_str!("templates/done.html")),
];

/// The console's routes, all under `/admin`; every one answers 404 without `serve --console`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::dashboard))
        .route("/admin/", get(pages::dashboard))
        .route("/admin/login", get(login::form).post(login::password))
        .route("/admin/login/otp", post(login::otp))
        .route("/admin/logout", post(login::logout))
        .route("/admin/assets/{file}", get(stylesheet))
        .route(
            "/admin/clients",
            get(clients::clients).post(clients::create_client),
        )
        .route(
            "/admin/clients/{id}",
            get(clients::client).post(clients::update_client),
        )
        .route(
            "/admin/clients/{id}/settings",
            post(clients::client_settings),
        )
        .route("/admin/clients/{id}/delete", post(clients::delete_client))
        .route("/admin/clients/{id}/secret", post(clients::rotate_secret))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}", get(users::show).post(users::update))
        .route("/admin/users/{id}/password", post(users::set_password))
        .route("/admin/users/{id}/unlock", post(users::unlock))
        .route("/admin/users/{id}/sessions", post(users::revoke_sessions))
        .route(
            "/admin/users/{id}/factors/{factor}",
            post(users::remove_factor),
        )
        .route("/admin/events", get(pages::events))
        .route("/admin/events.jsonl", get(pages::export_events))
        .route("/admin/keys", get(pages::keys))
        .route("/admin/keys/rotate", post(pages::rotate_keys))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The headers of every console answer.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `GET /admin/assets/console-HASH.css`: the stylesheet, cached for a year (its path changes
/// with its content).
async fn stylesheet(
    State(app): State<AppState>,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Response {
    match &app.console {
        Some(console) if console.css_path.ends_with(&format!("/{file}")) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            CSS,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An error page.
pub(crate) struct Failure(StatusCode, String);

/// The status of an error page for `err`.
pub(crate) fn status_of(err: &Error) -> StatusCode {
    match err.code() {
        "not_found" => StatusCode::NOT_FOUND,
        "conflict" => StatusCode::CONFLICT,
        "access_denied" | "insufficient_scope" => StatusCode::FORBIDDEN,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "too_many_attempts" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let status = status_of(&err);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %err, "console request failed");
        }
        let text = err.description().unwrap_or("the server failed").to_owned();
        Failure(status, text)
    }
}

fn internal(err: impl std::fmt::Display) -> Failure {
    tracing::error!(error = %err, "console template failed");
    Failure(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server failed".into(),
    )
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        // A plain page: the error may come from before the templates are reachable.
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>\
             </head><body><main><h1>{}</h1><p role=\"alert\">{}</p><p><a href=\"/admin\">Back to \
             the console</a></p></main></body></html>",
            self.0.as_u16(),
            html_escape(&self.1)
        );
        (self.0, Html(body)).into_response()
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The console, or 404 when it is off.
pub(crate) fn console_of(app: &AppState) -> Result<Arc<Console>, Failure> {
    app.console
        .clone()
        .ok_or_else(|| Failure(StatusCode::NOT_FOUND, "no such page".into()))
}

/// A row of a bar chart.
#[derive(Serialize)]
pub(crate) struct Bar {
    label: String,
    value: u64,
    width: u64,
    y: u64,
}

/// Lays out a horizontal bar chart of `rows` (label, value), bars 160 units wide at most.
pub(crate) fn bars(rows: Vec<(String, u64)>) -> Vec<Bar> {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    rows.into_iter()
        .enumerate()
        .map(|(i, (label, value))| Bar {
            label,
            width: value * 160 / max,
            value,
            y: u64::try_from(i).unwrap_or(0) * 24,
        })
        .collect()
}

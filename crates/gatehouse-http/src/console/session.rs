//! The console's session on each request: [`Signed`] opens the sealed session cookie, checks
//! the timeouts and reads the administrator's role now (an expired, revoked or role-less session
//! is a redirect to the sign-in page), renews the cookie on the answer, and checks each form's
//! CSRF token and, for a change, the `gatehouse:admin` role.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::console::{csrf_matches, csrf_token, Administrator, ConsoleSession};
use gatehouse_core::Error;

use super::{console_of, Console, Failure, SESSION_COOKIE};
use crate::params::Params;
use crate::AppState;

/// A request of a signed-in administrator: their live session (renewed with this request),
/// its CSRF token, and who they are now.
pub(crate) struct Signed {
    pub(crate) console: Arc<Console>,
    pub(crate) admin: Administrator,
    pub(crate) session: ConsoleSession,
    pub(crate) csrf: String,
}

/// Why a request has no session: a redirect to the sign-in page, or an error.
pub(crate) enum NotSigned {
    SignIn,
    Failed(Failure),
}

impl IntoResponse for NotSigned {
    fn into_response(self) -> Response {
        match self {
            NotSigned::SignIn => Redirect::to("/admin/login").into_response(),
            NotSigned::Failed(f) => f.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = NotSigned;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, NotSigned> {
        let console = console_of(app).map_err(NotSigned::Failed)?;
        let cookie = cookie_value(&parts.headers, SESSION_COOKIE).ok_or(NotSigned::SignIn)?;
        let session = console
            .sessions
            .open(&cookie)
            .map_err(|_| NotSigned::SignIn)?;
        let admin = match app.admin_tokens.administrator(&session.access_token).await {
            Ok(admin) => admin,
            Err(Error::Internal(e)) => {
                return Err(NotSigned::Failed(Failure::from(Error::Internal(e))))
            }
            Err(_) => return Err(NotSigned::SignIn),
        };
        let csrf = csrf_token(&session.access_token);
        Ok(Signed {
            console,
            admin,
            session,
            csrf,
        })
    }
}

impl Signed {
    /// A page for this administrator, renewing the session cookie (the idle timeout restarts).
    pub(crate) fn page(&self, name: &str, ctx: minijinja::Value) -> Result<Response, Failure> {
        let html = self.console.render(name, Some(self), ctx)?;
        Ok(self.renewed(html.into_response()))
    }

    /// `response` with the renewed session cookie.
    pub(crate) fn renewed(&self, mut response: Response) -> Response {
        if let Ok(value) = self.console.sessions.seal(&self.session) {
            let cookie = self.console.cookie(
                SESSION_COOKIE,
                &value,
                self.console.sessions.absolute_timeout(),
            );
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    /// A redirect (303) to `to` after a change.
    pub(crate) fn redirect(&self, to: &str) -> Response {
        self.renewed(Redirect::to(to).into_response())
    }

    /// The fields of a form that changes something: its `csrf_token` must be this session's,
    /// and the administrator must hold `gatehouse:admin`.
    pub(crate) fn change(&self, body: &[u8]) -> Result<Params, Failure> {
        let mut params = self.form(body)?;
        if !self.admin.role.can_write() {
            return Err(Failure(
                StatusCode::FORBIDDEN,
                "a gatehouse:viewer may not change anything".into(),
            ));
        }
        params.take("csrf_token");
        Ok(params)
    }

    /// The fields of a form, its `csrf_token` checked.
    pub(crate) fn form(&self, body: &[u8]) -> Result<Params, Failure> {
        let mut params = Params::from_form(body)?;
        let presented = params.take("csrf_token").unwrap_or_default();
        if !csrf_matches(&self.session.access_token, &presented) {
            return Err(Failure(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing or wrong: reload the page".into(),
            ));
        }
        Ok(params)
    }
}

/// The value of cookie `name`, if the request has exactly one.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(v.to_owned());
                }
            }
        }
    }
    found
}

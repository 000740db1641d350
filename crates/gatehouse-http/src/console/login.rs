//! Signing in to the console and out of it. The sign-in runs gatehouse's own password grant on
//! the built-in public client, whose MFA policy is `required`: the password first (throttled,
//! locked out and recorded as any login), then a TOTP code, with enrolment (the otpauth QR code
//! as an SVG image) for an administrator who has no factor yet. A user without a console role
//! gets the same answer as a wrong password, so the sign-in page tells nobody which accounts are
//! administrators. Before a session exists, the forms' CSRF token comes from a random
//! pre-session cookie (a login CSRF defence).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::audit::RequestContext;
use gatehouse_core::console::{
    csrf_matches, csrf_token, ConsoleRole, ADMIN_SCOPE, CONSOLE_CLIENT_ID,
};
use gatehouse_core::grant::GrantRequest;
use gatehouse_core::scope::ScopeSet;
use gatehouse_core::store::AuthenticatorKind;
use gatehouse_core::Error;
use qrcode::render::svg;
use qrcode::QrCode;
use secrecy::SecretString;

use super::{console_of, cookie_value, Console, Failure, Signed, LOGIN_COOKIE, SESSION_COOKIE};
use crate::client_address::Context;
use crate::params::Params;
use crate::AppState;

/// The one message for a wrong password, an unknown user and a user without a console role.
const REFUSED: &str = "Invalid username or password, or no console access.";

/// `GET /admin/login`.
pub(crate) async fn form(State(app): State<AppState>) -> Result<Response, Failure> {
    let console = console_of(&app)?;
    login_page(&console, StatusCode::OK, None)
}

fn login_page(
    console: &Console,
    status: StatusCode,
    error: Option<&str>,
) -> Result<Response, Failure> {
    let secret = gatehouse_core::random::token(32);
    let html = console.render(
        "login.html",
        None,
        minijinja::context! { csrf_token => csrf_token(&secret), error => error },
    )?;
    let cookie = console.cookie(LOGIN_COOKIE, &secret, 1800);
    Ok((status, [(header::SET_COOKIE, cookie)], html).into_response())
}

/// The sign-in form's fields, its CSRF token checked against the pre-session cookie.
fn login_form(headers: &HeaderMap, body: &[u8]) -> Result<Params, Failure> {
    let mut params = Params::from_form(body)?;
    let secret = cookie_value(headers, LOGIN_COOKIE).unwrap_or_default();
    let presented = params.take("csrf_token").unwrap_or_default();
    if secret.is_empty() || !csrf_matches(&secret, &presented) {
        return Err(Failure(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong: reload the page".into(),
        ));
    }
    Ok(params)
}

/// `POST /admin/login`: the password step.
pub(crate) async fn password(
    State(app): State<AppState>,
    Context(ctx): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let console = console_of(&app)?;
    let mut params = login_form(&headers, &body)?;
    let username = params.take("username").unwrap_or_default();
    let password = SecretString::from(params.take("password").unwrap_or_default());
    let request = GrantRequest::Password {
        username: username.clone(),
        password,
        scope: ScopeSet::parse(ADMIN_SCOPE).ok(),
        otp: None,
    };
    let mfa_token = match app.grants.exchange(&ctx, &console.client, request).await {
        Err(Error::MfaRequired { mfa_token }) => mfa_token,
        // The console client requires a second factor: no password alone signs in.
        Ok(_) | Err(Error::InvalidGrant(_) | Error::InvalidScope(_)) => {
            return login_page(&console, StatusCode::UNAUTHORIZED, Some(REFUSED))
        }
        Err(Error::Internal(e)) => return Err(Error::Internal(e).into()),
        Err(err) => {
            let status = super::status_of(&err);
            return login_page(&console, status, err.description());
        }
    };
    let is_admin = match console.admin.find_user(&username).await {
        Ok(user) => ConsoleRole::of(&user.roles).is_some(),
        Err(_) => false,
    };
    if !is_admin {
        return login_page(&console, StatusCode::UNAUTHORIZED, Some(REFUSED));
    }
    let enrolled = app
        .mfa
        .authenticators(&mfa_token)
        .await?
        .iter()
        .any(|a| a.kind == AuthenticatorKind::Otp && a.active);
    let enrolment = if enrolled {
        None
    } else {
        let e = app
            .mfa
            .associate(&ctx, &mfa_token, Some(CONSOLE_CLIENT_ID))
            .await?;
        let qr = QrCode::new(e.barcode_uri.as_bytes())
            .map_err(|_| Error::internal("the otpauth URI does not fit a QR code"))?
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Some(minijinja::context! {
            qr => qr,
            secret => e.secret,
            recovery_code => e.recovery_codes.first(),
        })
    };
    otp_page(
        &console,
        &headers,
        &mfa_token,
        enrolment,
        None,
        StatusCode::OK,
    )
}

fn otp_page(
    console: &Console,
    headers: &HeaderMap,
    mfa_token: &str,
    enrolment: Option<minijinja::Value>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let secret = cookie_value(headers, LOGIN_COOKIE).unwrap_or_default();
    let html = console.render(
        "otp.html",
        None,
        minijinja::context! {
            csrf_token => csrf_token(&secret),
            mfa_token => mfa_token,
            enrolment => enrolment,
            error => error,
        },
    )?;
    Ok((status, html).into_response())
}

/// `POST /admin/login/otp`: the second factor; a session begins.
pub(crate) async fn otp(
    State(app): State<AppState>,
    Context(ctx): Context,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let console = console_of(&app)?;
    let mut params = login_form(&headers, &body)?;
    let mfa_token = params.take("mfa_token").unwrap_or_default();
    let code = params.take("otp").unwrap_or_default();
    let request = GrantRequest::MfaOtp {
        mfa_token: SecretString::from(mfa_token.clone()),
        otp: SecretString::from(code),
    };
    let tokens = match app.grants.exchange(&ctx, &console.client, request).await {
        Ok(tokens) => tokens,
        Err(Error::InvalidGrant(d)) if d.contains("otp") => {
            let error = Some("Wrong code: try the next one.");
            return otp_page(
                &console,
                &headers,
                &mfa_token,
                None,
                error,
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(Error::Internal(e)) => return Err(Error::Internal(e).into()),
        Err(err) => {
            let status = super::status_of(&err);
            return login_page(&console, status, err.description());
        }
    };
    // The role is read again: it may have been taken away since the password step.
    if app
        .admin_tokens
        .administrator(&tokens.access_token)
        .await
        .is_err()
    {
        end(&app, &console, &ctx, &tokens.access_token).await;
        return login_page(&console, StatusCode::UNAUTHORIZED, Some(REFUSED));
    }
    let session = console.sessions.begin(tokens.access_token);
    let value = console.sessions.seal(&session)?;
    let mut response = Redirect::to("/admin").into_response();
    let cookies = response.headers_mut();
    let max_age = console.sessions.absolute_timeout();
    cookies.append(
        header::SET_COOKIE,
        console.cookie(SESSION_COOKIE, &value, max_age),
    );
    cookies.append(header::SET_COOKIE, console.cookie(LOGIN_COOKIE, "", 0));
    Ok(response)
}

/// `POST /admin/logout`: revokes the session's access token (on every instance: it is the
/// token's row that dies) and drops the cookie.
pub(crate) async fn logout(
    State(app): State<AppState>,
    Context(ctx): Context,
    signed: Signed,
    body: Bytes,
) -> Result<Response, Failure> {
    signed.form(&body)?;
    end(&app, &signed.console, &ctx, &signed.session.access_token).await;
    let mut response = Redirect::to("/admin/login").into_response();
    let cookie = signed.console.cookie(SESSION_COOKIE, "", 0);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn end(app: &AppState, console: &Console, ctx: &RequestContext, token: &str) {
    if let Err(err) = app
        .revocation
        .revoke(ctx, &console.client, token, None)
        .await
    {
        tracing::warn!(error = %err, "revoking a console session's token failed");
    }
}

//! The console's users pages: a list searched and paged by key (the same cost at the first
//! user as at the 100,000th), a user's settings, roles, password, lockout, second factors and
//! sessions. Each change calls the admin service, which records it `via: console`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::response::Response;
use gatehouse_core::admin::SessionQuery;
use gatehouse_core::audit::RequestContext;
use gatehouse_core::Error;
use secrecy::SecretString;
use serde_json::{json, Value};

use super::{Failure, Signed};
use crate::client_address::Context;
use crate::params::Params;

/// Users per page.
const PAGE: u32 = 50;

/// `GET /admin/users?q=&after=`.
pub(crate) async fn list(signed: Signed, RawQuery(query): RawQuery) -> Result<Response, Failure> {
    let mut params = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let q = params.take("q").unwrap_or_default();
    let after = params.take("after").unwrap_or_default();
    let mut users = signed.console.admin.user_page(&after, &q, PAGE + 1).await?;
    let more = users.len() > PAGE as usize;
    users.truncate(PAGE as usize);
    let next = if more {
        users
            .last()
            .and_then(|u| u["id"].as_str())
            .map(str::to_owned)
    } else {
        None
    };
    signed.page(
        "users.html",
        minijinja::context! { users => users, q => q, after => after, next => next },
    )
}

/// `POST /admin/users`: `username`, `password`, `email`, `roles` (space separated).
pub(crate) async fn create(
    Context(ctx): Context,
    signed: Signed,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    let username = form.take("username").unwrap_or_default();
    let mut resource = json!({ "password": form.take("password").unwrap_or_default() });
    if let Some(email) = form.take("email") {
        resource["email"] = email.into();
    }
    resource["roles"] = roles(form.take("roles"));
    let (created, _) = signed
        .console
        .admin
        .put_user(&ctx, &username, &resource, None)
        .await?;
    if created["id"].is_null() {
        return Err(Error::internal("the created user has no id").into());
    }
    Ok(signed.redirect(&user_path(&created)))
}

fn roles(text: Option<String>) -> Value {
    let names: Vec<String> = text
        .unwrap_or_default()
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        Value::Null
    } else {
        json!(names)
    }
}

fn user_path(user: &Value) -> String {
    let id = user["id"].as_str().unwrap_or_default();
    let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("/admin/users/{}", encoded.replace('+', "%20"))
}

/// `GET /admin/users/{username}`: settings, factors, sessions.
pub(crate) async fn show(
    signed: Signed,
    Path(username): Path<String>,
) -> Result<Response, Failure> {
    let admin = &signed.console.admin;
    let user = admin.user(&username).await?;
    let factors = admin.authenticators(&username).await?;
    let query = SessionQuery {
        username: Some(username.clone()),
        ..SessionQuery::default()
    };
    let sessions = admin.session_bundle(&query).await?;
    let roles = user["roles"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    signed.page(
        "user.html",
        minijinja::context! {
            user => user,
            path => user_path(&admin.user(&username).await?),
            roles => roles,
            factors => entries(&factors),
            sessions => entries(&sessions),
        },
    )
}

fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .collect()
}

/// `POST /admin/users/{username}`: `email`, `roles`, `active` (a checkbox).
pub(crate) async fn update(
    Context(ctx): Context,
    signed: Signed,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    let resource = json!({
        "email": form.take("email"),
        "roles": roles(form.take("roles")),
        "active": form.take("active").is_some(),
    });
    let (user, _) = signed
        .console
        .admin
        .put_user(&ctx, &username, &resource, None)
        .await?;
    Ok(signed.redirect(&user_path(&user)))
}

/// `POST /admin/users/{username}/password`: `password`, `allow_weak_password` (a checkbox).
pub(crate) async fn set_password(
    Context(ctx): Context,
    signed: Signed,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    let password = SecretString::from(form.take("password").unwrap_or_default());
    let weak = form.take("allow_weak_password").is_some();
    let admin = &signed.console.admin;
    admin
        .set_password(&ctx, &username, &password, None, weak)
        .await?;
    Ok(signed.redirect(&user_path(&admin.user(&username).await?)))
}

/// `POST /admin/users/{username}/unlock`.
pub(crate) async fn unlock(
    Context(ctx): Context,
    signed: Signed,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    signed.change(&body)?;
    let admin = &signed.console.admin;
    admin.unlock(&ctx, &username).await?;
    Ok(signed.redirect(&user_path(&admin.user(&username).await?)))
}

/// `POST /admin/users/{username}/sessions`: ends session `session`, or all without it.
pub(crate) async fn revoke_sessions(
    Context(ctx): Context,
    signed: Signed,
    Path(username): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    let query = SessionQuery {
        username: Some(username.clone()),
        id: form.take("session"),
        ..SessionQuery::default()
    };
    revoke(&signed, &ctx, &query).await?;
    Ok(signed.redirect(&user_path(&signed.console.admin.user(&username).await?)))
}

async fn revoke(signed: &Signed, ctx: &RequestContext, query: &SessionQuery) -> Result<(), Error> {
    match signed.console.admin.revoke_sessions(ctx, query).await {
        // No live session to end is no failure when all were asked for.
        Err(Error::NotFound(_)) if query.id.is_none() => Ok(()),
        other => other.map(drop),
    }
}

/// `POST /admin/users/{username}/factors/{id}`: removes a second factor.
pub(crate) async fn remove_factor(
    Context(ctx): Context,
    signed: Signed,
    Path((username, factor)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    signed.change(&body)?;
    let admin = &signed.console.admin;
    admin.remove_factor(&ctx, &username, &factor).await?;
    Ok(signed.redirect(&user_path(&admin.user(&username).await?)))
}

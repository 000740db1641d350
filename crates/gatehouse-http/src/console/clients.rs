//! The console's clients pages: list and search, create (a secret shown once), the common
//! settings as a form and every setting as the admin API's Client resource, rotate the secret,
//! delete with the id typed again. The built-in console client is managed by the server.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::response::Response;
use gatehouse_core::Error;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::pages::done;
use super::{Failure, Signed};
use crate::client_address::Context;
use crate::params::Params;

/// `GET /admin/clients?q=`.
pub(crate) async fn clients(
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let mut params = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let q = params.take("q").unwrap_or_default().to_lowercase();
    let all = signed.console.admin.clients().await?;
    let rows: Vec<Value> = all["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"].clone())
        .filter(|c| c["id"].as_str().is_some_and(|id| id.contains(&q)))
        .collect();
    let template = json!({
        "grant_types": ["password"],
        "scopes": [],
        "auth": {"password": {"secret_required": true, "token_format": "jwt", "refresh_token": true}},
        "mfa": "off"
    });
    signed.page(
        "clients.html",
        minijinja::context! {
            clients => rows,
            q => q,
            template => serde_json::to_string_pretty(&template).unwrap_or_default(),
        },
    )
}

/// `POST /admin/clients`: `id`, `resource` (the Client resource as JSON), and `with_secret`.
pub(crate) async fn create_client(
    Context(ctx): Context,
    signed: Signed,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    let id = form.take("id").unwrap_or_default();
    let mut resource = resource_field(&mut form)?;
    resource["id"] = Value::String(id.clone());
    let secret = form
        .take("with_secret")
        .map(|_| gatehouse_core::random::token(32));
    if let Some(secret) = &secret {
        resource["secret"] = Value::String(secret.clone());
    }
    signed.console.admin.create_client(&ctx, &resource).await?;
    done(
        &signed,
        &format!("Client {id} created."),
        secret,
        &format!("/admin/clients/{id}"),
    )
}

fn resource_field(form: &mut Params) -> Result<Value, Failure> {
    let text = form.take("resource").unwrap_or_else(|| "{}".into());
    let value: Value = serde_json::from_str(&text)
        .map_err(|_| Error::invalid_request("the resource is not valid JSON"))?;
    if !value.is_object() {
        return Err(Error::invalid_request("the resource must be a JSON object").into());
    }
    Ok(value)
}

/// `GET /admin/clients/{id}`: every setting, as the resource the admin API takes.
pub(crate) async fn client(signed: Signed, Path(id): Path<String>) -> Result<Response, Failure> {
    let resource = signed.console.admin.editable_client(&id).await?;
    let shown = signed.console.admin.client(&id).await?;
    signed.page(
        "client.html",
        minijinja::context! {
            id => id,
            client => shown,
            resource => serde_json::to_string_pretty(&resource).unwrap_or_default(),
        },
    )
}

/// `POST /admin/clients/{id}`: replaces the client's settings (the secret is kept).
pub(crate) async fn update_client(
    Context(ctx): Context,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    not_the_console_client(&id)?;
    let resource = resource_field(&mut form)?;
    signed
        .console
        .admin
        .put_client(&ctx, &id, &resource)
        .await?;
    done(
        &signed,
        &format!("Client {id} saved."),
        None,
        &format!("/admin/clients/{id}"),
    )
}

/// `POST /admin/clients/{id}/settings`: the common settings as form fields (grant types, scopes,
/// MFA policy, token format, whether the secret is required, assertion keys as a JWKS), laid
/// over the stored resource; the others stay as they are.
pub(crate) async fn client_settings(
    Context(ctx): Context,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    not_the_console_client(&id)?;
    let admin = &signed.console.admin;
    let mut resource = admin.editable_client(&id).await?;
    let grants: Vec<&str> = ["password", "client_credentials"]
        .into_iter()
        .filter(|g| form.take(&format!("grant_{g}")).is_some())
        .collect();
    resource["grant_types"] = json!(grants);
    let scopes: Vec<String> = form
        .take("scopes")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    resource["scopes"] = json!(scopes);
    resource["mfa"] = json!(form.take("mfa").unwrap_or_else(|| "off".into()));
    let set = gatehouse_core::admin::set_path;
    set(
        &mut resource,
        "auth.password.refresh_token",
        json!(form.take("refresh_token").is_some()),
    );
    set(
        &mut resource,
        "auth.password.secret_required",
        json!(form.take("secret_required").is_some()),
    );
    let format = form.take("token_format").unwrap_or_else(|| "jwt".into());
    set(&mut resource, "auth.password.token_format", json!(format));
    match form.take("jwks") {
        Some(text) => {
            let jwks: Value = serde_json::from_str(&text)
                .map_err(|_| Error::invalid_request("the assertion keys are not a JSON JWKS"))?;
            resource["jwks"] = jwks;
        }
        None => resource["jwks"] = Value::Null,
    }
    admin.put_client(&ctx, &id, &resource).await?;
    done(
        &signed,
        &format!("Client {id} saved."),
        None,
        &format!("/admin/clients/{id}"),
    )
}

/// `POST /admin/clients/{id}/delete`: needs `confirm` equal to the id.
pub(crate) async fn delete_client(
    Context(ctx): Context,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let mut form = signed.change(&body)?;
    not_the_console_client(&id)?;
    if form.take("confirm").as_deref() != Some(id.as_str()) {
        return Err(Error::invalid_request("type the client id to confirm the deletion").into());
    }
    signed.console.admin.delete_client(&ctx, &id).await?;
    done(
        &signed,
        &format!("Client {id} deleted."),
        None,
        "/admin/clients",
    )
}

/// `POST /admin/clients/{id}/secret`: a new secret, shown once.
pub(crate) async fn rotate_secret(
    Context(ctx): Context,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    signed.change(&body)?;
    not_the_console_client(&id)?;
    let secret = signed.console.admin.rotate_client_secret(&ctx, &id).await?;
    let shown = Some(secret.expose_secret().to_owned());
    done(
        &signed,
        &format!("Client {id} has a new secret."),
        shown,
        &format!("/admin/clients/{id}"),
    )
}

/// Refuses a change of the console's own client, which the server keeps as it must be.
fn not_the_console_client(id: &str) -> Result<(), Failure> {
    if id == gatehouse_core::console::CONSOLE_CLIENT_ID {
        return Err(Error::invalid_request(
            "the console's own client is managed by the server (serve --console)",
        )
        .into());
    }
    Ok(())
}

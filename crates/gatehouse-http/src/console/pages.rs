//! The console's dashboard, clients, events and keys pages. Each handler reads its query or
//! form, calls the admin service (recording changes `via: console`) and renders a template.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gatehouse_core::admin::console::EventQuery;
use gatehouse_core::audit::EventFilter;
use gatehouse_core::Error;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::{bars, Failure, Signed};
use crate::client_address::Context;
use crate::params::Params;

/// The event kinds the dashboard counts.
const DASHBOARD_KINDS: &[&str] = &[
    "login_success",
    "login_failure",
    "login_throttled",
    "lockout",
    "refresh",
    "refresh_reuse",
];

/// `GET /admin`: event counts over the last hour and day, the key ring's age.
pub(crate) async fn dashboard(signed: Signed) -> Result<Response, Failure> {
    let admin = &signed.console.admin;
    let now = signed.console.sessions.now();
    let day = admin
        .list_events(&EventFilter {
            user: None,
            since: Some(now - 86_400),
            limit: 1000,
        })
        .await?;
    let count = |since: i64, kind: &str| {
        u64::try_from(
            day.iter()
                .filter(|e| e.at >= since && e.kind == kind)
                .count(),
        )
        .unwrap_or(0)
    };
    let hour: Vec<(String, u64)> = DASHBOARD_KINDS
        .iter()
        .map(|k| ((*k).to_owned(), count(now - 3600, k)))
        .collect();
    let today: Vec<(String, u64)> = DASHBOARD_KINDS
        .iter()
        .map(|k| ((*k).to_owned(), count(now - 86_400, k)))
        .collect();
    let keys = admin_keys(&signed).await?;
    let newest = keys
        .iter()
        .filter_map(|k| k["created_at"].as_i64())
        .max()
        .unwrap_or(now);
    let (sessions, sessions_capped) = admin.live_session_count().await?;
    let (hashing, hash_capacity) = admin.hash_pool_load();
    signed.page(
        "dashboard.html",
        minijinja::context! {
            sessions => sessions,
            sessions_capped => sessions_capped,
            hashing => hashing,
            hash_capacity => hash_capacity,
            hour => bars(hour),
            day => bars(today),
            capped => day.len() >= 1000,
            key_age_days => (now - newest) / 86_400,
            key_count => keys.len(),
        },
    )
}

async fn admin_keys(signed: &Signed) -> Result<Vec<Value>, Failure> {
    let states = signed.console.admin.signing_key_states().await?;
    Ok(states
        .into_iter()
        .map(|k| serde_json::to_value(k).unwrap_or(Value::Null))
        .collect())
}

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

/// A confirmation page, showing a new secret once when there is one.
fn done(
    signed: &Signed,
    message: &str,
    secret: Option<String>,
    next: &str,
) -> Result<Response, Failure> {
    signed.page(
        "done.html",
        minijinja::context! { message => message, secret => secret, next => next },
    )
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
    if id == gatehouse_core::console::CONSOLE_CLIENT_ID {
        return Err(Error::invalid_request(
            "the console's own client is managed by the server (serve --console)",
        )
        .into());
    }
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
    if id == gatehouse_core::console::CONSOLE_CLIENT_ID {
        return Err(Error::invalid_request(
            "the console's own client is managed by the server (serve --console)",
        )
        .into());
    }
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
    if id == gatehouse_core::console::CONSOLE_CLIENT_ID {
        return Err(Error::invalid_request(
            "the console's own client is managed by the server (serve --console)",
        )
        .into());
    }
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
    if id == gatehouse_core::console::CONSOLE_CLIENT_ID {
        return Err(Error::invalid_request(
            "the console's own client is managed by the server (serve --console)",
        )
        .into());
    }
    let secret = signed.console.admin.rotate_client_secret(&ctx, &id).await?;
    let shown = Some(secret.expose_secret().to_owned());
    done(
        &signed,
        &format!("Client {id} has a new secret."),
        shown,
        &format!("/admin/clients/{id}"),
    )
}

fn event_query(query: Option<String>) -> Result<(EventQuery, Value), Failure> {
    let mut p = Params::from_form(query.unwrap_or_default().as_bytes())?;
    let number = |name: &str, raw: Option<String>| -> Result<Option<i64>, Error> {
        raw.map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| Error::invalid_request(format!("{name} must be a Unix time")))
        })
        .transpose()
    };
    let q = EventQuery {
        kind: p.take("kind"),
        user: p.take("user"),
        client_id: p.take("client"),
        ip: p.take("ip"),
        since: number("since", p.take("since"))?,
        until: number("until", p.take("until"))?,
        limit: number("limit", p.take("limit"))?
            .map_or(100, |l| u32::try_from(l.clamp(1, 1000)).unwrap_or(100)),
    };
    let shown = json!({
        "kind": q.kind, "user": q.user, "client": q.client_id, "ip": q.ip,
        "since": q.since, "until": q.until, "limit": q.limit,
    });
    Ok((q, shown))
}

/// `GET /admin/events?kind=&user=&client=&ip=&since=&until=&limit=`.
pub(crate) async fn events(signed: Signed, RawQuery(query): RawQuery) -> Result<Response, Failure> {
    let raw = query.clone().unwrap_or_default();
    let (q, shown) = event_query(query)?;
    let found = signed.console.admin.search_events(&q).await?;
    let rows: Vec<Value> = found
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
            v["detail_text"] = Value::String(e.detail.to_string());
            v
        })
        .collect();
    signed.page(
        "events.html",
        minijinja::context! { events => rows, filter => shown, query => raw },
    )
}

/// `GET /admin/events.jsonl?…`: the same events as JSON lines, as a download.
pub(crate) async fn export_events(
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Result<Response, Failure> {
    let (q, _) = event_query(query)?;
    let found = signed.console.admin.search_events(&q).await?;
    let mut out = String::new();
    for e in &found {
        out.push_str(&serde_json::to_string(e).map_err(Error::internal)?);
        out.push('\n');
    }
    Ok(signed.renewed(
        (
            [
                (header::CONTENT_TYPE, "application/jsonl"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"events.jsonl\"",
                ),
            ],
            out,
        )
            .into_response(),
    ))
}

/// `GET /admin/keys`.
pub(crate) async fn keys(signed: Signed) -> Result<Response, Failure> {
    let keys = admin_keys(&signed).await?;
    signed.page("keys.html", minijinja::context! { keys => keys })
}

/// `POST /admin/keys/rotate`.
pub(crate) async fn rotate_keys(
    Context(ctx): Context,
    signed: Signed,
    body: Bytes,
) -> Result<Response, Failure> {
    signed.change(&body)?;
    let console = &signed.console;
    let added = console
        .admin
        .rotate_signing_keys(&ctx, console.signing_alg, &console.sealer)
        .await?;
    let kids: Vec<&str> = added.iter().map(|k| k.kid.as_str()).collect();
    let message = format!(
        "Keys rotated: {} now signs new tokens; the previous keys stay in the JWKS until tokens \
         they signed expire.",
        kids.join(", ")
    );
    done(&signed, &message, None, "/admin/keys")
}

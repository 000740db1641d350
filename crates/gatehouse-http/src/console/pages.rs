//! The console's dashboard, events and keys pages (clients: `clients.rs`, users: `users.rs`).
//! Each handler reads its query or form, calls the admin service (recording changes
//! `via: console`) and renders a template.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gatehouse_core::admin::console::EventQuery;
use gatehouse_core::audit::EventFilter;
use gatehouse_core::Error;
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

/// A confirmation page, showing a new secret once when there is one.
pub(super) fn done(
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

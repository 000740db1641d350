//! [`Webhooks`]: managing endpoints, for the CLI (`gatehouse webhook …`) and the admin API
//! (`/Webhook`). An endpoint is `url`, `events`, `secret` (write-only: shown once when made or
//! set, stored sealed), `description` and `enabled`. Each change is an `admin_change` event
//! (`detail.action`: `webhook_add`, `webhook_update`, `webhook_remove`, `webhook_replay`).

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::dispatch::{WebhookRequest, WebhookSender};
use super::endpoint::{check_description, check_events, check_url};
use super::message::{rfc3339, Message};
use super::signing::WebhookSecret;
use super::{open_secret, seal_secret};
use crate::admin::fields::{Change, Fields, Schema};
use crate::admin::{bundle, Via};
use crate::audit::{AuditLog, EventKind, EventSubject, RequestContext};
use crate::clock::Clock;
use crate::error::Error;
use crate::random;
use crate::sealing::Sealer;
use crate::store::{Delivery, ReplaySelection, WebhookRow, WebhookStore};

/// Every field of the Webhook resource: the one list the parser reads and `webhook add` /
/// `webhook update` have a flag for.
pub const WEBHOOK_FIELDS: &[&str] = &["url", "events", "secret", "description", "enabled"];

const SCHEMA: Schema = Schema {
    fields: WEBHOOK_FIELDS,
    others: &["resourceType", "id"],
};

/// The most endpoints: each stored event makes a delivery row per matching endpoint, so their
/// number bounds what one event costs.
pub const MAX_WEBHOOKS: u32 = 64;

/// The most deliveries one log listing returns.
const MAX_LISTED_DELIVERIES: u32 = 1000;

/// A new endpoint, as the CLI gives it.
#[derive(Debug, Clone, Default)]
pub struct NewWebhook {
    /// Where to send.
    pub url: String,
    /// Event kinds, or `*`.
    pub events: Vec<String>,
    /// `whsec_…`; generated when absent.
    pub secret: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Whether deliveries are made (default true).
    pub enabled: Option<bool>,
}

/// Manages webhook endpoints.
pub struct Webhooks {
    store: Arc<dyn WebhookStore>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    sender: Option<Arc<dyn WebhookSender>>,
    allow_private: bool,
    via: Via,
}

impl Webhooks {
    /// The service; `sender` for test sends, `allow_private` to accept local addresses.
    pub fn new(
        store: Arc<dyn WebhookStore>,
        sealer: Arc<Sealer>,
        clock: Arc<dyn Clock>,
        audit: Arc<AuditLog>,
        sender: Option<Arc<dyn WebhookSender>>,
        allow_private: bool,
        via: Via,
    ) -> Self {
        Webhooks {
            store,
            sealer,
            clock,
            audit,
            sender,
            allow_private,
            via,
        }
    }

    /// Adds an endpoint; the rendered resource and its secret (shown this once).
    pub async fn add(
        &self,
        ctx: &RequestContext,
        new: NewWebhook,
    ) -> Result<(Value, String), Error> {
        let url = check_url(&new.url, self.allow_private)?;
        let events = check_events(&new.events)?;
        let description = new
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        let secret = match new.secret.as_deref() {
            Some(text) => WebhookSecret::parse(text)?,
            None => WebhookSecret::generate(),
        };
        let id = format!("wh_{}", random::id());
        let row = WebhookRow {
            sealed_secret: seal_secret(&self.sealer, &id, &secret)?,
            id,
            url: url.to_string(),
            events,
            description,
            enabled: new.enabled.unwrap_or(true),
            disabled_reason: None,
            failing_since: None,
            created_at: self.clock.now(),
        };
        if !self.store.insert_webhook(&row, MAX_WEBHOOKS).await? {
            return Err(Error::Conflict(
                format!("at most {MAX_WEBHOOKS} webhook endpoints; remove one first").into(),
            ));
        }
        self.changed(ctx, "webhook_add", &row.id).await;
        Ok((render(&row), secret.to_text()))
    }

    /// `POST /Webhook`: adds the endpoint the body describes; the resource, with the secret
    /// in it this once.
    pub async fn create(&self, ctx: &RequestContext, body: &Value) -> Result<Value, Error> {
        let mut f = Fields::new("", body, SCHEMA)?;
        check_kind(&mut f)?;
        if f.string("id")?.is_some() {
            return Err(Error::invalid_field("id", "is chosen by the server"));
        }
        let new = NewWebhook {
            url: f
                .string("url")?
                .ok_or_else(|| Error::invalid_field("url", "is required"))?,
            events: f
                .strings("events")?
                .ok_or_else(|| Error::invalid_field("events", "is required (kinds, or *)"))?,
            secret: f.string("secret")?,
            description: f.string("description")?,
            enabled: f.boolean("enabled")?,
        };
        f.finish(&[])?;
        let (mut resource, secret) = self.add(ctx, new).await?;
        resource["secret"] = Value::String(secret);
        Ok(resource)
    }

    /// `PUT /Webhook/{id}` and `webhook update`: changes the fields `body` names (absent ones
    /// stay); a new `secret` is set as given, or generated for `"secret": "generate"`, and then
    /// shown in the answer this once. Enabling an endpoint clears its failure record.
    pub async fn update(
        &self,
        ctx: &RequestContext,
        id: &str,
        body: &Value,
    ) -> Result<Value, Error> {
        let mut row = self.find(id).await?;
        let mut f = Fields::new("", body, SCHEMA)?;
        check_kind(&mut f)?;
        if let Some(body_id) = f.string("id")? {
            if body_id != id {
                return Err(Error::invalid_field(
                    "id",
                    "differs from the id in the path",
                ));
            }
        }
        if let Some(url) = f.string("url")? {
            row.url = check_url(&url, self.allow_private)?.to_string();
        }
        if let Some(events) = f.strings("events")? {
            row.events = check_events(&events)?;
        }
        match f.change("description") {
            Change::Keep => {}
            Change::Remove => row.description = None,
            Change::Set(Value::String(text)) => row.description = Some(check_description(&text)?),
            Change::Set(_) => return Err(Error::invalid_field("description", "must be a string")),
        }
        if let Some(enabled) = f.boolean("enabled")? {
            if enabled && !row.enabled {
                row.disabled_reason = None;
                row.failing_since = None;
            } else if !enabled && row.enabled {
                row.disabled_reason = Some("admin".into());
            }
            row.enabled = enabled;
        }
        let new_secret = match f.string("secret")? {
            None => None,
            Some(text) if text == "generate" => Some(WebhookSecret::generate()),
            Some(text) => Some(WebhookSecret::parse(&text)?),
        };
        f.finish(&[])?;
        if let Some(secret) = &new_secret {
            row.sealed_secret = seal_secret(&self.sealer, &row.id, secret)?;
        }
        if !self.store.update_webhook(&row).await? {
            return Err(not_found());
        }
        self.changed(ctx, "webhook_update", &row.id).await;
        let mut resource = render(&row);
        if let Some(secret) = new_secret {
            resource["secret"] = Value::String(secret.to_text());
        }
        Ok(resource)
    }

    /// The endpoint `id`, rendered.
    pub async fn get(&self, id: &str) -> Result<Value, Error> {
        Ok(render(&self.find(id).await?))
    }

    /// Every endpoint, as a Bundle.
    pub async fn list(&self) -> Result<Value, Error> {
        let rows = self.store.list_webhooks().await?;
        Ok(bundle(rows.iter().map(render).collect()))
    }

    /// Removes endpoint `id` and its deliveries.
    pub async fn remove(&self, ctx: &RequestContext, id: &str) -> Result<(), Error> {
        if !self.store.delete_webhook(id).await? {
            return Err(not_found());
        }
        self.changed(ctx, "webhook_remove", id).await;
        Ok(())
    }

    /// Endpoint `id`'s delivery log, newest first: at most `limit` (1000), only `status`
    /// (`pending`, `delivered`, `failed`) if given.
    pub async fn deliveries(
        &self,
        id: &str,
        status: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Value, Error> {
        self.find(id).await?;
        if let Some(status) = status {
            if !["pending", "delivered", "failed"].contains(&status) {
                return Err(Error::invalid_request(
                    "status must be pending, delivered or failed",
                ));
            }
        }
        let limit = limit.unwrap_or(100).clamp(1, MAX_LISTED_DELIVERIES);
        let rows = self.store.list_deliveries(id, status, limit).await?;
        Ok(bundle(rows.iter().map(render_delivery).collect()))
    }

    /// Sends the selected deliveries of endpoint `id` again (as soon as the dispatcher runs),
    /// with the same `webhook-id`s; how many.
    pub async fn replay(
        &self,
        ctx: &RequestContext,
        id: &str,
        selection: &ReplaySelection,
    ) -> Result<u64, Error> {
        self.find(id).await?;
        let now = self.clock.now_millis();
        let count = self.store.replay_deliveries(id, selection, now).await?;
        self.changed(ctx, "webhook_replay", id).await;
        Ok(count)
    }

    /// Sends a signed `webhook.test` message to endpoint `id` now, outside the outbox; what
    /// came back.
    pub async fn test(&self, id: &str) -> Result<Value, Error> {
        let row = self.find(id).await?;
        let Some(sender) = &self.sender else {
            return Err(Error::Internal("no webhook sender is configured".into()));
        };
        let secret = open_secret(&self.sealer, &row)?;
        let now = self.clock.now();
        let message = Message::test(now);
        let request = WebhookRequest::signed(&row.url, &message, &secret, now);
        let started = Instant::now();
        let result = sender.send(&request).await;
        Ok(json!({
            "webhook_id": row.id,
            "webhook-id": message.id,
            "delivered": result.delivered(),
            "status": result.status,
            "failure": result.error,
            "duration_ms": started.elapsed().as_millis() as u64,
        }))
    }

    async fn find(&self, id: &str) -> Result<WebhookRow, Error> {
        self.store.find_webhook(id).await?.ok_or_else(not_found)
    }

    async fn changed(&self, ctx: &RequestContext, action: &str, id: &str) {
        let detail = json!({ "action": action, "via": self.via.as_str(), "webhook_id": id });
        self.audit
            .record(EventKind::AdminChange, ctx, EventSubject::default(), detail)
            .await;
    }
}

fn check_kind(f: &mut Fields) -> Result<(), Error> {
    match f.string("resourceType")? {
        Some(kind) if kind != "Webhook" => {
            Err(Error::invalid_field("resourceType", "must be Webhook"))
        }
        _ => Ok(()),
    }
}

fn not_found() -> Error {
    Error::NotFound("no such webhook".into())
}

/// The Webhook resource: never the secret.
pub(super) fn render(row: &WebhookRow) -> Value {
    json!({
        "resourceType": "Webhook",
        "id": row.id,
        "url": row.url,
        "events": row.events,
        "description": row.description,
        "enabled": row.enabled,
        "disabled_reason": row.disabled_reason,
        "failing_since": row.failing_since.map(|ms| rfc3339(ms / 1000)),
        "created_at": rfc3339(row.created_at),
    })
}

fn render_delivery(d: &Delivery) -> Value {
    json!({
        "resourceType": "WebhookDelivery",
        "id": d.id,
        "webhook_id": d.webhook_id,
        "webhook-id": format!("msg_{}", d.event_id),
        "event_id": d.event_id,
        "type": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": (d.status == "pending").then(|| rfc3339(d.next_attempt_at / 1000)),
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": rfc3339(d.created_at / 1000),
        "delivered_at": d.delivered_at.map(|ms| rfc3339(ms / 1000)),
    })
}

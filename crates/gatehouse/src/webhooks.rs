//! `gatehouse webhook …`: manage webhook endpoints through the core's [`Webhooks`] service
//! (the one the admin API's `/Webhook` calls), and print JSON. Secrets are printed only when
//! made or set, never listed.

use std::sync::Arc;

use anyhow::{bail, Result};
use gatehouse_core::admin::Via;
use gatehouse_core::audit::AuditLog;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::store::ReplaySelection;
use gatehouse_core::webhook::{NewWebhook, WebhookSender, Webhooks};
use serde_json::{json, Map, Value};

use crate::admin::{or_missing, print_json, CLI};
use crate::cli::WebhookCommand;
use crate::config::Config;
use crate::server::open_store;
use crate::webhook_delivery::HttpSender;

/// The webhook service over the configured database, sending as `serve` does.
pub(crate) async fn service(config: &Config) -> Result<Webhooks> {
    let sealer = crate::secret_key::sealer(config)?;
    let store = open_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
    let sender: Arc<dyn WebhookSender> = Arc::new(HttpSender::new(&config.webhooks)?);
    Ok(Webhooks::new(
        store,
        sealer,
        clock,
        audit,
        Some(sender),
        config.webhooks.allow_private,
        Via::Cli,
    ))
}

/// Runs a `webhook` subcommand.
pub(crate) async fn run(config: &Config, cmd: WebhookCommand) -> Result<()> {
    let webhooks = service(config).await?;
    let missing = |id: &str| {
        let id = id.to_owned();
        move || format!("no webhook {id}")
    };
    match cmd {
        WebhookCommand::Add {
            url,
            events,
            secret,
            description,
            enabled,
        } => {
            let new = NewWebhook {
                url,
                events,
                secret,
                description,
                enabled,
            };
            let (mut resource, secret) = webhooks.add(&CLI, new).await?;
            resource["secret"] = Value::String(secret);
            print_json(&resource)
        }
        WebhookCommand::List => print_json(&webhooks.list().await?),
        WebhookCommand::Show { id } => {
            let resource = webhooks
                .get(&id)
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            print_json(&resource)
        }
        WebhookCommand::Update {
            id,
            url,
            events,
            secret,
            description,
            enabled,
        } => {
            let mut body = Map::new();
            if let Some(url) = url {
                body.insert("url".into(), json!(url));
            }
            if let Some(events) = events {
                body.insert("events".into(), json!(events));
            }
            if let Some(secret) = secret {
                body.insert("secret".into(), json!(secret));
            }
            if let Some(description) = description {
                let value = if description.is_empty() {
                    Value::Null
                } else {
                    json!(description)
                };
                body.insert("description".into(), value);
            }
            if let Some(enabled) = enabled {
                body.insert("enabled".into(), json!(enabled));
            }
            if body.is_empty() {
                bail!(
                    "nothing to change: give --url, --events, --secret, --description or --enabled"
                );
            }
            let resource = webhooks
                .update(&CLI, &id, &Value::Object(body))
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            print_json(&resource)
        }
        WebhookCommand::Remove { id } => {
            webhooks
                .remove(&CLI, &id)
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            print_json(&json!({ "removed": id }))
        }
        WebhookCommand::Test { id } => {
            let result = webhooks
                .test(&id)
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            let delivered = result["delivered"] == Value::Bool(true);
            print_json(&result)?;
            if !delivered {
                bail!("the endpoint did not accept the test message");
            }
            Ok(())
        }
        WebhookCommand::Deliveries { id, status, limit } => {
            let log = webhooks
                .deliveries(&id, status.as_deref(), limit)
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            print_json(&log)
        }
        WebhookCommand::Replay {
            id,
            delivery,
            failed,
            all,
            since,
        } => {
            let since_ms = since.unwrap_or(0).saturating_mul(1000);
            let selection = match (delivery, failed, all) {
                (Some(n), _, _) => ReplaySelection::One(n),
                (None, true, _) => ReplaySelection::FailedSince(since_ms),
                (None, false, true) => ReplaySelection::AllSince(since_ms),
                (None, false, false) => {
                    bail!("say what to replay: --delivery N, --failed or --all")
                }
            };
            let count = webhooks
                .replay(&CLI, &id, &selection)
                .await
                .map_err(|e| or_missing(e, missing(&id)))?;
            print_json(&json!({ "replayed": count }))
        }
    }
}

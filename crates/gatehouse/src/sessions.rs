//! `gatehouse session …`: list and end sessions (logins: token families) through the core's
//! admin service. Output is JSON, never a token; each ending is a `session_revoked` event.

use anyhow::{bail, Result};
use gatehouse_core::admin::sessions::render;
use gatehouse_core::admin::SessionQuery;
use serde_json::Value;

use crate::admin::{print_json, service, CLI};
use crate::cli::SessionCommand;
use crate::config::Config;

/// Runs a `session` subcommand.
pub(crate) async fn run(config: &Config, cmd: SessionCommand) -> Result<()> {
    let admin = service(config, None).await?;
    match cmd {
        SessionCommand::List { user, client } => {
            let query = SessionQuery {
                username: user,
                client_id: client,
                id: None,
            };
            let all = admin.sessions(&query).await?;
            print_json(&Value::Array(all.iter().map(render).collect()))
        }
        SessionCommand::Revoke { id, user, client } => {
            if id.is_none() && user.is_none() && client.is_none() {
                // clap requires one already; this keeps "revoke everything" out of reach.
                bail!("name a session ID, --user or --client: revoke never ends every session");
            }
            let query = SessionQuery {
                username: user,
                client_id: client,
                id,
            };
            let revoked = admin.revoke_sessions(&CLI, &query).await?;
            print_json(&serde_json::json!(revoked))
        }
    }
}

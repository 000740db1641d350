//! `gatehouse events`: audit events as JSON lines, newest first, through the core's admin
//! service.

use anyhow::{Context, Result};
use gatehouse_core::audit::EventFilter;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::user::Username;

use crate::admin::service;
use crate::cli::EventsArgs;
use crate::config::Config;

/// Prints the matching events, newest first, one JSON object per line.
pub(crate) async fn run(config: &Config, args: &EventsArgs) -> Result<()> {
    let admin = service(config, None).await?;
    let since = args
        .since
        .map(|t| if t < 0 { SystemClock.now() + t } else { t });
    let user = args.user.as_ref().map(|u| {
        Username::parse(u)
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|_| u.clone())
    });
    let filter = EventFilter {
        user,
        since,
        limit: args.limit,
    };
    let events = admin.list_events(&filter).await.context("reading events")?;
    for event in events {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(())
}

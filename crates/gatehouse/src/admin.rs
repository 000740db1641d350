//! What the management commands share: the core's admin service wired for the command line
//! (changes recorded `via: "cli"`, with no address or request id), and JSON output. The
//! commands parse their arguments, call the service and print; they never reach the store.

use std::sync::Arc;

use anyhow::Result;
use gatehouse_core::admin::AdminService;
use gatehouse_core::audit::AuditLog;
use gatehouse_core::audit::RequestContext;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::sealing::Sealer;
use gatehouse_core::Error;
use serde_json::Value;

use crate::config::Config;
use crate::server::{guard, hasher, open_store};

/// The request context of a command: none of its fields apply.
pub(crate) const CLI: RequestContext = RequestContext {
    ip: None,
    forwarded_for: None,
    request_id: None,
    user_agent: None,
};

/// The admin service over the configured database; `sealer` only for commands that seal a
/// secret, so that the others never need (or create) the server key.
pub(crate) async fn service(config: &Config, sealer: Option<Arc<Sealer>>) -> Result<AdminService> {
    let rules = config.passwords.rules()?;
    let store = open_store(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
    let guard = Arc::new(guard(config, &store, &clock, audit.clone()));
    let admin = AdminService::for_cli(store, hasher(config)?, clock)
        .with_guard(guard)
        .with_audit(audit)
        .with_password_change_sessions(config.password_change_sessions)
        .with_password_rules(rules);
    Ok(match sealer {
        Some(sealer) => admin.with_sealer(sealer),
        None => admin,
    })
}

/// `err`, or `message` when `err` says that what was asked for does not exist.
pub(crate) fn or_missing(err: Error, message: impl FnOnce() -> String) -> anyhow::Error {
    match err {
        Error::NotFound(_) => anyhow::anyhow!(message()),
        other => other.into(),
    }
}

/// Prints `value` as indented JSON.
pub(crate) fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

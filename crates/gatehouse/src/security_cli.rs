//! `gatehouse events` (audit events as JSON lines), `gatehouse user unlock`,
//! `gatehouse user mfa list|remove`, and the events of changes made from the command line.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_core::audit::EventFilter;
use gatehouse_core::clock::{Clock, SystemClock};
use gatehouse_core::login_guard::user_key;
use gatehouse_core::store::Store;
use gatehouse_core::user::Username;

use crate::config::Config;
use crate::server::open_store;

/// Options of `events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only this user's events.
    #[arg(long, value_name = "USERNAME")]
    pub(crate) user: Option<String>,
    /// Only events at or after this time: Unix seconds, or a negative number of seconds ago.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub(crate) since: Option<i64>,
    /// At most this many events.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) limit: u32,
}

/// Prints the matching events, newest first, one JSON object per line.
pub(crate) async fn events(config: &Config, args: &EventsArgs) -> Result<()> {
    let store = open_store(config).await?;
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
    let events = store.list_events(&filter).await.context("reading events")?;
    for event in events {
        println!("{}", serde_json::to_string(&event)?);
    }
    Ok(())
}

/// Lifts a user's lockout.
pub(crate) async fn unlock(config: &Config, store: Arc<dyn Store>, username: &str) -> Result<()> {
    let name = Username::parse(username)?;
    let user = store
        .find_user(&name)
        .await?
        .with_context(|| format!("no user {name}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = Arc::new(gatehouse_core::audit::AuditLog::new(
        store.clone(),
        clock.clone(),
    ));
    let guard = crate::security_config::guard(config, &store, &clock, audit.clone());
    let had = guard.unlock(&user_key(&user.id)).await?;
    audit
        .record(
            gatehouse_core::audit::EventKind::Unlock,
            &Default::default(),
            None,
            Some(name.as_str()),
            serde_json::json!({ "had_failures": had, "via": "cli" }),
        )
        .await;
    eprintln!("unlocked user {name}");
    Ok(())
}

/// Records a change made by `client …`/`user …` as an `admin_change` event. The CLI acts on the
/// database directly, so there is no address or request id: `detail.via` is `"cli"` instead.
pub(crate) async fn record_cli_change(
    store: &Arc<dyn Store>,
    action: &str,
    client_id: Option<&str>,
    user: Option<&str>,
) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    gatehouse_core::audit::AuditLog::new(store.clone(), clock)
        .record(
            gatehouse_core::audit::EventKind::AdminChange,
            &Default::default(),
            client_id,
            user,
            serde_json::json!({ "action": action, "via": "cli" }),
        )
        .await;
}

/// `user mfa list USERNAME` and `user mfa remove USERNAME ID`.
pub(crate) async fn mfa(store: Arc<dyn Store>, cmd: crate::cli::UserMfaCommand) -> Result<()> {
    use crate::cli::UserMfaCommand;
    use gatehouse_core::admin::mfa::render;
    let (username, remove) = match &cmd {
        UserMfaCommand::List { username } => (username, None),
        UserMfaCommand::Remove { username, id } => (username, Some(id)),
    };
    let name = Username::parse(username)?;
    let user = store
        .find_user(&name)
        .await?
        .with_context(|| format!("no user {name}"))?;
    let Some(id) = remove else {
        let all = store.mfa_authenticators(&user.id).await?;
        let list: Vec<_> = all.iter().map(render).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    };
    let removed = gatehouse_core::mfa::remove_factor(store.as_ref(), &user.id, id).await?;
    anyhow::ensure!(!removed.is_empty(), "user {name} has no authenticator {id}");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let audit = gatehouse_core::audit::AuditLog::new(store.clone(), clock);
    for factor in &removed {
        audit
            .record(
                gatehouse_core::audit::EventKind::MfaRemoval,
                &Default::default(),
                None,
                Some(name.as_str()),
                serde_json::json!({
                    "authenticator_id": factor.id,
                    "authenticator_type": factor.kind.as_str(),
                    "by": "cli",
                }),
            )
            .await;
        eprintln!(
            "removed {} authenticator {} of {name}",
            factor.kind.as_str(),
            factor.id
        );
    }
    Ok(())
}

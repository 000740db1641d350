//! The webhook options: where deliveries may go, how long one may take, when failed ones are
//! retried and when a failing endpoint is disabled, how often the outbox is read and how long
//! it keeps deliveries. Global, because `webhook add` and `webhook test` check addresses and
//! send as the server does.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_core::webhook::RetrySchedule;
use serde::{Deserialize, Serialize};

/// Webhook delivery.
#[derive(Args, Clone, Debug, Default, Deserialize, Serialize)]
#[command(next_help_heading = "Webhooks")]
pub(crate) struct WebhookOptions {
    /// Let webhook URLs use http and point at loopback, private or link-local addresses (a
    /// receiver on the same host or network); off, such URLs are refused when added and
    /// such addresses when a host name resolves to them [default: off]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_ALLOW_PRIVATE",
        global = true,
        value_name = "on|off",
        value_parser = on_off
    )]
    pub(crate) webhook_allow_private: Option<bool>,

    /// Milliseconds a webhook receiver has to answer [default: 15000]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_TIMEOUT_MS",
        global = true,
        value_name = "MS"
    )]
    pub(crate) webhook_timeout_ms: Option<u64>,

    /// Delays between a failed delivery's attempts, e.g. 5s,5m,30m; the default is the
    /// Standard Webhooks schedule [default: 5s,5m,30m,2h,5h,10h,14h,20h,24h]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE",
        global = true,
        value_name = "DELAYS"
    )]
    pub(crate) webhook_retry_schedule: Option<String>,

    /// Seconds an endpoint may keep failing (no delivery succeeding) before it is disabled
    /// [default: 432000, five days]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_DISABLE_AFTER",
        global = true,
        value_name = "SECS"
    )]
    pub(crate) webhook_disable_after: Option<u64>,

    /// Milliseconds between reads of the outbox for due deliveries [default: 250]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_POLL_INTERVAL_MS",
        global = true,
        value_name = "MS"
    )]
    pub(crate) webhook_poll_interval_ms: Option<u64>,

    /// Webhook deliveries sent at once by one instance [default: 16]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_CONCURRENCY",
        global = true,
        value_name = "N"
    )]
    pub(crate) webhook_concurrency: Option<usize>,

    /// Days a delivery is kept in the outbox, whatever became of it [default: 7]
    #[arg(
        long,
        env = "GATEHOUSE_WEBHOOK_RETENTION_DAYS",
        global = true,
        value_name = "DAYS"
    )]
    pub(crate) webhook_retention_days: Option<u32>,
}

pub(crate) fn on_off(raw: &str) -> Result<bool, String> {
    match raw {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(format!("must be on or off, got {other:?}")),
    }
}

/// The webhook options, validated.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSettings {
    pub(crate) allow_private: bool,
    pub(crate) timeout: Duration,
    pub(crate) schedule: RetrySchedule,
    pub(crate) disable_after: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) concurrency: usize,
    pub(crate) retention: Duration,
}

impl WebhookSettings {
    pub(crate) fn from_options(o: &WebhookOptions) -> Result<Self> {
        let timeout_ms = o.webhook_timeout_ms.unwrap_or(15_000);
        anyhow::ensure!(
            (100..=120_000).contains(&timeout_ms),
            "webhook_timeout_ms must be from 100 to 120000, got {timeout_ms}"
        );
        let schedule = match o.webhook_retry_schedule.as_deref() {
            None => RetrySchedule::default(),
            Some(text) => RetrySchedule::parse(text)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("webhook_retry_schedule")?,
        };
        let disable_after = o.webhook_disable_after.unwrap_or(5 * 86_400);
        anyhow::ensure!(
            disable_after >= 1,
            "webhook_disable_after must be at least 1 second"
        );
        let poll_ms = o.webhook_poll_interval_ms.unwrap_or(250);
        anyhow::ensure!(
            (10..=60_000).contains(&poll_ms),
            "webhook_poll_interval_ms must be from 10 to 60000, got {poll_ms}"
        );
        let concurrency = o.webhook_concurrency.unwrap_or(16);
        anyhow::ensure!(
            (1..=1024).contains(&concurrency),
            "webhook_concurrency must be from 1 to 1024, got {concurrency}"
        );
        let retention_days = o.webhook_retention_days.unwrap_or(7);
        anyhow::ensure!(
            retention_days >= 1,
            "webhook_retention_days must be at least 1"
        );
        Ok(WebhookSettings {
            allow_private: o.webhook_allow_private.unwrap_or(false),
            timeout: Duration::from_millis(timeout_ms),
            schedule,
            disable_after: Duration::from_secs(disable_after),
            poll_interval: Duration::from_millis(poll_ms),
            concurrency,
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
        })
    }
}

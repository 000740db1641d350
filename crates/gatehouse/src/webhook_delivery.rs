//! Sending webhooks: [`HttpSender`], the HTTP client deliveries go through (a timeout, no
//! redirects, no proxy from the environment, and an address check on every connection: a host
//! name is resolved here and only its allowed addresses are connected to, so a name that
//! resolves, or later rebinds, to a private address is refused), and [`spawn`], the task that
//! runs the core's dispatcher on the outbox while `serve` runs.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use gatehouse_core::audit::AuditLog;
use gatehouse_core::clock::Clock;
use gatehouse_core::sealing::Sealer;
use gatehouse_core::store::Store;
use gatehouse_core::telemetry::{WEBHOOK_BACKLOG, WEBHOOK_FAILED};
use gatehouse_core::webhook::{
    is_public, DispatchSettings, Dispatcher, SendResult, WebhookRequest, WebhookSender,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::task::JoinHandle;

use crate::webhook_config::WebhookSettings;

/// How often the outbox's counts are read for the metrics.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Resolves host names to the addresses webhooks may be sent to.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves only to loopback, private or link-local addresses"
                )
                .into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhook requests over HTTP(S).
pub(crate) struct HttpSender {
    client: reqwest::Client,
    allow_private: bool,
}

impl HttpSender {
    pub(crate) fn new(settings: &WebhookSettings) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .user_agent(concat!("gatehouse-webhooks/", env!("CARGO_PKG_VERSION")));
        match crate::breached::system_roots() {
            Ok(roots) => {
                for cert in roots {
                    builder = builder.add_root_certificate(cert);
                }
            }
            Err(err) => tracing::warn!(%err, "webhooks to https endpoints will fail"),
        }
        Ok(HttpSender {
            client: builder.build().context("making the webhook HTTP client")?,
            allow_private: settings.allow_private,
        })
    }

    /// Why `url` may not be sent to, when its host is a literal address that is not allowed
    /// (names are checked by the resolver).
    fn refused(&self, url: &str) -> Option<String> {
        if self.allow_private {
            return None;
        }
        let url = reqwest::Url::parse(url).ok()?;
        let ip: IpAddr = match url.host()? {
            url::Host::Ipv4(ip) => ip.into(),
            url::Host::Ipv6(ip) => ip.into(),
            url::Host::Domain(_) => return None,
        };
        (!is_public(ip)).then(|| format!("{ip} is a loopback, private or link-local address"))
    }
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, request: &WebhookRequest) -> SendResult {
        if let Some(reason) = self.refused(&request.url) {
            return SendResult {
                error: Some(reason),
                ..SendResult::default()
            };
        }
        let sent = self
            .client
            .post(&request.url)
            .header("content-type", "application/json")
            .header("webhook-id", &request.msg_id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                SendResult {
                    status: Some(response.status().as_u16()),
                    error: None,
                    retry_after,
                }
            }
            Err(err) => SendResult {
                error: Some(describe(&err)),
                ..SendResult::default()
            },
        }
    }
}

/// A reqwest error with its causes, which name what failed (the resolver's refusal, a refused
/// connection), in one line.
fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Starts delivering the outbox: a round whenever one ends with every slot used, else every
/// poll interval; and the outbox's counts into the metrics every [`STATS_EVERY`].
pub(crate) fn spawn(
    store: Arc<dyn Store>,
    sender: Arc<dyn WebhookSender>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    audit: Arc<AuditLog>,
    settings: &WebhookSettings,
) -> JoinHandle<()> {
    let lease = settings.timeout + Duration::from_secs(30);
    let dispatch = DispatchSettings {
        schedule: settings.schedule.clone(),
        disable_after_ms: i64::try_from(settings.disable_after.as_millis()).unwrap_or(i64::MAX),
        lease_ms: i64::try_from(lease.as_millis()).unwrap_or(i64::MAX),
        concurrency: settings.concurrency,
    };
    let poll = settings.poll_interval;
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        sender,
        sealer,
        clock,
        audit,
        dispatch,
    ));
    tokio::spawn(async move {
        let mut stats_due = tokio::time::Instant::now();
        loop {
            match dispatcher.round().await {
                Ok(round) if round.saturated() => {
                    tokio::task::yield_now().await;
                }
                Ok(_) => tokio::time::sleep(poll).await,
                Err(err) => {
                    tracing::warn!(%err, "reading the webhook outbox failed");
                    tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                }
            }
            if tokio::time::Instant::now() >= stats_due {
                stats_due = tokio::time::Instant::now() + STATS_EVERY;
                match store.outbox_stats().await {
                    Ok(stats) => {
                        metrics::gauge!(WEBHOOK_BACKLOG).set(stats.pending as f64);
                        metrics::gauge!(WEBHOOK_FAILED).set(stats.failed as f64);
                    }
                    Err(err) => tracing::warn!(%err, "counting the webhook outbox failed"),
                }
            }
        }
    })
}

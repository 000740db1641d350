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

/// Starts delivering the outbox: round after round while deliveries are claimed, then a round
/// every poll interval or as soon as a send ends; and the outbox's counts into the metrics
/// every [`STATS_EVERY`].
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
                // More may be due: go on at once.
                Ok(round) if round.claimed > 0 => tokio::task::yield_now().await,
                // Nothing due, or no room: until the next poll, or until a send ends and frees
                // its endpoint's share.
                Ok(_) => {
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        () = dispatcher.send_finished() => {}
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_config::{WebhookOptions, WebhookSettings};

    fn sender(allow_private: bool) -> HttpSender {
        let options = WebhookOptions {
            webhook_allow_private: Some(allow_private),
            webhook_timeout_ms: Some(2000),
            ..WebhookOptions::default()
        };
        HttpSender::new(&WebhookSettings::from_options(&options).unwrap()).unwrap()
    }

    fn request(url: &str) -> WebhookRequest {
        WebhookRequest {
            url: url.to_owned(),
            msg_id: "msg_1".into(),
            timestamp: 0,
            signature: "v1,x".into(),
            body: "{}".into(),
        }
    }

    /// A host name that resolves to loopback is refused by the resolver, not only literal
    /// addresses: the check is on what the connection would reach. A listener stands ready so
    /// that a connection, were it made, would succeed.
    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_not_connected_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let refused = sender(false)
            .send(&request(&format!("http://localhost:{port}/hook")))
            .await;
        assert_eq!(refused.status, None);
        let error = refused.error.unwrap();
        assert!(error.contains("resolves only to loopback"), "{error}");
        let literal = sender(false)
            .send(&request(&format!("http://127.0.0.1:{port}/hook")))
            .await;
        assert!(literal.error.unwrap().contains("127.0.0.1 is a loopback"));
        let mapped = sender(false)
            .send(&request(&format!("http://[::ffff:127.0.0.1]:{port}/hook")))
            .await;
        assert!(mapped.error.is_some() && mapped.status.is_none());
    }

    /// Redirects are not followed: a 3xx is the answer, and a failure.
    #[tokio::test]
    async fn redirects_are_answers_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = conn.read(&mut buf).await.unwrap();
            let reply = "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            conn.write_all(reply.as_bytes()).await.unwrap();
        });
        let result = sender(true)
            .send(&request(&format!("http://127.0.0.1:{port}/hook")))
            .await;
        assert_eq!(result.status, Some(307));
        assert!(!result.delivered());
        server.await.unwrap();
    }
}

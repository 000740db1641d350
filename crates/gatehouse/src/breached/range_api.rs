//! The k-anonymity range API of a Have I Been Pwned-like service (source
//! [`BreachSource::Online`]): `GET {base}/range/{first 5 hex digits of SHA-1, upper case}` with
//! `Add-Padding: true` answers lines `SUFFIX35:COUNT` for every known hash with that prefix, so
//! the service never sees the password or its whole hash. Padding lines have count 0 and never
//! match.
//!
//! The API is an extra, never a dependency: any failure (refused, slow past the timeout, a bad
//! status or body) answers `false` (fail open) and is counted. After [`FAILURES_TO_OPEN`]
//! failures in a row a circuit breaker opens: for [`OPEN_FOR`] no request is sent and every
//! question is answered `false` at once; then one probe is sent, which closes the breaker if
//! it is answered. The outage is logged once per opening.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use gatehouse_core::breached::{BreachSource, BreachedPasswords};
use gatehouse_core::telemetry::{
    BREACHED_API_BREAKER_OPEN, BREACHED_API_DURATION, BREACHED_API_OUTCOMES, BREACHED_API_REQUESTS,
};
use sha1::{Digest, Sha1};

/// Failures in a row that open the breaker.
pub(crate) const FAILURES_TO_OPEN: u32 = 5;
/// How long the breaker stays open before one probe.
pub(crate) const OPEN_FOR: Duration = Duration::from_secs(30);
/// The largest answer read (a padded HIBP answer is about 40 KB).
const MAX_BODY: usize = 1 << 20;
/// Where Linux distributions keep the system's root certificates (as openssl-probe looks).
const ROOT_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The range API client.
pub(crate) struct RangeApi {
    client: reqwest::Client,
    /// The base URL, without a trailing `/`.
    base: String,
    breaker: Mutex<Breaker>,
}

impl RangeApi {
    /// A client of the API at `base` (http or https) that waits at most `timeout` per question.
    pub(crate) fn new(base: &str, timeout: Duration) -> Result<Self> {
        Self::with_breaker(base, timeout, OPEN_FOR)
    }

    /// As [`RangeApi::new`], with the breaker open for `open_for` (tests).
    pub(crate) fn with_breaker(base: &str, timeout: Duration, open_for: Duration) -> Result<Self> {
        let url = reqwest::Url::parse(base).context("not a URL")?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        match url.scheme() {
            "http" => {}
            "https" => {
                for cert in system_roots()? {
                    builder = builder.add_root_certificate(cert);
                }
            }
            other => bail!("scheme {other} is not http or https"),
        }
        let client = builder.build().context("making the HTTP client")?;
        for outcome in BREACHED_API_OUTCOMES {
            metrics::counter!(BREACHED_API_REQUESTS, "outcome" => outcome).absolute(0);
        }
        metrics::gauge!(BREACHED_API_BREAKER_OPEN).set(0.0);
        Ok(RangeApi {
            client,
            base: base.trim_end_matches('/').to_owned(),
            breaker: Mutex::new(Breaker::new(open_for)),
        })
    }

    /// Asks the API about one SHA-1 (40 upper-case hex digits).
    async fn ask(&self, sha1: &str) -> Result<bool> {
        let (prefix, suffix) = sha1.split_at(5);
        let url = format!("{}/range/{prefix}", self.base);
        let mut response = self
            .client
            .get(url)
            .header("Add-Padding", "true")
            .send()
            .await?
            .error_for_status()?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_BODY {
                bail!("answer larger than {MAX_BODY} bytes");
            }
            body.extend_from_slice(&chunk);
        }
        let body = std::str::from_utf8(&body).context("answer is not UTF-8")?;
        Ok(body_holds(body, suffix))
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic while holding this lock leaves only counters behind: keep using them.
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl BreachedPasswords for RangeApi {
    async fn contains(&self, password: &str) -> bool {
        if !self.breaker().admit(Instant::now()) {
            metrics::counter!(BREACHED_API_REQUESTS, "outcome" => "skipped").increment(1);
            return false;
        }
        let sha1 = upper_hex_sha1(password);
        let started = Instant::now();
        let answer = self.ask(&sha1).await;
        metrics::histogram!(BREACHED_API_DURATION).record(started.elapsed().as_secs_f64());
        let outcome = match &answer {
            Ok(true) => "hit",
            Ok(false) => "miss",
            Err(_) => "error",
        };
        metrics::counter!(BREACHED_API_REQUESTS, "outcome" => outcome).increment(1);
        let change = self.breaker().record(answer.is_ok(), Instant::now());
        match (change, &answer) {
            (Some(true), Err(err)) => {
                metrics::gauge!(BREACHED_API_BREAKER_OPEN).set(1.0);
                tracing::warn!(
                    api = %self.base,
                    error = %format!("{err:#}"),
                    "breached-password API failing; not asked for {}s (passwords are not checked \
                     against it meanwhile)",
                    self.breaker().open_for.as_secs()
                );
            }
            (Some(false), _) => {
                metrics::gauge!(BREACHED_API_BREAKER_OPEN).set(0.0);
                tracing::info!(api = %self.base, "breached-password API answers again");
            }
            (None, Err(err)) => {
                tracing::debug!(api = %self.base, error = %format!("{err:#}"), "breached-password API failed");
            }
            _ => {}
        }
        answer.unwrap_or(false)
    }

    fn source(&self) -> BreachSource {
        BreachSource::Online
    }
}

/// The circuit breaker's state; times are passed in so the logic is tested without waiting.
#[derive(Debug)]
pub(crate) struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// When the probe in flight was sent. A probe whose request was dropped unanswered (the
    /// login it served was cancelled by its client) records nothing; after `open_for` another
    /// probe may go, so a lost probe cannot keep the breaker open for good.
    probe_sent: Option<Instant>,
    open_for: Duration,
}

impl Breaker {
    pub(crate) fn new(open_for: Duration) -> Self {
        Breaker {
            failures: 0,
            open_until: None,
            probe_sent: None,
            open_for,
        }
    }

    /// Whether a request may be sent now: always while closed; while open, only one probe once
    /// the open time is over (another only if that one went unanswered for the open time).
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        match self.open_until {
            None => true,
            Some(until)
                if now >= until
                    && self
                        .probe_sent
                        .is_none_or(|sent| now >= sent + self.open_for) =>
            {
                self.probe_sent = Some(now);
                true
            }
            Some(_) => false,
        }
    }

    /// Records a request's result; returns `Some(true)` when the breaker opens (closed to
    /// open), `Some(false)` when it closes, `None` otherwise (a failed probe re-opens silently).
    pub(crate) fn record(&mut self, ok: bool, now: Instant) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.probe_sent = None;
            return self.open_until.take().map(|_| false);
        }
        self.failures = self.failures.saturating_add(1);
        if self.open_until.is_some() {
            if self.probe_sent.take().is_some() {
                self.open_until = Some(now + self.open_for);
            }
            None
        } else if self.failures >= FAILURES_TO_OPEN {
            self.open_until = Some(now + self.open_for);
            Some(true)
        } else {
            None
        }
    }
}

/// SHA-1 of the password's UTF-8 bytes, 40 upper-case hex digits (the API's alphabet).
fn upper_hex_sha1(password: &str) -> String {
    use std::fmt::Write;
    Sha1::digest(password.as_bytes())
        .iter()
        .fold(String::with_capacity(40), |mut out, b| {
            let _ = write!(out, "{b:02X}");
            out
        })
}

/// Whether an answer holds `suffix` (35 hex digits) with a count above 0.
fn body_holds(body: &str, suffix: &str) -> bool {
    body.lines().any(|line| {
        line.trim().split_once(':').is_some_and(|(s, count)| {
            s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0)
        })
    })
}

/// The system's root certificates, for an https API (reqwest is built without its own roots).
pub(crate) fn system_roots() -> Result<Vec<reqwest::Certificate>> {
    for path in ROOT_BUNDLES {
        if let Ok(pem) = std::fs::read(path) {
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .with_context(|| format!("reading root certificates from {path}"))?;
            if !certs.is_empty() {
                return Ok(certs);
            }
        }
    }
    bail!(
        "no root certificates found for https (looked in {}; install the ca-certificates \
         package)",
        ROOT_BUNDLES.join(", ")
    )
}

#[cfg(test)]
mod tests;

//! An HTTP credential check (Auth0's "custom database" login script, as a service): `POST`
//! `{"username": …, "password": …}` as JSON to the operator's URL with
//! `Authorization: Bearer <secret>`; the answer `{"valid": true|false, "attributes": {…}}` with
//! status 200. Anything else (another status, a malformed body, a timeout, a refused
//! connection) is an outage: the login fails closed. After five outages in a
//! row a circuit breaker (the breached-password API's) stops asking for a while.
//!
//! https only, unless `allow_insecure` (tests); redirects are not followed, so the password is
//! never re-posted to another address.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use async_trait::async_trait;
use gatehouse_core::external_users::{ExternalUserStore, ExternalVerdict, Outage, Profile};
use gatehouse_core::user::Username;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::config::HttpSettings;
use crate::breached::Breaker;

/// How long the breaker stays open before one probe.
const OPEN_FOR: Duration = Duration::from_secs(30);
/// The largest answer read.
const MAX_BODY: usize = 64 * 1024;

/// An HTTP credential check.
pub(crate) struct HttpStore {
    name: String,
    migrate: bool,
    url: String,
    secret: SecretString,
    client: reqwest::Client,
    breaker: Mutex<Breaker>,
}

#[derive(Deserialize)]
struct Answer {
    valid: bool,
    #[serde(default)]
    attributes: Option<serde_json::Map<String, Value>>,
}

impl HttpStore {
    /// A store named `name` posting to `settings.url`, each request bounded by `timeout`.
    pub(crate) fn new(
        name: &str,
        migrate: bool,
        timeout: Duration,
        settings: HttpSettings,
    ) -> Result<Self> {
        let url = reqwest::Url::parse(&settings.url).context("not a URL")?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        if url.scheme() == "https" {
            builder = builder.https_only(true);
            let certs = match &settings.ca_file {
                Some(path) => {
                    let pem = std::fs::read(path)
                        .with_context(|| format!("reading ca_file {}", path.display()))?;
                    reqwest::Certificate::from_pem_bundle(&pem)
                        .with_context(|| format!("reading ca_file {}", path.display()))?
                }
                None => crate::breached::system_roots()?,
            };
            ensure!(!certs.is_empty(), "no certificate in ca_file");
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(HttpStore {
            name: name.to_owned(),
            migrate,
            url: settings.url,
            secret: settings.secret,
            client: builder.build().context("making the HTTP client")?,
            breaker: Mutex::new(Breaker::new(OPEN_FOR)),
        })
    }

    async fn ask(&self, username: &Username, password: &SecretString) -> Result<ExternalVerdict> {
        let body = json!({ "username": username.as_str(), "password": password.expose_secret() });
        let mut response = self
            .client
            .post(&self.url)
            .bearer_auth(self.secret.expose_secret())
            .json(&body)
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::OK {
            bail!("answered status {}", response.status().as_u16());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if bytes.len() + chunk.len() > MAX_BODY {
                bail!("answer larger than {MAX_BODY} bytes");
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer: Answer = serde_json::from_slice(&bytes).context("answer is not the JSON")?;
        if !answer.valid {
            return Ok(ExternalVerdict::Unknown);
        }
        let attrs = answer.attributes.unwrap_or_default();
        let text = |key: &str| attrs.get(key).and_then(Value::as_str).map(str::to_owned);
        let roles = match attrs.get("roles") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(ExternalVerdict::Valid(Profile {
            email: text("email"),
            phone: text("phone"),
            name: text("name"),
            roles,
        }))
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        // A panic while holding this lock leaves only counters behind: keep using them.
        self.breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ExternalUserStore for HttpStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn migrates(&self) -> bool {
        self.migrate
    }

    async fn check(
        &self,
        username: &Username,
        password: &SecretString,
    ) -> Result<ExternalVerdict, Outage> {
        if !self.breaker().admit(Instant::now()) {
            return Err(Outage("HTTP store: circuit breaker open".into()));
        }
        let answer = self.ask(username, password).await;
        let change = self.breaker().record(answer.is_ok(), Instant::now());
        match change {
            Some(true) => {
                tracing::warn!(store = %self.name, "HTTP user store failing; not asked for {}s", OPEN_FOR.as_secs())
            }
            Some(false) => tracing::info!(store = %self.name, "HTTP user store answers again"),
            None => {}
        }
        // reqwest's errors name the URL, never the body: the password cannot show in the log.
        answer.map_err(|err| Outage(format!("HTTP store: {}", without_url(&err))))
    }
}

/// The error's chain without URLs (which might hold a secret in a query string).
fn without_url(err: &anyhow::Error) -> String {
    err.chain()
        .map(|e| match e.downcast_ref::<reqwest::Error>() {
            Some(re) => {
                let kind = if re.is_timeout() {
                    "timed out"
                } else if re.is_connect() {
                    "could not connect"
                } else {
                    "request failed"
                };
                kind.to_owned()
            }
            None => e.to_string(),
        })
        .collect::<Vec<_>>()
        .join(": ")
}

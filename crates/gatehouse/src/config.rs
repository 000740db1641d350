//! One validated [`Config`] from flags, the environment (read by clap) and the TOML file, in
//! that order of precedence, over built-in defaults. Nothing else reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gatehouse_core::authorize::DEFAULT_CODE_TTL;
use gatehouse_core::client_assertion::{
    AssertionPolicy, AudiencePolicy, DEFAULT_CLOCK_SKEW, DEFAULT_MAX_LIFETIME,
};
use gatehouse_core::password::{HashParams, PasswordHasher};
use gatehouse_core::token::keys::SigningAlg;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::logging::LogFormat;
use crate::tls::TlsFiles;

/// The default listen address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default database.
pub(crate) const DEFAULT_DATABASE: &str = "sqlite://gatehouse.db";
/// The shortest admin token accepted.
pub(crate) const MIN_ADMIN_TOKEN_LEN: usize = 16;
/// Nice value of the async runtime's threads by default (see `--runtime-nice`).
pub(crate) const DEFAULT_RUNTIME_NICE: i32 = 0;
/// Seconds between expiry sweeps by default.
pub(crate) const DEFAULT_CLEANUP_INTERVAL_SECS: u64 = 60;

/// The TOML file's shape; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    issuer: Option<String>,
    signing_alg: Option<String>,
    log_level: Option<String>,
    cleanup_interval_secs: Option<u64>,
    secret_key_file: Option<PathBuf>,
    log_format: Option<LogFormat>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    metrics_listen: Option<SocketAddr>,
    request_timeout_secs: Option<u32>,
    header_timeout_secs: Option<u32>,
    max_connections: Option<u32>,
    runtime_nice: Option<i32>,
    #[serde(default)]
    password_hash: FileHashConfig,
    admin_token: Option<SecretString>,
    secret_key: Option<SecretString>,
    assertion_audience: Option<String>,
    assertion_max_lifetime: Option<u32>,
    assertion_clock_skew: Option<u32>,
    password_code_ttl: Option<u32>,
    mfa_token_ttl: Option<u32>,
    #[serde(default)]
    brute_force: crate::security_config::FileBruteForce,
    #[serde(default)]
    security: crate::security_config::FileSecurity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHashConfig {
    memory_kib: Option<u32>,
    iterations: Option<u32>,
    parallelism: Option<u32>,
    workers: Option<usize>,
    queue: Option<usize>,
}

/// A database URL whose `Debug` and `Display` hide any password.
#[derive(Clone)]
pub(crate) struct DatabaseUrl(String);

impl DatabaseUrl {
    pub(crate) fn new(url: String) -> Self {
        DatabaseUrl(url)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // scheme://user:password@host → scheme://user:***@host
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                let userinfo = &self.0[start + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        write!(f, "{}{}:***{}", &self.0[..start + 3], user, &self.0[at..])
                    }
                    None => f.write_str(&self.0),
                }
            }
            _ => f.write_str(&self.0),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Where the server key comes from.
#[derive(Clone)]
pub(crate) enum SecretKeySource {
    /// `GATEHOUSE_SECRET_KEY`: the key itself, base64.
    Inline(secrecy::SecretString),
    /// A file named by --secret-key-file, the environment or the TOML file.
    File(PathBuf),
    /// `gatehouse.key` next to the SQLite database.
    NextToDatabase,
}

impl fmt::Debug for SecretKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretKeySource::Inline(_) => f.write_str("Inline(***)"),
            SecretKeySource::File(path) => write!(f, "File({})", path.display()),
            SecretKeySource::NextToDatabase => f.write_str("NextToDatabase"),
        }
    }
}

/// Everything the commands need, validated.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) database: DatabaseUrl,
    pub(crate) issuer: Option<String>,
    pub(crate) signing_alg: SigningAlg,
    pub(crate) hash: HashParams,
    pub(crate) hash_workers: usize,
    pub(crate) hash_queue: usize,
    /// Nice value added to the async runtime's threads (0: unchanged).
    pub(crate) runtime_nice: i32,
    pub(crate) log_level: Option<String>,
    pub(crate) cleanup_interval: std::time::Duration,
    /// The admin API's bearer token; `None` turns the API off.
    pub(crate) admin_token: Option<SecretString>,
    /// RFC 7523 client-assertion limits.
    pub(crate) assertions: AssertionPolicy,
    /// Lifetime of secure-code-flow codes, in seconds.
    pub(crate) password_code_ttl: i64,
    /// Lifetime of `mfa_token`s, in seconds.
    pub(crate) mfa_token_ttl: i64,
    /// Where the server key (sealing private keys and readable client secrets) comes from.
    pub(crate) secret_key: SecretKeySource,
    pub(crate) log_format: LogFormat,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) metrics_listen: Option<SocketAddr>,
    /// How long a request may take, body included.
    pub(crate) request_timeout: std::time::Duration,
    /// The connection cap and the handshake/header timeout.
    pub(crate) connections: crate::connections::ConnectionLimits,
    /// Brute-force defence, throttle, trusted proxies, event retention.
    pub(crate) security: crate::security_config::SecurityConfig,
}

impl Config {
    /// Merges flags and environment (`global`, `serve`) over the file named by `--config`.
    pub(crate) fn load(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self> {
        let file = match &global.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let h = file.password_hash;
        let hash = HashParams {
            memory_kib: global
                .argon2_memory_kib
                .or(h.memory_kib)
                .unwrap_or(HashParams::OWASP.memory_kib),
            iterations: global
                .argon2_iterations
                .or(h.iterations)
                .unwrap_or(HashParams::OWASP.iterations),
            parallelism: global
                .argon2_parallelism
                .or(h.parallelism)
                .unwrap_or(HashParams::OWASP.parallelism),
        };
        let hash_workers = serve.hash_workers.or(h.workers).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        let runtime_nice = serve
            .runtime_nice
            .or(file.runtime_nice)
            .unwrap_or(DEFAULT_RUNTIME_NICE);
        anyhow::ensure!(
            (0..=19).contains(&runtime_nice),
            "runtime_nice must be between 0 and 19, got {runtime_nice}"
        );
        let signing_alg = serve
            .signing_alg
            .clone()
            .or(file.signing_alg)
            .unwrap_or_else(|| "EdDSA".into());
        let listen = match serve.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let admin_token = serve
            .admin_token
            .clone()
            .map(SecretString::from)
            .or(file.admin_token);
        if let Some(token) = &admin_token {
            anyhow::ensure!(
                token.expose_secret().chars().count() >= MIN_ADMIN_TOKEN_LEN,
                "admin_token must be at least {MIN_ADMIN_TOKEN_LEN} characters"
            );
        }
        let assertions = AssertionPolicy {
            audience: match serve
                .assertion_audience
                .clone()
                .or(file.assertion_audience)
                .as_deref()
            {
                None | Some("issuer-or-token-endpoint") => AudiencePolicy::IssuerOrTokenEndpoint,
                Some("issuer") => AudiencePolicy::Issuer,
                Some(other) => anyhow::bail!(
                    "assertion_audience must be issuer or issuer-or-token-endpoint, got {other:?}"
                ),
            },
            max_lifetime: serve
                .assertion_max_lifetime
                .or(file.assertion_max_lifetime)
                .map_or(DEFAULT_MAX_LIFETIME, i64::from),
            clock_skew: serve
                .assertion_clock_skew
                .or(file.assertion_clock_skew)
                .map_or(DEFAULT_CLOCK_SKEW, i64::from),
        };
        let password_code_ttl = serve
            .password_code_ttl
            .or(file.password_code_ttl)
            .map_or(DEFAULT_CODE_TTL, i64::from);
        anyhow::ensure!(password_code_ttl > 0, "password_code_ttl must be positive");
        let mfa_token_ttl = serve
            .mfa_token_ttl
            .or(file.mfa_token_ttl)
            .map_or(gatehouse_core::mfa::DEFAULT_MFA_TOKEN_TTL, i64::from);
        anyhow::ensure!(mfa_token_ttl > 0, "mfa_token_ttl must be positive");
        let issuer = serve.issuer.clone().or(file.issuer);
        let tls = match (
            serve.tls_cert.clone().or(file.tls_cert),
            serve.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert and tls_key go together: set both or neither"),
        };
        if let Some(issuer) = &issuer {
            validate_issuer(issuer)?;
        }
        let cleanup_secs = serve
            .cleanup_interval
            .or(file.cleanup_interval_secs)
            .unwrap_or(DEFAULT_CLEANUP_INTERVAL_SECS);
        anyhow::ensure!(
            cleanup_secs >= 1,
            "cleanup interval must be at least 1 second"
        );
        let request_timeout = serve
            .request_timeout
            .or(file.request_timeout_secs)
            .unwrap_or(crate::connections::DEFAULT_REQUEST_TIMEOUT_SECS);
        let header_timeout = serve
            .header_timeout
            .or(file.header_timeout_secs)
            .unwrap_or(crate::connections::DEFAULT_HEADER_TIMEOUT_SECS);
        let max_connections = serve
            .max_connections
            .or(file.max_connections)
            .unwrap_or(crate::connections::DEFAULT_MAX_CONNECTIONS);
        anyhow::ensure!(
            request_timeout >= 1,
            "request_timeout must be at least 1 second"
        );
        anyhow::ensure!(
            header_timeout >= 1,
            "header_timeout must be at least 1 second"
        );
        // Tokio's semaphore holds at most usize::MAX >> 3 permits; a million is plenty.
        anyhow::ensure!(
            (1..=1_000_000).contains(&max_connections),
            "max_connections must be between 1 and 1000000"
        );
        let security = crate::security_config::SecurityConfig::load(
            &serve.security,
            file.brute_force,
            file.security,
        )?;
        Ok(Config {
            security,
            listen,
            database: DatabaseUrl(
                global
                    .database
                    .clone()
                    .or(file.database_url)
                    .unwrap_or_else(|| DEFAULT_DATABASE.into()),
            ),
            issuer,
            signing_alg: SigningAlg::parse(&signing_alg)
                .map_err(|e| anyhow::anyhow!("signing_alg: {e}"))?,
            hash,
            hash_workers,
            hash_queue: serve
                .hash_queue
                .or(h.queue)
                .unwrap_or_else(|| PasswordHasher::default_queue(hash_workers)),
            runtime_nice,
            log_level: global.log_level.clone().or(file.log_level),
            cleanup_interval: std::time::Duration::from_secs(cleanup_secs),
            admin_token,
            assertions,
            password_code_ttl,
            mfa_token_ttl,
            secret_key: match (&global.secret_key, &global.secret_key_file) {
                (Some(key), _) => SecretKeySource::Inline(key.clone().into()),
                (None, Some(path)) => SecretKeySource::File(path.clone()),
                (None, None) => match (file.secret_key, file.secret_key_file) {
                    (Some(key), _) => SecretKeySource::Inline(key),
                    (None, Some(path)) => SecretKeySource::File(path),
                    (None, None) => SecretKeySource::NextToDatabase,
                },
            },
            log_format: global.log_format.or(file.log_format).unwrap_or_default(),
            tls,
            metrics_listen: serve.metrics_listen.or(file.metrics_listen),
            request_timeout: std::time::Duration::from_secs(request_timeout.into()),
            connections: crate::connections::ConnectionLimits {
                max_connections,
                header_timeout: std::time::Duration::from_secs(header_timeout.into()),
            },
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("parsing the configuration file {}", path.display()))
}

/// RFC 8414 §2: the issuer is an https URL without query or fragment; plain http is accepted
/// for loopback and development set-ups.
fn validate_issuer(issuer: &str) -> Result<()> {
    let ok = (issuer.starts_with("https://") || issuer.starts_with("http://"))
        && !issuer.contains('?')
        && !issuer.contains('#');
    anyhow::ensure!(
        ok,
        "issuer must be an http(s) URL without query or fragment, got {issuer:?}"
    );
    Ok(())
}

/// Every key the TOML file accepts, dotted (`password_hash.workers`), read from serde's own
/// "unknown field" error so it cannot drift from [`FileConfig`].
#[cfg(test)]
pub(crate) fn file_keys() -> Vec<String> {
    fn expected(toml_text: &str) -> Vec<String> {
        let err = toml::from_str::<FileConfig>(toml_text)
            .unwrap_err()
            .to_string();
        let list = err.split("expected one of").nth(1).unwrap_or_default();
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }
    let mut keys = expected("probe_unknown_key = 1");
    keys.retain(|k| k != "password_hash");
    keys.extend(
        expected("[password_hash]\nprobe_unknown_key = 1")
            .into_iter()
            .map(|k| format!("password_hash.{k}")),
    );
    keys
}

/// Parses a TOML document as the configuration file, for documentation tests.
#[cfg(test)]
pub(crate) fn parse_file(text: &str) -> Result<()> {
    toml::from_str::<FileConfig>(text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_hide_their_password() {
        let url = DatabaseUrl("postgres://app:hunter2@db:5432/auth".into());
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/auth");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(
            DatabaseUrl("sqlite://gatehouse.db".into()).to_string(),
            "sqlite://gatehouse.db"
        );
    }

    #[test]
    fn an_inline_secret_key_is_not_printed() {
        let source = SecretKeySource::Inline("c2VjcmV0".to_owned().into());
        assert!(!format!("{source:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn issuer_must_be_a_plain_url() {
        assert!(validate_issuer("https://auth.example.com").is_ok());
        assert!(validate_issuer("https://auth.example.com?x=1").is_err());
        assert!(validate_issuer("auth.example.com").is_err());
    }
}

//! One validated [`Config`] from flags, the environment (read by clap) and the TOML file, in
//! that order of precedence, over built-in defaults. Nothing else reads the environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use gatehouse_core::admin::PasswordChangeSessions;
use gatehouse_core::authorize::DEFAULT_CODE_TTL;
use gatehouse_core::client_assertion::{
    AssertionPolicy, AudiencePolicy, DEFAULT_CLOCK_SKEW, DEFAULT_MAX_LIFETIME,
};
use gatehouse_core::hash_admission::AdmissionSettings;
use gatehouse_core::hash_ceiling::HashCeiling;
use gatehouse_core::password::HashParams;
use gatehouse_core::store::{SessionLimit, SessionLimitPolicy};
use gatehouse_core::token::keys::SigningAlg;
use secrecy::{ExposeSecret, SecretString};

use crate::connections::ConnectionLimits;
use crate::logging::LogFormat;
use crate::options::{layered, FileOptions, GlobalOptions, ServeOptions};
use crate::password_config::PasswordSettings;
use crate::security_config::SecurityConfig;
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
    pub(crate) webhooks: crate::webhook_config::WebhookSettings,
    pub(crate) listen: SocketAddr,
    pub(crate) database: DatabaseUrl,
    pub(crate) issuer: Option<String>,
    pub(crate) signing_alg: SigningAlg,
    pub(crate) hash: HashParams,
    /// The highest cost of a stored password hash (never below `hash`).
    pub(crate) hash_ceiling: HashCeiling,
    pub(crate) hash_workers: usize,
    /// How the hash pool admits requests and holds shed answers.
    pub(crate) hash_admission: AdmissionSettings,
    /// Nice value added to the async runtime's threads (0: unchanged).
    pub(crate) runtime_nice: i32,
    pub(crate) log_level: Option<String>,
    pub(crate) cleanup_interval: Duration,
    /// The admin API's bearer token; `None` turns the API off.
    pub(crate) admin_token: Option<SecretString>,
    /// The web console (`--console`): its idle and absolute session timeouts, in seconds;
    /// `None` turns it off.
    pub(crate) console: Option<(u32, u32)>,
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
    pub(crate) request_timeout: Duration,
    /// The connection cap and the handshake/header timeout.
    pub(crate) connections: ConnectionLimits,
    /// Brute-force defence, throttle, trusted proxies, event retention.
    pub(crate) security: SecurityConfig,
    /// The session limit of clients that set none (a maximum of 0: no limit).
    pub(crate) session_limit: SessionLimit,
    /// Which sessions a password change ends.
    pub(crate) password_change_sessions: PasswordChangeSessions,
    /// The password policy and the breached-password lists.
    pub(crate) passwords: PasswordSettings,
    /// External user stores, in the order they are asked (issue 22).
    pub(crate) user_stores: Vec<crate::user_stores::config::UserStoreSettings>,
}

impl Config {
    /// Puts the command line (`global`, `serve`: flags and environment, as clap read them) over
    /// the file named by `--config`, then validates the result and applies the defaults.
    pub(crate) fn load(global: &GlobalOptions, serve: &ServeOptions) -> Result<Self> {
        let file = match &global.config {
            Some(path) => FileOptions::read(path)?,
            None => FileOptions::default(),
        };
        // An inline key beats a key file within each layer, and the command line beats the file.
        let secret_key = secret_key_source(global)
            .or_else(|| secret_key_source(&file.global))
            .unwrap_or(SecretKeySource::NextToDatabase);
        let global = layered(global, &file.global)?;
        let serve = layered(serve, &file.serve)?;
        Self::validate(global, serve, secret_key)
    }

    fn validate(g: GlobalOptions, s: ServeOptions, secret_key: SecretKeySource) -> Result<Self> {
        let (hash, hash_workers, hash_admission) = hash_settings(&g, &s);
        let hash_ceiling = hash_ceiling(&g)?;
        let runtime_nice = s.runtime_nice.unwrap_or(DEFAULT_RUNTIME_NICE);
        anyhow::ensure!(
            (0..=19).contains(&runtime_nice),
            "runtime_nice must be between 0 and 19, got {runtime_nice}"
        );
        let listen = match s.listen {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let admin_token = s.admin_token.clone().map(SecretString::from);
        if let Some(token) = &admin_token {
            anyhow::ensure!(
                token.expose_secret().chars().count() >= MIN_ADMIN_TOKEN_LEN,
                "admin_token must be at least {MIN_ADMIN_TOKEN_LEN} characters"
            );
        }
        let console = console_timeouts(&s)?;
        let assertions = assertion_policy(&s)?;
        let password_code_ttl = s.password_code_ttl.map_or(DEFAULT_CODE_TTL, i64::from);
        anyhow::ensure!(password_code_ttl > 0, "password_code_ttl must be positive");
        let mfa_token_ttl = s
            .mfa_token_ttl
            .map_or(gatehouse_core::mfa::DEFAULT_MFA_TOKEN_TTL, i64::from);
        anyhow::ensure!(mfa_token_ttl > 0, "mfa_token_ttl must be positive");
        let tls = match (s.tls_cert.clone(), s.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert and tls_key go together: set both or neither"),
        };
        if let Some(issuer) = &s.issuer {
            validate_issuer(issuer)?;
        }
        let cleanup_secs = s
            .cleanup_interval_secs
            .unwrap_or(DEFAULT_CLEANUP_INTERVAL_SECS);
        anyhow::ensure!(
            cleanup_secs >= 1,
            "cleanup interval must be at least 1 second"
        );
        let (request_timeout, connections) = connection_settings(&s)?;
        let security = SecurityConfig::from_options(&s.brute_force, &s.security)?;
        let (session_limit, password_change_sessions) = session_settings(&g, &s)?;
        let passwords = PasswordSettings::from_options(&g.passwords)?;
        let webhooks = crate::webhook_config::WebhookSettings::from_options(&g.webhooks)?;
        let user_stores = crate::user_stores::config::settings(&s.user_store)?;
        Ok(Config {
            user_stores,
            webhooks,
            passwords,
            session_limit,
            password_change_sessions,
            security,
            listen,
            database: DatabaseUrl(g.database_url.unwrap_or_else(|| DEFAULT_DATABASE.into())),
            issuer: s.issuer,
            signing_alg: SigningAlg::parse(s.signing_alg.as_deref().unwrap_or("EdDSA"))
                .map_err(|e| anyhow::anyhow!("signing_alg: {e}"))?,
            hash,
            hash_ceiling,
            hash_workers,
            hash_admission,
            runtime_nice,
            log_level: g.log_level,
            cleanup_interval: Duration::from_secs(cleanup_secs),
            admin_token,
            console,
            assertions,
            password_code_ttl,
            mfa_token_ttl,
            secret_key,
            log_format: g.log_format.unwrap_or_default(),
            tls,
            metrics_listen: s.metrics_listen,
            request_timeout,
            connections,
        })
    }
}

/// Where `options` say the server key is, if they say.
fn secret_key_source(options: &GlobalOptions) -> Option<SecretKeySource> {
    match (&options.secret_key, &options.secret_key_file) {
        (Some(key), _) => Some(SecretKeySource::Inline(key.clone().into())),
        (None, Some(path)) => Some(SecretKeySource::File(path.clone())),
        (None, None) => None,
    }
}

/// The argon2id parameters, the number of hash workers and the length of their queue.
fn hash_settings(g: &GlobalOptions, s: &ServeOptions) -> (HashParams, usize, AdmissionSettings) {
    let (argon2, pool) = (&g.password_hash, &s.password_hash);
    let hash = HashParams {
        memory_kib: argon2.memory_kib.unwrap_or(HashParams::OWASP.memory_kib),
        iterations: argon2.iterations.unwrap_or(HashParams::OWASP.iterations),
        parallelism: argon2.parallelism.unwrap_or(HashParams::OWASP.parallelism),
    };
    let workers = pool.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let d = AdmissionSettings::defaults(workers);
    let admission = AdmissionSettings {
        queue: pool.queue.unwrap_or(d.queue),
        overload_interval: pool
            .overload_interval_ms
            .map_or(d.overload_interval, Duration::from_millis),
        max_held: pool.max_held.unwrap_or(d.max_held),
    };
    (hash, workers, admission)
}

/// The cost ceiling of stored and imported password hashes.
fn hash_ceiling(g: &GlobalOptions) -> Result<HashCeiling> {
    let (o, d) = (&g.password_hash, HashCeiling::DEFAULT);
    let ceiling = HashCeiling {
        argon2_memory_kib: o.max_argon2_memory_kib.unwrap_or(d.argon2_memory_kib),
        argon2_iterations: o.max_argon2_iterations.unwrap_or(d.argon2_iterations),
        argon2_parallelism: o.max_argon2_parallelism.unwrap_or(d.argon2_parallelism),
        bcrypt_cost: o.max_bcrypt_cost.unwrap_or(d.bcrypt_cost),
        pbkdf2_iterations: o.max_pbkdf2_iterations.unwrap_or(d.pbkdf2_iterations),
    };
    anyhow::ensure!(
        (4..=31).contains(&ceiling.bcrypt_cost),
        "max_bcrypt_cost must be between 4 and 31"
    );
    anyhow::ensure!(
        ceiling.argon2_memory_kib >= 8
            && ceiling.argon2_iterations >= 1
            && ceiling.argon2_parallelism >= 1
            && ceiling.pbkdf2_iterations >= 1,
        "the argon2 and PBKDF2 ceilings must be at least 8 KiB, 1 pass, 1 lane, 1 iteration"
    );
    Ok(ceiling)
}

/// The default session limit and what a password change ends.
fn session_settings(
    g: &GlobalOptions,
    s: &ServeOptions,
) -> Result<(SessionLimit, PasswordChangeSessions)> {
    let policy = match s.session_limit_policy.as_deref() {
        None => SessionLimitPolicy::default(),
        Some(p) => SessionLimitPolicy::parse(p).with_context(|| {
            format!("session_limit_policy must be evict_oldest or deny, got {p:?}")
        })?,
    };
    let limit = SessionLimit {
        max: s.max_sessions_per_user.unwrap_or(0),
        policy,
    };
    let on_password_change = match g.sessions_on_password_change.as_deref() {
        None => PasswordChangeSessions::default(),
        Some(p) => PasswordChangeSessions::parse(p).with_context(|| {
            format!("sessions_on_password_change must be all, all-but-current or none, got {p:?}")
        })?,
    };
    Ok((limit, on_password_change))
}

/// RFC 7523 client-assertion limits.
fn assertion_policy(s: &ServeOptions) -> Result<AssertionPolicy> {
    Ok(AssertionPolicy {
        audience: match s.assertion_audience.as_deref() {
            None | Some("issuer-or-token-endpoint") => AudiencePolicy::IssuerOrTokenEndpoint,
            Some("issuer") => AudiencePolicy::Issuer,
            Some(other) => anyhow::bail!(
                "assertion_audience must be issuer or issuer-or-token-endpoint, got {other:?}"
            ),
        },
        max_lifetime: s
            .assertion_max_lifetime
            .map_or(DEFAULT_MAX_LIFETIME, i64::from),
        clock_skew: s.assertion_clock_skew.map_or(DEFAULT_CLOCK_SKEW, i64::from),
    })
}

/// The request timeout and the connection limits.
fn connection_settings(s: &ServeOptions) -> Result<(Duration, ConnectionLimits)> {
    let request_timeout = s
        .request_timeout_secs
        .unwrap_or(crate::connections::DEFAULT_REQUEST_TIMEOUT_SECS);
    let header_timeout = s
        .header_timeout_secs
        .unwrap_or(crate::connections::DEFAULT_HEADER_TIMEOUT_SECS);
    let max_connections = s
        .max_connections
        .unwrap_or(crate::connections::DEFAULT_MAX_CONNECTIONS);
    let idle_timeout = s
        .idle_timeout_secs
        .unwrap_or(crate::connections::DEFAULT_IDLE_TIMEOUT_SECS);
    anyhow::ensure!(
        request_timeout >= 1,
        "request_timeout must be at least 1 second"
    );
    anyhow::ensure!(
        header_timeout >= 1,
        "header_timeout must be at least 1 second"
    );
    anyhow::ensure!(idle_timeout >= 1, "idle_timeout must be at least 1 second");
    // Tokio's semaphore holds at most usize::MAX >> 3 permits; a million is plenty.
    anyhow::ensure!(
        (1..=1_000_000).contains(&max_connections),
        "max_connections must be between 1 and 1000000"
    );
    let limits = ConnectionLimits {
        max_connections,
        header_timeout: Duration::from_secs(header_timeout.into()),
        idle_timeout: Duration::from_secs(idle_timeout.into()),
        drain_timeout: Duration::from_secs(request_timeout.into()),
        max_per_address: s
            .max_connections_per_address
            .unwrap_or(crate::connection_cap::DEFAULT_MAX_PER_ADDRESS),
    };
    Ok((Duration::from_secs(request_timeout.into()), limits))
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

/// The console's (idle, absolute) session timeouts when `--console` is on.
fn console_timeouts(s: &crate::options::ServeOptions) -> Result<Option<(u32, u32)>> {
    if !s.console.unwrap_or(false) {
        return Ok(None);
    }
    let idle = s.console_idle_timeout.unwrap_or(900);
    let lifetime = s.console_session_lifetime.unwrap_or(28_800);
    anyhow::ensure!(idle >= 1, "console_idle_timeout must be positive");
    anyhow::ensure!(
        lifetime >= idle,
        "console_session_lifetime must be at least console_idle_timeout"
    );
    Ok(Some((idle, lifetime)))
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

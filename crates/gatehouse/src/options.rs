//! Every configuration option, declared once: each field is filled by clap (flag, then its
//! `GATEHOUSE_…` variable) and by serde (its key in the `--config` TOML file). The field name is
//! the file key; the flag is named where it differs. [`layered`] puts the command line over the
//! file generically, and `config.rs` validates the result and applies the defaults.
//!
//! The options of every command ([`GlobalOptions`]) and those of `serve` ([`ServeOptions`])
//! share the file's one namespace (and its `[password_hash]` table), so the file is read into
//! both and a key that neither knows is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::logging::LogFormat;
use crate::password_config::PasswordOptions;
use crate::security_config::{BruteForceOptions, SecurityOptions};

/// Options every command takes.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalOptions {
    /// Database URL: sqlite://PATH (created and migrated when new) or postgres://...
    /// [default: sqlite://gatehouse.db]
    #[arg(
        long = "database",
        env = "GATEHOUSE_DATABASE_URL",
        // The URL may hold a password: --help must not print it.
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub(crate) database_url: Option<String>,

    /// A TOML configuration file; see docs/configuration.md.
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true, value_name = "FILE")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,

    #[command(flatten)]
    #[serde(default)]
    pub(crate) password_hash: Argon2Options,

    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) passwords: PasswordOptions,

    #[command(flatten)]
    #[serde(flatten)]
    pub(crate) webhooks: crate::webhook_config::WebhookOptions,

    /// File holding the server key (32 bytes, base64) that seals private signing keys and the
    /// secrets of HS256 clients at rest. Generated (mode 0600) when absent and the database is
    /// SQLite [default: gatehouse.key next to the SQLite database; required for PostgreSQL unless
    /// GATEHOUSE_SECRET_KEY is set]
    #[arg(
        long,
        env = "GATEHOUSE_SECRET_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub(crate) secret_key_file: Option<PathBuf>,

    /// The server key itself (32 bytes, base64), instead of a file. Environment only.
    #[arg(
        long,
        env = "GATEHOUSE_SECRET_KEY",
        global = true,
        hide = true,
        hide_env_values = true
    )]
    pub(crate) secret_key: Option<String>,

    /// Log filter, e.g. info or gatehouse=debug [default: $RUST_LOG, else info]
    #[arg(
        long,
        env = "GATEHOUSE_LOG_LEVEL",
        global = true,
        value_name = "FILTER"
    )]
    pub(crate) log_level: Option<String>,

    /// Log line format: human or json [default: human]
    #[arg(
        long,
        env = "GATEHOUSE_LOG_FORMAT",
        global = true,
        value_name = "FORMAT",
        value_enum
    )]
    pub(crate) log_format: Option<LogFormat>,

    /// Sessions a password change ends (admin PUT /User with a password, `user set-password`):
    /// all, all-but-current (keeps the session named by keep_session) or none [default: all]
    #[arg(
        long,
        env = "GATEHOUSE_SESSIONS_ON_PASSWORD_CHANGE",
        global = true,
        value_name = "POLICY"
    )]
    pub(crate) sessions_on_password_change: Option<String>,
}

/// The argon2id cost and the cost ceiling of stored hashes, in the file's `[password_hash]`
/// table.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
pub(crate) struct Argon2Options {
    /// argon2id memory cost in KiB [default: 19456, OWASP's minimum]
    #[arg(
        long = "argon2-memory-kib",
        env = "GATEHOUSE_ARGON2_MEMORY_KIB",
        global = true,
        value_name = "KIB"
    )]
    pub(crate) memory_kib: Option<u32>,

    /// argon2id passes over memory [default: 2]
    #[arg(
        long = "argon2-iterations",
        env = "GATEHOUSE_ARGON2_ITERATIONS",
        global = true,
        value_name = "N"
    )]
    pub(crate) iterations: Option<u32>,

    /// argon2id lanes [default: 1]
    #[arg(
        long = "argon2-parallelism",
        env = "GATEHOUSE_ARGON2_PARALLELISM",
        global = true,
        value_name = "N"
    )]
    pub(crate) parallelism: Option<u32>,

    /// Highest argon2 memory cost (KiB) of a stored or imported hash; a hash over any ceiling
    /// is refused at import and fails its logins [default: 262144]
    #[arg(
        long = "max-argon2-memory-kib",
        env = "GATEHOUSE_MAX_ARGON2_MEMORY_KIB",
        global = true,
        value_name = "KIB"
    )]
    pub(crate) max_argon2_memory_kib: Option<u32>,

    /// Highest argon2 passes of a stored or imported hash [default: 10]
    #[arg(
        long = "max-argon2-iterations",
        env = "GATEHOUSE_MAX_ARGON2_ITERATIONS",
        global = true,
        value_name = "N"
    )]
    pub(crate) max_argon2_iterations: Option<u32>,

    /// Highest argon2 lanes of a stored or imported hash [default: 16]
    #[arg(
        long = "max-argon2-parallelism",
        env = "GATEHOUSE_MAX_ARGON2_PARALLELISM",
        global = true,
        value_name = "N"
    )]
    pub(crate) max_argon2_parallelism: Option<u32>,

    /// Highest bcrypt cost of a stored or imported hash [default: 15]
    #[arg(
        long = "max-bcrypt-cost",
        env = "GATEHOUSE_MAX_BCRYPT_COST",
        global = true,
        value_name = "N"
    )]
    pub(crate) max_bcrypt_cost: Option<u32>,

    /// Highest PBKDF2 iterations of a stored or imported hash [default: 2000000]
    #[arg(
        long = "max-pbkdf2-iterations",
        env = "GATEHOUSE_MAX_PBKDF2_ITERATIONS",
        global = true,
        value_name = "N"
    )]
    pub(crate) max_pbkdf2_iterations: Option<u32>,
}

/// Options of `serve`.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ServeOptions {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "GATEHOUSE_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Issuer identifier: the server's public base URL [default: http://LISTEN-ADDRESS]
    #[arg(long, env = "GATEHOUSE_ISSUER", value_name = "URL")]
    pub(crate) issuer: Option<String>,

    /// Access-token signing algorithm: EdDSA, ES256 or RS256 [default: EdDSA]
    #[arg(long, env = "GATEHOUSE_SIGNING_ALG", value_name = "ALG")]
    pub(crate) signing_alg: Option<String>,

    #[command(flatten)]
    #[serde(default)]
    pub(crate) password_hash: HashPoolOptions,

    /// Nice value (0 to 19) added to the async runtime's threads so the password-hash workers,
    /// left at normal priority, get the CPU first under load; 0 disables [default: 0]
    #[arg(long, env = "GATEHOUSE_RUNTIME_NICE", value_name = "N")]
    pub(crate) runtime_nice: Option<i32>,

    /// Seconds between sweeps that delete expired tokens, codes and replay entries
    /// [default: 60]
    #[arg(
        long = "cleanup-interval",
        env = "GATEHOUSE_CLEANUP_INTERVAL",
        value_name = "SECS"
    )]
    pub(crate) cleanup_interval_secs: Option<u64>,

    /// Bearer token of the admin API (/Client, /User); at least 16 characters. Without one the
    /// admin API is off. Prefer the environment or the file: a flag shows in the process list.
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) admin_token: Option<String>,

    /// Serve the web console under /admin (sign-in: users with the role gatehouse:admin or
    /// gatehouse:viewer, password and TOTP) [default: off]
    #[arg(
        long,
        env = "GATEHOUSE_CONSOLE",
        value_name = "on|off",
        num_args = 0..=1,
        default_missing_value = "on",
        value_parser = crate::webhook_config::on_off
    )]
    pub(crate) console: Option<bool>,

    /// Seconds a console session may stay unused before it ends [default: 900]
    #[arg(long, env = "GATEHOUSE_CONSOLE_IDLE_TIMEOUT", value_name = "SECS")]
    pub(crate) console_idle_timeout: Option<u32>,

    /// Seconds a console session lasts at most after sign-in [default: 28800]
    #[arg(long, env = "GATEHOUSE_CONSOLE_SESSION_LIFETIME", value_name = "SECS")]
    pub(crate) console_session_lifetime: Option<u32>,

    /// Audiences accepted in client assertions: issuer, or issuer-or-token-endpoint
    /// [default: issuer-or-token-endpoint]
    #[arg(long, env = "GATEHOUSE_ASSERTION_AUDIENCE", value_name = "POLICY")]
    pub(crate) assertion_audience: Option<String>,

    /// Longest accepted client-assertion lifetime (exp - iat, and exp - now) in seconds [default: 3600]
    #[arg(long, env = "GATEHOUSE_ASSERTION_MAX_LIFETIME", value_name = "SECS")]
    pub(crate) assertion_max_lifetime: Option<u32>,

    /// Clock skew allowed when checking client assertions, in seconds [default: 30]
    #[arg(long, env = "GATEHOUSE_ASSERTION_CLOCK_SKEW", value_name = "SECS")]
    pub(crate) assertion_clock_skew: Option<u32>,

    /// Lifetime of the one-time codes of GET /auth/authorize, in seconds [default: 60]
    #[arg(long, env = "GATEHOUSE_PASSWORD_CODE_TTL", value_name = "SECS")]
    pub(crate) password_code_ttl: Option<u32>,

    /// Lifetime of the mfa_token of an mfa_required answer, in seconds [default: 600]
    #[arg(long, env = "GATEHOUSE_MFA_TOKEN_TTL", value_name = "SECS")]
    pub(crate) mfa_token_ttl: Option<u32>,

    /// PEM certificate chain: serve HTTPS (with --tls-key); reloaded on SIGHUP
    #[arg(
        long,
        env = "GATEHOUSE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert; reloaded on SIGHUP
    #[arg(
        long,
        env = "GATEHOUSE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub(crate) tls_key: Option<PathBuf>,

    /// Seconds a request may take, body included, before it gets 408 (body still arriving)
    /// or 503 [default: 30]
    #[arg(
        long = "request-timeout",
        env = "GATEHOUSE_REQUEST_TIMEOUT",
        value_name = "SECS"
    )]
    pub(crate) request_timeout_secs: Option<u32>,

    /// Seconds a client has for the TLS handshake and for each request's headers, and that an
    /// HTTP/1.1 connection may idle between requests [default: 10]
    #[arg(
        long = "header-timeout",
        env = "GATEHOUSE_HEADER_TIMEOUT",
        value_name = "SECS"
    )]
    pub(crate) header_timeout_secs: Option<u32>,

    /// Connections served at once; further ones wait to be accepted [default: 1024]
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", value_name = "N")]
    pub(crate) max_connections: Option<u32>,

    /// Seconds a connection (HTTP/2 included) may stay open with no request in flight before it
    /// is closed (GOAWAY on HTTP/2); pings do not count as requests [default: 75]
    #[arg(
        long = "idle-timeout",
        env = "GATEHOUSE_IDLE_TIMEOUT",
        value_name = "SECS"
    )]
    pub(crate) idle_timeout_secs: Option<u32>,

    /// Connections one client address (IPv6: one /64) may hold open at once; more are closed
    /// at once. Peers in --trusted-proxies are exempt; 0 turns the cap off [default: 64]
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS_PER_ADDRESS", value_name = "N")]
    pub(crate) max_connections_per_address: Option<u32>,

    /// Also serve /metrics over plain HTTP on this address [default: none]
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN", value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,

    /// Live sessions one user may hold with a client that sets no max_sessions_per_user of
    /// its own; 0 is no limit [default: 0]
    #[arg(long, env = "GATEHOUSE_MAX_SESSIONS_PER_USER", value_name = "N")]
    pub(crate) max_sessions_per_user: Option<u32>,

    /// What a login beyond the session limit does, for clients that set no
    /// session_limit_policy: evict_oldest or deny [default: evict_oldest]
    #[arg(long, env = "GATEHOUSE_SESSION_LIMIT_POLICY", value_name = "POLICY")]
    pub(crate) session_limit_policy: Option<String>,

    #[command(flatten)]
    #[serde(default)]
    pub(crate) brute_force: BruteForceOptions,

    #[command(flatten)]
    #[serde(default)]
    pub(crate) security: SecurityOptions,

    /// External user stores, `[[user_store]]` tables of the file only (docs/user-stores.md).
    #[arg(skip)]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) user_store: Vec<crate::user_stores::config::UserStoreOptions>,
}

/// The password-hash workers of `serve`, in the file's `[password_hash]` table.
#[derive(Args, Clone, Default, Deserialize, Serialize)]
pub(crate) struct HashPoolOptions {
    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(
        long = "hash-workers",
        env = "GATEHOUSE_HASH_WORKERS",
        value_name = "N"
    )]
    pub(crate) workers: Option<usize>,

    /// Password requests that may wait beyond those being hashed while the queue drains now and
    /// then (a burst); more are shed with 503 and Retry-After [default: 32 per hash worker]
    #[arg(long = "hash-queue", env = "GATEHOUSE_HASH_QUEUE", value_name = "N")]
    pub(crate) queue: Option<usize>,

    /// Milliseconds the hash queue may stand (never empty) before the server counts as
    /// overloaded and lets only one request per worker wait [default: 100]
    #[arg(
        long = "hash-overload-interval-ms",
        env = "GATEHOUSE_HASH_OVERLOAD_INTERVAL_MS",
        value_name = "MS"
    )]
    pub(crate) overload_interval_ms: Option<u64>,

    /// Shed password requests whose 503 is held back at once (a timer, so a client retrying at
    /// once comes back later); more are answered at once with Connection: close [default: 1024]
    #[arg(
        long = "hash-max-held",
        env = "GATEHOUSE_HASH_MAX_HELD",
        value_name = "N"
    )]
    pub(crate) max_held: Option<usize>,
}

/// The TOML file, read into both option sets.
#[derive(Default)]
pub(crate) struct FileOptions {
    pub(crate) global: GlobalOptions,
    pub(crate) serve: ServeOptions,
}

impl FileOptions {
    /// Reads the file named by `--config`.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the configuration file {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("parsing the configuration file {}", path.display()))
    }

    /// Parses a TOML document; a key that no option has is an error.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let file = FileOptions {
            global: toml::from_str(text)?,
            serve: toml::from_str(text)?,
        };
        let mut known = toml::Value::try_from(&file.global)?;
        overlay(&mut known, toml::Value::try_from(&file.serve)?);
        let given: toml::Value = toml::from_str(text)?;
        if let Some(key) = unknown_key(&given, &known, "") {
            anyhow::bail!("unknown key `{key}`");
        }
        Ok(file)
    }
}

/// `top` over `bottom`, option by option (tables merged key by key): the value of each option
/// that `top` sets, else `bottom`'s.
pub(crate) fn layered<T: Serialize + DeserializeOwned>(top: &T, bottom: &T) -> Result<T> {
    let mut merged = toml::Value::try_from(bottom).context("merging the options")?;
    overlay(
        &mut merged,
        toml::Value::try_from(top).context("merging the options")?,
    );
    merged.try_into().context("merging the options")
}

/// Writes every value of `over` into `under`, descending into tables present in both.
fn overlay(under: &mut toml::Value, over: toml::Value) {
    match (under, over) {
        (toml::Value::Table(under), toml::Value::Table(over)) => {
            for (key, value) in over {
                match under.get_mut(&key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        under.insert(key, value);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

/// The first dotted key of `given` that `known` lacks. Every option read from the file is
/// `Some` and so written back into `known`: what is missing there, no option read.
fn unknown_key(given: &toml::Value, known: &toml::Value, prefix: &str) -> Option<String> {
    let (toml::Value::Table(given), toml::Value::Table(known)) = (given, known) else {
        return None;
    };
    given.iter().find_map(|(key, value)| {
        let path = format!("{prefix}{key}");
        match known.get(key) {
            None => Some(path),
            Some(inner) => unknown_key(value, inner, &format!("{path}.")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_at_any_depth() {
        assert!(FileOptions::parse(
            "listen = \"127.0.0.1:1\"\n[password_hash]\nworkers = 2\nmemory_kib = 8"
        )
        .is_ok());
        for (text, key) in [
            ("lisen = \"127.0.0.1:1\"", "lisen"),
            ("[password_hash]\nworker = 2", "password_hash.worker"),
            (
                "[security]\nevent_retention = 2",
                "security.event_retention",
            ),
            ("config = \"x.toml\"", "config"),
        ] {
            let err = FileOptions::parse(text).err().unwrap().to_string();
            assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
        }
    }

    #[test]
    fn the_command_line_is_layered_over_the_file() {
        let file = FileOptions::parse(
            "listen = \"127.0.0.1:1\"\nissuer = \"https://file\"\n[brute_force]\nthreshold = 3\nwait = 9",
        )
        .unwrap();
        let mut flags = ServeOptions {
            issuer: Some("https://flag".into()),
            ..ServeOptions::default()
        };
        flags.brute_force.wait = Some(7);
        let merged = layered(&flags, &file.serve).unwrap();
        assert_eq!(merged.listen, Some("127.0.0.1:1".parse().unwrap()));
        assert_eq!(merged.issuer.as_deref(), Some("https://flag"));
        assert_eq!(merged.brute_force.threshold, Some(3));
        assert_eq!(merged.brute_force.wait, Some(7));
    }
}

//! The command line: `serve`, `demo`, and the `client`, `user` and `keys` commands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::help;
use crate::logging::LogFormat;

/// gatehouse: an OAuth 2.0 authorization server for the password grant (RFC 6749 §4.3).
///
/// Every option can also be set in the environment (shown as [env: ...]) or in the TOML file
/// named by --config; a flag beats the environment, which beats the file, which beats the
/// built-in default.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, long_about, after_long_help = help::MAIN)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Database URL: sqlite://PATH (created and migrated when new) or postgres://...
    /// [default: sqlite://gatehouse.db]
    #[arg(
        long,
        env = "GATEHOUSE_DATABASE_URL",
        // The URL may hold a password: --help must not print it.
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub(crate) database: Option<String>,

    /// A TOML configuration file; see docs/configuration.md.
    #[arg(long, env = "GATEHOUSE_CONFIG", global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// argon2id memory cost in KiB [default: 19456, OWASP's minimum]
    #[arg(
        long,
        env = "GATEHOUSE_ARGON2_MEMORY_KIB",
        global = true,
        value_name = "KIB"
    )]
    pub(crate) argon2_memory_kib: Option<u32>,

    /// argon2id passes over memory [default: 2]
    #[arg(
        long,
        env = "GATEHOUSE_ARGON2_ITERATIONS",
        global = true,
        value_name = "N"
    )]
    pub(crate) argon2_iterations: Option<u32>,

    /// argon2id lanes [default: 1]
    #[arg(
        long,
        env = "GATEHOUSE_ARGON2_PARALLELISM",
        global = true,
        value_name = "N"
    )]
    pub(crate) argon2_parallelism: Option<u32>,

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
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve the OAuth endpoints over HTTP or HTTPS.
    ///
    /// Opens (creating and migrating) the database, loads or creates the signing key, and
    /// serves the token endpoint and the operations endpoints until SIGTERM or Ctrl-C.
    #[command(after_long_help = help::SERVE)]
    Serve(ServeArgs),
    /// Start a server on a throwaway database with a demo client and user, and print curl
    /// commands to try, one per documented product.
    #[command(after_long_help = help::DEMO)]
    Demo(DemoArgs),
    /// Manage clients (RFC 6749 §2): register, list, show, remove.
    #[command(subcommand, after_long_help = help::CLIENT)]
    Client(ClientCommand),
    /// Manage users (resource owners): add, list, show, remove, set a password.
    #[command(subcommand, after_long_help = help::USER)]
    User(UserCommand),
    /// Manage signing keys.
    #[command(subcommand, after_long_help = help::KEYS)]
    Keys(KeysCommand),
    /// Print audit events as JSON lines, newest first.
    #[command(after_long_help = help::EVENTS)]
    Events(crate::security_cli::EventsArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new signing key. Running servers start signing with it within a few seconds; the
    /// previous key stays published until every token it signed has expired.
    Rotate {
        /// Algorithm: EdDSA, ES256 or RS256 [default: the configured signing_alg]
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
    /// List signing keys and their state (current, published, retired).
    List,
}

/// Options of `serve`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "GATEHOUSE_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Issuer identifier: the server's public base URL [default: http://LISTEN-ADDRESS]
    #[arg(long, env = "GATEHOUSE_ISSUER", value_name = "URL")]
    pub(crate) issuer: Option<String>,

    /// Access-token signing algorithm: EdDSA, ES256 or RS256 [default: EdDSA]
    #[arg(long, env = "GATEHOUSE_SIGNING_ALG", value_name = "ALG")]
    pub(crate) signing_alg: Option<String>,

    /// Password hashes computed at once [default: the number of CPUs]
    #[arg(long, env = "GATEHOUSE_HASH_WORKERS", value_name = "N")]
    pub(crate) hash_workers: Option<usize>,

    /// Password requests admitted beyond those being hashed; more are shed at once with 503 and
    /// Retry-After [default: one per hash worker]
    #[arg(long, env = "GATEHOUSE_HASH_QUEUE", value_name = "N")]
    pub(crate) hash_queue: Option<usize>,

    /// Nice value (0 to 19) added to the async runtime's threads so the password-hash workers,
    /// left at normal priority, get the CPU first under load; 0 disables [default: 0]
    #[arg(long, env = "GATEHOUSE_RUNTIME_NICE", value_name = "N")]
    pub(crate) runtime_nice: Option<i32>,

    /// Seconds between sweeps that delete expired tokens, codes and replay entries
    /// [default: 60]
    #[arg(long, env = "GATEHOUSE_CLEANUP_INTERVAL", value_name = "SECS")]
    pub(crate) cleanup_interval: Option<u64>,
    /// Bearer token of the admin API (/Client, /User); at least 16 characters. Without one the
    /// admin API is off. Prefer the environment or the file: a flag shows in the process list.
    #[arg(
        long,
        env = "GATEHOUSE_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) admin_token: Option<String>,

    /// Audiences accepted in client assertions: issuer, or issuer-or-token-endpoint
    /// [default: issuer-or-token-endpoint]
    #[arg(long, env = "GATEHOUSE_ASSERTION_AUDIENCE", value_name = "POLICY")]
    pub(crate) assertion_audience: Option<String>,

    /// Longest accepted client-assertion lifetime (exp - now) in seconds [default: 300]
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
    #[arg(long, env = "GATEHOUSE_REQUEST_TIMEOUT", value_name = "SECS")]
    pub(crate) request_timeout: Option<u32>,

    /// Seconds a client has for the TLS handshake and for each request's headers, and that an
    /// HTTP/1.1 connection may idle between requests [default: 10]
    #[arg(long, env = "GATEHOUSE_HEADER_TIMEOUT", value_name = "SECS")]
    pub(crate) header_timeout: Option<u32>,

    /// Connections served at once; further ones wait to be accepted [default: 1024]
    #[arg(long, env = "GATEHOUSE_MAX_CONNECTIONS", value_name = "N")]
    pub(crate) max_connections: Option<u32>,

    /// Also serve /metrics over plain HTTP on this address [default: none]
    #[arg(long, env = "GATEHOUSE_METRICS_LISTEN", value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,

    #[command(flatten)]
    pub(crate) security: crate::security_config::SecurityArgs,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "GATEHOUSE_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub(crate) enum ClientCommand {
    /// Register a client. Without --secret or --generate-secret it is public.
    #[command(after_long_help = help::CLIENT)]
    Add(ClientAddArgs),
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// Client id.
        id: String,
    },
    /// Remove a client.
    Remove {
        /// Client id.
        id: String,
    },
}

/// Options of `client add`.
#[derive(Debug, Args)]
pub(crate) struct ClientAddArgs {
    /// Client id: 1 to 128 characters from A-Z a-z 0-9 . _ ~ @ -
    pub(crate) id: String,
    /// The client secret (stored as an argon2id hash). Visible to other local users in the
    /// process list; prefer --generate-secret.
    #[arg(long, conflicts_with = "generate_secret", value_name = "S")]
    pub(crate) secret: Option<String>,
    /// Generate a 256-bit secret and print it once.
    #[arg(long)]
    pub(crate) generate_secret: bool,
    /// Grants the client may use, comma-separated [default: password]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub(crate) grant_types: Vec<String>,
    /// Scopes the client may request, space-separated.
    #[arg(long, default_value = "", value_name = "SCOPES")]
    pub(crate) scopes: String,
    /// Scopes granted when a request names none, space-separated.
    #[arg(long, default_value = "", value_name = "SCOPES")]
    pub(crate) default_scopes: String,
    /// Access-token lifetime in seconds, at most 86400 [default: 3600]
    #[arg(long, value_name = "SECS")]
    pub(crate) access_token_ttl: Option<u32>,
    /// A JWK Set file with the client's public keys, for private_key_jwt (RFC 7523).
    #[arg(long, value_name = "PATH")]
    pub(crate) jwks_file: Option<PathBuf>,
    /// Redirect URI of Aidbox's secure code flow: password requests then need a code from
    /// GET /auth/authorize.
    #[arg(long, value_name = "URI")]
    pub(crate) redirect_uri: Option<String>,
    /// Let this confidential client name its end user's address with `auth0-forwarded-for`.
    #[arg(long)]
    pub(crate) trust_forwarded_for: bool,
    /// The one client-authentication method allowed: client_secret_basic,
    /// client_secret_post, private_key_jwt or none [default: any the credentials support]
    #[arg(long, value_name = "METHOD")]
    pub(crate) token_endpoint_auth_method: Option<String>,
    /// Access-token format: jwt or opaque (random, resolved by introspection) [default: jwt]
    #[arg(long, value_name = "FORMAT")]
    pub(crate) token_format: Option<String>,
    /// Absolute refresh-token lifetime in seconds [default: 2592000, 30 days]
    #[arg(long, value_name = "SECS")]
    pub(crate) refresh_token_ttl: Option<u32>,
    /// Idle refresh-token lifetime in seconds [default: 604800, 7 days]
    #[arg(long, value_name = "SECS")]
    pub(crate) refresh_token_idle_ttl: Option<u32>,
    /// Legacy: HS256 signs this client's access tokens, keyed by its secret, so that
    /// `jwt.verify(token, client_secret)` works. The secret is then kept sealed under the server
    /// key rather than hashed.
    #[arg(long, value_name = "ALG")]
    pub(crate) access_token_alg: Option<String>,
    /// Second factor for this client's users: off, optional (users who enrolled one) or
    /// required (every user; one without a factor enrols through /mfa/associate) [default: off]
    #[arg(long, value_name = "POLICY")]
    pub(crate) mfa: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user; the password is read from standard input.
    #[command(after_long_help = help::USER)]
    Add(UserAddArgs),
    /// List users.
    List,
    /// Show one user.
    Show {
        /// Username.
        username: String,
    },
    /// Remove a user.
    Remove {
        /// Username.
        username: String,
    },
    /// Import users from a JSON-lines file (argon2, bcrypt, PBKDF2 hashes or Keycloak
    /// credentials); users that exist already are skipped, bad lines are reported by number.
    Import {
        /// The file, one JSON object per line; `-` for standard input.
        file: std::path::PathBuf,
    },
    /// Lift a user's lockout and forget their failed logins.
    Unlock {
        /// Username.
        username: String,
    },
    /// List or remove a user's second factors (TOTP, recovery code).
    #[command(subcommand)]
    Mfa(UserMfaCommand),
    /// Replace a user's password, read from standard input.
    SetPassword {
        /// Username.
        username: String,
        /// Read the password from standard input (one trailing newline is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// `user mfa …`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserMfaCommand {
    /// List a user's factors as JSON (never a secret).
    List {
        /// Username.
        username: String,
    },
    /// Remove a factor; removing the TOTP factor removes the recovery code too, so the user
    /// enrols again at their next login through a client that requires MFA.
    Remove {
        /// Username.
        username: String,
        /// The factor's id, as `user mfa list` shows it.
        id: String,
    },
}

/// Options of `user add`.
#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    /// Username; matched case-insensitively (PRECIS UsernameCaseMapped, RFC 8265).
    pub(crate) username: String,
    /// Read the password from standard input (one trailing newline is dropped).
    #[arg(long, required = true)]
    pub(crate) password_stdin: bool,
    /// Email address, released with the `email` scope.
    #[arg(long, value_name = "E")]
    pub(crate) email: Option<String>,
    /// Phone number, released with the `phone` scope.
    #[arg(long, value_name = "P")]
    pub(crate) phone: Option<String>,
    /// Scopes this user may be granted, space-separated [default: whatever the client allows]
    #[arg(long, value_name = "SCOPES")]
    pub(crate) scopes: Option<String>,
}

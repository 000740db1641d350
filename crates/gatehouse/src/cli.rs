//! The command line: `serve`, `demo`, and the `client`, `user`, `session`, `keys`, `events` and
//! `blocklist` commands.
//! The configuration options (global and of `serve`) are declared in `options.rs`; this file
//! declares the commands and their own arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::help;
use crate::options::{GlobalOptions, ServeOptions};

/// gatehouse: an OAuth 2.0 authorization server for the password grant (RFC 6749 §4.3).
///
/// Every option can also be set in the environment (shown as [env: ...]) or in the TOML file
/// named by --config; a flag beats the environment, which beats the file, which beats the
/// built-in default.
#[derive(Parser)]
#[command(name = "gatehouse", version, about, long_about, after_long_help = help::MAIN)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalOptions,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Serve the OAuth endpoints over HTTP or HTTPS.
    ///
    /// Opens (creating and migrating) the database, loads or creates the signing key, and
    /// serves the token endpoint and the operations endpoints until SIGTERM or Ctrl-C.
    #[command(after_long_help = help::SERVE)]
    Serve(ServeOptions),
    /// Start a server on a throwaway database with a demo client and user, and print curl
    /// commands to try, one per documented product.
    #[command(after_long_help = help::DEMO)]
    Demo(DemoArgs),
    /// Manage clients (RFC 6749 §2): register, list, show, remove.
    #[command(subcommand, after_long_help = help::CLIENT)]
    Client(ClientCommand),
    /// Manage users (resource owners): add, list, show, remove, set a password, disable.
    #[command(subcommand, after_long_help = help::USER)]
    User(UserCommand),
    /// List and end sessions (logins: token families) of users and clients.
    #[command(subcommand, after_long_help = help::SESSION)]
    Session(SessionCommand),
    /// Manage signing keys.
    #[command(subcommand, after_long_help = help::KEYS)]
    Keys(KeysCommand),
    /// Print audit events as JSON lines, newest first.
    #[command(after_long_help = help::EVENTS)]
    Events(EventsArgs),
    /// Breached-password filter files for --password-blocklist.
    #[command(subcommand, after_long_help = help::BLOCKLIST)]
    Blocklist(crate::breached::BlocklistCommand),
    /// Send audit events to HTTP endpoints (Standard Webhooks): add, list, update, remove,
    /// test, the delivery log, replay.
    #[command(subcommand, after_long_help = help::WEBHOOK)]
    Webhook(WebhookCommand),
}

/// `webhook …`. The fields are those of the admin API's Webhook resource: url, events,
/// secret, description, enabled.
#[derive(Debug, Subcommand)]
pub(crate) enum WebhookCommand {
    /// Add an endpoint; prints it with its secret (whsec_…), shown this once.
    Add {
        /// Where deliveries are POSTed (https; http and local addresses only with
        /// --webhook-allow-private on).
        url: String,
        /// Event kinds to send, comma-separated (e.g. login_failure,lockout), or * for all.
        #[arg(long, value_name = "KINDS", value_delimiter = ',', required = true)]
        events: Vec<String>,
        /// The signing secret (whsec_ and 24 to 64 bytes in base64) [default: generated]
        #[arg(long, value_name = "WHSEC")]
        secret: Option<String>,
        /// Free text for operators.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Whether deliveries are made: true or false [default: true]
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
    },
    /// List endpoints (never a secret).
    List,
    /// Show one endpoint.
    Show {
        /// The endpoint id (wh_…).
        id: String,
    },
    /// Change an endpoint's fields; those not given stay. Enabling a disabled endpoint clears
    /// its failure record.
    Update {
        /// The endpoint id.
        id: String,
        /// A new URL.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// New event kinds, comma-separated, or *.
        #[arg(long, value_name = "KINDS", value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// A new secret (whsec_…), or `generate` for a new random one (printed this once).
        #[arg(long, value_name = "WHSEC")]
        secret: Option<String>,
        /// A new description; an empty one removes it.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// true or false.
        #[arg(long, value_name = "BOOL")]
        enabled: Option<bool>,
    },
    /// Remove an endpoint and its delivery log.
    Remove {
        /// The endpoint id.
        id: String,
    },
    /// Send a signed `webhook.test` message to an endpoint now and print what it answered.
    Test {
        /// The endpoint id.
        id: String,
    },
    /// An endpoint's delivery log, newest first: status, attempts, last status and error.
    Deliveries {
        /// The endpoint id.
        id: String,
        /// Only pending, delivered or failed deliveries.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
        /// At most this many (1 to 1000) [default: 100]
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
    },
    /// Send deliveries again, with their original webhook-id: one (--delivery), the failed
    /// ones (--failed) or all (--all), made since --since; prints how many.
    Replay {
        /// The endpoint id.
        id: String,
        /// This delivery (an id from `webhook deliveries`).
        #[arg(long, value_name = "N", conflicts_with_all = ["failed", "all"])]
        delivery: Option<i64>,
        /// Every delivery whose attempts all failed.
        #[arg(long, conflicts_with = "all")]
        failed: bool,
        /// Every delivery, whatever became of it.
        #[arg(long)]
        all: bool,
        /// Only deliveries made at or after this Unix time (seconds) [default: all kept]
        #[arg(long, value_name = "UNIX_SECS")]
        since: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new default signing key, and a new key of each other algorithm clients name
    /// (id_token_signed_response_alg, access_token_alg). Running servers start signing with
    /// them within a few seconds; the previous keys stay published until every token they
    /// signed has expired.
    Rotate {
        /// Algorithm of the default key: EdDSA, ES256 or RS256 [default: the configured
        /// signing_alg]
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
    /// List signing keys and their state (current, published, retired).
    List,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "GATEHOUSE_LISTEN", value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,
    /// Serve HTTPS with a freshly generated self-signed certificate (written next to the demo
    /// database, deleted with it), for SDKs that refuse plain http; prints how to trust it.
    #[arg(long)]
    pub(crate) tls: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub(crate) enum ClientCommand {
    /// Register a client. Without --secret or --generate-secret it is public.
    #[command(after_long_help = help::CLIENT)]
    Add(ClientAddArgs),
    /// Change some settings of a client; the others and its secret stay as they are.
    #[command(after_long_help = help::CLIENT)]
    Update(ClientUpdateArgs),
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
    /// Grants the client may use, comma-separated: password, refresh_token, client_credentials
    /// [default: password]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub(crate) grant_types: Vec<String>,
    /// Scopes the client may request, space-separated.
    #[arg(long, default_value = "", value_name = "SCOPES")]
    pub(crate) scopes: String,
    /// Scopes granted when a request names none, space-separated.
    #[arg(long, default_value = "", value_name = "SCOPES")]
    pub(crate) default_scopes: String,
    /// Access-token lifetime in seconds, at most 86400 [default: 3600]
    #[arg(long, visible_alias = "access-token-expiration", value_name = "SECS")]
    pub(crate) access_token_ttl: Option<u32>,
    /// Whether the client must present its secret (Aidbox's secret_required); false lets a
    /// client that has one authenticate with client_id alone [default: true]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, default_value_t = true)]
    pub(crate) secret_required: bool,
    /// Add (true) or drop (false) the refresh_token grant, as Aidbox's refresh_token.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub(crate) refresh_token: Option<bool>,
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
    /// client_secret_post, client_secret_jwt (needs the server key, which seals the secret),
    /// private_key_jwt or none [default: any the credentials support]
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
    /// How this client's JWT access tokens are signed: server (the server's default key),
    /// EdDSA, ES256 or RS256 (the server's key of that algorithm, made when needed), or legacy
    /// HS256, keyed by the client secret so that `jwt.verify(token, client_secret)` works (the
    /// secret is then kept sealed under the server key rather than hashed) [default: server]
    #[arg(long, value_name = "ALG")]
    pub(crate) access_token_alg: Option<String>,
    /// Algorithm of this client's id_tokens: EdDSA, ES256 or RS256 (Auth0's SDKs accept RS256
    /// only), or default for the server's default key [default: default]
    #[arg(long, value_name = "ALG")]
    pub(crate) id_token_signed_response_alg: Option<String>,
    /// Second factor for this client's users: off, optional (users who enrolled one) or
    /// required (every user; one without a factor enrols through /mfa/associate) [default: off]
    #[arg(long, value_name = "POLICY")]
    pub(crate) mfa: Option<String>,
    /// A claim mapper, repeatable: NAME=value:V (a static value; V is parsed as JSON when it
    /// parses, else taken as a string), NAME=attribute:A (the user's attribute A) or
    /// NAME=roles (the user's roles), optionally followed by ;scope=S (released only with
    /// scope S) and ;in=T,T (access_token, id_token, userinfo, introspection) [default: in
    /// all four]
    #[arg(long, value_name = "MAPPER")]
    pub(crate) claim: Vec<String>,
    #[command(flatten)]
    pub(crate) sessions: SessionLimitArgs,
    #[command(flatten)]
    pub(crate) passwords: ClientPasswordArgs,
}

/// Options of `client update`: each one given replaces the stored setting, as the same field
/// of a PUT /Client/ID would; an empty value ('') removes an optional one.
#[derive(Debug, Args)]
pub(crate) struct ClientUpdateArgs {
    /// Client id.
    pub(crate) id: String,
    /// A new client secret. Visible to other local users in the process list; prefer
    /// --generate-secret.
    #[arg(long, conflicts_with = "generate_secret", value_name = "S")]
    pub(crate) secret: Option<String>,
    /// Generate a new 256-bit secret and print it once.
    #[arg(long)]
    pub(crate) generate_secret: bool,
    /// Grants the client may use, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub(crate) grant_types: Option<Vec<String>>,
    /// Add (true) or drop (false) the refresh_token grant.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub(crate) refresh_token: Option<bool>,
    /// Scopes the client may request, space-separated.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) scopes: Option<String>,
    /// Scopes granted when a request names none, space-separated.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) default_scopes: Option<String>,
    /// Access-token lifetime in seconds, at most 86400.
    #[arg(long, visible_alias = "access-token-expiration", value_name = "SECS")]
    pub(crate) access_token_ttl: Option<u32>,
    /// Absolute refresh-token lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) refresh_token_ttl: Option<u32>,
    /// Idle refresh-token lifetime in seconds.
    #[arg(long, value_name = "SECS")]
    pub(crate) refresh_token_idle_ttl: Option<u32>,
    /// Access-token format: jwt or opaque.
    #[arg(long, value_name = "FORMAT")]
    pub(crate) token_format: Option<String>,
    /// A JWK Set file with the client's public keys; '' removes them.
    #[arg(long, value_name = "PATH")]
    pub(crate) jwks_file: Option<PathBuf>,
    /// client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none;
    /// '' for any the credentials support.
    #[arg(long, value_name = "METHOD")]
    pub(crate) token_endpoint_auth_method: Option<String>,
    /// Whether the client must present its secret.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub(crate) secret_required: Option<bool>,
    /// Whether this confidential client may name its end user's address.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub(crate) trust_forwarded_for: Option<bool>,
    /// Redirect URI of the secure code flow; '' removes it.
    #[arg(long, value_name = "URI")]
    pub(crate) redirect_uri: Option<String>,
    /// Second factor for this client's users: off, optional or required.
    #[arg(long, value_name = "POLICY")]
    pub(crate) mfa: Option<String>,
    /// How JWT access tokens are signed: server, EdDSA, ES256 or RS256, or HS256 (switching
    /// to or from HS256 needs a new secret: give --secret or --generate-secret with it).
    #[arg(long, value_name = "ALG")]
    pub(crate) access_token_alg: Option<String>,
    /// Algorithm of id_tokens: EdDSA, ES256, RS256, or default for the server's default key.
    #[arg(long, value_name = "ALG")]
    pub(crate) id_token_signed_response_alg: Option<String>,
    /// A claim mapper, repeatable, as in `client add`; the mappers given replace the stored
    /// ones.
    #[arg(long, value_name = "MAPPER", conflicts_with = "no_claims")]
    pub(crate) claim: Vec<String>,
    /// Remove every claim mapper.
    #[arg(long)]
    pub(crate) no_claims: bool,
    #[command(flatten)]
    pub(crate) sessions: SessionLimitArgs,
    #[command(flatten)]
    pub(crate) passwords: ClientPasswordArgs,
}

/// A client's password rules, in `client add` and `client update`.
#[derive(Debug, Args)]
pub(crate) struct ClientPasswordArgs {
    /// What a login with a breached or common password does: off, flag (it succeeds; an event
    /// and the user's password_change_required record it) or block (Auth0's password_leaked
    /// until the password is changed), or `default` for the server's
    /// --breached-password-default [default: the server's]
    #[arg(long, value_name = "POLICY")]
    pub(crate) breached_password: Option<String>,
    /// The client's own password rules over the server's, as KEY=VALUE pairs separated by
    /// commas: min_length=N (1 to 1024), require_classes=N (0 to 4); '' for the server's
    #[arg(long, value_name = "RULES")]
    pub(crate) password_policy: Option<String>,
}

/// A client's session limit, in `client add` and `client update`.
#[derive(Debug, Args)]
pub(crate) struct SessionLimitArgs {
    /// Live sessions one user may hold with this client, 0 for no limit, or `default` for the
    /// server's --max-sessions-per-user [default: the server's]
    #[arg(long, value_name = "N")]
    pub(crate) max_sessions_per_user: Option<String>,
    /// What a login beyond the limit does: evict_oldest (the oldest session is revoked) or
    /// deny (the login gets invalid_grant), or `default` for the server's
    /// --session-limit-policy [default: the server's]
    #[arg(long, value_name = "POLICY")]
    pub(crate) session_limit_policy: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user; the password is read from standard input.
    #[command(after_long_help = help::USER)]
    Add(UserAddArgs),
    /// List users, with the store each came from and where its password is checked.
    #[command(after_long_help = help::USER_LIST)]
    List {
        /// Only the users that came from this external user store (`[[user_store]]` name);
        /// `local` lists the users created here.
        #[arg(long, value_name = "NAME")]
        store: Option<String>,
    },
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
        /// Import plaintext passwords (`"password"` lines) even if they fail the password
        /// policy; each is recorded as a weak_password_allowed event.
        #[arg(long)]
        allow_weak_password: bool,
    },
    /// Lift a user's lockout and forget their failed logins.
    Unlock {
        /// Username.
        username: String,
    },
    /// List or remove a user's second factors (TOTP, recovery code).
    #[command(subcommand)]
    Mfa(UserMfaCommand),
    /// Replace a user's password, read from standard input; ends the user's sessions as
    /// --sessions-on-password-change says.
    SetPassword {
        /// Username.
        username: String,
        /// Read the password from standard input (one trailing newline is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// With --sessions-on-password-change all-but-current: the session that stays alive.
        #[arg(long, value_name = "SID")]
        keep_session: Option<String>,
        /// Set the password even if it fails the password policy or is on a breached list;
        /// recorded as a weak_password_allowed event.
        #[arg(long)]
        allow_weak_password: bool,
    },
    /// Change some fields of a user; the others and the password stay as they are
    /// (`set-password` replaces the password).
    #[command(after_long_help = help::USER)]
    Update(UserUpdateArgs),
    /// Disable a user: their logins fail like a wrong password, and their sessions end.
    Disable {
        /// Username.
        username: String,
    },
    /// Enable a disabled user; the sessions that ended stay ended.
    Enable {
        /// Username.
        username: String,
    },
}

/// `session …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// List live sessions as JSON, newest first (never a token).
    List {
        /// Only this user's sessions.
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
        /// Only the sessions with this client.
        #[arg(long, value_name = "ID")]
        client: Option<String>,
    },
    /// End one session (ID), or every session of a user and/or a client; prints the ids of
    /// the sessions ended.
    Revoke {
        /// The session id.
        #[arg(required_unless_present_any = ["user", "client"])]
        id: Option<String>,
        /// Every session of this user (with --client: only those with that client).
        #[arg(long, value_name = "USERNAME")]
        user: Option<String>,
        /// Every session with this client.
        #[arg(long, value_name = "ID")]
        client: Option<String>,
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
    /// Whether the user may log in; false adds them disabled [default: true]
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, default_value_t = true)]
    pub(crate) active: bool,
    /// An attribute, repeatable: KEY=VALUE, VALUE parsed as JSON when it parses (level=3, or a
    /// JSON list or object), else taken as a string (department=sales).
    #[arg(long, visible_alias = "attr", value_name = "KEY=VALUE")]
    pub(crate) attribute: Vec<String>,
    /// A role, repeatable (e.g. gatehouse:admin).
    #[arg(long, value_name = "ROLE")]
    pub(crate) role: Vec<String>,
    /// Set the password even if it fails the password policy or is on a breached list;
    /// recorded as a weak_password_allowed event.
    #[arg(long)]
    pub(crate) allow_weak_password: bool,
}

/// Options of `user update`: each one given replaces the stored field, as the same field of a
/// PUT /User/USERNAME would; '' removes an optional one.
#[derive(Debug, Args)]
pub(crate) struct UserUpdateArgs {
    /// Username.
    pub(crate) username: String,
    /// Email address; '' removes it.
    #[arg(long, value_name = "E")]
    pub(crate) email: Option<String>,
    /// Phone number; '' removes it.
    #[arg(long, value_name = "P")]
    pub(crate) phone: Option<String>,
    /// Scopes this user may be granted, space-separated; '' for whatever the client allows.
    #[arg(long, value_name = "SCOPES")]
    pub(crate) scopes: Option<String>,
    /// Whether the user may log in; false ends their sessions.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set)]
    pub(crate) active: Option<bool>,
    /// Set an attribute, repeatable: KEY=VALUE (VALUE parsed as JSON when it parses, else a
    /// string); KEY= removes it. The other attributes stay.
    #[arg(long, visible_alias = "attr", value_name = "KEY=VALUE")]
    pub(crate) attribute: Vec<String>,
    /// Remove every attribute (before any --attribute is applied).
    #[arg(long)]
    pub(crate) no_attributes: bool,
    /// A role, repeatable; the roles given replace the stored ones.
    #[arg(long, value_name = "ROLE", conflicts_with = "no_roles")]
    pub(crate) role: Vec<String>,
    /// Remove every role.
    #[arg(long)]
    pub(crate) no_roles: bool,
}

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

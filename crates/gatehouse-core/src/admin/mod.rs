//! The application layer over clients, users, their second factors, audit events and signing
//! keys: the one place where they are created, changed and removed. The admin API and the
//! command line both call it; the API renders the Aidbox-compatible `Client` and `User`
//! resources (`client.rs`, `user.rs`), the CLI prints its own JSON. Bodies arrive as JSON values
//! (the HTTP layer reads JSON or YAML); invalid ones are `InvalidBody` naming the field. Changes
//! are written straight to the store, so the next request sees them, and each is recorded as an
//! audit event whose `detail.via` says where it came from.
//!
//! - `clients.rs`, `users.rs`, `mfa.rs`: the operations, each in a domain form (returning a
//!   [`Client`](crate::client::Client), a [`User`](crate::user::User)…) and, for the admin API,
//!   a rendered one.
//! - `sessions.rs`: listing and ending sessions, and the sessions other changes end.
//! - `keys.rs`: [`keys::SigningKeys`], the race-free addition of signing keys that `serve` and
//!   `keys rotate` share.

mod client;
mod clients;
pub mod console;
pub(crate) mod fields;
pub mod keys;
pub mod mfa;
pub mod sessions;
mod user;
mod users;

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::audit::{AuditLog, Event, EventFilter, EventKind, EventSubject, RequestContext};
use crate::clock::Clock;
use crate::error::Error;
use crate::login_guard::LoginGuard;
use crate::password::PasswordHasher;
use crate::password_rules::PasswordRules;
use crate::sealing::Sealer;
use crate::store::Store;

pub use client::CLIENT_FIELDS;
pub use clients::NewClient;
pub use fields::set_path;
pub use sessions::{PasswordChangeSessions, SessionQuery};
pub use user::{password_checked_by, USER_FIELDS, USER_WRITE_OPTIONS};
pub use users::{Imported, NewUser};

/// Where a change came from, recorded as `detail.via` (`detail.by` for factor removals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The admin API (`"admin_api"`).
    AdminApi,
    /// The command line (`"cli"`), which has no address or request id.
    Cli,
    /// A user's own change (`"self_service"`, `POST /account/password`).
    SelfService,
    /// The web console (`"console"`), signed in as an administrator.
    Console,
}

impl Via {
    /// The recorded name.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::AdminApi => "admin_api",
            Via::Cli => "cli",
            Via::SelfService => "self_service",
            Via::Console => "console",
        }
    }
}

/// Runs the admin operations of the admin API and the command line.
pub struct AdminService {
    store: Arc<dyn Store>,
    hasher: Arc<PasswordHasher>,
    clock: Arc<dyn Clock>,
    /// SHA-256 of the admin API's bearer token; `None` (the CLI) authorizes no request.
    token_digest: Option<[u8; 32]>,
    sealer: Option<Arc<Sealer>>,
    guard: Arc<LoginGuard>,
    audit: Arc<AuditLog>,
    via: Via,
    password_change_sessions: PasswordChangeSessions,
    rules: Arc<PasswordRules>,
}

impl AdminService {
    /// The admin API's service, guarded by `token`.
    pub fn new(
        store: Arc<dyn Store>,
        hasher: Arc<PasswordHasher>,
        clock: Arc<dyn Clock>,
        token: &SecretString,
    ) -> Self {
        let mut service = Self::for_cli(store, hasher, clock);
        service.token_digest = Some(Sha256::digest(token.expose_secret().as_bytes()).into());
        service.via = Via::AdminApi;
        service
    }

    /// The command line's service: no token, and changes are recorded as made `via: "cli"`.
    pub fn for_cli(
        store: Arc<dyn Store>,
        hasher: Arc<PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let audit = Arc::new(AuditLog::new(store.clone(), clock.clone()));
        AdminService {
            guard: Arc::new(LoginGuard::new(store.clone(), clock.clone(), audit.clone())),
            audit,
            store,
            hasher,
            clock,
            token_digest: None,
            sealer: None,
            via: Via::Cli,
            password_change_sessions: PasswordChangeSessions::All,
            rules: Arc::new(PasswordRules::default()),
        }
    }

    /// Holds every password set to `rules` (the policy, the breached lists, the history).
    pub fn with_password_rules(mut self, rules: Arc<PasswordRules>) -> Self {
        self.rules = rules;
        self
    }

    /// Records its changes as made `via` (the CLI's default is `cli`).
    pub fn via(mut self, via: Via) -> Self {
        self.via = via;
        self
    }

    /// Which sessions a password change ends (`--sessions-on-password-change`).
    pub fn with_password_change_sessions(mut self, policy: PasswordChangeSessions) -> Self {
        self.password_change_sessions = policy;
        self
    }

    /// Seals client secrets that must stay readable (`client_secret_jwt`, HS256 clients) under
    /// the server key.
    pub fn with_sealer(mut self, sealer: Arc<Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Unlocks accounts `guard` locked.
    pub fn with_guard(mut self, guard: Arc<LoginGuard>) -> Self {
        self.guard = guard;
        self
    }

    /// Records changes in `audit`.
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = audit;
        self
    }

    /// Whether `presented` is the admin token. Both sides are hashed first, so the comparison
    /// takes the same time whatever the length or content of the guess.
    pub fn is_authorized(&self, presented: &str) -> bool {
        let Some(expected) = &self.token_digest else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(expected))
    }

    /// Audit events, newest first.
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, Error> {
        self.audit.list(filter).await
    }

    /// `GET /Event`: audit events, newest first, as a Bundle.
    pub async fn events(&self, filter: &EventFilter) -> Result<Value, Error> {
        let resources = self
            .list_events(filter)
            .await?
            .into_iter()
            .map(|e| {
                let mut v = serde_json::to_value(e).map_err(Error::internal)?;
                v["resourceType"] = json!("Event");
                Ok(v)
            })
            .collect::<Result<Vec<Value>, Error>>()?;
        Ok(bundle(resources))
    }

    /// Records an admin change; secrets never reach `detail`.
    async fn changed(
        &self,
        ctx: &RequestContext,
        action: &str,
        client_id: Option<&str>,
        user: Option<&str>,
    ) {
        let detail = json!({ "action": action, "via": self.via.as_str() });
        self.audit
            .record(
                EventKind::AdminChange,
                ctx,
                EventSubject { client_id, user },
                detail,
            )
            .await;
    }
}

pub(crate) fn bundle(resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| json!({ "resource": r }))
        .collect();
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": entries.len(),
        "entry": entries,
    })
}

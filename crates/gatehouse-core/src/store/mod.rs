//! Storage: the only way gatehouse reaches its database, as one small async trait per
//! capability, each object-safe so that a service holds `Arc<dyn …>` of just what it uses:
//!
//! - [`ClientStore`] (clients), [`UserStore`] (users), [`KeyStore`] (signing keys),
//! - [`CodeStore`] (one-time password codes, assertion `jti`s),
//! - [`TokenStore`] (refresh-token families, refresh and access tokens),
//! - [`SessionStore`] (login sessions, listed and ended by administrators),
//! - [`GuardStore`] (lockout and throttle counters), [`EventStore`] (the audit trail),
//! - [`MfaStore`] (second factors, `mfa_token`s), [`MaintenanceStore`] (ping, pool, cleanup),
//! - [`WebhookStore`] (webhook endpoints and their outbox).
//!
//! [`Store`] is all of them, implemented for every type that implements each; an
//! `Arc<dyn Store>` narrows to any one of them by upcasting. Back ends convert their own errors
//! into [`StoreError`]; no database type crosses this boundary, and policy (what a reused token
//! means, who may see what) stays in the core.

mod clients;
mod codes;
mod error;
mod events;
mod guard;
mod keys;
mod maintenance;
mod mfa;
mod sessions;
mod tokens;
mod users;
mod webhooks;

pub use clients::ClientStore;
pub use codes::CodeStore;
pub use error::StoreError;
pub use events::{Event, EventFilter, EventStore};
pub use guard::GuardStore;
pub use keys::{KeyStore, StoredKey};
pub use maintenance::{MaintenanceStore, PoolStats};
pub use mfa::{Authenticator, AuthenticatorKind, MfaStore, MfaTokenRecord};
pub use sessions::{Session, SessionFilter, SessionStore, MAX_LISTED_SESSIONS};
pub use tokens::{
    AccessTokenRecord, NewLogin, Recorded, RefreshTokenRecord, SessionLimit, SessionLimitPolicy,
    TokenFamily, TokenOwner, TokenStore, MAX_USER_AGENT_LEN,
};
pub use users::{PasswordChange, UserStore};
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, Delivery, OutboxStats, ReplaySelection, WebhookRow,
    WebhookStore,
};

/// Everything gatehouse stores: every capability trait. Implemented for each type that
/// implements them all, so a back end implements only the capability traits.
pub trait Store:
    ClientStore
    + UserStore
    + KeyStore
    + CodeStore
    + TokenStore
    + SessionStore
    + GuardStore
    + EventStore
    + MfaStore
    + MaintenanceStore
    + WebhookStore
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: ClientStore
        + UserStore
        + KeyStore
        + CodeStore
        + TokenStore
        + SessionStore
        + GuardStore
        + EventStore
        + MfaStore
        + MaintenanceStore
        + WebhookStore
        + 'static
{
}

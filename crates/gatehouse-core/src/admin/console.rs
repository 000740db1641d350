//! The admin operations only the web console needs: a page of users found by key, events
//! searched by kind, client, address and time, a client's resource as its edit form shows it,
//! a new client secret, and the rotation of the signing keys recorded as an admin change.

use secrecy::SecretString;
use serde_json::Value;

use super::keys::SigningKeys;
use super::AdminService;
use crate::audit::{Event, EventFilter, RequestContext};
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::{SessionFilter, StoredKey, MAX_LISTED_SESSIONS};
use crate::token::keys::SigningAlg;

/// The most users one page lists.
pub const MAX_USER_PAGE: u32 = 200;
/// The most events one search reads (newest first) before its filters that the store does
/// not index (kind, client, address, end time) apply.
pub const EVENT_SCAN: u32 = 1000;

/// What the console's event list asks for.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this kind (`login_success`…).
    pub kind: Option<String>,
    /// Only this user's.
    pub user: Option<String>,
    /// Only this client's.
    pub client_id: Option<String>,
    /// Only from this address.
    pub ip: Option<String>,
    /// Only at or after this Unix time.
    pub since: Option<i64>,
    /// Only before this Unix time.
    pub until: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

impl AdminService {
    /// A page of users: at most `limit` (capped at [`MAX_USER_PAGE`]) whose username comes
    /// after `after` and contains `contains`, rendered as the admin API renders them.
    pub async fn user_page(
        &self,
        after: &str,
        contains: &str,
        limit: u32,
    ) -> Result<Vec<Value>, Error> {
        let contains = contains.trim().to_lowercase();
        let users = self
            .store
            .search_users(after, &contains, limit.clamp(1, MAX_USER_PAGE))
            .await?;
        Ok(users.iter().map(super::user::render).collect())
    }

    /// Events matching `query`, newest first, from the [`EVENT_SCAN`] newest events of its
    /// user since its start.
    pub async fn search_events(&self, query: &EventQuery) -> Result<Vec<Event>, Error> {
        let filter = EventFilter {
            user: query.user.clone(),
            since: query.since,
            limit: EVENT_SCAN,
        };
        let matches = |wanted: &Option<String>, got: &Option<String>| {
            wanted.as_ref().is_none_or(|w| got.as_ref() == Some(w))
        };
        Ok(self
            .list_events(&filter)
            .await?
            .into_iter()
            .filter(|e| query.kind.as_ref().is_none_or(|k| *k == e.kind))
            .filter(|e| matches(&query.client_id, &e.client_id))
            .filter(|e| matches(&query.ip, &e.ip))
            .filter(|e| query.until.is_none_or(|u| e.at < u))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .collect())
    }

    /// A client's resource as a PUT takes it back: the rendered resource without what only
    /// rendering shows.
    pub async fn editable_client(&self, id: &str) -> Result<Value, Error> {
        let mut resource = self.client(id).await?;
        if let Some(fields) = resource.as_object_mut() {
            fields.remove("has_secret");
        }
        Ok(resource)
    }

    /// Gives client `id` a new random secret (256 bits), returned once; recorded as an
    /// `update_client` change.
    pub async fn rotate_client_secret(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<SecretString, Error> {
        let secret = crate::random::token(32);
        let mut body = self.editable_client(id).await?;
        body["secret"] = Value::String(secret.clone());
        self.put_client(ctx, id, &body).await?;
        Ok(SecretString::from(secret))
    }

    /// The live sessions (token families), counted up to the store's listing cap; `true` when
    /// the cap was reached.
    pub async fn live_session_count(&self) -> Result<(usize, bool), Error> {
        let all = self
            .store
            .list_sessions(&SessionFilter::default(), self.clock.now())
            .await?;
        Ok((all.len(), all.len() >= MAX_LISTED_SESSIONS))
    }

    /// The password-hash pool's load: hashes running or waiting, and how many may.
    pub fn hash_pool_load(&self) -> (usize, usize) {
        (self.hasher.in_flight(), self.hasher.capacity())
    }

    /// Every stored signing key and where it stands (current, published, retired).
    pub async fn signing_key_states(&self) -> Result<Vec<super::keys::KeyState>, Error> {
        SigningKeys::new(self.store.clone(), self.clock.clone())
            .states()
            .await
    }

    /// Rotates the signing keys as `gatehouse keys rotate` does (a new default key of `alg`,
    /// and a new key of each algorithm a client names), recorded as a `rotate_keys` change.
    pub async fn rotate_signing_keys(
        &self,
        ctx: &RequestContext,
        alg: SigningAlg,
        sealer: &Sealer,
    ) -> Result<Vec<StoredKey>, Error> {
        let clients = self.store.list_clients().await?;
        let client_algs: Vec<SigningAlg> = clients
            .iter()
            .flat_map(|c| c.settings.signing_algs())
            .collect();
        let keys = SigningKeys::new(self.store.clone(), self.clock.clone());
        let added = keys.rotate(alg, &client_algs, sealer).await?;
        self.changed(ctx, "rotate_keys", None, None).await;
        Ok(added)
    }
}

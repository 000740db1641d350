//! Signing keys in the store: [`SigningKeys::rotate`] (`keys rotate`) adds one, and
//! [`SigningKeys::states`] (`keys list`) says which sign, which are still published and which
//! are retired. A key is always added as the successor of the newest one
//! ([`SigningKeys::add_after`], `Store::insert_next_signing_key`), which the database lets
//! only one writer do: `serve` and `keys rotate` share that race-free insertion, so every
//! instance ends up with the same ring. Running servers reload their ring within a few seconds
//! and keep publishing an old key until every token it signed has expired
//! ([`crate::token::keys::RETIREMENT`]).

use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::{Store, StoreError, StoredKey};
use crate::token::keys::{retired_at, SigningAlg, SigningKey};

/// Attempts at adding a key while other writers keep adding theirs.
const ROUNDS: usize = 4;

/// Adds and lists signing keys.
pub struct SigningKeys {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// A stored key and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct KeyState {
    /// Its key id (RFC 7638 thumbprint).
    pub kid: String,
    /// Its algorithm.
    pub alg: String,
    /// When it was made, in Unix seconds.
    pub created_at: i64,
    /// `current` (signs), `published` (verifies until `retires_at`) or `retired`.
    pub state: &'static str,
    /// When it leaves the ring; `None` for the current key.
    pub retires_at: Option<i64>,
}

impl SigningKeys {
    /// The keys in `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        SigningKeys { store, clock }
    }

    /// Every stored key, oldest first.
    pub async fn stored(&self) -> Result<Vec<StoredKey>, Error> {
        Ok(self.store.signing_keys().await?)
    }

    /// Makes a key of `alg` (its private half sealed by `sealer`) and adds it after the newest
    /// one, trying again after a writer that added one at the same moment; returns the new key.
    pub async fn rotate(&self, alg: SigningAlg, sealer: &Sealer) -> Result<StoredKey, Error> {
        for _ in 0..ROUNDS {
            let stored = self.stored().await?;
            if let Some(key) = self.add_after(alg, stored.last(), sealer).await? {
                return Ok(key);
            }
        }
        Err(Error::internal(
            "other writers kept adding signing keys at the same time",
        ))
    }

    /// Makes a key of `alg` and stores it as the successor of `newest` (`None`: as the first
    /// key); `None` when another writer added a successor first (re-read and decide again).
    pub async fn add_after(
        &self,
        alg: SigningAlg,
        newest: Option<&StoredKey>,
        sealer: &Sealer,
    ) -> Result<Option<StoredKey>, Error> {
        let now = self.clock.now();
        // A key made in the same second as the newest one would not sort after it.
        let created = newest.map_or(now, |n| now.max(n.created_at + 1));
        let key = SigningKey::generate(alg, created, sealer)?;
        let after = newest.map(|k| k.kid.as_str());
        match self.store.insert_next_signing_key(&key, after).await {
            Ok(()) => Ok(Some(key)),
            Err(StoreError::Conflict) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Every stored key with its state, oldest first.
    pub async fn states(&self) -> Result<Vec<KeyState>, Error> {
        let stored = self.stored().await?;
        let now = self.clock.now();
        let states = stored
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let retires_at = retired_at(&stored, i);
                let state = match retires_at {
                    None => "current",
                    Some(at) if at > now => "published",
                    Some(_) => "retired",
                };
                KeyState {
                    kid: k.kid.clone(),
                    alg: k.alg.clone(),
                    created_at: k.created_at,
                    state,
                    retires_at,
                }
            })
            .collect();
        Ok(states)
    }
}

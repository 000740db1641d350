//! Signing keys in the store: [`SigningKeys::rotate`] (`keys rotate`) adds a new default key and
//! a new key of each other algorithm clients name, [`SigningKeys::ensure`] adds a key of an
//! algorithm a client names when the ring has none, and [`SigningKeys::states`] (`keys list`)
//! says which sign, which are still published and which are retired. A key is always added as
//! the successor of the newest one ([`SigningKeys::add_after`],
//! `Store::insert_next_signing_key`), which the database lets only one writer do: `serve`, the
//! admin service, the token endpoint and `keys rotate` share that race-free insertion, so every
//! instance ends up with the same ring and never two current keys of one algorithm. Running
//! servers reload their ring within a few seconds and keep publishing an old key until every
//! token it signed has expired ([`crate::token::keys::RETIREMENT`]).

use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::{KeyStore, StoreError, StoredKey};
use crate::token::keys::{retired_at, SigningAlg, SigningKey};

/// Attempts at adding a key while other writers keep adding theirs.
const ROUNDS: usize = 4;

/// Adds and lists signing keys.
pub struct SigningKeys {
    store: Arc<dyn KeyStore>,
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
    /// Whether it serves the server's default algorithm (`false`: added for the clients that
    /// name its algorithm).
    pub default: bool,
    /// When it leaves the ring; `None` for the current key.
    pub retires_at: Option<i64>,
}

impl SigningKeys {
    /// The keys in `store`.
    pub fn new(store: Arc<dyn KeyStore>, clock: Arc<dyn Clock>) -> Self {
        SigningKeys { store, clock }
    }

    /// Every stored key, oldest first.
    pub async fn stored(&self) -> Result<Vec<StoredKey>, Error> {
        Ok(self.store.signing_keys().await?)
    }

    /// Rotates every current key: adds a new default key of `default_alg` (superseding every
    /// older key), then a new key of each of `client_algs` (the algorithms clients name) other
    /// than `default_alg`. Returns the keys added, the default key first.
    pub async fn rotate(
        &self,
        default_alg: SigningAlg,
        client_algs: &[SigningAlg],
        sealer: &Sealer,
    ) -> Result<Vec<StoredKey>, Error> {
        let mut added = vec![self.add_default(default_alg, sealer).await?];
        for &alg in client_algs {
            if alg != default_alg {
                added.extend(self.ensure(alg, sealer).await?);
            }
        }
        Ok(added)
    }

    /// Makes a key of `alg` serving the default and adds it after the newest one, trying again
    /// after a writer that added one at the same moment; returns the new key.
    pub async fn add_default(&self, alg: SigningAlg, sealer: &Sealer) -> Result<StoredKey, Error> {
        for _ in 0..ROUNDS {
            let stored = self.stored().await?;
            if let Some(key) = self.add_after(alg, true, stored.last(), sealer).await? {
                return Ok(key);
            }
        }
        Err(Error::internal(
            "other writers kept adding signing keys at the same time",
        ))
    }

    /// Adds a key of `alg` for the clients that name it, unless a current key of `alg` (the
    /// default key or one added before) is stored; returns the key added. Of writers doing this
    /// at the same moment (two instances, the admin API and a token request), exactly one adds
    /// a key and the others find it.
    pub async fn ensure(
        &self,
        alg: SigningAlg,
        sealer: &Sealer,
    ) -> Result<Option<StoredKey>, Error> {
        for _ in 0..ROUNDS {
            let stored = self.stored().await?;
            if has_current(&stored, alg) {
                return Ok(None);
            }
            if let Some(key) = self.add_after(alg, false, stored.last(), sealer).await? {
                return Ok(Some(key));
            }
        }
        Err(Error::internal(
            "other writers kept adding signing keys at the same time",
        ))
    }

    /// Makes a key of `alg` (serving the default or not) and stores it as the successor of
    /// `newest` (`None`: as the first key); `None` when another writer added a successor first
    /// (re-read and decide again).
    pub async fn add_after(
        &self,
        alg: SigningAlg,
        serves_default: bool,
        newest: Option<&StoredKey>,
        sealer: &Sealer,
    ) -> Result<Option<StoredKey>, Error> {
        let now = self.clock.now();
        // A key made in the same second as the newest one would not sort after it.
        let created = newest.map_or(now, |n| now.max(n.created_at + 1));
        let key = StoredKey {
            serves_default,
            ..SigningKey::generate(alg, created, sealer)?
        };
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
                    default: k.serves_default,
                    retires_at,
                }
            })
            .collect();
        Ok(states)
    }
}

/// The current default key of `stored` (oldest first): the newest key serving the default that
/// no later key supersedes.
pub fn current_default(stored: &[StoredKey]) -> Option<&StoredKey> {
    stored
        .iter()
        .enumerate()
        .rev()
        .find(|(i, k)| k.serves_default && retired_at(stored, *i).is_none())
        .map(|(_, k)| k)
}

/// Whether `stored` (oldest first) has a current key of `alg`.
pub fn has_current(stored: &[StoredKey], alg: SigningAlg) -> bool {
    stored
        .iter()
        .enumerate()
        .any(|(i, k)| k.alg == alg.as_str() && retired_at(stored, i).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, alg: SigningAlg, at: i64, serves_default: bool) -> StoredKey {
        StoredKey {
            kid: kid.into(),
            alg: alg.as_str().into(),
            private_der: Vec::new(),
            created_at: at,
            serves_default,
        }
    }

    /// The current default key and the current key of each algorithm, as `serve`, `ensure` and
    /// `rotate` decide on them.
    #[test]
    fn current_keys_follow_supersession() {
        let d1 = key("d1", SigningAlg::EdDSA, 1, true);
        let r1 = key("r1", SigningAlg::RS256, 2, false);
        assert_eq!(
            current_default(&[d1.clone(), r1.clone()]).unwrap().kid,
            "d1"
        );
        assert!(has_current(&[d1.clone(), r1.clone()], SigningAlg::RS256));
        assert!(has_current(&[d1.clone(), r1.clone()], SigningAlg::EdDSA));
        assert!(!has_current(&[d1.clone(), r1.clone()], SigningAlg::ES256));
        // A new default key (a rotation, or another signing_alg) supersedes the clients' keys.
        let d2 = key("d2", SigningAlg::ES256, 3, true);
        let stored = [d1, r1, d2];
        assert_eq!(current_default(&stored).unwrap().kid, "d2");
        assert!(!has_current(&stored, SigningAlg::RS256));
        assert!(!has_current(&stored, SigningAlg::EdDSA));
        assert!(current_default(&[]).is_none());
    }
}

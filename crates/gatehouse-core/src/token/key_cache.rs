//! [`Keys`]: the signing keys in force, shared by every service that signs or verifies. The ring
//! is read from the store at most every [`KEY_RELOAD_SECS`], so that keys made by `gatehouse keys
//! rotate` (another process) are picked up, and served from memory in between. A client that
//! names an algorithm the ring has no current key of gets one made at once
//! ([`Keys::signer`]), through the same race-free insertion as `serve` and `keys rotate`.

use std::sync::{Arc, RwLock};

use crate::admin::keys::SigningKeys;
use crate::clock::Clock;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::store::KeyStore;
use crate::token::keys::{KeyRing, SigningAlg, SigningKey};

/// How long a loaded key ring is trusted before it is read again from the store; also the bound
/// within which every instance sees a change of the discovery metadata.
pub const KEY_RELOAD_SECS: i64 = 5;

/// The key ring in force, reloaded from the store when older than [`KEY_RELOAD_SECS`].
pub struct Keys {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    sealer: Arc<Sealer>,
    loaded: RwLock<Loaded>,
}

struct Loaded {
    ring: Arc<KeyRing>,
    at: i64,
}

impl Keys {
    /// The keys of `ring`, loaded now; later reloads read the store and open keys with `sealer`.
    pub fn new(
        store: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        sealer: Arc<Sealer>,
        ring: KeyRing,
    ) -> Self {
        let at = clock.now();
        Keys {
            store,
            clock,
            sealer,
            loaded: RwLock::new(Loaded {
                ring: Arc::new(ring),
                at,
            }),
        }
    }

    /// The keys in force, read again from the store when the loaded ring is older than
    /// [`KEY_RELOAD_SECS`]. When the store fails, the loaded ring is kept and the error logged.
    pub async fn ring(&self) -> Arc<KeyRing> {
        let now = self.clock.now();
        let (ring, fresh) = {
            let loaded = match self.loaded.read() {
                Ok(k) => k,
                Err(poisoned) => poisoned.into_inner(),
            };
            (loaded.ring.clone(), now - loaded.at < KEY_RELOAD_SECS)
        };
        if fresh {
            return ring;
        }
        self.reload(ring, now).await
    }

    /// The key that signs for a client naming `alg` (`None`: the server's default). When the
    /// ring has no current key of `alg`, one is added to the store (unless another writer just
    /// did) and the ring is read again.
    pub async fn signer(&self, alg: Option<SigningAlg>) -> Result<Arc<SigningKey>, Error> {
        let ring = self.ring().await;
        if let Some(key) = ring.signer(alg) {
            return Ok(key.clone());
        }
        let Some(wanted) = alg else {
            return Ok(ring.current().clone());
        };
        SigningKeys::new(self.store.clone(), self.clock.clone())
            .ensure(wanted, &self.sealer)
            .await?;
        let ring = self.reload(ring, self.clock.now()).await;
        ring.signer(alg)
            .cloned()
            .ok_or_else(|| Error::internal("no current signing key of the client's algorithm"))
    }

    /// Reads the ring from the store now, keeping `loaded` when the store fails.
    async fn reload(&self, ring: Arc<KeyRing>, now: i64) -> Arc<KeyRing> {
        let reloaded = match self.store.signing_keys().await {
            Ok(stored) => KeyRing::in_force(&stored, &self.sealer, now),
            Err(err) => Err(err.into()),
        };
        let ring = match reloaded {
            Ok(new) => Arc::new(new),
            Err(err) => {
                tracing::warn!(error = %err, "cannot reload signing keys; keeping the loaded ones");
                ring
            }
        };
        let mut loaded = match self.loaded.write() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        *loaded = Loaded {
            ring: ring.clone(),
            at: now,
        };
        ring
    }
}

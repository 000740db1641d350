//! [`KeyStore`]: the signing keys of the key ring (JWS `kid`s), sealed at rest, and
//! [`StoredKey`], one key as stored.

use async_trait::async_trait;

use super::StoreError;

/// A signing key as stored: the private key in DER, as the key module wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id, the JWS `kid`.
    pub kid: String,
    /// JWS algorithm name (`EdDSA`, `ES256`, `RS256`).
    pub alg: String,
    /// The private key (PKCS#8 for EdDSA and ES256, PKCS#1 for RS256), sealed under the server
    /// key (see [`crate::sealing`]).
    pub private_der: Vec<u8>,
    /// When the key was made.
    pub created_at: i64,
    /// Whether it signs for clients on the server's default algorithm, superseding every older
    /// key when made; otherwise it was added for the clients that name its algorithm and
    /// supersedes only older keys of that algorithm (see [`crate::token::keys::retired_at`]).
    pub serves_default: bool,
}

/// The signing keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every signing key, oldest first.
    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &StoredKey) -> Result<(), StoreError>;

    /// Adds `key` as the successor of the key `after` (`None`: as the very first key);
    /// `Conflict` if that key already has a successor, that is, another instance won the race
    /// to add one. Callers re-read [`KeyStore::signing_keys`] either way.
    async fn insert_next_signing_key(
        &self,
        key: &StoredKey,
        after: Option<&str>,
    ) -> Result<(), StoreError>;
}

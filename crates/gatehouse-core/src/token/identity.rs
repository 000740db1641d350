//! [`IssuerIdentity`]: who this server is to the tokens it hands out and takes back — the
//! issuer identifier (RFC 8414 `issuer`, the `iss` of every JWT), the key ring in force that
//! signs and verifies, and the sealer that opens the secrets kept sealed (HS256 client secrets,
//! TOTP secrets). Shared by the services that make, resolve or name tokens.

use std::sync::Arc;

use secrecy::SecretString;

use crate::client::Client;
use crate::error::Error;
use crate::sealing::Sealer;
use crate::token::jwt::hs256_secret;
use crate::token::key_cache::Keys;
use crate::token::keys::{KeyRing, SigningAlg, SigningKey};

/// The issuer identifier, its key ring and its sealer.
#[derive(derive_new::new)]
pub struct IssuerIdentity {
    issuer: String,
    keys: Arc<Keys>,
    sealer: Arc<Sealer>,
}

impl IssuerIdentity {
    /// The issuer identifier tokens name (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys in force (see [`Keys::ring`]).
    pub async fn ring(&self) -> Arc<KeyRing> {
        self.keys.ring().await
    }

    /// The key that signs for a client naming `alg` (`None`: the default key); see
    /// [`Keys::signer`].
    pub async fn signer(&self, alg: Option<SigningAlg>) -> Result<Arc<SigningKey>, Error> {
        self.keys.signer(alg).await
    }

    /// The sealer of secrets kept at rest.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The secret an HS256 `client`'s tokens are keyed with, opened from its sealed copy.
    pub fn hs256_secret(&self, client: &Client) -> Result<SecretString, Error> {
        hs256_secret(&self.sealer, client)
    }
}

//! Encryption at rest for the few secrets gatehouse must be able to read back: private signing
//! keys, and the secrets of clients whose access tokens are signed with HS256 keyed by their
//! secret. AES-256-GCM under one server key; every ciphertext names the key that sealed it and is
//! bound to what it protects (associated data), so a sealed value copied to another row fails to
//! open and the server key can be rotated later.
//!
//! Layout: `version (1) | key id (8: SHA-256 of the key, truncated) | nonce (12) | ciphertext+tag`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// The format version written first in every sealed value.
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// Length of a server key in bytes.
pub const KEY_LEN: usize = 32;

/// Seals and opens values under the server key.
pub struct Sealer {
    cipher: Aes256Gcm,
    key_id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &hex(&self.key_id))
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer under a 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let digest = Sha256::digest(key);
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Sealer {
            cipher: Aes256Gcm::new(key.into()),
            key_id,
        }
    }

    /// Parses a key written as standard base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| Error::invalid_request("the server key is not valid base64"))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::invalid_request("the server key must be 32 bytes"))?;
        Ok(Sealer::new(&key))
    }

    /// A new random key, as standard base64.
    pub fn generate_key_base64() -> String {
        let mut key = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// Encrypts `plaintext`, bound to `context` (e.g. `"client-secret:app"`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("sealing failed"))?;
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts a value sealed for `context`. Fails on another key, another context, or any
    /// change to the bytes.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        if sealed.len() < HEADER_LEN || sealed[0] != VERSION {
            return Err(Error::internal("sealed value has an unknown format"));
        }
        if sealed[1..1 + KEY_ID_LEN] != self.key_id {
            return Err(Error::internal(
                "sealed value was written under another server key (check secret_key_file / \
                 GATEHOUSE_SECRET_KEY)",
            ));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::internal("sealed value failed authentication"))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let sealer = Sealer::from_base64(&Sealer::generate_key_base64()).unwrap();
        let other = Sealer::from_base64(&Sealer::generate_key_base64()).unwrap();
        let sealed = sealer.seal("client-secret:app", b"s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            sealer.open("client-secret:app", &sealed).unwrap(),
            b"s3cret"
        );
        assert!(sealer.open("client-secret:other", &sealed).is_err());
        assert!(other.open("client-secret:app", &sealed).is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(sealer.open("client-secret:app", &tampered).is_err());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(Sealer::from_base64("c2hvcnQ=").is_err());
        assert!(Sealer::from_base64("not base64!").is_err());
    }
}

//! The verified-secret memory: the SHA-256 of the last secret that verified for each client, with
//! the stored form it verified against (an argon2id hash, or a sealed secret of an HS256 client).
//! A client that presents that secret again costs no argon2 hash, no opening of a sealed secret
//! and no reservation on the address throttle; a changed secret (another stored form) never
//! matches an old entry.

use std::collections::HashMap;
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How many clients' verified secrets are remembered before the memory is cleared.
const CAPACITY: usize = 10_000;

/// The secrets that verified, by client id.
#[derive(Default)]
pub(super) struct VerifiedSecrets {
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    stored: Vec<u8>,
    digest: [u8; 32],
}

impl VerifiedSecrets {
    /// Whether one of `secrets` verified before for `client` against exactly `stored`.
    pub(super) fn knows(&self, client: &str, stored: &[u8], secrets: &[&SecretString]) -> bool {
        let Ok(entries) = self.entries.lock() else {
            return false;
        };
        let Some(entry) = entries.get(client) else {
            return false;
        };
        entry.stored == stored
            && secrets
                .iter()
                .any(|s| bool::from(entry.digest.ct_eq(&digest(s))))
    }

    /// Remembers that `secret` verified for `client` against `stored`.
    pub(super) fn remember(&self, client: &str, stored: &[u8], secret: &SecretString) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY && !entries.contains_key(client) {
            entries.clear();
        }
        let entry = Entry {
            stored: stored.to_vec(),
            digest: digest(secret),
        };
        entries.insert(client.to_owned(), entry);
    }
}

fn digest(secret: &SecretString) -> [u8; 32] {
    Sha256::digest(secret.expose_secret().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_against_the_same_stored_form_is_known() {
        let memory = VerifiedSecrets::default();
        let right = SecretString::from("right");
        let wrong = SecretString::from("wrong");
        assert!(!memory.knows("app", b"hash-1", &[&right]));
        memory.remember("app", b"hash-1", &right);
        assert!(memory.knows("app", b"hash-1", &[&wrong, &right]));
        assert!(!memory.knows("app", b"hash-1", &[&wrong]));
        assert!(
            !memory.knows("app", b"hash-2", &[&right]),
            "a changed secret"
        );
        assert!(!memory.knows("other", b"hash-1", &[&right]));
    }
}

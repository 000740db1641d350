//! Remembers JWT access tokens whose signature verified, so that a token presented again (a
//! resource server introspecting the same bearer token on every call it receives) costs a
//! SHA-256 of the token instead of a signature verification: 60 µs for EdDSA on the benchmark
//! machine, 300 µs for ES256 and RS256, several times everything else an introspection does.
//!
//! An entry holds what verification established: the token's `jti`, client and expiry, and the
//! `kid` of the key that verified it. A hit is honoured only while that key is still in the ring
//! (a retired or removed key un-verifies its tokens at once) and the token is unexpired; the
//! caller still reads the token's record, so revocation is never cached. Only tokens signed with
//! the server's keys are remembered: an HS256 token verifies against its client's secret, which
//! an administrator can change. Keyed by the SHA-256 of the whole token, so only the exact string
//! that verified can hit. Bounded: when [`CAPACITY`] entries are held, the map starts afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::keys::KeyRing;

/// The most tokens remembered (about 150 bytes each).
pub const CAPACITY: usize = 16 * 1024;

struct Entry {
    jti: String,
    client_id: String,
    exp: i64,
    kid: String,
}

/// The memory of verified tokens; see the module documentation.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").finish_non_exhaustive()
    }
}

/// The key of `token` in the memory.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// `(jti, client_id)` of a token that verified before with a key still in `ring`, when it
    /// has not expired at `now`.
    pub fn get(&self, digest: &[u8; 32], ring: &KeyRing, now: i64) -> Option<(String, String)> {
        let entries = match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        let entry = entries.get(digest)?;
        (entry.exp > now && ring.find(&entry.kid).is_some())
            .then(|| (entry.jti.clone(), entry.client_id.clone()))
    }

    /// Remembers that the token of `digest` verified with the key `kid`.
    pub fn insert(&self, digest: [u8; 32], jti: &str, client_id: &str, exp: i64, kid: &str) {
        let mut entries = match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                jti: jti.to_owned(),
                client_id: client_id.to_owned(),
                exp,
                kid: kid.to_owned(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealing::Sealer;
    use crate::token::keys::{SigningAlg, SigningKey};

    fn ring() -> KeyRing {
        let sealer = Sealer::new(&[7u8; 32]);
        let stored = SigningKey::generate(SigningAlg::EdDSA, 0, &sealer).unwrap();
        KeyRing::from_stored(&[stored], &sealer).unwrap()
    }

    #[test]
    fn a_hit_needs_the_same_token_its_key_in_the_ring_and_no_expiry() {
        let ring = ring();
        let other_ring = self::ring();
        let kid = ring.current().kid.clone();
        let memory = VerifiedTokens::default();
        let d = digest("header.claims.signature");
        memory.insert(d, "jti-1", "app", 100, &kid);

        assert_eq!(
            memory.get(&d, &ring, 99),
            Some(("jti-1".to_owned(), "app".to_owned()))
        );
        // Another string, even one character off, is not the token that verified.
        assert_eq!(
            memory.get(&digest("header.claims.signaturE"), &ring, 99),
            None
        );
        // Expired.
        assert_eq!(memory.get(&d, &ring, 100), None);
        // Its key is no longer in the ring in force.
        assert_eq!(memory.get(&d, &other_ring, 99), None);
    }

    #[test]
    fn the_memory_is_bounded() {
        let ring = ring();
        let kid = ring.current().kid.clone();
        let memory = VerifiedTokens::default();
        for i in 0..CAPACITY + 10 {
            memory.insert(digest(&i.to_string()), "j", "c", 100, &kid);
        }
        let held = memory.entries.lock().unwrap().len();
        assert!(held <= CAPACITY, "{held} entries held");
        assert!(memory
            .get(&digest(&(CAPACITY + 9).to_string()), &ring, 1)
            .is_some());
    }
}

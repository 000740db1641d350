//! Opaque tokens: refresh tokens, and access tokens of clients that want them (Aidbox's
//! default). 256 random bits, base64url; only their SHA-256 is stored, so a database dump holds
//! no usable token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::random;

/// Random bytes in each token.
const TOKEN_BYTES: usize = 32;

/// A new random token (256 bits, 43 base64url characters).
pub fn new_token() -> String {
    random::token(TOKEN_BYTES)
}

/// The stored form of a token: its SHA-256, base64url.
pub fn hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_carry_256_bits_and_hash_deterministically() {
        let t = super::new_token();
        assert_eq!(t.len(), 43);
        assert_eq!(super::hash(&t), super::hash(&t));
        assert_ne!(super::hash(&t), t);
    }
}

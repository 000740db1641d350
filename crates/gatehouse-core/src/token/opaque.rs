//! Opaque tokens: refresh tokens, and access tokens of clients that want them (Aidbox's
//! default). 256 random bits, base64url, after a 12-hex-digit prefix: the millisecond the token
//! was made. Only the prefix and the token's SHA-256 are stored, so a database dump holds no
//! usable token.
//!
//! The prefix is there for the database, not for security: tokens made later get stored keys
//! that sort later, so a group commit appends its new rows to the same few B-tree pages instead
//! of dirtying one random page per token (a profile of the refresh grant on SQLite showed those
//! page writes as most of the writer's work). It tells a holder when the token was issued, which
//! the token's own answer (`expires_in`, introspection's `iat`) tells anyway. Tokens issued
//! before the prefix existed (43 characters, no prefix) are still found: their stored key is the
//! bare hash, as it always was.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::random;

/// Random bytes in each token.
const TOKEN_BYTES: usize = 32;
/// Hex digits of the time prefix (48 bits of milliseconds, as in [`random::sortable_id`]).
const PREFIX_LEN: usize = 12;
/// Length of a token: the prefix and 43 base64url characters of randomness.
const TOKEN_LEN: usize = PREFIX_LEN + 43;

/// A new token: the time prefix and 256 random bits (55 characters, all base64url-safe).
pub fn new_token() -> String {
    let mut token = random::sortable_id();
    token.truncate(PREFIX_LEN);
    token.push_str(&random::token(TOKEN_BYTES));
    token
}

/// The stored form of a token: its time prefix, when it has one, and its SHA-256, base64url.
/// Anyone may present a string of the new shape with any prefix; it finds only a row whose
/// hash is the SHA-256 of that very string.
pub fn hash(token: &str) -> String {
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    match prefix(token) {
        Some(prefix) => [prefix, &digest].concat(),
        None => digest,
    }
}

fn prefix(token: &str) -> Option<&str> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let prefix = token.get(..PREFIX_LEN)?;
    prefix
        .bytes()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then_some(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_256_bits_after_a_time_prefix_and_hash_deterministically() {
        let t = new_token();
        assert_eq!(t.len(), 55);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(hash(&t), hash(&t));
        assert_ne!(hash(&t), t);
        assert_ne!(hash(&new_token()), hash(&t));
        // The stored key keeps the prefix, then the SHA-256 (43 base64url characters).
        assert_eq!(&hash(&t)[..12], &t[..12]);
        assert_eq!(hash(&t).len(), 12 + 43);
    }

    #[test]
    fn keys_of_later_tokens_sort_later() {
        // Tokens made one millisecond apart, the earlier with the larger random part.
        let a = hash(&format!("019aa7b13580{}", "_".repeat(43)));
        let b = hash(&format!("019aa7b13581{}", "-".repeat(43)));
        assert!(a < b, "{a} then {b}");
        assert!(
            new_token()[..12] >= *"019aa7b13581",
            "the prefix is the time now"
        );
    }

    #[test]
    fn tokens_without_the_prefix_keep_their_bare_hash() {
        // A token of the earlier shape (43 characters) is still found by its bare hash.
        let old = random::token(32);
        assert_eq!(old.len(), 43);
        assert_eq!(
            hash(&old),
            URL_SAFE_NO_PAD.encode(Sha256::digest(old.as_bytes()))
        );
        // A 55-character string whose first 12 characters are not lowercase hex has no prefix.
        let odd = format!("ZZZZZZZZZZZZ{}", random::token(32));
        assert_eq!(hash(&odd).len(), 43);
    }
}

//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) with the parameters every
//! authenticator app defaults to: HMAC-SHA-1, 6 digits, 30-second steps; a code is accepted one
//! step either side of now. Secrets are 160 random bits (RFC 4226 §4 R6), shown to the user in
//! RFC 4648 base32, as `otpauth://` URIs carry them.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per time step (RFC 6238 §4.1 X).
pub const STEP_SECS: i64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Bytes in a new secret (160 bits, RFC 4226 §4 R6).
pub const SECRET_LEN: usize = 20;
/// Steps accepted either side of the current one (RFC 6238 §5.2).
pub const SKEW_STEPS: i64 = 1;

/// A new random secret.
pub fn new_secret() -> [u8; SECRET_LEN] {
    let mut secret = [0u8; SECRET_LEN];
    OsRng.fill_bytes(&mut secret);
    secret
}

/// The time step of Unix time `now` (RFC 6238 §4.2 T).
pub fn step_at(now: i64) -> i64 {
    now.div_euclid(STEP_SECS)
}

/// The code of `step` (RFC 4226 §5.3: HMAC-SHA-1 of the big-endian counter, dynamic
/// truncation, the low [`DIGITS`] decimal digits).
pub fn code(secret: &[u8], step: i64) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS as u32),
        width = DIGITS
    )
}

/// The step within [`SKEW_STEPS`] of `now` whose code is `presented`, compared in constant
/// time; `None` when none is.
pub fn matching_step(secret: &[u8], presented: &str, now: i64) -> Option<i64> {
    let presented = presented.trim();
    if presented.len() != DIGITS || !presented.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(now);
    let mut found = None;
    for step in current - SKEW_STEPS..=current + SKEW_STEPS {
        let candidate = code(secret, step);
        if bool::from(candidate.as_bytes().ct_eq(presented.as_bytes())) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 §6 base32 without padding, as authenticator apps read secrets.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA-1 rows, keeping the low six of the eight digits.
    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code(RFC_SECRET, step_at(time)), eight[2..], "T = {time}");
        }
    }

    #[test]
    fn one_step_of_skew_is_accepted_either_way_and_no_more() {
        let now = 1_700_000_015;
        let step = step_at(now);
        for s in [step - 1, step, step + 1] {
            assert_eq!(
                matching_step(RFC_SECRET, &code(RFC_SECRET, s), now),
                Some(s)
            );
        }
        for s in [step - 2, step + 2] {
            assert_eq!(matching_step(RFC_SECRET, &code(RFC_SECRET, s), now), None);
        }
        assert_eq!(matching_step(RFC_SECRET, "12345", now), None);
        assert_eq!(matching_step(RFC_SECRET, "12345a", now), None);
    }

    /// RFC 4648 §10 test vectors, without padding.
    #[test]
    fn base32_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()), encoded);
        }
    }
}

//! Random identifiers and secrets, from the operating system's CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;

/// `bytes` random bytes as unpadded base64url: a token, secret or identifier.
pub fn token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A random 128-bit identifier as 32 lowercase hex digits.
pub fn id() -> String {
    let mut buf = [0u8; 16];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 128-bit identifier whose first 48 bits are the Unix time in milliseconds (the layout of
/// UUIDv7, RFC 9562 §5.7) and the other 80 random, as 32 lowercase hex digits. For the ids of
/// rows written on the hot path (token families, access-token `jti`s, events): ids made later
/// sort later, so their index entries are appended to the same few B-tree pages instead of
/// dirtying a random page each, which is most of what a group commit writes. Unique without
/// coordination (80 random bits per millisecond); not a secret, and never used as one.
pub fn sortable_id() -> String {
    // Not the injected Clock: this is no expiry to test, only where an index entry lands, and
    // it wants milliseconds.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let millis = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // The low 48 bits of the millisecond count: enough until the year 10889.
    sortable_id_at(u64::try_from(millis & 0xffff_ffff_ffff).unwrap_or(0))
}

fn sortable_id_at(millis: u64) -> String {
    let mut buf = [0u8; 16];
    OsRng.fill_bytes(&mut buf[6..]);
    buf[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    let mut out = String::with_capacity(32);
    for b in buf {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn sortable_ids_sort_by_time_and_differ() {
        let a = super::sortable_id_at(1_763_750_000_000);
        let b = super::sortable_id_at(1_763_750_000_001);
        let c = super::sortable_id_at(1_763_750_000_001);
        assert_eq!(a.len(), 32);
        assert_eq!(&a[..12], "019aa7b13580");
        assert_eq!(super::sortable_id().len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert!(a < b, "{a} then {b}");
        assert_ne!(b, c);
        // The random part differs even within one millisecond.
        assert_ne!(b[12..], c[12..]);
    }

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = super::token(32);
        let b = super::token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(super::id().len(), 32);
    }
}

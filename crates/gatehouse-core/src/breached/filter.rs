//! The breached-password filter file: a binary fuse filter (xorf's `BinaryFuse16`, about 18 bits
//! per entry, false positives about 1 in 65,536, no false negatives) of SHA-1 hashes of
//! passwords. A key is the first 8 bytes of SHA-1(password) as a big-endian `u64`, which is the
//! first 16 hex digits of a `HASH:COUNT` line of Have I Been Pwned's download, so that download
//! becomes a filter without knowing any password.
//!
//! The file, little-endian throughout:
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 8 | magic `GHBLOCK\0` |
//! | 8 | 4 | version, 1 |
//! | 12 | 4 | descriptor length, 20 |
//! | 16 | 8 | entries (distinct keys) |
//! | 24 | 8 | fingerprints (count of `u16`) |
//! | 32 | 20 | xorf's descriptor: seed (8), segment length, mask, segment count length (4 each) |
//! | 52 | 4 | zero padding, so the fingerprints start 8-byte aligned |
//! | 56 | 2 × fingerprints | the fingerprints |
//!
//! [`Blocklist::parse`] reads it in place (no copy) from any `&[u8]`, a memory map included, and
//! checks every field first: a bad file is an error at load, never a panic at a query.

use sha1::{Digest, Sha1};
use xorf::{BinaryFuse16, BinaryFuse16Ref, DmaSerializable, Filter, FilterRef};

/// The first 8 bytes of a filter file.
pub const MAGIC: [u8; 8] = *b"GHBLOCK\0";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// Bytes before the fingerprints.
pub const HEADER_LEN: usize = 56;
/// The false-positive rate of the filter, by construction (16-bit fingerprints).
pub const FALSE_POSITIVE_RATE: f64 = 1.0 / 65_536.0;

const DESCRIPTOR_LEN: usize = BinaryFuse16::DESCRIPTOR_LEN;

/// Why a filter file was refused, or could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    /// The file does not start with [`MAGIC`].
    #[error("not a gatehouse blocklist file (bad magic number)")]
    BadMagic,
    /// A version this code does not read.
    #[error("blocklist file version {0} is not supported (this build reads version {VERSION})")]
    UnsupportedVersion(u32),
    /// The header's sizes disagree with the file or with each other.
    #[error("blocklist file is damaged: {0}")]
    Damaged(&'static str),
    /// The fingerprints are not aligned in memory (only for a copy in an unaligned buffer).
    #[error("blocklist fingerprints are not 2-byte aligned in memory")]
    Unaligned,
    /// The filter could not be built (xorf gave up, or too many keys).
    #[error("cannot build the blocklist filter: {0}")]
    Build(&'static str),
}

/// The key of a password (its UTF-8 bytes): the first 8 bytes of its SHA-1, big-endian.
pub fn password_key(password: impl AsRef<[u8]>) -> u64 {
    let digest = Sha1::digest(password.as_ref());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The key of a SHA-1 written in hex (40 digits, any case; only the first 16 are used), as in
/// Have I Been Pwned's `HASH:COUNT` lines. `None` unless it is 40 hex digits.
pub fn hex_sha1_key(hex: &str) -> Option<u64> {
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(&hex[..16], 16).ok()
}

/// Builds the filter of `keys` (duplicates allowed: they are removed first) and returns the
/// file's bytes. Holds the keys in memory: about 8 bytes per key, plus xorf's working space.
pub fn build(keys: impl IntoIterator<Item = u64>) -> Result<Vec<u8>, FilterError> {
    let mut keys: Vec<u64> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    // xorf indexes the filter with u32.
    if keys.len() > u32::MAX as usize / 2 {
        return Err(FilterError::Build("more than 2^31 distinct keys"));
    }
    let filter = BinaryFuse16::try_from(&keys).map_err(FilterError::Build)?;
    let fingerprints = filter.fingerprints.as_ref();
    let mut out = Vec::with_capacity(HEADER_LEN + fingerprints.len() * 2);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(DESCRIPTOR_LEN as u32).to_le_bytes());
    out.extend_from_slice(&(keys.len() as u64).to_le_bytes());
    out.extend_from_slice(&(fingerprints.len() as u64).to_le_bytes());
    let mut descriptor = [0u8; DESCRIPTOR_LEN];
    filter.dma_copy_descriptor_to(&mut descriptor);
    out.extend_from_slice(&descriptor);
    out.resize(HEADER_LEN, 0);
    for fingerprint in fingerprints {
        out.extend_from_slice(&fingerprint.to_le_bytes());
    }
    Ok(out)
}

/// A filter file read in place.
#[derive(Debug, Clone)]
pub struct Blocklist<'a> {
    filter: BinaryFuse16Ref<'a>,
    entries: u64,
}

impl<'a> Blocklist<'a> {
    /// Checks and reads a filter file. `bytes` must start 2-byte aligned (a memory map or a
    /// file read into a `Vec<u16>` is); the fingerprints are not copied.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FilterError> {
        if bytes.len() < 8 || bytes[..8] != MAGIC {
            return Err(FilterError::BadMagic);
        }
        if bytes.len() < HEADER_LEN {
            return Err(FilterError::Damaged("the header is cut short"));
        }
        let version = le_u32(bytes, 8);
        if version != VERSION {
            return Err(FilterError::UnsupportedVersion(version));
        }
        if le_u32(bytes, 12) as usize != DESCRIPTOR_LEN {
            return Err(FilterError::Damaged("unexpected descriptor length"));
        }
        let entries = le_u64(bytes, 16);
        let count = le_u64(bytes, 24);
        let body = &bytes[HEADER_LEN..];
        if Some(body.len() as u64) != count.checked_mul(2) {
            return Err(FilterError::Damaged(
                "the fingerprints do not fill the file",
            ));
        }
        if entries > count {
            return Err(FilterError::Damaged("more entries than fingerprints"));
        }
        let descriptor = &bytes[32..32 + DESCRIPTOR_LEN];
        check_descriptor(descriptor, count)?;
        if body.as_ptr().align_offset(2) != 0 {
            return Err(FilterError::Unaligned);
        }
        // The stored fingerprints are little-endian; xorf reads them in the host's order.
        if cfg!(target_endian = "big") {
            return Err(FilterError::Damaged(
                "big-endian hosts cannot read the file",
            ));
        }
        Ok(Blocklist {
            filter: BinaryFuse16Ref::from_dma(descriptor, body),
            entries,
        })
    }

    /// Whether the filter holds `key` (false positives about 1 in 65,536).
    pub fn contains_key(&self, key: u64) -> bool {
        self.filter.contains(&key)
    }

    /// Whether the filter holds the SHA-1 of `password`.
    pub fn contains_password(&self, password: &str) -> bool {
        self.contains_key(password_key(password))
    }

    /// The distinct keys the filter was built from.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// Checks that every index xorf computes from the descriptor falls inside the `count`
/// fingerprints. xorf's three indexes of a key lie in three consecutive segments starting below
/// `segment_count_length`, so they stay below `segment_count_length + 2 * segment_length`.
fn check_descriptor(descriptor: &[u8], count: u64) -> Result<(), FilterError> {
    let segment_length = le_u32(descriptor, 8);
    let mask = le_u32(descriptor, 12);
    let segment_count_length = le_u32(descriptor, 16);
    if !segment_length.is_power_of_two() || mask != segment_length - 1 {
        return Err(FilterError::Damaged("bad segment length"));
    }
    if segment_count_length == 0 || !segment_count_length.is_multiple_of(segment_length) {
        return Err(FilterError::Damaged("bad segment count"));
    }
    let end = u64::from(segment_count_length) + 2 * u64::from(segment_length);
    // xorf adds segment lengths in u32.
    if end > count || end > u64::from(u32::MAX) {
        return Err(FilterError::Damaged(
            "the segments run past the fingerprints",
        ));
    }
    Ok(())
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    // A `Vec<u8>` from the global allocator is at least 8-byte aligned in practice (glibc and
    // musl give 16), which `parse` checks rather than assumes.

    fn random_keys(seed: u64, n: usize) -> Vec<u64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen()).collect()
    }

    #[test]
    fn keys_are_the_first_16_hex_digits_of_the_sha1() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        assert_eq!(password_key("password"), 0x5BAA61E4C9B93F3F);
        assert_eq!(
            hex_sha1_key("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"),
            Some(0x5BAA61E4C9B93F3F)
        );
        assert_eq!(hex_sha1_key("5BAA61E4"), None);
        assert_eq!(
            hex_sha1_key("ZBAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"),
            None
        );
    }

    #[test]
    fn every_key_built_in_is_found_and_duplicates_are_fine() {
        let mut keys = random_keys(1, 10_000);
        keys.extend_from_within(..100);
        keys.push(password_key("hunter2"));
        let file = build(keys.iter().copied()).unwrap();
        let list = Blocklist::parse(&file).unwrap();
        assert_eq!(list.entries(), 10_001);
        assert!(keys.iter().all(|k| list.contains_key(*k)));
        assert!(list.contains_password("hunter2"));
        assert_eq!(file.len() % 2, 0);
        assert_eq!(&file[..8], &MAGIC);
    }

    #[test]
    fn tiny_filters_work() {
        for keys in [vec![], vec![7u64], vec![7, 8]] {
            let file = build(keys.clone()).unwrap();
            let list = Blocklist::parse(&file).unwrap();
            assert_eq!(list.entries(), keys.len() as u64);
            assert!(keys.iter().all(|k| list.contains_key(*k)));
        }
    }

    /// The false-positive rate measured on keys the filter was not built from, and the size
    /// per million entries.
    #[test]
    fn false_positive_rate_and_size_are_as_designed() {
        let built = 200_000;
        let file = build(random_keys(2, built)).unwrap();
        let list = Blocklist::parse(&file).unwrap();
        let probes = 1_000_000;
        let hits = random_keys(3, probes)
            .into_iter()
            .filter(|k| list.contains_key(*k))
            .count();
        let rate = hits as f64 / probes as f64;
        let per_million = (file.len() as f64) * 1_000_000.0 / built as f64;
        println!(
            "blocklist filter: {hits} false positives in {probes} probes (rate {rate:.7}, 1 in \
             {:.0}); {} bytes for {built} entries, {:.2} bytes per entry, {:.2} MB per million",
            probes as f64 / hits.max(1) as f64,
            file.len(),
            file.len() as f64 / built as f64,
            per_million / 1e6,
        );
        assert!(rate < 1.0 / 16_384.0, "false-positive rate {rate}");
        assert!(
            per_million < 2.4e6,
            "{per_million} bytes per million entries"
        );
    }

    #[test]
    fn damaged_files_are_refused_without_panicking() {
        let file = build(random_keys(4, 1_000)).unwrap();
        let refused = |bytes: &[u8]| Blocklist::parse(bytes).unwrap_err();
        assert_eq!(refused(b""), FilterError::BadMagic);
        assert_eq!(refused(b"password\n123456\n"), FilterError::BadMagic);
        assert!(matches!(refused(&file[..40]), FilterError::Damaged(_)));
        assert!(matches!(
            refused(&file[..file.len() - 2]),
            FilterError::Damaged(_)
        ));
        let mut longer = file.clone();
        longer.extend_from_slice(&[0, 0]);
        assert!(matches!(refused(&longer), FilterError::Damaged(_)));

        let mut version = file.clone();
        version[8] = 2;
        assert_eq!(refused(&version), FilterError::UnsupportedVersion(2));

        // A descriptor whose segments run past the fingerprints would index out of bounds.
        for (at, value) in [(40, 0u32), (40, 3), (44, 0), (48, u32::MAX - 7), (48, 0)] {
            let mut bad = file.clone();
            bad[at..at + 4].copy_from_slice(&value.to_le_bytes());
            assert!(
                matches!(refused(&bad), FilterError::Damaged(_)),
                "{at}={value}"
            );
        }
        let mut count = file.clone();
        count[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(refused(&count), FilterError::Damaged(_)));

        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&file);
        assert_eq!(refused(&shifted[1..]), FilterError::Unaligned);
    }
}

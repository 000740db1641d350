//! Password hashes imported from other servers: bcrypt (`$2a$`, `$2b$`, `$2y$`) and PBKDF2
//! (HMAC-SHA-1/256/512), verified so that users can log in once after a migration, when they are
//! rehashed with argon2id. Import formats (passlib's MCF, Keycloak's credential export) are turned
//! into one stored form at import time, the PHC string `$pbkdf2-sha256$i=N,l=L$salt$hash` (salt and
//! hash in unpadded standard base64), so verification reads only formats gatehouse writes.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The highest PBKDF2 iteration count accepted, so an imported hash cannot stall a worker.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// The families of stored password hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// argon2id, argon2i or argon2d in PHC form.
    Argon2,
    /// bcrypt in modular crypt form.
    Bcrypt,
    /// PBKDF2 in gatehouse's PHC form.
    Pbkdf2,
}

/// Which family a stored hash belongs to.
pub fn scheme(stored: &str) -> Option<Scheme> {
    if stored.starts_with("$argon2") {
        Some(Scheme::Argon2)
    } else if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        Some(Scheme::Bcrypt)
    } else if stored.starts_with("$pbkdf2") {
        Some(Scheme::Pbkdf2)
    } else {
        None
    }
}

/// A description of a stored hash's algorithm and parameters, without salt or hash, for admin
/// output: `argon2id m=19456,t=2,p=1`, `bcrypt cost 12`, `pbkdf2-sha256 i=27500`.
pub fn describe(stored: &str) -> String {
    let parts: Vec<&str> = stored.split('$').collect();
    match scheme(stored) {
        Some(Scheme::Argon2) => {
            let params = parts
                .iter()
                .find(|p| p.starts_with("m="))
                .copied()
                .unwrap_or("?");
            format!("{} {params}", parts.get(1).copied().unwrap_or("argon2"))
        }
        Some(Scheme::Bcrypt) => format!("bcrypt cost {}", parts.get(2).copied().unwrap_or("?")),
        Some(Scheme::Pbkdf2) => {
            let i = parts
                .get(2)
                .and_then(|p| p.split(',').next())
                .unwrap_or("?");
            format!("{} {i}", parts.get(1).copied().unwrap_or("pbkdf2"))
        }
        None => "unknown".to_owned(),
    }
}

/// Verifies a bcrypt or PBKDF2 hash. `None` for any other format.
pub fn verify(password: &[u8], stored: &str) -> Option<bool> {
    match scheme(stored)? {
        Scheme::Argon2 => None,
        Scheme::Bcrypt => Some(bcrypt::verify(password, stored).unwrap_or(false)),
        Scheme::Pbkdf2 => {
            let p = Pbkdf2Hash::parse(stored).ok()?;
            Some(bool::from(p.derive(password).ct_eq(&p.hash)))
        }
    }
}

/// The cost of a bcrypt hash (log2 of its rounds), when it is bcrypt and the cost is readable.
pub fn bcrypt_cost(stored: &str) -> Option<u32> {
    if scheme(stored) != Some(Scheme::Bcrypt) {
        return None;
    }
    stored.get(4..6).and_then(|c| c.parse().ok())
}

/// The iterations of a PBKDF2 hash, when it is one gatehouse can read.
pub fn pbkdf2_iterations(stored: &str) -> Option<u32> {
    Pbkdf2Hash::parse(stored).ok().map(|p| p.iterations)
}

/// Checks an imported hash and returns the form to store: argon2 PHC and bcrypt as they are,
/// PBKDF2 from PHC (`i=`) or passlib MCF (`$pbkdf2-sha256$ROUNDS$salt$hash`) as gatehouse's PHC.
pub fn normalize(hash: &str) -> Result<String, String> {
    match scheme(hash) {
        Some(Scheme::Argon2) => {
            let parsed = argon2::password_hash::PasswordHash::new(hash)
                .map_err(|e| format!("invalid argon2 PHC string: {e}"))?;
            let complete = parsed.hash.is_some()
                && parsed.salt.is_some()
                && argon2::Algorithm::try_from(parsed.algorithm).is_ok()
                && argon2::Params::try_from(&parsed).is_ok();
            if complete {
                Ok(hash.to_owned())
            } else {
                Err(
                    "invalid argon2 PHC string: it needs a variant, parameters, salt and hash"
                        .into(),
                )
            }
        }
        Some(Scheme::Bcrypt) => {
            // A bcrypt string is 60 characters; its cost is at most 31.
            let cost = bcrypt_cost(hash);
            if hash.len() == 60 && cost.is_some_and(|c| (4..=31).contains(&c)) {
                Ok(hash.to_owned())
            } else {
                Err("invalid bcrypt hash".into())
            }
        }
        Some(Scheme::Pbkdf2) => Pbkdf2Hash::parse(hash).map(|p| p.to_phc()),
        None => {
            Err("unsupported hash format: use argon2 PHC, bcrypt ($2a$/$2b$/$2y$) or PBKDF2".into())
        }
    }
}

/// Keycloak's exported password credential: `secretData` (`value`, `salt`, base64) and
/// `credentialData` (`hashIterations`, `algorithm`, `additionalParameters`).
pub fn from_keycloak(
    secret: &serde_json::Value,
    credential: &serde_json::Value,
) -> Result<String, String> {
    let field =
        |v: &serde_json::Value, k: &str| v.get(k).cloned().ok_or_else(|| format!("missing {k}"));
    let b64 = |v: serde_json::Value, k: &str| -> Result<Vec<u8>, String> {
        let s = v.as_str().ok_or_else(|| format!("{k} is not a string"))?;
        STANDARD
            .decode(s)
            .or_else(|_| STANDARD_NO_PAD.decode(s))
            .map_err(|_| format!("{k} is not base64"))
    };
    let hash = b64(field(secret, "value")?, "secretData.value")?;
    let salt = b64(field(secret, "salt")?, "secretData.salt")?;
    let iterations = field(credential, "hashIterations")?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("credentialData.hashIterations is not a number")?;
    let algorithm = field(credential, "algorithm")?;
    let algorithm = algorithm
        .as_str()
        .ok_or("credentialData.algorithm is not a string")?;
    let digest = match algorithm {
        "pbkdf2" => Digest::Sha1,
        "pbkdf2-sha256" => Digest::Sha256,
        "pbkdf2-sha512" => Digest::Sha512,
        "argon2" => return keycloak_argon2(credential, iterations, &salt, &hash),
        other => return Err(format!("unsupported Keycloak algorithm {other:?}")),
    };
    Ok(Pbkdf2Hash::new(digest, iterations, salt, hash)?.to_phc())
}

fn keycloak_argon2(
    credential: &serde_json::Value,
    t: u32,
    salt: &[u8],
    hash: &[u8],
) -> Result<String, String> {
    let extra = credential.get("additionalParameters");
    // Keycloak keeps each parameter as a one-element array of strings.
    let param = |k: &str, default: &str| -> String {
        extra
            .and_then(|e| e.get(k))
            .and_then(|v| v.get(0).or(Some(v)))
            .and_then(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .unwrap_or_else(|| default.to_owned())
    };
    let variant = match param("type", "id").as_str() {
        "id" => "argon2id",
        "i" => "argon2i",
        "d" => "argon2d",
        other => return Err(format!("unsupported argon2 type {other:?}")),
    };
    let version = if param("version", "1.3") == "1.3" {
        19
    } else {
        16
    };
    let phc = format!(
        "${variant}$v={version}$m={},t={t},p={}${}${}",
        param("memory", "7168"),
        param("parallelism", "1"),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(hash)
    );
    normalize(&phc)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn phc_id(self) -> &'static str {
        match self {
            Digest::Sha1 => "pbkdf2",
            Digest::Sha256 => "pbkdf2-sha256",
            Digest::Sha512 => "pbkdf2-sha512",
        }
    }
}

/// Decodes a base64 field of a hash string.
type Base64Decoder = fn(&str) -> Option<Vec<u8>>;

struct Pbkdf2Hash {
    digest: Digest,
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Pbkdf2Hash {
    /// Parses PHC (`$id$i=N[,l=L]$salt$hash`) or passlib MCF (`$id$N$salt$hash`, adapted base64).
    fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('$').collect();
        let [_, id, params, salt, hash] = parts.as_slice() else {
            return Err("a PBKDF2 hash has the form $pbkdf2-sha256$i=ITERATIONS$SALT$HASH".into());
        };
        let digest = [Digest::Sha1, Digest::Sha256, Digest::Sha512]
            .into_iter()
            .find(|d| d.phc_id() == *id)
            .ok_or_else(|| format!("unsupported PBKDF2 variant {id:?}"))?;
        let (iterations, decode): (u32, Base64Decoder) = if let Ok(n) = params.parse() {
            (n, |v| STANDARD_NO_PAD.decode(v.replace('.', "+")).ok())
        } else {
            let i = params
                .split(',')
                .find_map(|kv| kv.strip_prefix("i="))
                .and_then(|n| n.parse().ok())
                .ok_or("PBKDF2 parameters lack i=ITERATIONS")?;
            (i, |v| STANDARD_NO_PAD.decode(v.trim_end_matches('=')).ok())
        };
        let salt = decode(salt).ok_or("PBKDF2 salt is not base64")?;
        let hash = decode(hash).ok_or("PBKDF2 hash is not base64")?;
        Pbkdf2Hash::new(digest, iterations, salt, hash)
    }

    /// The hash, when its parameters are plausible: iterations within bounds, a salt, and a
    /// hash of 16 to 128 bytes.
    fn new(digest: Digest, iterations: u32, salt: Vec<u8>, hash: Vec<u8>) -> Result<Self, String> {
        if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
            return Err(format!(
                "PBKDF2 iterations must be 1 to {MAX_PBKDF2_ITERATIONS}"
            ));
        }
        if hash.len() < 16 || hash.len() > 128 || salt.is_empty() {
            return Err("PBKDF2 hash or salt has an implausible length".into());
        }
        Ok(Pbkdf2Hash {
            digest,
            iterations,
            salt,
            hash,
        })
    }

    fn derive(&self, password: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; self.hash.len()];
        let (salt, n) = (&self.salt[..], self.iterations);
        match self.digest {
            Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, n, &mut out),
            Digest::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, n, &mut out),
            Digest::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, n, &mut out),
        }
        out
    }

    fn to_phc(&self) -> String {
        format!(
            "${}$i={},l={}${}${}",
            self.digest.phc_id(),
            self.iterations,
            self.hash.len(),
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbkdf2_sha256(password: &[u8], salt: &[u8], n: u32, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, n, &mut out);
        out
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let h = bcrypt::hash("hunter2", 4).unwrap();
        assert_eq!(normalize(&h).unwrap(), h);
        assert_eq!(verify(b"hunter2", &h), Some(true));
        assert_eq!(verify(b"hunter3", &h), Some(false));
    }

    #[test]
    fn passlib_mcf_and_phc_pbkdf2_verify_after_normalizing() {
        let hash = pbkdf2_sha256(b"pw", b"saltsalt", 1000, 32);
        let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
        let mcf = format!("$pbkdf2-sha256$1000${}${}", ab64(b"saltsalt"), ab64(&hash));
        let stored = normalize(&mcf).unwrap();
        assert!(stored.starts_with("$pbkdf2-sha256$i=1000,l=32$"));
        assert_eq!(verify(b"pw", &stored), Some(true));
        assert_eq!(verify(b"px", &stored), Some(false));
        assert_eq!(normalize(&stored).unwrap(), stored);
    }

    /// Keycloak's default: pbkdf2-sha256, 27500 iterations, 64-byte key, base64 fields.
    #[test]
    fn keycloak_credentials_convert_and_verify() {
        let hash = pbkdf2_sha256(b"kc-pass", b"0123456789abcdef", 27500, 64);
        let secret = serde_json::json!({"value": STANDARD.encode(&hash), "salt": STANDARD.encode(b"0123456789abcdef")});
        let cred = serde_json::json!({"hashIterations": 27500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}});
        let stored = from_keycloak(&secret, &cred).unwrap();
        assert_eq!(verify(b"kc-pass", &stored), Some(true));
        let bad = serde_json::json!({"hashIterations": 1, "algorithm": "md5"});
        assert!(from_keycloak(&secret, &bad).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        for h in [
            "",
            "plaintext",
            "$2b$99$xxx",
            "$pbkdf2-sha256$i=0$AA$AA",
            "$argon2id$nope",
        ] {
            assert!(normalize(h).is_err(), "{h}");
        }
    }
}

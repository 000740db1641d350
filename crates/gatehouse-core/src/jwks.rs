//! The keys a client assertion may be checked with (RFC 7523 §3 item 9): the client's registered
//! JWK Set (RFC 7517 §5) for `private_key_jwt`, and the allow-list that ties each JWS algorithm
//! to the one key type it may be used with, so that no public key is ever used as an HMAC secret
//! and `none` is never accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::error::Error;

/// The most keys a client may register.
pub const MAX_KEYS: usize = 20;

/// The algorithms accepted for `private_key_jwt`.
pub const ASYMMETRIC_ALGS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The algorithms accepted for `client_secret_jwt`.
pub const HMAC_ALGS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// The JWS name of an algorithm (`"ES256"`).
pub fn alg_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// Parses and checks a JWK Set for registration: public signature keys of a type gatehouse can
/// verify, no private or symmetric key material, at most [`MAX_KEYS`] keys.
pub fn parse_jwks(value: &Value) -> Result<JwkSet, Error> {
    let bad = |what: String| Error::InvalidBody(format!("jwks: {what}").into());
    let raw_keys = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("must be a JWK Set: an object with a keys array".into()))?;
    if raw_keys.is_empty() || raw_keys.len() > MAX_KEYS {
        return Err(bad(format!("must hold 1 to {MAX_KEYS} keys")));
    }
    for (i, key) in raw_keys.iter().enumerate() {
        if ["d", "p", "q", "dp", "dq", "qi", "k"]
            .iter()
            .any(|f| key.get(f).is_some())
        {
            return Err(bad(format!(
                "key {i} holds private or symmetric key material; register public keys only"
            )));
        }
    }
    let set: JwkSet = serde_json::from_value(value.clone()).map_err(|e| {
        bad(format!(
            "not a valid JWK Set: {}",
            crate::error::echo(&e.to_string())
        ))
    })?;
    for (i, jwk) in set.keys.iter().enumerate() {
        if !ASYMMETRIC_ALGS.iter().any(|alg| fits(jwk, *alg)) {
            return Err(bad(format!(
                "key {i} is not an RSA, P-256, P-384 or Ed25519 signature key usable with its alg"
            )));
        }
        DecodingKey::from_jwk(jwk).map_err(|_| bad(format!("key {i} is malformed")))?;
    }
    Ok(set)
}

/// The keys of `set` that may verify a signature made with `alg`: the one named by `kid` when
/// the header names one, else every key of the right type.
pub fn candidates(set: &JwkSet, alg: Algorithm, kid: Option<&str>) -> Vec<DecodingKey> {
    set.keys
        .iter()
        .filter(|jwk| kid.is_none_or(|kid| jwk.common.key_id.as_deref() == Some(kid)))
        .filter(|jwk| fits(jwk, alg))
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .collect()
}

/// Whether `jwk` may verify `alg`: an asymmetric algorithm of the allow-list, the key type and
/// curve that algorithm needs, the key's own `alg` (if any) equal to it, and `use` (if any) `sig`.
pub fn fits(jwk: &Jwk, alg: Algorithm) -> bool {
    if !ASYMMETRIC_ALGS.contains(&alg) {
        return false;
    }
    if let Some(declared) = &jwk.common.key_algorithm {
        if serde_json::to_value(declared).ok() != Some(Value::String(alg_name(alg))) {
            return false;
        }
    }
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        // jsonwebtoken 10 slices the first 32 bytes of `x` when it verifies and panics on a
        // shorter key, so the length is checked here, for registered and stored sets alike.
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
                && URL_SAFE_NO_PAD.decode(&p.x).is_ok_and(|x| x.len() == 32)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::{SigningAlg, SigningKey};
    use serde_json::json;

    fn jwk(alg: SigningAlg) -> Value {
        let sealer = crate::sealing::Sealer::new(&[7u8; 32]);
        let stored = SigningKey::generate(alg, 0, &sealer).unwrap();
        SigningKey::from_stored(&stored, &sealer)
            .unwrap()
            .public_jwk()
    }

    #[test]
    fn public_keys_of_every_supported_type_register() {
        let set = json!({"keys": [jwk(SigningAlg::EdDSA), jwk(SigningAlg::ES256), jwk(SigningAlg::RS256)]});
        let set = parse_jwks(&set).unwrap();
        assert_eq!(candidates(&set, Algorithm::EdDSA, None).len(), 1);
        assert_eq!(candidates(&set, Algorithm::ES256, None).len(), 1);
        // The RSA key declares alg RS256, so it is not a candidate for PS256.
        assert_eq!(candidates(&set, Algorithm::PS256, None).len(), 0);
    }

    /// An HMAC algorithm is never checked against a registered key (the RS/HS confusion).
    #[test]
    fn hmac_never_fits_a_registered_key() {
        let mut rsa = jwk(SigningAlg::RS256);
        rsa.as_object_mut().unwrap().remove("alg");
        let set = parse_jwks(&json!({ "keys": [rsa] })).unwrap();
        for alg in HMAC_ALGS {
            assert!(candidates(&set, alg, None).is_empty());
        }
        assert_eq!(candidates(&set, Algorithm::PS256, None).len(), 1);
    }

    #[test]
    fn symmetric_private_and_malformed_sets_are_refused() {
        for bad in [
            json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}),
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}]}),
            json!({"keys": []}),
            json!([1, 2]),
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA"}]}),
        ] {
            let err = parse_jwks(&bad).unwrap_err();
            assert!(err.description().unwrap().starts_with("jwks:"), "{bad}");
        }
    }

    /// RFC 8037 §2: an Ed25519 `x` is 32 bytes. A shorter one made jsonwebtoken's verifier panic
    /// (found by the client_assertion fuzz target), so it is refused at registration and never a
    /// candidate when it is already stored.
    #[test]
    fn ed25519_keys_of_the_wrong_length_are_refused_and_never_candidates() {
        let short = URL_SAFE_NO_PAD.encode([9u8; 20]);
        let long = URL_SAFE_NO_PAD.encode([9u8; 33]);
        for x in [short, long] {
            let key = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "ed1"});
            let set = json!({ "keys": [key] });
            let err = parse_jwks(&set).unwrap_err();
            assert!(err.description().unwrap().starts_with("jwks:"), "{set}");
            let stored: JwkSet = serde_json::from_value(set).unwrap();
            assert!(candidates(&stored, Algorithm::EdDSA, Some("ed1")).is_empty());
        }
        let good = parse_jwks(&json!({ "keys": [jwk(SigningAlg::EdDSA)] })).unwrap();
        assert_eq!(candidates(&good, Algorithm::EdDSA, None).len(), 1);
    }
}

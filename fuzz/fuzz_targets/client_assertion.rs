//! Fuzzes the client assertion parsing that runs before any store access (RFC 7523 §2.2, §3):
//! the shape check of an assertion (`client_assertion::inspect_unverified`), the unverified
//! helpers of `token::jwt`, registration-time JWK Set parsing (`parse_jwks`) and the choice of
//! candidate keys, then a signature check with each candidate. A NUL byte splits the input into
//! a JWK Set (JSON) before it and an assertion after it; without one, the whole input is tried
//! as both. Beyond "no panic" it checks the algorithm allow-list: an accepted assertion names an
//! allowed `alg`, and no registered key is ever a candidate for an HMAC algorithm.

#![no_main]

use gatehouse_core::client_assertion::{inspect_unverified, parse_jwks};
use gatehouse_core::jwks::{candidates, ASYMMETRIC_ALGS, HMAC_ALGS};
use gatehouse_core::token::jwt::{is_hs256, unverified_client_id};
use jsonwebtoken::Validation;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let (jwks, assertion) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let set = serde_json::from_slice::<Value>(jwks)
        .ok()
        .and_then(|value| parse_jwks(&value).ok());
    if let Some(set) = &set {
        for alg in HMAC_ALGS {
            assert!(candidates(set, alg, None).is_empty(), "{alg:?} got a key");
        }
    }
    let Ok(assertion) = std::str::from_utf8(assertion) else {
        return;
    };
    let _ = is_hs256(assertion);
    let _ = unverified_client_id(assertion);
    let Ok(header) = inspect_unverified(assertion) else {
        return;
    };
    assert!(
        ASYMMETRIC_ALGS.contains(&header.alg) || HMAC_ALGS.contains(&header.alg),
        "{:?} passed the allow-list",
        header.alg
    );
    let Some(set) = &set else {
        return;
    };
    // The same validation settings as the verifier: claims are checked by gatehouse itself.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    for key in candidates(set, header.alg, header.kid.as_deref()) {
        let _ = jsonwebtoken::decode::<Value>(assertion, &key, &validation);
    }
});

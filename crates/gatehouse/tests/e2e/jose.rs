//! Verifying gatehouse's tokens with a JOSE implementation other than the one that signed them
//! (`jwt-simple`, pure Rust), against the published JWKS or a client secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use serde_json::{Map, Value};

pub type Claims = JWTClaims<Map<String, Value>>;

fn b64(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(v.as_str().expect("JWK member"))
        .expect("base64url")
}

/// Verifies `token` with the key its `kid` names in `jwks`, requiring `typ` and `issuer`.
pub fn verify_with_jwks(jwks: &Value, token: &str, typ: &str, issuer: &str) -> Claims {
    try_verify_with_jwks(jwks, token, typ, issuer).expect("token verifies against the JWKS")
}

/// Like [`verify_with_jwks`], returning the failure instead of panicking.
pub fn try_verify_with_jwks(
    jwks: &Value,
    token: &str,
    typ: &str,
    issuer: &str,
) -> Result<Claims, String> {
    let meta = Token::decode_metadata(token).map_err(|e| e.to_string())?;
    let kid = meta.key_id().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
    assert_eq!(jwk["alg"], meta.algorithm(), "JWK alg matches the header");
    let options = VerificationOptions {
        required_signature_type: Some(typ.to_owned()),
        allowed_issuers: Some(HashSet::from_strings(&[issuer])),
        time_tolerance: Some(Duration::from_secs(0)),
        ..VerificationOptions::default()
    };
    let result = match jwk["kty"].as_str().unwrap() {
        "OKP" => Ed25519PublicKey::from_bytes(&b64(&jwk["x"]))
            .unwrap()
            .verify_token::<Map<String, Value>>(token, Some(options)),
        "EC" => {
            let mut sec1 = vec![4u8];
            sec1.extend(b64(&jwk["x"]));
            sec1.extend(b64(&jwk["y"]));
            ES256PublicKey::from_bytes(&sec1)
                .unwrap()
                .verify_token::<Map<String, Value>>(token, Some(options))
        }
        "RSA" => RS256PublicKey::from_components(&b64(&jwk["n"]), &b64(&jwk["e"]))
            .unwrap()
            .verify_token::<Map<String, Value>>(token, Some(options)),
        other => panic!("unexpected kty {other}"),
    };
    result.map_err(|e| e.to_string())
}

/// Connect's `jwt.verify(access_token, client_secret)`: HS256 keyed by the secret's bytes.
pub fn verify_hs256(secret: &str, token: &str) -> Result<Claims, String> {
    HS256Key::from_bytes(secret.as_bytes())
        .verify_token::<Map<String, Value>>(token, None)
        .map_err(|e| e.to_string())
}

//! Client key pairs for assertion tests, made with the ed25519-dalek and p256 crates (not with
//! gatehouse's own key code), and a signer for RFC 7523 client assertions.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub struct ClientKey {
    pub alg: Algorithm,
    pub kid: String,
    pub encoding: EncodingKey,
    pub public_jwk: Value,
}

impl ClientKey {
    pub fn ed25519(kid: &str) -> ClientKey {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = key.to_pkcs8_der().unwrap();
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
        ClientKey {
            alg: Algorithm::EdDSA,
            kid: kid.into(),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            public_jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig"}),
        }
    }

    pub fn p256(kid: &str) -> ClientKey {
        use p256::pkcs8::EncodePrivateKey;
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let der = key.to_pkcs8_der().unwrap();
        let mut jwk: Value = serde_json::from_str(&key.public_key().to_jwk_string()).unwrap();
        jwk["kid"] = kid.into();
        ClientKey {
            alg: Algorithm::ES256,
            kid: kid.into(),
            encoding: EncodingKey::from_ec_der(der.as_bytes()),
            public_jwk: jwk,
        }
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk] })
    }

    /// Signs `claims` with this key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// RFC 7523 §3 claims for `client_id`, addressed to `aud`, living `ttl` seconds.
pub fn claims(client_id: &str, aud: &str, ttl: i64) -> Value {
    let now = now();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": now,
        "exp": now + ttl,
        "jti": gatehouse_core::random::token(16),
    })
}

/// The test's own wall clock, to fill `iat` and `exp` as a client would.
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
